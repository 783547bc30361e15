/**
 * Analysis of the job market beyond the notebook (SPEC §2.2): the exact supremum of a JC's
 * non-determinism gain, parameter recommendations, and the expected utilities of every party
 * under the verdict table the contracts implement (what simulations are checked against).
 */
import { InvalidInputError } from "../errors";
import { NDU, protocolU } from "./notebook";

/**
 * The gain of non-determinism over the protocol, NDU - PU, as a function of p1: with
 * R = price * NDPR (the notebook's NDU deposit), it is (1 - p)(A p^n - B) with A = b + c + R and
 * B = b - c + R.
 */
function gainCoefficients(ndDeposit: number, price: number, benefit: number) {
  return { A: benefit + price + ndDeposit, B: benefit - price + ndDeposit };
}

/**
 * The exact supremum over p1 in [0, 1] of NDU - PU (notebook `NDU` and `protocolU`) and where it
 * is reached. The derivative (1 - p)(A p^n - B) is A n p^(n-1) - A (n+1) p^n + B, which has at
 * most one root on each side of (n-1)/(n+1); both are found by bisection to machine precision and
 * compared with the ends of the interval.
 * Note: the gain is positive just below p1 = 1 for every NDPR (its slope there is -2 * price), so
 * no penalty rate removes it; the notebook's "NDPR = 24 removes the gain" holds only on its grid.
 */
export function maxNonDeterminismGain(n: number, NDPR: number, price: number, benefit: number): { p1: number; gain: number } {
  if (!Number.isInteger(n) || n < 1) throw new InvalidInputError(`n = ${n} must be a positive integer`);
  if (!(NDPR >= 0) || !(price >= 0) || !(benefit >= 0)) throw new InvalidInputError("NDPR, price and benefit must be non-negative");
  const gain = (p: number) => NDU(n, NDPR, p, price, benefit) - protocolU(benefit, price);
  const { A, B } = gainCoefficients(price * NDPR, price, benefit);
  const slope = (p: number) => A * n * p ** (n - 1) - A * (n + 1) * p ** n + B;
  const turn = (n - 1) / (n + 1);
  const candidates = [0, 1];
  for (const [lo, hi] of [
    [0, turn],
    [turn, 1],
  ]) {
    let a = lo;
    let b = hi;
    if (Math.sign(slope(a)) === Math.sign(slope(b)) || slope(a) === 0 || slope(b) === 0) {
      if (slope(a) === 0) candidates.push(a);
      if (slope(b) === 0) candidates.push(b);
      continue;
    }
    for (let k = 0; k < 200 && b - a > 0; k++) {
      const mid = (a + b) / 2;
      if (mid === a || mid === b) break;
      if (Math.sign(slope(mid)) === Math.sign(slope(a))) a = mid;
      else b = mid;
    }
    candidates.push((a + b) / 2);
  }
  let best = { p1: 0, gain: gain(0) };
  for (const p of candidates) if (gain(p) > best.gain) best = { p1: p, gain: gain(p) };
  return best;
}

/** The notebook's evaluation: the best p1 on a grid of `step` (0.02 there) and its gain. */
export function nonDeterminismGainOnGrid(n: number, NDPR: number, price: number, benefit: number, step = 0.02): { p1: number; gain: number } {
  const points = Math.round(1 / step);
  let best = { p1: 0, gain: -Infinity };
  for (let k = 0; k <= points; k++) {
    const p1 = k / points;
    const g = NDU(n, NDPR, p1, price, benefit) - protocolU(benefit, price);
    if (g > best.gain) best = { p1, gain: g };
  }
  return best;
}

export interface RecommendationInput {
  /** Re-executions per mediation. */
  n: number;
  price: number;
  benefit: number;
  /** The RP's cost of computing the job. */
  execCost: number;
  /** The RP's cost of a junk answer. */
  junkCost: number;
  /** How often the JC verifies results. */
  verifyProbability: number;
  /** Bound on each gain, as a fraction of the price (e.g. 0.01). */
  targetFraction: number;
}

