import { expect } from "chai";
import { DelegationMechanism, Phase } from "../../sdk/src/delegation/mechanism";
import { simulateDelegation, STRATEGIES, Strategy } from "../../sdk/src/delegation/simulate";
import { NOTEBOOK_MODELS, NOTEBOOK_OTHERS, toyGame } from "../../sdk/src/delegation/toy";
import { InvalidInputError } from "../../sdk/src/errors";

const toy = toyGame;

describe("SDK delegation: the mechanism", () => {
  it("reproduces the notebook's run_ours for provider 1 (T = 1e6)", () => {
    const r = simulateDelegation(toy(1_000_000), [STRATEGIES.both, STRATEGIES.honest, STRATEGIES.honest], 1);
    const p = r.providers[0];
    // The random extra phase-4 query, if drawn, runs the cheapest model billed at L tokens.
    const extra = p.extra ? 1 : 0;
    expect(p.delegations - extra).to.equal(933083);
    // Sums of a million floats: compared to 1e-9 relative.
    expect(p.userUtility - extra * (0.7 * 5 - 1500 * 5e-4)).to.be.closeTo(3307286.5, 3307286.5 * 1e-9);
    expect(p.providerUtility - extra * 0.9 * (1500 * 5e-4 - 800 * 3e-4)).to.be.closeTo(78540.948, 78540.948 * 1e-9);
    expect(r.plan.R).to.equal(920415);
    expect(r.plan.incentive[0]).to.equal(4706); // floor(3981 * 1.1823215567939562)
    expect(r.stoppedEarly).to.equal(false);
  });

  it("runs the phases in order with the counts worked by hand (T = 10000, honest providers)", () => {
    // B = floor(10000^0.6) = 251. Exploration: 251 each. Best: provider 0 (utility 4.0 against 3.5).
    // delta1 = 7.25267, delta2 = ln 5, delta3 = 2 (ln 4 - ln 1000 - 2/3) = -12.37626:
    // R = floor(10000 - (10.25267 * 3 + 1.60944 - 12.37626) * 251) = floor(10000 - 19.99118 * 251) = 4982.
    // Phase 3: 251 to provider 0, then 251 to each other. Phase 4: floor(251 delta_i):
    // delta_0 = 7.25267 + ln 4.5 - ln 1000 - 2/3 = 1.18232 -> 296; the others 7.25267 + ln 4 - ln 1000 - 2/3 = 1.06454 -> 267.
    const m = new DelegationMechanism({ T: 10_000, eps: 0.3, L: 1500, rewardScale: 5, providers: [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS], seed: 3 });
    const runs: { phase: Phase; provider: number; count: number }[] = [];
    for (let d = m.next(); d; d = m.next()) {
      const last = runs.at(-1);
      if (last && last.phase === d.phase && last.provider === d.provider) last.count++;
      else runs.push({ phase: d.phase, provider: d.provider, count: 1 });
      const model = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS][d.provider][0];
      m.record({ reward: model.score * 5, reportedTokens: model.outputTokens, reportedModel: 0 });
    }
    const extra = m.extra.map((e) => (e ? 1 : 0));
    expect(runs).to.deep.equal([
      { phase: "exploration", provider: 0, count: 251 },
      { phase: "exploration", provider: 1, count: 251 },
      { phase: "exploration", provider: 2, count: 251 },
      { phase: "exploitation", provider: 0, count: 4982 },
      { phase: "bonus", provider: 0, count: 251 },
      { phase: "bonus", provider: 1, count: 251 },
      { phase: "bonus", provider: 2, count: 251 },
      { phase: "incentive", provider: 0, count: 296 + extra[0] },
      { phase: "incentive", provider: 1, count: 267 + extra[1] },
      { phase: "incentive", provider: 2, count: 267 + extra[2] },
    ]);
    expect(m.planned!.R).to.equal(4982);
    expect(m.phase).to.equal("done");
  });

  it("stops exploitation at the end of the first block whose running average falls below the threshold", () => {
    // Exploitation: three blocks at 3.55, then blocks at 0.5 (cheapest model billed at L to its
    // own price gives 3.5 - 1500 * 3e-4 = 3.05; we make it worse with a junk answer: reward 0.5).
    // Running average after block k > 3: (3 * 3.55 + (k - 3) * u) / k with u = 0.5 - 0.45 = 0.05.
    // Threshold at T = 1e6 is 2.84997: k = 4 gives (10.65 + 0.05) / 4 = 2.675 < threshold.
    const T = 1_000_000;
    const m = new DelegationMechanism({ T, eps: 0.3, L: 1500, rewardScale: 5, providers: [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS], seed: 1 });
    let exploited = 0;
    for (let d = m.next(); d; d = m.next()) {
      if (d.phase === "exploitation") {
        exploited++;
        const good = exploited <= 3 * 3981;
        m.record(good ? { reward: 0.8 * 5, reportedTokens: 900, reportedModel: 0 } : { reward: 0.5, reportedTokens: 1500, reportedModel: 2 });
      } else if (d.phase === "bonus") {
        throw new Error("no bonus phase after an early stop");
      } else {
        const model = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS][d.provider][0];
        m.record({ reward: model.score * 5, reportedTokens: model.outputTokens, reportedModel: 0 });
      }
    }
    expect(m.stoppedEarly).to.equal(true);
    expect(exploited).to.equal(4 * 3981);
  });

  it("keeps going when the running average stays at or above the threshold", () => {
    const r = simulateDelegation(toy(100_000), [STRATEGIES.mimicSecondBest, STRATEGIES.honest, STRATEGIES.honest], 5);
    expect(r.stoppedEarly).to.equal(false);
  });

  it("refuses misuse with clear errors", () => {
    const m = new DelegationMechanism({ T: 10_000, eps: 0.3, L: 1500, rewardScale: 5, providers: [NOTEBOOK_MODELS, NOTEBOOK_OTHERS], seed: 1 });
    expect(() => m.record({ reward: 1, reportedTokens: 1, reportedModel: 0 })).to.throw(InvalidInputError, "no delegation is waiting");
    m.next();
    expect(() => m.next()).to.throw(InvalidInputError, "record the outcome");
    expect(() => m.record({ reward: 1, reportedTokens: 1, reportedModel: 7 })).to.throw(InvalidInputError, "provider 0 has no model 7");
    expect(() => new DelegationMechanism({ T: 2, eps: 0.3, L: 1500, rewardScale: 5, providers: [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS], seed: 1 })).to.throw(
      InvalidInputError,
      "cannot even explore",
    );
    const s: Strategy[] = [STRATEGIES.honest];
    expect(() => simulateDelegation(toy(10_000), s, 1)).to.throw(InvalidInputError, "1 strategies for 3 providers");
  });

  it("gives the same run for the same seed", () => {
    const a = simulateDelegation(toy(100_000), [STRATEGIES.both, STRATEGIES.honest, STRATEGIES.honest], 9);
    const b = simulateDelegation(toy(100_000), [STRATEGIES.both, STRATEGIES.honest, STRATEGIES.honest], 9);
    expect(a).to.deep.equal(b);
  });
});
