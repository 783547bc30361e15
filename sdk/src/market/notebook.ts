/**
 * The economic models of the MODICUM notebook (seed 001), function by function, with the
 * notebook's argument order, defaults and meaning (SPEC §2.2). Kept literal on purpose, quirks
 * included (each is noted where it appears); `exact.ts` has the expected utilities of the
 * verdict table the contracts implement, which the simulations are checked against.
 *
 * Symbols: M_n re-executions, M_PR penalty rate, M_NDPR non-determinism penalty rate, p1 the
 * probability of answer class a1, p the probability the JC verifies, q the probability the RP
 * computes honestly, jcj / cj the JC's verification cost, rcj / cd the RP's cost of a junk answer,
 * roi the RP's return on investment (its cost is price * (1 - roi)), I its insurance rate.
 */
import { InvalidInputError } from "../errors";

/** The gas the notebook charges for requesting mediation; 0 there, and here. */
const JC_GAS_PRICE = 0;

/** The JC's utility with a job that answers a1 with probability p1 (notebook `JCNDU`). */
export function JCNDU(
  M_n: number,
  M_PR: number,
  M_NDPR: number,
  p1: number,
  benefit: number,
  price: number,
  p = 1,
  jcj = 0,
  q = 1,
): number {
  void M_PR; // the notebook takes PR but its JC model does not use it
  const p2 = 1 - p1;
  const NDdeposit = price * M_NDPR * M_n;
  const honest = p * q * p1 * (benefit - price - jcj);
  const NDJC_HRP_Gain = p * q * p2 * p1 ** M_n * (benefit + price - jcj);
  const NDJC_HRP_Lose = p * q * p2 * (1 - p1 ** M_n) * (benefit - NDdeposit - JC_GAS_PRICE - jcj);
  const ND = NDJC_HRP_Gain + NDJC_HRP_Lose;
  const DRP_Gain = p * (1 - q) * p1 ** M_n * (price - jcj);
  const DRP_Lose = p * (1 - q) * (1 - p1 ** M_n) * (-NDdeposit - JC_GAS_PRICE - jcj);
  const DRP_scared = p * (1 - q) * (-price - jcj);
  const DRP = Math.max(DRP_Gain + DRP_Lose, DRP_scared);
  const noID_HRP = (1 - p) * q * (benefit - price);
  const noID_DRP = (1 - p) * (1 - q) * -price;
  return honest + ND + DRP + noID_HRP + noID_DRP;
}

/** The honest RP's utility against such a job (notebook `RPNDU`). */
export function RPNDU(M_n: number, M_PR: number, M_NDPR: number, p1: number, price: number, p = 1, q = 1, roi = 0, I = 0): number {
  void M_NDPR;
  void q; // the notebook's honest-RP model takes q but does not use it
  const p2 = 1 - p1;
  const deposit = price * M_PR * M_n;
  const execCost = -(price * (1 - roi) - deposit * I);
  const noVerifypayout = (1 - p) * price;
  const P1payout = p * p1 * price;
  const P2payout = p * p2 * (1 - p1 ** M_n) * price;
  const notP1cost = -p * p2 * p1 ** M_n * deposit;
  return execCost + noVerifypayout + P1payout + P2payout + notP1cost;
}

/**
 * The utility of an RP that computes honestly with probability q and returns junk otherwise
 * (notebook `RPNDUD`). Quirk kept: the execution cost is q * price * (1 - roi) and is then
 * multiplied by q again in each honest term, so for 0 < q < 1 this is not the expectation of
 * the mixed strategy (`expectedJobUtilities` is); at q = 0 and q = 1 the two agree.
 */
export function RPNDUD(
  M_n: number,
  M_PR: number,
  M_NDPR: number,
  p1: number,
  price: number,
  p = 1,
  rcj = 0,
  q = 1,
  roi = 0,
  I = 0,
): number {
  void M_NDPR;
  const p2 = 1 - p1;
  const deposit = price * M_PR * M_n;
  const execCost = q * price * (1 - roi);
  const insurance = deposit * I;
  const fraudCost = rcj;
  const honestJC = p * q * p1 * (price - execCost);
  const NDJC_HRP_Gain = p * q * p2 * (1 - p1 ** M_n) * (price - execCost);
  const NDJC_HRP_Lose = p * q * p2 * p1 ** M_n * (-deposit - execCost);
  const ND = NDJC_HRP_Gain + NDJC_HRP_Lose;
  const DRP_Gain = p * (1 - q) * (1 - p1 ** M_n) * (price - fraudCost);
  const DRP_Lose = p * (1 - q) * p1 ** M_n * (-deposit - fraudCost);
  const DRP = DRP_Gain + DRP_Lose;
  const noID_HRP = (1 - p) * q * (price - execCost);
  const noID_DRP = (1 - p) * (1 - q) * (price - fraudCost);
  return honestJC + ND + DRP + insurance + noID_HRP + noID_DRP;
}

