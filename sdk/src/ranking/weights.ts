import { InvalidInputError } from "../errors";

/** A stored row sums to this (uint16 weights, SPEC §1.1). */
export const ROW_TOTAL = 65535;
/** uint16 weights per 256-bit storage word. */
export const LANES = 16;
const LANE_MASK = 0xffffn;

/** Number of 256-bit words that hold a row of `n` weights. */
export function wordsFor(n: number): number {
  return Math.ceil(n / LANES);
}

/**
 * Normalizes a row to sum 65535 exactly as `RankingMarket.setWeights` does on chain
 * (contracts/libraries/WeightRow.sol), so a caller can send a row that is stored as it is:
 * 1. a row that already sums to 65535 is kept;
 * 2. every non-zero weight whose proportional share is below one unit gets exactly 1, repeated
 *    with the units and weight left until no further weight qualifies (each pass tests every
 *    remaining weight against the same totals);
 * 3. the remaining units go by largest remainder (ties to the lower uid) to the other weights.
 * @param values a dense row (index = uid), integers in [0, 65535], at least one non-zero.
 */
export function normalizeRow(values: ArrayLike<number>): number[] {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v > ROW_TOTAL) {
      throw new InvalidInputError(`weight of uid ${i} is ${v}: weights are integers in [0, ${ROW_TOTAL}]`);
    }
    sum += v;
  }
  if (sum === 0) throw new InvalidInputError("every weight of the row is zero: at least one must be non-zero");
  const target = new Array<number>(n).fill(0);
  if (sum === ROW_TOTAL) {
    for (let i = 0; i < n; i++) target[i] = values[i];
    return target;
  }
  // Products stay below 2^53: v * units <= 65535 * 65535, rest <= 4096 * 65535.
  let units = ROW_TOTAL;
  let rest = sum;
  for (;;) {
    let fixedCount = 0;
    let fixedWeight = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v !== 0 && target[i] === 0 && v * units < rest) {
        target[i] = 1;
        fixedCount++;
        fixedWeight += v;
      }
    }
    if (fixedCount === 0) break;
    units -= fixedCount;
    rest -= fixedWeight;
  }
  const remainders: { uid: number; remainder: number }[] = [];
  let given = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === 0 || target[i] !== 0) continue;
    const share = v * units;
    target[i] = Math.floor(share / rest);
    given += target[i];
    const remainder = share % rest;
    if (remainder !== 0) remainders.push({ uid: i, remainder });
  }
  remainders.sort((a, b) => b.remainder - a.remainder || a.uid - b.uid);
  for (let j = 0; j < units - given; j++) target[remainders[j].uid]++;
  return target;
}

/** The learning-rate step of whitepaper eq. 17 on one weight: floor((old (1 - lambda) + target lambda)). */
export function emaWeight(old: number, target: number, lambda: bigint): number {
  const WAD = 10n ** 18n;
  return Number((BigInt(old) * (WAD - lambda) + BigInt(target) * lambda) / WAD);
}

/** Packs a dense row into 256-bit words: uid 16w + m in bits [16m, 16m + 16) of word w. */
export function packRow(values: ArrayLike<number>): bigint[] {
  const words = new Array<bigint>(wordsFor(values.length)).fill(0n);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v > ROW_TOTAL) {
      throw new InvalidInputError(`weight of uid ${i} is ${v}: weights are integers in [0, ${ROW_TOTAL}]`);
    }
    if (v !== 0) words[i >> 4] |= BigInt(v) << BigInt((i & 15) * 16);
  }
  return words;
}

/** Unpacks `n` weights from packed words (the inverse of `packRow`). */
export function unpackRow(words: readonly bigint[], n: number, offset = 0): Uint16Array {
  const row = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    row[i] = Number((words[offset + (i >> 4)] >> BigInt((i & 15) * 16)) & LANE_MASK);
  }
  return row;
}

/** Splits the result of `getWeightRows` (rows of `rowWords` words each) into dense rows of `n` weights. */
export function unpackRows(words: readonly bigint[], rowWords: number, n: number): Uint16Array[] {
  if (rowWords !== wordsFor(n)) {
    throw new InvalidInputError(`rows of ${n} weights take ${wordsFor(n)} words, not ${rowWords}`);
  }
  if (words.length % rowWords !== 0) {
    throw new InvalidInputError(`${words.length} words is not a whole number of rows of ${rowWords} words`);
  }
  const rows: Uint16Array[] = [];
  for (let at = 0; at < words.length; at += rowWords) rows.push(unpackRow(words, n, at));
  return rows;
}

/** A dense row as the sparse (uids, values) pairs `setWeights` takes: non-zero entries, uids increasing. */
export function sparseRow(values: ArrayLike<number>): { uids: number[]; values: number[] } {
  const uids: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== 0) {
      uids.push(i);
      vals.push(values[i]);
    }
  }
  return { uids, values: vals };
}
