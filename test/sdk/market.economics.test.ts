import { expect } from "chai";
import fc from "fast-check";
import {
  JCNDU,
  JCmixed,
  NDU,
  QInflection,
  RPNDU,
  RPNDUD,
  RPQFinder,
  RPmixed,
  getQ,
  protocolU,
  qValue,
  requestedPrice,
} from "../../sdk/src/market/notebook";
import {
  expectedJobUtilities,
  jobOutcomes,
  maxNonDeterminismGain,
  nonDeterminismGainOnGrid,
  recommendParameters,
  JobStrategies,
} from "../../sdk/src/market/economics";
import { InvalidInputError } from "../../sdk/src/errors";

describe("SDK market economics: the notebook's models", () => {
  it("JCNDU, by hand (n = 2, NDPR = 1, p1 = 0.5, b = 10, price 4)", () => {
    // honest 0.5 * 6 = 3; gain 0.5 * 0.25 * 14 = 1.75; lose 0.5 * 0.75 * (10 - 8) = 0.75
    expect(JCNDU(2, 1, 1, 0.5, 10, 4)).to.be.closeTo(5.5, 1e-12);
    // A JC that never verifies pays and gets the benefit when the RP is honest: q b - price.
    expect(JCNDU(2, 1, 1, 0.5, 10, 4, 0, 0, 0.25)).to.be.closeTo(0.25 * 10 - 4, 1e-12);
  });

  it("RPNDU and RPNDUD, by hand, agree for an honest RP", () => {
    // cost -2; paid for a1 2; a2 with ND found 0.5 * 0.75 * 4 = 1.5; deposit lost 0.5 * 0.25 * 8 = 1
    expect(RPNDU(2, 1, 1, 0.5, 4, 1, 1, 0.5, 0)).to.be.closeTo(0.5, 1e-12);
    expect(RPNDUD(2, 1, 1, 0.5, 4, 1, 0.5, 1, 0.5, 0)).to.be.closeTo(0.5, 1e-12);
    // Always junk: ND found 0.75 * (4 - 0.5) = 2.625, caught 0.25 * (-8 - 0.5) = -2.125.
    expect(RPNDUD(2, 1, 1, 0.5, 4, 1, 0.5, 0, 0.5, 0)).to.be.closeTo(0.5, 1e-12);
    // Insurance adds deposit * I.
    expect(RPNDUD(2, 1, 1, 0.5, 4, 1, 0.5, 1, 0.5, 0.1) - RPNDUD(2, 1, 1, 0.5, 4, 1, 0.5, 1, 0.5, 0)).to.be.closeTo(0.8, 1e-12);
  });

  it("protocolU and NDU, by hand", () => {
    expect(protocolU(10, 4)).to.equal(6);
    // paid 0.5 * 6 = 3; free 0.5 * (0.25 * 14 - 0.75 * 4) = 0.25
    expect(NDU(2, 1, 0.5, 4, 10)).to.be.closeTo(3.25, 1e-12);
    expect(NDU(3, 5, 1, 4, 10)).to.equal(protocolU(10, 4)); // a deterministic job gains nothing
  });

  it("the deterministic mixed strategy: qValue, getQ, JCmixed, RPmixed", () => {
    expect(qValue(4, 0, 60, 20, 6)).to.be.closeTo(4 / 86, 1e-15);
    expect(getQ(4, 0, 60, 20, 6, 0.1)).to.equal(1);
    expect(getQ(4, 0, 60, 20, 6, 0.01)).to.equal(0);
    expect(JCmixed(10, 6, 0.5, 1, 60, 4, 0, 20)).to.be.closeTo(3.5, 1e-12);
    expect(JCmixed(10, 6, 0.01, 1, 60, 4, 0, 20)).to.be.closeTo(0.01 * 59 - 0.99 * 6, 1e-12);
    expect(RPmixed(6, 0.5, 60, 4, 20, 0)).to.be.closeTo(2, 1e-12);
    expect(RPmixed(6, 0.01, 60, 4, 20, 0)).to.be.closeTo(0.99 * 6 - 0.01 * 80, 1e-12);
  });

  it("QInflection and RPQFinder, by hand (n = 2, PR = 1, p1 = 0.5, price 4, p = 1, rcj = 1, roi = 0.5)", () => {
    // top: -2 + 0 - 1.5 + 1 + 2.25 - 2.25 - 0 = -2.5; bottom: -0 + 1.5 ... = -1: the notebook's ratio 2.5
    expect(QInflection(2, 1, 0.5, 4, 1, 1, 0.5)).to.be.closeTo(2.5, 1e-12);
    // Inflection outside (0, 1): the sign of val = 1 + 1 - 1.5 = 0.5 decides, honest.
    expect(RPQFinder(2, 1, 0.5, 4, 1, 1, 0.5)).to.equal(1);
    expect(RPQFinder(2, 1, 0.5, 4, 0, 3, 0.5)).to.equal(1); // p = 0: junk costs more than computing
    expect(RPQFinder(2, 1, 0.5, 4, 0, 1, 0.5)).to.equal(0);
    expect(() => RPQFinder(2, 1, 0.5, 4, 0, 2, 0.5)).to.throw(InvalidInputError, "divides by zero");
  });

  it("requestedPrice with insurance", () => {
    expect(requestedPrice(4, 0.5, 8, 0.1)).to.be.closeTo(2.8, 1e-12);
  });
});