/** The JC's utility when it follows the protocol (notebook `protocolU`). */
export function protocolU(benefit: number, price: number): number {
  return benefit - price;
}

/**
 * The best a non-deterministic JC can hope for (notebook `NDU`): it pays for a1 answers and
 * disputes a2 ones, winning the job for free (and the price) when the mediator sees a1 n times.
 * Here the ND deposit is price * NDPR (the notebook's NDU leaves out the factor n).
 */
export function NDU(M_n: number, M_NDPR: number, p1: number, price: number, benefit: number): number {
  const p2 = 1 - p1;
  const NDdeposit = price * M_NDPR;
  const paid = p1 * (benefit - price);
  const free = p2 * (p1 ** M_n * (benefit + price) - (1 - p1 ** M_n) * NDdeposit);
  return paid + free;
}

/** Deterministic mixed strategy: 1 when the RP computes honestly (p > (c - cd)/(f + m + r)), else 0 (notebook `getQ`). */
export function getQ(c: number, cd: number, f: number, m: number, r: number, p: number): number {
  return p > qValue(c, cd, f, m, r) ? 1 : 0;
}

/** The verification probability above which cheating does not pay the RP (notebook `qValue`). */
export function qValue(c: number, cd: number, f: number, m: number, r: number): number {
  return (c - cd) / (f + m + r);
}

/** The JC's utility in the deterministic mixed strategy (notebook `JCmixed`; q is recomputed, as there). */
export function JCmixed(b: number, r: number, p: number, cj: number, f: number, c: number, cd: number, m: number, q?: number): number {
  void q;
  const Q = getQ(c, cd, f, m, r, p);
  const noCheat = Q * (b - r - p * cj);
  const cheat = (1 - Q) * (p * (f - cj) + (1 - p) * -r);
  return noCheat + cheat;
}

/** The RP's utility in the deterministic mixed strategy (notebook `RPmixed`; q is recomputed, as there). */
export function RPmixed(r: number, p: number, f: number, c: number, m: number, cd: number, q?: number): number {
  void q;
  const Q = getQ(c, cd, f, m, r, p);
  const noCheat = Q * (r - c);
  const cheat = (1 - Q) * ((1 - p) * r - p * (f + m) - cd);
  return cheat + noCheat;
}

/**
 * The q at which RPNDUD is flat in q (notebook `QInflection`). Quirk kept: the notebook assigns
 * the denominator's first term and then overwrites it, so that term never counts.
 */
export function QInflection(M_n: number, M_PR: number, p1: number, price: number, p: number, rcj: number, roi: number): number {
  const deposit = price * M_PR * M_n;
  const p2 = 1 - p1;
  let top = -price * p * p1;
  top += price * (p - 1);
  top += price * p * p2 * (p1 ** M_n - 1);
  top += p * p2 * p1 ** M_n * deposit;
  top -= p * (p1 ** M_n - 1) * (price - rcj);
  top -= p * p1 ** M_n * (rcj + deposit);
  top -= (p - 1) * (price - rcj);
  let bottom = -price * (p - 1) * 2 * (roi - 1);
  bottom -= price * p * p2 * (p1 ** M_n - 1) * 2 * (roi - 1);
  bottom -= p * p2 * p1 ** M_n * 2 * price * (roi - 1);
  return top / bottom;
}

/** The RP's best honesty q for a job of class probability p1 (notebook `RPQFinder`). */
export function RPQFinder(M_n: number, M_PR: number, p1: number, price: number, p: number, rcj: number, roi: number): number {
  const p2 = 1 - p1;
  if (p === 0) {
    if (rcj > price * (1 - roi)) return 1;
    if (rcj < price * (1 - roi)) return 0;
    throw new InvalidInputError("p = 0 with rcj equal to the execution cost: the notebook's RPQFinder divides by zero");
  }
  const val =
    p1 * (price * (1 - (1 - roi))) +
    p1 ** M_n * (price * M_PR * M_n * (1 - p2) - p2 * price * (1 - roi) + rcj) +
    (1 - p1 ** M_n) * (price * (p2 - 1 - p2 * (1 - roi)) + rcj) +
    ((1 - p) * (rcj - price * (1 - roi))) / p;
  const qInflection = QInflection(M_n, M_PR, p1, price, p, rcj, roi);
  if (qInflection > 0 && qInflection < 1) return qInflection;
  return val >= 0 ? 1 : 0;
}

/** The least price an RP asks: its cost plus insurance on its deposit against ND cheats. */
export function requestedPrice(price: number, roi: number, deposit: number, I: number): number {
  return price * (1 - roi) + deposit * I;
}
