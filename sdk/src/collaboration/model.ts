/**
 * The model of "Paid with Models" (SPEC §4, seed 002): accuracy of a model trained on m units of
 * contribution, the valuation of a model, the outside option of a party, and exact expectations
 * over the multinomial number of parties of each type. Pure.
 */
import { InvalidInputError } from "../errors";

/** a(m) = max(0, 1 - (sqrt(2k(2 + ln(m/k))) + 4) / sqrt(m)) for m > k e^-2, else 0. */
export function accuracy(m: number, k = 1): number {
  if (!(m > k * Math.exp(-2))) return 0;
  return Math.max(0, 1 - (Math.sqrt(2 * k * (2 + Math.log(m / k))) + 4) / Math.sqrt(m));
}

/** a'(m) where a > 0 (0 where a is 0). */
export function accuracySlope(m: number, k = 1): number {
  if (accuracy(m, k) <= 0) return 0;
  const s = Math.sqrt(2 * k * (2 + Math.log(m / k)));
  return ((s + 4) / 2 - k / s) / m ** 1.5;
}

/** v(r) = 100 r: what a model of accuracy r is worth to a party. */
export const VALUE_SCALE = 100;
export function valuation(r: number): number {
  return VALUE_SCALE * r;
}

/**
 * f = max(0, max_m v(a(m)) - c m): what a party of cost c gets alone. The maximum of the concave
 * part is where v a'(m) = c, found by bisection on the decreasing slope.
 */
export function outsideOption(c: number, k = 1): { value: number; m: number } {
  if (!(c > 0)) throw new InvalidInputError(`cost ${c} must be positive`);
  // a' rises then falls; start the search at the peak of the slope (found on a log grid).
  let peak = k;
  for (let m = k * Math.exp(-2) * 1.0001; m < 1e12; m *= 1.05) if (accuracySlope(m, k) > accuracySlope(peak, k)) peak = m;
  if (VALUE_SCALE * accuracySlope(peak, k) <= c) return { value: 0, m: 0 };
  let lo = peak;
  let hi = peak;
  while (VALUE_SCALE * accuracySlope(hi, k) > c) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (VALUE_SCALE * accuracySlope(mid, k) > c) lo = mid;
    else hi = mid;
  }
  const m = (lo + hi) / 2;
  const value = valuation(accuracy(m, k)) - c * m;
  return value > 0 ? { value, m } : { value: 0, m: 0 };
}

/** Everything the solver needs at a menu m, from one pass over the multinomial. */
export interface Expectations {
  /** E[a(sum n_i m_i)] and its gradient in m. */
  accuracy: number;
  accuracyGrad: number[];
  /** F_i = E[v(a(total)) | n_i >= 1] and its gradient in m, per type. */
  value: number[];
  valueGrad: number[][];
  /** P(n_i >= 1). */
  present: number[];
}

/**
 * Exact expectations over (n_1..n_I) ~ Multinomial(N, p), by enumerating every composition of N
 * (C(N + I - 1, I - 1) of them). Gradients come from the same pass: d/dm_j E[g(total)] = E[n_j g'(total)].
 */
export function expectations(m: readonly number[], probs: readonly number[], N: number, k = 1): Expectations {
  const I = probs.length;
  const logFact = new Float64Array(N + 1);
  for (let n = 2; n <= N; n++) logFact[n] = logFact[n - 1] + Math.log(n);
  const logP = probs.map((p) => (p > 0 ? Math.log(p) : -Infinity));
  const counts = new Array<number>(I).fill(0);
  let acc = 0;
  const accGrad = new Array<number>(I).fill(0);
  const value = new Array<number>(I).fill(0);
  const valueGrad = Array.from({ length: I }, () => new Array<number>(I).fill(0));
  const present = new Array<number>(I).fill(0);
  const visit = (type: number, left: number, logProb: number, total: number) => {
    if (type === I - 1) {
      counts[type] = left;
      const lp = logProb + (left > 0 ? left * logP[type] : 0) - logFact[left];
      if (lp === -Infinity) return;
      const prob = Math.exp(logFact[N] + lp);
      const t = total + left * m[type];
      const a = accuracy(t, k);
      const slope = accuracySlope(t, k);
      acc += prob * a;
      for (let j = 0; j < I; j++) accGrad[j] += prob * counts[j] * slope;
      for (let i = 0; i < I; i++) {
        if (counts[i] === 0) continue;
        present[i] += prob;
        value[i] += prob * VALUE_SCALE * a;
        for (let j = 0; j < I; j++) valueGrad[i][j] += prob * VALUE_SCALE * counts[j] * slope;
      }
      return;
    }
    for (let n = 0; n <= left; n++) {
      counts[type] = n;
      visit(type + 1, left - n, logProb + (n > 0 ? n * logP[type] : 0) - logFact[n], total + n * m[type]);
    }
  };
  visit(0, N, 0, 0);
  for (let i = 0; i < I; i++) {
    if (present[i] > 0) {
      value[i] /= present[i];
      for (let j = 0; j < I; j++) valueGrad[i][j] /= present[i];
    }
  }
  return { accuracy: acc, accuracyGrad: accGrad, value, valueGrad, present };
}