describe("SDK market economics: the non-determinism gain", () => {
  it("reproduces the notebook's grid answer: n = 4, NDPR = 1, b = c, best p1 = 0.9, gain 9.683% of the benefit", () => {
    const best = nonDeterminismGainOnGrid(4, 1, 100, 100);
    expect(best.p1).to.be.closeTo(0.9, 1e-12);
    expect(best.gain).to.be.closeTo(9.683, 1e-9);
  });

  it("finds the continuous optimum: p1 ~ 0.8935, gain ~ 9.713, where 15 p^4 - 12 p^3 - 1 = 0", () => {
    const { p1, gain } = maxNonDeterminismGain(4, 1, 100, 100);
    expect(p1).to.be.closeTo(0.8935, 5e-5);
    expect(gain).to.be.closeTo(9.713, 5e-4);
    expect(15 * p1 ** 4 - 12 * p1 ** 3 - 1).to.be.closeTo(0, 1e-12);
    expect(gain).to.be.greaterThan(nonDeterminismGainOnGrid(4, 1, 100, 100).gain);
  });

  it("puts the optimum at p1 = n/(n+1) without a penalty", () => {
    for (const n of [1, 2, 4, 7]) expect(maxNonDeterminismGain(n, 0, 50, 50).p1).to.be.closeTo(n / (n + 1), 1e-12);
  });

  it("stays positive just below p1 = 1 for every NDPR, though the grid says NDPR = 24 removes it", () => {
    expect(nonDeterminismGainOnGrid(4, 24, 100, 100).gain).to.be.at.most(0);
    for (const ndpr of [24, 100, 1000]) {
      const { p1, gain } = maxNonDeterminismGain(4, ndpr, 100, 100);
      expect(gain).to.be.greaterThan(0);
      expect(p1).to.be.greaterThan(0.98);
    }
  });

  it("is the true supremum: no point of a fine grid beats it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 1, max: 200, noNaN: true }),
        fc.double({ min: 0, max: 400, noNaN: true }),
        (n, ndpr, price, benefit) => {
          const best = maxNonDeterminismGain(n, ndpr, price, benefit);
          const grid = nonDeterminismGainOnGrid(n, ndpr, price, benefit, 1 / 4000);
          expect(best.gain).to.be.at.least(grid.gain - 1e-9 * Math.max(1, Math.abs(grid.gain)));
          expect(best.gain - grid.gain).to.be.at.most(1e-3 * Math.max(1, price));
        },
      ),
      { seed: 21, numRuns: 150 },
    );
  });

  it("shrinks as NDPR grows", () => {
    let previous = Infinity;
    for (const ndpr of [0, 0.5, 1, 2, 5, 10, 50]) {
      const { gain } = maxNonDeterminismGain(3, ndpr, 100, 120);
      expect(gain).to.be.lessThan(previous);
      previous = gain;
    }
  });
});

