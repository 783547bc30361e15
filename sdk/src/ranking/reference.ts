import { stronglyConnectedComponents, toSparseRows } from "./graph";
import type { EpochInput } from "./epoch";

const WAD = 10n ** 18n;

/**
 * A straightforward implementation of SPEC §1.3 with no structure exploited: dense P, a dense
 * Gauss-Jordan inverse of I - Q over every transient state, the whole n x n matrix H, and bigint
 * arithmetic term by term. Slow, and kept on purpose: it is the oracle `computeEpoch` is tested
 * against and the baseline its benchmark is compared with. Not part of the SDK's API.
 */
export function computeEpochReference({ weights, stake, params }: EpochInput) {
  const n = weights.length;
  const P: number[][] = [];
  const rowSum: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += weights[i][j];
    rowSum.push(s);
    const row: number[] = [];
    for (let j = 0; j < n; j++) row.push(s === 0 ? (i === j ? 1 : 0) : weights[i][j] / s);
    P.push(row);
  }

  const { componentOf, members, closed } = stronglyConnectedComponents(toSparseRows(weights));
  const isClosed = (i: number) => closed[componentOf[i]];
  const T: number[] = [];
  for (let i = 0; i < n; i++) if (!isClosed(i)) T.push(i);
  const pos = new Map<number, number>();
  T.forEach((i, k) => pos.set(i, k));
  const N = invert(T.map((i, a) => T.map((j, b) => (a === b ? 1 : 0) - P[i][j])));
  // Absorption probabilities N * P[T, K] * 1, one column per closed class.
  const closedIds = members.map((_, id) => id).filter((id) => closed[id]);
  const toClass = T.map((i) => closedIds.map((id) => members[id].reduce((s, l) => s + P[i][l], 0)));
  const absorb = N.map((row) => closedIds.map((_, c) => row.reduce((s, nik, k) => s + nik * toClass[k][c], 0)));

  const H: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) {
      if (i === j) row.push(1);
      else if (isClosed(j)) {
        if (isClosed(i)) row.push(componentOf[i] === componentOf[j] ? 1 : 0);
        else row.push(absorb[pos.get(i)!][closedIds.indexOf(componentOf[j])]);
      } else if (isClosed(i)) row.push(0);
      else row.push(N[pos.get(i)!][pos.get(j)!] / N[pos.get(j)!][pos.get(j)!]);
    }
    H.push(row);
  }
  const reach = H.map((row, i) => row.map((h, j) => i === j || h > params.theta));

  const total = stake.reduce((a, b) => a + b, 0n);
  const p = stake.map((s) => (total === 0n ? 0n : (s * WAD) / total));
  const outwardTrust = reach.map((row) => row.reduce((o, r, j) => (r ? o + p[j] : o), 0n));
  const clip = outwardTrust.map((o) => (2n * o < WAD ? 2n * o : WAD));
  const q = p.map((pi, i) => (pi * clip[i]) / WAD);
  const r: bigint[] = [];
  for (let j = 0; j < n; j++) {
    let rj = 0n;
    let inflow = 0n;
    for (let i = 0; i < n; i++) {
      if (rowSum[i] === 0) rj += i === j ? q[i] : 0n;
      else rj += (BigInt(weights[i][j]) * q[i]) / BigInt(rowSum[i]);
      if (reach[i][j]) inflow += q[i];
    }
    r.push(rj + (params.rho * p[j] * inflow) / (WAD * WAD));
  }
  const cap = (params.tau * total) / WAD;
  const sumR = r.reduce((a, b) => a + b, 0n);
  const emission = r.map((rj) => (total === 0n || sumR === 0n ? 0n : (cap * rj) / sumR));
  return { H, reach, p, outwardTrust, clip, q, r, emission, totalEmission: emission.reduce((a, b) => a + b, 0n) };
}

/** Gauss-Jordan inverse with partial pivoting, on plain arrays. */
function invert(A: number[][]): number[][] {
  const m = A.length;
  const M = A.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < m; c++) {
    let best = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(M[r][c]) > Math.abs(M[best][c])) best = r;
    [M[c], M[best]] = [M[best], M[c]];
    const pivot = M[c][c];
    for (let k = 0; k < 2 * m; k++) M[c][k] /= pivot;
    for (let r = 0; r < m; r++) {
      if (r === c || M[r][c] === 0) continue;
      const f = M[r][c];
      for (let k = 0; k < 2 * m; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row) => row.slice(m));
}
