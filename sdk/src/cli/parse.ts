import { InvalidArgumentError } from "commander";
import { parseUnits } from "ethers";

export const integer = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

/** A token amount in whole tokens ("12.5") to wei. */
export const tokens = (name: string) => (value: string) => {
  if (!/^\d+(\.\d{1,18})?$/.test(value)) throw new InvalidArgumentError(`${name} must be a token amount such as 10 or 2.5`);
  return parseUnits(value, 18);
};

export const address = (name: string) => (value: string) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value)) throw new InvalidArgumentError(`${name} must be a 0x-prefixed 20-byte address`);
  return value;
};

/** A finite number (negative allowed when `min` is undefined). */
export const number = (name: string, min?: number) => (value: string) => {
  const x = Number(value);
  if (!Number.isFinite(x) || (min !== undefined && x < min)) throw new InvalidArgumentError(`${name} must be ${min === undefined ? "a number" : `a number of at least ${min}`}`);
  return x;
};
