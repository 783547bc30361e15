/**
 * Exact sums of many non-negative integers below 2^60 without bigint arithmetic in the inner
 * loops: each value is split into three 20-bit limbs held in doubles. A limb sum of up to 2^33
 * products of a 20-bit limb and a 16-bit weight stays below 2^53, so every addition is exact.
 */

const LIMB = 2 ** 20;
const LIMB_BIG = 1n << 20n;
/** Values split into limbs must be below this. */
export const LIMB_LIMIT = 1n << 60n;

/** Splits `values` (each < 2^60) into their three 20-bit limbs. */
export function toLimbs(values: readonly bigint[]): [Float64Array, Float64Array, Float64Array] {
  const n = values.length;
  const l0 = new Float64Array(n);
  const l1 = new Float64Array(n);
  const l2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = values[i];
    if (v < 0n || v >= LIMB_LIMIT) throw new RangeError(`value ${v} is outside [0, 2^60)`);
    l0[i] = Number(v % LIMB_BIG);
    v /= LIMB_BIG;
    l1[i] = Number(v % LIMB_BIG);
    l2[i] = Number(v / LIMB_BIG);
  }
  return [l0, l1, l2];
}

/** An exact accumulator of limb sums. */
export class LimbSum {
  l0 = 0;
  l1 = 0;
  l2 = 0;

  add(limbs: readonly [Float64Array, Float64Array, Float64Array], i: number): void {
    this.l0 += limbs[0][i];
    this.l1 += limbs[1][i];
    this.l2 += limbs[2][i];
  }

  value(): bigint {
    return fromLimbSums(this.l0, this.l1, this.l2);
  }
}

/** Recombines exact limb sums into the integer they stand for. */
export function fromLimbSums(l0: number, l1: number, l2: number): bigint {
  return (BigInt(l2) << 40n) + (BigInt(l1) << 20n) + BigInt(l0);
}

export { LIMB };