export interface Recommendation {
  /** Smallest NDPR (on-chain: the ND deposit is price * NDPR * n) bounding the JC's ND gain. */
  ndpr: number;
  /** The JC's largest ND gain at that NDPR (at its worst-case p1). */
  ndGain: number;
  ndWorstP1: number;
  /** Smallest PR (deposits price * PR * n) that makes cheating gain at most the target at `verifyProbability`. */
  pr: number;
  /** The RP's gain from returning junk instead of computing, at that PR: execCost - junkCost - p (price + D). */
  rpCheatGain: number;
  /** The verification probability the JC needs with the cheapest deposits the contract allows (PR = 1/n). */
  verifyProbabilityAtMinimumPR: number;
}

/**
 * The smallest NDPR and PR that keep the JC's non-determinism gain and the RP's cheating gain at
 * most `targetFraction * price`, within the contract's bounds NDPR * n >= 1 and PR * n >= 1.
 * The RP's gain from junk (deterministic mixed strategy, SPEC §2.1 "RP cheated" row: caught, it
 * loses D_R and is not paid) is c - cd - p (price + D_R).
 */
export function recommendParameters(input: RecommendationInput): Recommendation {
  const { n, price, benefit, execCost, junkCost, verifyProbability: p, targetFraction } = input;
  if (!(targetFraction > 0)) throw new InvalidInputError("targetFraction must be positive: no finite NDPR removes the gain entirely");
  if (!(p > 0 && p <= 1)) throw new InvalidInputError("verifyProbability must be in (0, 1]");
  if (!(price > 0)) throw new InvalidInputError("price must be positive");
  const target = targetFraction * price;
  // On chain N_J = price * NDPR * n: the notebook's NDU deposit rate is NDPR * n.
  const gainAt = (ndpr: number) => maxNonDeterminismGain(n, ndpr * n, price, benefit);
  let lo = 1 / n;
  let hi = lo;
  while (gainAt(hi).gain > target) hi *= 2;
  if (gainAt(lo).gain > target) {
    for (let k = 0; k < 100; k++) {
      const mid = (lo + hi) / 2;
      if (gainAt(mid).gain > target) lo = mid;
      else hi = mid;
    }
  } else hi = lo;
  const nd = gainAt(hi);
  const depositNeeded = (execCost - junkCost - target) / p - price;
  const pr = Math.max(1 / n, depositNeeded / (price * n));
  const deposit = price * pr * n;
  return {
    ndpr: hi,
    ndGain: nd.gain,
    ndWorstP1: nd.p1,
    pr,
    rpCheatGain: execCost - junkCost - p * (price + deposit),
    verifyProbabilityAtMinimumPR: Math.min(1, Math.max(0, (execCost - junkCost - target) / (price + price))),
  };
}

// ------------------------------------------------------------------ the verdict table's expectations

export interface JobStrategies {
  n: number;
  /** Penalty rates as on chain (deposits price * rate * n). */
  pr: number;
  ndpr: number;
  price: number;
  benefit: number;
  /** P(the JC verifies a result) and what verifying costs it. */
  verifyProbability: number;
  verifyCost: number;
  /** P(the RP computes honestly); otherwise it returns junk. */
  honesty: number;
  /** P(answer class a1) of the job: 1 for a deterministic job. */
  p1: number;
  /** The RP's cost of computing, and of a junk answer. */
  execCost: number;
  junkCost: number;
  /** Whether the JC disputes an honest answer of class a2 (the non-deterministic JC's move). */
  disputeSecondClass: boolean;
  /** Fixed payments: the JC's match fee and mediator price, the RP's. */
  jcFixed?: number;
  rpFixed?: number;
}

