import { InvalidInputError } from "../errors";
import { fromLimbSums, LimbSum, toLimbs } from "./exact";
import { stronglyConnectedComponents, toSparseRows } from "./graph";
import { buildEmissionTree } from "./merkle";
import { reachRelation, ReachRelation } from "./visits";
import { ROW_TOTAL } from "./weights";

const WAD = 10n ** 18n;
const WAD2 = WAD * WAD;

export interface EpochParams {
  /** Connectivity scale (WAD). */
  rho: bigint;
  /** Reach threshold on visit probabilities, in (0, 1). */
  theta: number;
  /** Emission per epoch as a fraction of total stake (WAD). */
  tau: bigint;
}

export interface EpochInput {
  /** Raw weight rows, uint16, one per uid (length n each). A zero row means self-trust only. */
  weights: ArrayLike<ArrayLike<number>>;
  /** Stake of each uid in wei. */
  stake: readonly bigint[];
  params: EpochParams;
}

export interface EpochResult {
  n: number;
  /** Whether i reaches j: H_ij > theta (SPEC §1.3 step 2). */
  reaches(i: number, j: number): boolean;
  /** The reach relation with the closed classes and transient states. */
  relation: ReachRelation;
  /** Stake shares (WAD). */
  p: bigint[];
  /** Outward trust o_i = sum of p_j over the j that i reaches (WAD). */
  outwardTrust: bigint[];
  /** Clipping factors min(2 o_i, 1) (WAD). */
  clip: bigint[];
  /** Clipped shares q_i = p_i * clip_i (WAD). */
  q: bigint[];
  /** Ranks. */
  r: bigint[];
  /** Emission per uid (wei). */
  emission: bigint[];
  /** Sum of the emission: what the epoch mints (at most tau * total stake). */
  totalEmission: bigint;
  /** Merkle root over (uid, emission) leaves with emission > 0; bytes32(0) when nothing is emitted. */
  root: string;
  proof(uid: number): string[];
}

/**
 * The epoch function of SPEC §1.3: from the weights and stakes at an epoch's snapshot to each
 * peer's emission and the Merkle root validators commit to. Deterministic: floats only for the
 * visit probabilities (in a fixed order), exact integers from there on. Pure: no chain access.
 */
