import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployRanking, WAD } from "../helpers";

const Parameter = {
  Lambda: 0,
  Quorum: 1,
  Rho: 2,
  Theta: 3,
  Tau: 4,
  MinStakeToSetWeights: 5,
  WeightsRateLimit: 6,
  UnbondingBlocks: 7,
} as const;

const bounds: Record<keyof typeof Parameter, [bigint, bigint]> = {
  Lambda: [1n, WAD],
  Quorum: [WAD / 2n, WAD - 1n],
  Rho: [1n, 10n ** 24n],
  Theta: [1n, WAD - 1n],
  Tau: [0n, WAD],
  MinStakeToSetWeights: [0n, 2n ** 128n - 1n],
  WeightsRateLimit: [0n, 1_000_000n],
  UnbondingBlocks: [0n, 1_000_000n],
};

const field: Record<keyof typeof Parameter, string> = {
  Lambda: "lambda",
  Quorum: "quorum",
  Rho: "rho",
  Theta: "theta",
  Tau: "tau",
  MinStakeToSetWeights: "minStakeToSetWeights",
  WeightsRateLimit: "weightsRateLimit",
  UnbondingBlocks: "unbondingBlocks",
};

describe("RankingMarket: economic parameters", () => {
  const fixture = () => deployRanking();

  for (const name of Object.keys(Parameter) as (keyof typeof Parameter)[]) {
    const p = Parameter[name];
    const [min, max] = bounds[name];

    it(`lets the parameter admin set ${name} anywhere in [${min}, ${max}], with an event`, async () => {
      const { ranking, admin } = await loadFixture(fixture);
      expect(await ranking.parameterBounds(p)).to.deep.equal([min, max]);
      const before = (await ranking.parameters())[field[name] as "lambda"];
      await expect(ranking.connect(admin).setParameter(p, max)).to.emit(ranking, "ParameterChanged").withArgs(p, before, max);
      expect((await ranking.parameters())[field[name] as "lambda"]).to.equal(max);
      await expect(ranking.connect(admin).setParameter(p, min)).to.emit(ranking, "ParameterChanged").withArgs(p, max, min);
      expect((await ranking.parameters())[field[name] as "lambda"]).to.equal(min);
    });

    it(`refuses ${name} outside its bounds`, async () => {
      const { ranking, admin } = await loadFixture(fixture);
      if (min > 0n) {
        await expect(ranking.connect(admin).setParameter(p, min - 1n))
          .to.be.revertedWithCustomError(ranking, "ParameterOutOfBounds")
          .withArgs(p, min - 1n, min, max);
      }
      await expect(ranking.connect(admin).setParameter(p, max + 1n))
        .to.be.revertedWithCustomError(ranking, "ParameterOutOfBounds")
        .withArgs(p, max + 1n, min, max);
    });
  }

  it("refuses parameter changes from accounts without PARAMETER_ADMIN_ROLE", async () => {
    const { ranking, peers } = await loadFixture(fixture);
    await expect(ranking.connect(peers[0]).setParameter(Parameter.Tau, 0))
      .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
      .withArgs(peers[0].address, await ranking.PARAMETER_ADMIN_ROLE());
  });

  it("lets the admin delegate parameter changes by granting the role", async () => {
    const { ranking, admin, peers } = await loadFixture(fixture);
    await ranking.connect(admin).grantRole(await ranking.PARAMETER_ADMIN_ROLE(), peers[0].address);
    await expect(ranking.connect(peers[0]).setParameter(Parameter.Rho, 5n * WAD)).to.emit(ranking, "ParameterChanged");
    expect(await ranking.rho()).to.equal(5n * WAD);
  });

  it("reads tau and quorum at past blocks and refuses future ones", async () => {
    const { ranking, admin } = await loadFixture(fixture);
    const tx = await ranking.connect(admin).setParameter(Parameter.Tau, WAD / 10n);
    const at = BigInt((await tx.wait())!.blockNumber);
    expect(await ranking.tauAt(at - 1n)).to.equal(WAD / 100n);
    expect(await ranking.tauAt(at)).to.equal(WAD / 10n);
    expect(await ranking.quorumAt(at)).to.equal(WAD / 2n);
    await expect(ranking.tauAt(at + 5n)).to.be.revertedWithCustomError(ranking, "FutureBlock").withArgs(at + 5n, at);
    await expect(ranking.quorumAt(at + 5n)).to.be.revertedWithCustomError(ranking, "FutureBlock");
  });
});
