/**
 * Jobs are real programs identified by hash (SPEC §2.3). A job spec names a program and its
 * input; its hash is what a job offer carries. Two programs: a deterministic one, and one that is
 * non-deterministic on purpose (its answer falls in class a1 with probability p1, else a2), the
 * JC's tool for the cheat mediation is built to catch. Running a program never touches the chain.
 */
import { createHash } from "node:crypto";
import { AbiCoder, keccak256, toUtf8Bytes } from "ethers";
import { InvalidInputError } from "../errors";

export interface JobSpec {
  program: "sha256-chain" | "coin-flip";
  /** The program's input. */
  input: string;
  /** For coin-flip: the probability of answer class a1. */
  p1?: number;
}

/** The hash a job offer carries: keccak256(abi.encode(program, input, p1 in millionths)). */
export function specHash(spec: JobSpec): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["string", "string", "uint256"], [spec.program, spec.input, Math.round((spec.p1 ?? 1) * 1e6)]));
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The answers a program can give, by class (a1 first). A deterministic program has one. */
export function answerClasses(spec: JobSpec): string[] {
  if (spec.program === "sha256-chain") {
    let x = spec.input;
    for (let i = 0; i < 1000; i++) x = sha256(x);
    return [x];
  }
  if (spec.program === "coin-flip") return [`a1:${sha256(spec.input)}`, `a2:${sha256(spec.input)}`];
  throw new InvalidInputError(`unknown program ${(spec as JobSpec).program}`);
}

/**
 * Runs the program once. `entropy` stands for whatever makes a run non-deterministic (here a
 * uniform number in [0, 1)); the deterministic program ignores it.
 */
export function runProgram(spec: JobSpec, entropy: () => number): string {
  const [a1, a2] = answerClasses(spec);
  if (spec.program === "sha256-chain") return a1;
  const p1 = spec.p1 ?? 1;
  if (!(p1 >= 0 && p1 <= 1)) throw new InvalidInputError(`p1 = ${p1} is not a probability`);
  return entropy() < p1 ? a1 : a2;
}

/** The hash of a result as the RP posts it and the mediator compares it. */
export function resultHash(result: string): string {
  return keccak256(toUtf8Bytes(result));
}
