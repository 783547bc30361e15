import { expect } from "chai";
import { accuracy, accuracySlope, expectations, outsideOption, valuation } from "../../sdk/src/collaboration/model";
import { InfeasibleContractError, informationRent, realizedReward, solveCompleteInformation, solveContract } from "../../sdk/src/collaboration/solve";
import { mulberry32 } from "../../sdk/src/ranking/generators";
import { InvalidInputError } from "../../sdk/src/errors";

describe("SDK collaboration: the model", () => {
  it("computes accuracy as the spec's formula, by hand at m = 100 and m = e^2", () => {
    // a(100) = 1 - (sqrt(2 (2 + ln 100)) + 4) / 10
    expect(accuracy(100)).to.be.closeTo(1 - (Math.sqrt(2 * (2 + Math.log(100))) + 4) / 10, 1e-15);
    expect(accuracy(100)).to.be.closeTo(0.23654, 1e-5);
    expect(accuracy(Math.exp(-2) * 0.99)).to.equal(0);
    expect(accuracy(10)).to.equal(0); // the formula is negative there: clipped at 0
    expect(valuation(0.5)).to.equal(50);
  });

  it("has the slope of its formula (finite differences)", () => {
    for (const m of [60, 200, 1e4]) expect(accuracySlope(m)).to.be.closeTo((accuracy(m + 1e-4) - accuracy(m - 1e-4)) / 2e-4, 1e-8);
  });

  it("takes the outside option at the best stand-alone contribution", () => {
    const { value, m } = outsideOption(0.02);
    let best = 0;
    for (let x = 1; x < 20_000; x += 1) best = Math.max(best, valuation(accuracy(x)) - 0.02 * x);
    expect(value).to.be.at.least(best - 1e-9);
    expect(value - best).to.be.lessThan(1e-3);
    expect(valuation(accuracy(m)) - 0.02 * m).to.be.closeTo(value, 1e-9);
    expect(outsideOption(1).value).to.equal(0); // too costly to train alone
  });

  it("enumerates the multinomial exactly: probabilities sum to 1, expectations match a brute-force sum", () => {
    const p = [0.3, 0.7];
    const N = 3;
    const e = expectations([50, 120], p, N);
    // By hand: n1 = 0..3, P = C(3, n1) 0.3^n1 0.7^(3-n1), total = 50 n1 + 120 (3 - n1).
    let acc = 0;
    const binom = [1, 3, 3, 1];
    for (let n1 = 0; n1 <= 3; n1++) acc += binom[n1] * 0.3 ** n1 * 0.7 ** (3 - n1) * accuracy(50 * n1 + 120 * (3 - n1));
    expect(e.accuracy).to.be.closeTo(acc, 1e-12);
    expect(e.present[0]).to.be.closeTo(1 - 0.7 ** 3, 1e-12);
  });
});

