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

/**
 * A row of non-negative float weights (any scale) to the uint16 row `setWeights` stores: scaled
 * so the largest weight is 65535, rounded, every non-zero weight kept at one unit or more, then
 * normalized to sum 65535 (`normalizeRow`). No non-zero weight is ever dropped.
 */
export function weightsFromFloats(values: ArrayLike<number>): number[] {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v < 0) throw new InvalidInputError(`weight of uid ${i} is ${v}: weights are finite and non-negative`);
    if (v > max) max = v;
  }
  if (max === 0) throw new InvalidInputError("every weight of the row is zero: at least one must be non-zero");
  const ints = Array.from(values, (v) => (v === 0 ? 0 : Math.max(1, Math.round((v / max) * ROW_TOTAL))));
  return normalizeRow(ints);
}

/**
 * Parses a weights file: JSON (a dense array of numbers, an object {uid: weight}, or an array of
 * {uid, weight}) or CSV lines "uid,weight" (a header line is allowed). Returns a dense row of
 * `n` entries (n = the largest uid + 1 if not given).
 */
export function parseWeightsFile(text: string, n?: number): number[] {
  const pairs: [number, number][] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (error) {
      throw new InvalidInputError(`the weights file is not valid JSON: ${(error as Error).message}`);
    }
    if (Array.isArray(data) && data.every((x) => typeof x === "number")) data.forEach((w, uid) => pairs.push([uid, w as number]));
    else if (Array.isArray(data)) {
      for (const entry of data) {
        const e = entry as { uid?: unknown; weight?: unknown };
        if (typeof e?.uid !== "number" || typeof e?.weight !== "number") throw new InvalidInputError("each entry of a JSON weights array must be a number or {uid, weight}");
        pairs.push([e.uid, e.weight]);
      }
    } else {
      for (const [k, w] of Object.entries(data as Record<string, unknown>)) {
        if (typeof w !== "number") throw new InvalidInputError(`the weight of uid ${k} is not a number`);
        pairs.push([Number(k), w]);
      }
    }
  } else {
    trimmed.split(/\r?\n/).forEach((line, i) => {
      const cells = line.split(",").map((c) => c.trim());
      if (line.trim() === "" || (i === 0 && Number.isNaN(Number(cells[0])))) return;
      if (cells.length !== 2) throw new InvalidInputError(`line ${i + 1} of the weights file: expected "uid,weight"`);
      pairs.push([Number(cells[0]), Number(cells[1])]);
    });
  }
  const seen = new Set<number>();
  for (const [uid, w] of pairs) {
    if (!Number.isInteger(uid) || uid < 0) throw new InvalidInputError(`uid ${uid} is not a non-negative integer`);
    if (seen.has(uid)) throw new InvalidInputError(`uid ${uid} appears twice in the weights file`);
    if (!Number.isFinite(w) || w < 0) throw new InvalidInputError(`the weight of uid ${uid} is ${w}: weights are finite and non-negative`);
    seen.add(uid);
  }
  const size = n ?? Math.max(-1, ...pairs.map(([u]) => u)) + 1;
  const row = new Array<number>(size).fill(0);
  for (const [uid, w] of pairs) {
    if (uid >= size) throw new InvalidInputError(`uid ${uid} is not a peer: there are ${size} peers`);
    row[uid] = w;
  }
  return row;
}
