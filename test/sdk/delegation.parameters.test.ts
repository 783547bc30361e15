import { expect } from "chai";
import { delegationParameters, providerDelta, DelegationConfig } from "../../sdk/src/delegation/parameters";
import { InvalidInputError } from "../../sdk/src/errors";
import { NOTEBOOK_MODELS, NOTEBOOK_OTHERS } from "../../sdk/src/delegation/toy";

const relative = (actual: number, expected: number) => expect(Math.abs(actual - expected) / Math.abs(expected)).to.be.at.most(1e-9);

describe("SDK delegation: parameters (SPEC §3.1)", () => {
  const cfg: DelegationConfig = {
    T: 1_000_000,
    eps: 0.3,
    K: 3,
    L: 1500,
    rewardScale: 5,
    models: [...NOTEBOOK_MODELS, ...NOTEBOOK_OTHERS],
    secondBestUtility: 3.5,
    best: { tokenPrice: 5e-4, outputTokens: 1000 },
    others: [
      { avgReward: 0.8 * 5, avgTokens: 1000 },
      { avgReward: 0.8 * 5, avgTokens: 1000 },
    ],
  };

  it("reproduces every known answer of the notebook to 1e-9 relative", () => {
    const p = delegationParameters(cfg);
    expect(p.B).to.equal(3981);
    relative(p.M, 0.23637291771156435);
    relative(p.delta1, 7.252666105666485);
    relative(p.delta2, 1.6094379124341003);
    relative(p.delta3, -12.376255169057826);
    expect(p.R).to.equal(920415);
    relative(p.threshold, 2.8499744762931982);
    relative(providerDelta(p.delta1, 0.9 * 5, 1000, 1500), 1.1823215567939562);
  });

  it("rejects a T too small for K providers, saying so", () => {
    expect(() => delegationParameters({ ...cfg, T: 1000 })).to.throw(InvalidInputError, /R = -\d+: T = 1000 is too small for K = 3 providers at eps = 0.3/);
  });

  it("names other bad configurations", () => {
    expect(() => delegationParameters({ ...cfg, eps: 0.5 })).to.throw(InvalidInputError, "eps = 0.5 is not in (0, 1/2)");
    expect(() => delegationParameters({ ...cfg, others: [] })).to.throw(InvalidInputError, "0 other providers given for K = 3: expected 2");
    expect(() => delegationParameters({ ...cfg, K: 1, others: [] })).to.throw(InvalidInputError, "at least 2 providers");
  });
});
