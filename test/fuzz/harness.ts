/**
 * Stateful invariant fuzzing on the embedded Hardhat network.
 *
 * Each contract's suite describes its actions as a fast-check arbitrary, a model of what the
 * contract owes, and the invariants to check after every step. `fuzz` deploys once, snapshots the
 * chain, and runs FUZZ_RUNS seeded sequences of FUZZ_STEPS actions, each from the snapshot. A failing
 * sequence is shrunk by fast-check and reported with its seed and path, so
 * `AGORA_FUZZ_SEED=<seed> npm run fuzz` (or the printed `path`) replays it.
 *
 * `npm test` runs 100 sequences of 30 steps per contract (300 until issue 12 doubled the suites'
 * cost: the tests must stay a few minutes long); `npm run fuzz` runs 3000.
 */
import fc from "fast-check";
import { network } from "hardhat";
import { ContractTransactionResponse, Interface, Result } from "ethers";
import { revertData } from "../../sdk/src/chain/revert";

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

export const FUZZ_RUNS = intEnv("AGORA_FUZZ_RUNS", 100);
export const FUZZ_STEPS = intEnv("AGORA_FUZZ_STEPS", 30);
export const FUZZ_SEED = intEnv("AGORA_FUZZ_SEED", 20261122);
/**
 * Whether a suite also checks that its generator reached every action, error and state it aims
 * at: only in runs of at least 100 sequences (`npm test`, `npm run fuzz`); shorter runs are quick
 * local tries, too short to reach the rare ones.
 */
export const GENERATOR_CHECKS = FUZZ_RUNS >= 100;

/** What one attempted transaction did: it went through, or it reverted with a (decoded) error. */
export type Outcome = { ok: true } | { ok: false; error: string; args: unknown[] };

/**
 * Sends a transaction and reports whether it reverted, decoding the custom error with the given
 * interfaces (the contract under test, the token, the hostile helpers). Anything that is not a
 * revert (a bug in the test) is rethrown.
 */
export async function attempt(send: () => Promise<ContractTransactionResponse>, interfaces: Interface[]): Promise<Outcome> {
  try {
    const tx = await send();
    await tx.wait();
    return { ok: true };
  } catch (error) {
    const data = revertData(error);
    if (data === undefined) {
      const message = (error as Error).message ?? "";
      const reason = /reverted with reason string '([^']*)'/.exec(message);
      if (reason) return { ok: false, error: `Error(${reason[1]})`, args: [] };
      if (/reverted without a reason|panic code/i.test(message)) return { ok: false, error: message.split("\n")[0], args: [] };
      throw error;
    }
    for (const iface of interfaces) {
      const parsed = iface.parseError(data);
      if (parsed) return { ok: false, error: parsed.name, args: [...parsed.args] };
    }
    return { ok: false, error: `unknown revert ${data.slice(0, 10)}`, args: [] };
  }
}

/**
 * A transaction for `attempt`, sent straight to the embedded node from one of its unlocked
 * accounts with a fixed gas limit (no estimate, no signing, no receipt polling: about three times
 * cheaper than an ethers contract call, which matters at 9,000 steps). With automining the node
 * mines it at once and throws with the revert data if it reverts, so the handle has nothing left to
 * wait for.
 */
export function rawTransaction(from: string, to: string, data: string, gasLimit: bigint | number = 10_000_000): () => Promise<ContractTransactionResponse> {
  const gas = "0x" + BigInt(gasLimit).toString(16);
  return async () => {
    await network.provider.send("eth_sendTransaction", [{ from, to, data, gas }]);
    return { wait: async () => null } as unknown as ContractTransactionResponse;
  };
}

/** A view called straight on the node (eth_call at the latest block), decoded with `iface`. */
export async function rawCall(to: string, iface: Interface, fn: string, args: unknown[] = [], from?: string): Promise<Result> {
  const data = iface.encodeFunctionData(fn, args);
  const ret: string = await network.provider.send("eth_call", [{ to, data, ...(from ? { from } : {}) }, "latest"]);
  return iface.decodeFunctionResult(fn, ret);
}

/** Throws unless `outcome` is what the model expected: success, or a revert with this error. */
export function expectOutcome(outcome: Outcome, expected: true | string, what: string): void {
  if (expected === true) {
    if (!outcome.ok) throw new Error(`${what}: expected success, reverted with ${outcome.error}(${outcome.args.join(", ")})`);
  } else if (outcome.ok) {
    throw new Error(`${what}: expected a revert with ${expected}, but it went through`);
  } else if (outcome.error !== expected) {
    throw new Error(`${what}: expected a revert with ${expected}, got ${outcome.error}(${outcome.args.join(", ")})`);
  }
}

/** Moves the chain's clock forward by `seconds` and mines a block. */
export async function advance(seconds: number): Promise<void> {
  if (seconds > 0) await network.provider.send("evm_increaseTime", [seconds]);
  await network.provider.send("evm_mine", []);
}

/**
 * Mines `blocks` empty blocks in one call. The blocks in between have no state of their own on the
 * embedded network (reads at them see no contracts), so a suite that reads past blocks (stake
 * checkpoints, epoch snapshots) mines with `evm_mine` one block at a time instead.
 */
export async function mineBlocks(blocks: number): Promise<void> {
  if (blocks > 0) await network.provider.send("hardhat_mine", ["0x" + blocks.toString(16)]);
}

export interface FuzzSuite<World, Model, Action> {
  /** Deploys and funds once; the chain is snapshotted after it. */
  deploy: () => Promise<World>;
  /** A fresh model for one sequence (the chain is back at the snapshot). */
  model: (world: World) => Model | Promise<Model>;
  /** The actions a sequence is made of; a sequence is FUZZ_STEPS of them. */
  action: fc.Arbitrary<Action>;
  /** Performs one action, checking its outcome against the model and updating the model. */
  step: (world: World, model: Model, action: Action) => Promise<void>;
  /** Checked after every step; throws with a message naming the broken invariant. */
  invariants: (world: World, model: Model) => Promise<void>;
}

/** Statistics of a fuzz run, for the test to assert the sequences exercised something. */
export interface FuzzStats {
  sequences: number;
  steps: number;
}

/** Runs FUZZ_RUNS sequences of FUZZ_STEPS actions of the suite from a snapshot, seeded by FUZZ_SEED. */
export async function fuzz<World, Model, Action>(suite: FuzzSuite<World, Model, Action>): Promise<FuzzStats> {
  const world = await suite.deploy();
  const snapshot: string = await network.provider.send("evm_snapshot", []);
  const stats: FuzzStats = { sequences: 0, steps: 0 };
  let current = snapshot;
  const sequence = fc.array(suite.action, { minLength: FUZZ_STEPS, maxLength: FUZZ_STEPS });
  try {
    await fc.assert(
      fc.asyncProperty(sequence, async (actions) => {
        await network.provider.send("evm_revert", [current]);
        current = await network.provider.send("evm_snapshot", []);
        const model = await suite.model(world);
        stats.sequences += 1;
        for (const [i, action] of actions.entries()) {
          try {
            await suite.step(world, model, action);
            await suite.invariants(world, model);
          } catch (error) {
            (error as Error).message = `step ${i} ${JSON.stringify(action, bigintJson)}: ${(error as Error).message}`;
            throw error;
          }
          stats.steps += 1;
        }
      }),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED, endOnFailure: false, verbose: 0 },
    );
  } finally {
    await network.provider.send("evm_revert", [current]);
  }
  return stats;
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