export function computeEpoch(input: EpochInput): EpochResult {
  const { weights, stake, params } = input;
  const n = validate(input);
  const g = toSparseRows(weights);
  const relation = reachRelation(g, stronglyConnectedComponents(g), params.theta);
  const { transient, closedClasses, classOf, tIndex } = relation;
  const t = transient.length;

  // Step 3: stake shares.
  const totalStake = stake.reduce((a, b) => a + b, 0n);
  const p = stake.map((s) => (totalStake === 0n ? 0n : (s * WAD) / totalStake));
  const pLimbs = toLimbs(p);

  // Step 4: outward trust and clipping. A closed class's members reach exactly their class.
  const classShare = closedClasses.map((m) => m.reduce((a, i) => a + p[i], 0n));
  const outwardTrust = new Array<bigint>(n);
  for (let i = 0; i < n; i++) if (classOf[i] !== -1) outwardTrust[i] = classShare[classOf[i]];
  for (let a = 0; a < t; a++) {
    const sum = new LimbSum();
    for (let b = 0; b < t; b++) if (relation.transientReaches(a, b)) sum.add(pLimbs, transient[b]);
    let o = sum.value();
    for (let k = 0; k < closedClasses.length; k++) if (relation.transientReaches(a, t + k)) o += classShare[k];
    outwardTrust[transient[a]] = o;
  }
  const clip = outwardTrust.map((o) => (2n * o < WAD ? 2n * o : WAD));
  const q = p.map((pi, i) => (pi * clip[i]) / WAD);
  const qLimbs = toLimbs(q);

  // Step 5, connectivity term: for each j, the clipped shares of the peers that reach it.
  const reachedBy = new Array<bigint>(n);
  const classQ = closedClasses.map((m) => m.reduce((a, i) => a + q[i], 0n));
  const classInflow = closedClasses.map(() => new LimbSum());
  const transientInflow = Array.from({ length: t }, () => new LimbSum());
  for (let a = 0; a < t; a++) {
    const i = transient[a];
    for (let b = 0; b < t; b++) if (relation.transientReaches(a, b)) transientInflow[b].add(qLimbs, i);
    for (let k = 0; k < closedClasses.length; k++) if (relation.transientReaches(a, t + k)) classInflow[k].add(qLimbs, i);
  }
  for (let j = 0; j < n; j++) {
    const k = classOf[j];
    reachedBy[j] = k !== -1 ? classQ[k] + classInflow[k].value() : transientInflow[tIndex[j]].value();
  }

  // Step 5, weight term: sum_i floor(W_ij q_i / rowSum_i), each term exact. With
  // q_i = a_i rowSum_i + b_i, a term is W_ij a_i + floor(W_ij b_i / rowSum_i): the first part
  // accumulates in 20-bit limbs, the second is below 65535 per term.
  const col0 = new Float64Array(n);
  const col1 = new Float64Array(n);
  const col2 = new Float64Array(n);
  const colFloor = new Float64Array(n);
  const { start, cols, vals, rowSum } = g;
  const quotients: bigint[] = new Array(n);
  const remainders = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const sum = BigInt(rowSum[i] === 0 ? 1 : rowSum[i]);
    quotients[i] = q[i] / sum;
    remainders[i] = Number(q[i] % sum);
  }
  const [a0, a1, a2] = toLimbs(quotients);
  for (let i = 0; i < n; i++) {
    if (rowSum[i] === 0) {
      // A zero row trusts only itself: P_ii = 1, its whole share flows to i.
      col0[i] += a0[i];
      col1[i] += a1[i];
      col2[i] += a2[i];
      continue;
    }
    const sum = rowSum[i];
    const b = remainders[i];
    for (let e = start[i]; e < start[i + 1]; e++) {
      const j = cols[e];
      const w = vals[e];
      col0[j] += w * a0[i];
      col1[j] += w * a1[i];
      col2[j] += w * a2[i];
      colFloor[j] += exactFloorDiv(w * b, sum);
    }
  }
  const r = new Array<bigint>(n);
  for (let j = 0; j < n; j++) {
    const weightTerm = fromLimbSums(col0[j], col1[j], col2[j]) + BigInt(colFloor[j]);
    r[j] = weightTerm + (params.rho * p[j] * reachedBy[j]) / WAD2;
  }

  // Step 6: emission.
  const cap = (params.tau * totalStake) / WAD;
  const sumR = r.reduce((a, b) => a + b, 0n);
  const emission = r.map((rj) => (totalStake === 0n || sumR === 0n ? 0n : (cap * rj) / sumR));
  const totalEmission = emission.reduce((a, b) => a + b, 0n);

  // Step 7: the Merkle tree validators commit to.
  const tree = buildEmissionTree(emission);
  return {
    n,
    reaches: (i, j) => relation.reaches(i, j),
    relation,
    p,
    outwardTrust,
    clip,
    q,
    r,
    emission,
    totalEmission,
    root: tree.root,
    proof: tree.proof,
  };
}

/** floor(x / d) for exact integer doubles x < 2^53 and d > 0, corrected for rounding of x / d. */
function exactFloorDiv(x: number, d: number): number {
  let f = Math.floor(x / d);
  if (f * d > x) f--;
  else if ((f + 1) * d <= x) f++;
  return f;
}

function validate({ weights, stake, params }: EpochInput): number {
  const n = weights.length;
  if (n > 4096) throw new InvalidInputError(`${n} peers: the ranking market holds at most 4096`);
  if (stake.length !== n) throw new InvalidInputError(`${n} weight rows but ${stake.length} stakes`);
  for (let i = 0; i < n; i++) {
    const row = weights[i];
    if (row.length !== n) throw new InvalidInputError(`weight row ${i} has ${row.length} entries, not ${n}`);
    for (let j = 0; j < n; j++) {
      const w = row[j];
      if (!Number.isInteger(w) || w < 0 || w > ROW_TOTAL) {
        throw new InvalidInputError(`weight W[${i}][${j}] = ${w} is not a uint16`);
      }
    }
    if (stake[i] < 0n) throw new InvalidInputError(`stake of uid ${i} is negative`);
  }
  if (!(params.theta > 0 && params.theta < 1)) throw new InvalidInputError(`theta = ${params.theta} is not in (0, 1)`);
  if (params.rho < 0n) throw new InvalidInputError(`rho = ${params.rho} is negative`);
  if (params.tau < 0n) throw new InvalidInputError(`tau = ${params.tau} is negative`);
  return n;
}