describe("SDK market economics: recommendParameters", () => {
  const input = { n: 3, price: 100, benefit: 100, execCost: 60, junkCost: 1, verifyProbability: 0.2, targetFraction: 0.01 };

  it("gives the smallest NDPR and PR that bound both gains by the target", () => {
    const r = recommendParameters(input);
    expect(r.ndGain).to.be.at.most(1 + 1e-9);
    expect(maxNonDeterminismGain(3, r.ndpr * 0.99 * 3, 100, 100).gain).to.be.greaterThan(1);
    expect(r.rpCheatGain).to.be.closeTo(1, 1e-9);
    expect(r.pr * 3).to.be.at.least(1);
    // A slightly smaller PR lets cheating gain more than the target.
    const d = 100 * r.pr * 0.99 * 3;
    expect(60 - 1 - 0.2 * (100 + d)).to.be.greaterThan(1);
    expect(r.verifyProbabilityAtMinimumPR).to.be.closeTo((60 - 1 - 1) / 200, 1e-12);
  });

  it("never goes below the contract's bounds NDPR * n >= 1 and PR * n >= 1", () => {
    const r = recommendParameters({ ...input, execCost: 1, targetFraction: 0.5 });
    expect(r.ndpr).to.equal(1 / 3);
    expect(r.pr).to.equal(1 / 3);
  });

  it("names impossible requests", () => {
    expect(() => recommendParameters({ ...input, targetFraction: 0 })).to.throw(InvalidInputError, "targetFraction must be positive");
    expect(() => recommendParameters({ ...input, verifyProbability: 0 })).to.throw(InvalidInputError, "verifyProbability");
    expect(() => maxNonDeterminismGain(0, 1, 1, 1)).to.throw(InvalidInputError, "n = 0");
  });
});

describe("SDK market economics: expected utilities under the verdict table", () => {
  const base: JobStrategies = {
    n: 3,
    pr: 0.5,
    ndpr: 1,
    price: 100,
    benefit: 150,
    verifyProbability: 0.6,
    verifyCost: 2,
    honesty: 0.8,
    p1: 0.9,
    execCost: 40,
    junkCost: 1,
    disputeSecondClass: true,
    jcFixed: 7,
    rpFixed: 7,
  };

  it("covers every outcome once (probabilities sum to 1) and each outcome conserves money", () => {
    fc.assert(
      fc.property(
        fc.record({ p: fc.double({ min: 0, max: 1, noNaN: true }), q: fc.double({ min: 0, max: 1, noNaN: true }), p1: fc.double({ min: 0, max: 1, noNaN: true }), n: fc.integer({ min: 1, max: 6 }), dispute: fc.boolean() }),
        ({ p, q, p1, n, dispute }) => {
          const outcomes = jobOutcomes({ ...base, verifyProbability: p, honesty: q, p1, n, disputeSecondClass: dispute });
          expect(outcomes.reduce((a, o) => a + o.probability, 0)).to.be.closeTo(1, 1e-12);
          for (const o of outcomes) expect(o.jc + o.rp + o.mediator).to.be.closeTo(0, 1e-9);
        },
      ),
      { seed: 22, numRuns: 200 },
    );
  });

  it("is the protocol's utility for a deterministic job and an honest RP", () => {
    const u = expectedJobUtilities({ ...base, p1: 1, honesty: 1 });
    expect(u.jc).to.be.closeTo(150 - 100 - 0.6 * 2 - 7, 1e-9);
    expect(u.rp).to.be.closeTo(100 - 40 - 7, 1e-9);
    expect(u.mediator).to.equal(0);
  });

  it("agrees with the notebook wherever the notebook's model is the verdict table (deterministic jobs)", () => {
    for (const q of [0, 1]) {
      for (const p of [0, 0.3, 1]) {
        const s = { ...base, p1: 1, honesty: q, verifyProbability: p, jcFixed: 0, rpFixed: 0 };
        const u = expectedJobUtilities(s);
        expect(u.jc).to.be.closeTo(JCNDU(3, 0.5, 1, 1, 150, 100, p, 2, q), 1e-9);
        // RPNDUD with roi such that its cost is execCost: price (1 - roi) = 40.
        expect(u.rp).to.be.closeTo(RPNDUD(3, 0.5, 1, 1, 100, p, 1, q, 0.6, 0), 1e-9);
      }
    }
  });

  it("differs from the notebook's JCNDU for non-deterministic jobs by exactly the mediator seeing a2 n times", () => {
    const s = { ...base, honesty: 1, verifyProbability: 1, jcFixed: 0, rpFixed: 0, verifyCost: 0 };
    const exact = expectedJobUtilities(s).jc;
    const notebook = JCNDU(3, 0.5, 1, 0.9, 150, 100, 1, 0, 1);
    // The notebook books that case as non-deterministic (JC loses N = 300); the chain says the JC
    // was wrong (it loses P + D = 250).
    const p2n = 0.1 ** 3;
    expect(exact - notebook).to.be.closeTo(0.1 * p2n * (-250 + 300), 1e-9);
  });
});