/** Probability and money of each way a job can end (net token flows, before fixed fees). */
export interface JobOutcome {
  name: string;
  probability: number;
  jc: number;
  rp: number;
  mediator: number;
  /** Whether the JC got a usable result (the RP computed honestly). */
  benefit: boolean;
}

/** Whether the JC disputes a junk answer: when the mediation's expectation beats paying. */
export function disputesJunk(s: Pick<JobStrategies, "n" | "ndpr" | "price" | "p1">): boolean {
  const allEqual = s.p1 ** s.n + (1 - s.p1) ** s.n;
  const N = s.price * s.ndpr * s.n;
  return allEqual * s.price - (1 - allEqual) * N >= -s.price;
}

/**
 * Every outcome of one job under the verdict table of SPEC §2.1 (accepted: JC -P, RP +P;
 * JC wrong: JC -(P + D), RP +2P, mediator D - P; RP cheated: JC +P, RP -D, mediator D - P;
 * non-deterministic: JC -N, RP +P, mediator N - P). A dispute of an honest a2 answer ends with the
 * mediator seeing a1 n times (RP "cheated"), a2 n times (JC wrong) or both (non-deterministic);
 * a junk answer differs from both classes.
 */
export function jobOutcomes(s: JobStrategies): JobOutcome[] {
  const { n, price: P, p1, verifyProbability: p, honesty: q } = s;
  const p2 = 1 - p1;
  const D = P * s.pr * n;
  const N = P * s.ndpr * n;
  const a1n = p1 ** n;
  const a2n = p2 ** n;
  const out: JobOutcome[] = [
    { name: "not verified, honest", probability: (1 - p) * q, jc: -P, rp: P, mediator: 0, benefit: true },
    { name: "not verified, junk", probability: (1 - p) * (1 - q), jc: -P, rp: P, mediator: 0, benefit: false },
    { name: "verified a1, accepted", probability: p * q * p1, jc: -P, rp: P, mediator: 0, benefit: true },
  ];
  if (s.disputeSecondClass) {
    out.push(
      { name: "a2 disputed, mediator sees a1: RP 'cheated'", probability: p * q * p2 * a1n, jc: P, rp: -D, mediator: D - P, benefit: true },
      { name: "a2 disputed, mediator sees a2: JC wrong", probability: p * q * p2 * a2n, jc: -(P + D), rp: 2 * P, mediator: D - P, benefit: true },
      { name: "a2 disputed, non-deterministic", probability: p * q * p2 * (1 - a1n - a2n), jc: -N, rp: P, mediator: N - P, benefit: true },
    );
  } else {
    out.push({ name: "verified a2, accepted", probability: p * q * p2, jc: -P, rp: P, mediator: 0, benefit: true });
  }
  if (disputesJunk(s)) {
    out.push(
      { name: "junk disputed: RP cheated", probability: p * (1 - q) * (a1n + a2n), jc: P, rp: -D, mediator: D - P, benefit: false },
      { name: "junk disputed: non-deterministic", probability: p * (1 - q) * (1 - a1n - a2n), jc: -N, rp: P, mediator: N - P, benefit: false },
    );
  } else {
    out.push({ name: "junk accepted", probability: p * (1 - q), jc: -P, rp: P, mediator: 0, benefit: false });
  }
  return out.filter((o) => o.probability > 0);
}

/** Expected utility per job of JC, RP and mediator under the verdict table (fixed fees included). */
export function expectedJobUtilities(s: JobStrategies): { jc: number; rp: number; mediator: number } {
  let jc = -s.verifyProbability * s.verifyCost - (s.jcFixed ?? 0);
  let rp = -s.honesty * s.execCost - (1 - s.honesty) * s.junkCost - (s.rpFixed ?? 0);
  let mediator = 0;
  for (const o of jobOutcomes(s)) {
    jc += o.probability * (o.jc + (o.benefit ? s.benefit : 0));
    rp += o.probability * o.rp;
    mediator += o.probability * o.mediator;
  }
  return { jc, rp, mediator };
}
