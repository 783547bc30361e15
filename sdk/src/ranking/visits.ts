import type { Components, SparseRows } from "./graph";

/**
 * The reach relation of SPEC §1.3 step 2: i reaches j when the probability H_ij that a walk on
 * P (P_ij = W_ij / rowSum_i) started at i ever visits j exceeds theta. With the states split
 * into closed classes and transient states T, Q = P[T, T] and N = (I - Q)^-1:
 *  - H_ii = 1;
 *  - j in closed class K: H_ij = 1 for i in K, 0 for i in another closed class, and for i in T
 *    the absorption probability (N P[T, K] 1)_i;
 *  - j in T: H_ij = 0 for i closed, N_ij / N_jj for i in T.
 *
 * Structure exploited: only transient rows are solved, and they are solved one transient
 * component at a time, downstream components first (Tarjan's order), because a row of
 * X = [N | N P[T, K] 1] satisfies X_i = e_i + sum_k P_ik X_k (+ P_iK for absorbing classes), and
 * every k outside i's component is downstream of it. A component of s states costs one s x s
 * elimination; a chain of single states costs one pass over each edge. Float work runs in a
 * fixed order (ascending uids and edges), so the same input gives the same bits.
 */
export interface ReachRelation {
  n: number;
  /** Uids of the transient states, numbered as the solver numbers them (downstream components first). */
  transient: Int32Array;
  /** Members of each closed class (ascending uids), classes in a fixed order. */
  closedClasses: number[][];
  /** Closed class index of each uid, or -1 for a transient state. */
  classOf: Int32Array;
  /** Index of each uid among the transient states, or -1 for a closed one. */
  tIndex: Int32Array;
  /**
   * Whether transient state number a reaches column b: b < t is transient state number b,
   * b >= t is closed class b - t.
   */
  transientReaches(a: number, b: number): boolean;
  reaches(i: number, j: number): boolean;
  /** For a transient i: the closed classes it reaches. */
  classesReachedBy(i: number): number[];
}

export function reachRelation(g: SparseRows, comps: Components, theta: number): ReachRelation {
  const { n, start, cols, vals, rowSum } = g;
  const { componentOf, members, closed } = comps;

  const classOfComponent = new Int32Array(members.length).fill(-1);
  const closedClasses: number[][] = [];
  members.forEach((m, id) => {
    if (closed[id]) {
      classOfComponent[id] = closedClasses.length;
      closedClasses.push(m);
    }
  });
  const classOf = new Int32Array(n);
  for (let i = 0; i < n; i++) classOf[i] = classOfComponent[componentOf[i]];

  // Transient states are numbered component by component in the order they are solved
  // (downstream first), members ascending: component K owns columns [base, base + s) of X, its
  // downstream states all lie in [0, base), and no state of it reaches a column in [base + s, t).
  const transientList: number[] = [];
  const baseOf = new Int32Array(members.length).fill(-1);
  for (let id = 0; id < members.length; id++) {
    if (closed[id]) continue;
    baseOf[id] = transientList.length;
    transientList.push(...members[id]);
  }
  const transient = Int32Array.from(transientList);
  const t = transient.length;
  const c = closedClasses.length;
  const width = t + c;
  const tIndex = new Int32Array(n).fill(-1);
  transient.forEach((uid, k) => (tIndex[uid] = k));

  // X[k] for transient state number k: its N row over T, then its absorption probability per class.
  const X: Float64Array[] = new Array(t);
  for (let id = 0; id < members.length; id++) {
    if (!closed[id]) solveComponent(members[id], id, baseOf[id]);
  }

  /** row[q] -= f * other[q] for q in [from, to). */
  function axpy(row: Float64Array, f: number, other: Float64Array, from: number, to: number): void {
    for (let q = from; q < to; q++) row[q] -= f * other[q];
  }

  function solveComponent(m: number[], id: number, base: number): void {
    const s = m.length;
    const A = new Float64Array(s * s); // I - Q restricted to the component
    const rhs: Float64Array[] = [];
    for (let a = 0; a < s; a++) {
      const i = m[a];
      A[a * s + a] = 1;
      const row = new Float64Array(width);
      row[base + a] = 1;
      const sum = rowSum[i];
      for (let e = start[i]; e < start[i + 1]; e++) {
        const j = cols[e];
        const pij = vals[e] / sum;
        const cj = componentOf[j];
        if (cj === id) {
          A[a * s + (tIndex[j] - base)] -= pij;
        } else if (classOfComponent[cj] !== -1) {
          row[t + classOfComponent[cj]] += pij;
        } else {
          const xj = X[tIndex[j]];
          axpy(row, -pij, xj, 0, base);
          axpy(row, -pij, xj, t, width);
        }
      }
      rhs.push(row);
    }
    // Gaussian elimination without pivoting: I - Q of a transient block is a nonsingular
    // M-matrix. In the forward pass row k's own block is still lower triangular (columns <= k).
    for (let k = 0; k < s; k++) {
      const pivot = A[k * s + k];
      const rk = rhs[k];
      for (let r = k + 1; r < s; r++) {
        const f = A[r * s + k] / pivot;
        if (f === 0) continue;
        for (let q = k + 1; q < s; q++) A[r * s + q] -= f * A[k * s + q];
        const rr = rhs[r];
        axpy(rr, f, rk, 0, base + k + 1);
        axpy(rr, f, rk, t, width);
      }
    }
    for (let k = s - 1; k >= 0; k--) {
      const rk = rhs[k];
      for (let q = k + 1; q < s; q++) {
        const f = A[k * s + q];
        if (f === 0) continue;
        const rq = rhs[q];
        axpy(rk, f, rq, 0, base + s);
        axpy(rk, f, rq, t, width);
      }
      const pivot = A[k * s + k];
      for (let z = 0; z < base + s; z++) rk[z] /= pivot;
      for (let z = t; z < width; z++) rk[z] /= pivot;
      X[base + k] = rk;
    }
  }

  // Bit (a, b) of `bits`: transient state a reaches column b (a transient state, then a class).
  const stride = Math.ceil(width / 32);
  const bits = new Uint32Array(t * stride);
  for (let a = 0; a < t; a++) {
    const xa = X[a];
    const base = a * stride;
    for (let b = 0; b < t; b++) {
      if (a === b || xa[b] / X[b][b] > theta) bits[base + (b >>> 5)] |= 1 << (b & 31);
    }
    for (let k = 0; k < c; k++) {
      if (xa[t + k] > theta) bits[base + ((t + k) >>> 5)] |= 1 << ((t + k) & 31);
    }
  }
  const bit = (a: number, b: number) => (bits[a * stride + (b >>> 5)] >>> (b & 31)) & 1;

  return {
    n,
    transient,
    closedClasses,
    classOf,
    tIndex,
    transientReaches: (a: number, b: number) => bit(a, b) === 1,
    reaches(i: number, j: number): boolean {
      if (i === j) return true;
      const ci = classOf[i];
      if (ci !== -1) return classOf[j] === ci;
      const cj = classOf[j];
      return bit(tIndex[i], cj === -1 ? tIndex[j] : t + cj) === 1;
    },
    classesReachedBy(i: number): number[] {
      const a = tIndex[i];
      const out: number[] = [];
      for (let k = 0; k < c; k++) if (bit(a, t + k)) out.push(k);
      return out;
    },
  };
}