describe("SDK collaboration: solveContract", () => {
  it("reproduces the paper's scenario: N = 10, five types, c = linspace(1, 0.4, 5), f = 0", () => {
    const c = [1, 0.85, 0.7, 0.55, 0.4];
    const r = solveContract({ costs: c, probs: [0.2, 0.2, 0.2, 0.2, 0.2], N: 10, outside: [0, 0, 0, 0, 0] });
    for (const m of r.m) expect(m).to.be.within(69.03 * 0.995, 69.06 * 1.005);
    [0, 10.36, 20.71, 31.07, 41.43].forEach((u, i) => expect(r.utilities[i]).to.be.closeTo(u, Math.max(0.005 * u, 1e-9)));
    expect(r.maxViolation).to.be.at.most(1e-6);
    expect(r.binding.individualRationality[0]).to.equal(true);
    expect(r.binding.monotonicity.every(Boolean)).to.equal(true); // everyone contributes the same
  });

  /** Random profiles of 2 to 4 types and small N. */
  function randomCases(seed: number, count: number) {
    const random = mulberry32(seed);
    return Array.from({ length: count }, () => {
      const I = 2 + Math.floor(random() * 3);
      const costs = Array.from({ length: I }, () => 0.005 + random() * 0.8).sort((a, b) => b - a);
      const raw = Array.from({ length: I }, () => 0.1 + random());
      const probs = raw.map((x) => x / raw.reduce((a, b) => a + b, 0));
      return { costs, probs, N: 2 + Math.floor(random() * 8) };
    });
  }

  it("satisfies every constraint to 1e-6 on random type profiles, and is incentive compatible", () => {
    for (const cfg of randomCases(41, 12)) {
      const r = solveContract(cfg);
      expect(r.maxViolation, JSON.stringify(cfg)).to.be.at.most(1e-6);
      const I = cfg.costs.length;
      for (let i = 0; i + 1 < I; i++) {
        expect(r.m[i]).to.be.at.most(r.m[i + 1] + 1e-6);
        // adjacent IC: t_i - t_{i+1} = c_{i+1} (m_i - m_{i+1})
        expect(r.t[i] - r.t[i + 1]).to.be.closeTo(cfg.costs[i + 1] * (r.m[i] - r.m[i + 1]), 1e-6);
      }
      for (let i = 0; i < I; i++) {
        expect(r.t[i]).to.be.at.most(r.expectedModelValue[i] + 1e-6);
        expect(r.utilities[i] - r.outside[i]).to.be.at.least(-1e-6);
        // No type gains by picking another type's item.
        for (let j = 0; j < I; j++) expect(r.t[i] - cfg.costs[i] * r.m[i]).to.be.at.least(r.t[j] - cfg.costs[i] * r.m[j] - 1e-6);
      }
    }
  });

  it("is optimal to 1e-4 against a fine search on two-type cases", () => {
    for (const cfg of [
      { costs: [0.02, 0.01], probs: [0.5, 0.5], N: 5 },
      { costs: [0.8, 0.3], probs: [0.5, 0.5], N: 6 },
      { costs: [0.02, 0.01], probs: [0.3, 0.7], N: 8 },
    ]) {
      const r = solveContract(cfg);
      const f = r.outside;
      let best = 0;
      const hi = Math.max(...r.m) * 1.6 + 10;
      const steps = 240;
      for (let a = 0; a <= steps; a++) {
        for (let b = a; b <= steps; b++) {
          const m = [(hi * a) / steps, (hi * b) / steps];
          const u2 = f[0] + (cfg.costs[0] - cfg.costs[1]) * m[0];
          const t = [f[0] + cfg.costs[0] * m[0], u2 + cfg.costs[1] * m[1]];
          if (u2 < f[1] - 1e-9) continue;
          const e = expectations(m, cfg.probs, cfg.N);
          if (t[0] > e.value[0] + 1e-9 || t[1] > e.value[1] + 1e-9) continue;
          best = Math.max(best, e.accuracy);
        }
      }
      expect(r.expectedAccuracy, JSON.stringify(cfg)).to.be.at.least(best * (1 - 1e-4));
    }
  });

  it("gives the complete-information benchmark and the information rent", () => {
    const cfg = { costs: [0.02, 0.01], probs: [0.5, 0.5], N: 5 };
    const asym = solveContract(cfg);
    const full = solveCompleteInformation(cfg);
    expect(full.maxViolation).to.be.at.most(1e-6);
    full.utilities.forEach((u, i) => expect(u).to.be.closeTo(full.outside[i], 1e-9));
    expect(full.expectedAccuracy).to.be.at.least(asym.expectedAccuracy - 1e-9); // public costs never hurt
    const rent = informationRent(asym);
    expect(rent[0]).to.be.closeTo(0, 1e-6); // the highest-cost type gets no rent
    expect(rent[1]).to.be.greaterThan(0);
  });

  it("pays realized rewards as a share of the trained model, never above it", () => {
    const r = solveContract({ costs: [1, 0.85, 0.7, 0.55, 0.4], probs: [0.2, 0.2, 0.2, 0.2, 0.2], N: 10, outside: [0, 0, 0, 0, 0] });
    for (const total of [100, 690.5, 5000]) {
      for (let i = 0; i < 5; i++) {
        const reward = realizedReward(r, i, total);
        expect(reward).to.be.at.most(valuation(accuracy(total)) + 1e-12);
        expect(reward).to.be.closeTo(Math.min(1, r.t[i] / r.expectedModelValue[i]) * valuation(accuracy(total)), 1e-9);
      }
    }
  });

  it("says so when no menu can satisfy a type's outside option", () => {
    // One party whose outside option is worth 1 more than the best it could ever get, max_m v(a(m)) - c m:
    // t - c m >= f needs t > v(a(m)) >= the most it can be paid.
    const f = outsideOption(0.02).value + 1;
    expect(() => solveContract({ costs: [0.02], probs: [1], N: 1, outside: [f] })).to.throw(InfeasibleContractError, "no menu satisfies every constraint");
    // The profile that once defeated a start outside the linear constraints now solves.
    expect(solveContract({ costs: [0.706, 0.321, 0.106], probs: [0.38, 0.21, 0.41], N: 2 }).maxViolation).to.be.at.most(1e-6);
  });

  it("names bad input", () => {
    expect(() => solveContract({ costs: [0.5, 0.8], probs: [0.5, 0.5], N: 3 })).to.throw(InvalidInputError, "strictly decreasing");
    expect(() => solveContract({ costs: [0.5], probs: [0.5, 0.5], N: 3 })).to.throw(InvalidInputError, "1 costs but 2 probabilities");
    expect(() => solveContract({ costs: [0.5, 0.2], probs: [0.4, 0.4], N: 3 })).to.throw(InvalidInputError, "sum to 1");
    expect(() => solveContract({ costs: [0.5, 0.2], probs: [0.5, 0.5], N: 0 })).to.throw(InvalidInputError, "N = 0");
  });
});
