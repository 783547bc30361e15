/**
 * Stateful invariant fuzzing of RankingMarket (SPEC §1.1-1.2).
 *
 * Seven EOAs and one hostile contract (a HostileReceiver, hooked on a ReentrantToken that the
 * market uses as its token, armed to reenter `withdraw()` or `stake()` whenever a transfer touches
 * it) register, stake to their own and others' uids, unstake, withdraw, set weight rows (sparse and
 * packed), commit / reveal epoch results, close epochs and claim emission, in random seeded orders,
 * with a share of malicious moves: wrong callers, unknown uids, zero and too-large amounts,
 * malformed rows, out-of-window commits and reveals, wrong salts, replays, claims with wrong
 * proofs or amounts, claims on epochs that are not final, parameter changes by non-admins and out
 * of bounds. An admin changes parameters too.
 *
 * The model below predicts, for every transaction, success or the exact custom error (with its
 * arguments), and keeps per uid the stake ledger with its block history, the unbonding, the weight
 * row (normalized and moved with lambda by the SDK's own functions, which mirror the contract's),
 * per epoch the commitments, reveals, the stake behind each result, the final result and the
 * claims. What it does not re-implement is the rank computation: the "honest" result of an epoch is
 * what the SDK computes from the chain at the snapshot block (`computeEpochOnChain`), and the model
 * only predicts what the contract must do with it (cap, quorum, proofs, claim limits). Beside the
 * honest result, validators sometimes commit a rival result (the whole cap to one uid), a greedy one
 * (leaves that add up to more than the declared totalEmission) or one above the cap.
 *
 * Plausible moves that have nothing to act on are turned into the move that has (a validator does
 * the epoch duty that is due; a withdrawal with nothing unbonding becomes an unstake), so sequences
 * reach finalized epochs and claims; about a quarter of the moves are malicious.
 *
 * After every step: the block number is the model's; token.balanceOf(market) == totalStake() +
 * totalUnbonding() == what the model owes; getStakes() equals the model's stake of every uid;
 * stakeAt / totalStakeAt (and tauAt / quorumAt once changed) at a random past block equal the
 * model's ledger history; epochInfo (status, root, emission, claimed) of the touched or a random
 * epoch equals the model's, and no final epoch has paid more than its total; the touched actor's
 * unbondingOf and token balance equal the model's. After a success, what it stored is read back
 * (weight row, commitment, stake behind the result, claim flags, parameters), and the stakes the SDK
 * reads at a snapshot block equal the model's history. After every transfer that touched the
 * hostile contract: it tried to reenter exactly as often as the model says, reentrySuccesses() is 0
 * and the reentry was refused by the reentrancy guard. After the last step every peer unstakes all,
 * waits out its unbonding and withdraws: each gets exactly what the model says, the market ends
 * holding nothing, and reentrySuccesses() (a counter that only grows) is still 0.
 */
import { expect } from "chai";
import fc from "fast-check";
import hre from "hardhat";
import {
  AbiCoder,
  BytesLike,
  ContractTransactionResponse,
  ErrorDescription,
  ErrorFragment,
  hexlify,
  id,
  Interface,
  MaxUint256,
  ParamType,
  parseEther,
  ZeroAddress,
  ZeroHash,
} from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { attempt, expectOutcome, fuzz, mineBlocks, Outcome, FUZZ_RUNS, FUZZ_SEED, FUZZ_STEPS, GENERATOR_CHECKS, rawTransaction } from "./harness";
import {
  HostileReceiver,
  HostileReceiver__factory,
  RankingMarket,
  RankingMarket__factory,
  ReentrantToken,
  ReentrantToken__factory,
} from "../../typechain-types";
import { DEFAULT_RANKING_CONFIG, RankingConfig } from "../../deploy/config";
import { computeEpochOnChain } from "../../sdk/src/chain/ranking";
import { buildEmissionTree, EmissionTree } from "../../sdk/src/ranking/merkle";
import { resultCommitment } from "../../sdk/src/ranking/commitment";
import { emaWeight, normalizeRow, packRow, ROW_TOTAL } from "../../sdk/src/ranking/weights";
import { mulberry32 } from "../../sdk/src/ranking/generators";

const WAD = 10n ** 18n;
const TOKENS = (n: number) => parseEther(String(n));
const GAS_LIMIT = 10_000_000;
const MAX_BLOCKS = 1_000_000n;

/** Small market: five uids for eight would-be peers (so MarketFull is reachable), 10-block epochs
 * whose commit window is the whole next epoch and reveal window the one after (so every block has
 * an epoch committing and one revealing), a weights rate limit and a short unbonding. */
const CONFIG: RankingConfig = {
  ...DEFAULT_RANKING_CONFIG,
  maxPeers: 5n,
  epochLength: 10n,
  commitBlocks: 10n,
  revealBlocks: 10n,
  weightsRateLimit: 8n,
  unbondingBlocks: 6n,
  minStakeToSetWeights: TOKENS(1),
};
const MAX_PEERS = Number(CONFIG.maxPeers);
const L = Number(CONFIG.epochLength);
const C = Number(CONFIG.commitBlocks);
const R = Number(CONFIG.revealBlocks);
const FUNDS = TOKENS(1000);

const ACTORS = 8; // actors 0..6 are EOAs, actor 7 is the hostile contract
const HOSTILE = 7;

/** IRankingMarket.Parameter, in enum order. */
const PARAMS = ["lambda", "quorum", "rho", "theta", "tau", "minStake", "rateLimit", "unbonding"] as const;
type ParamName = (typeof PARAMS)[number];
type Params = Record<ParamName, bigint>;
/** The bounds of SPEC §1.1-1.2 / parameterBounds, in enum order. */
const BOUNDS: [bigint, bigint][] = [
  [1n, WAD],
  [WAD / 2n, WAD - 1n],
  [1n, 10n ** 24n],
  [1n, WAD - 1n],
  [0n, WAD],
  [0n, 2n ** 128n - 1n],
  [0n, MAX_BLOCKS],
  [0n, MAX_BLOCKS],
];
/** Values an admin tries per parameter: in bounds and out of bounds. */
const IN_BOUNDS: bigint[][] = [
  [WAD, WAD / 2n, WAD / 3n, 1n],
  [WAD / 2n, (2n * WAD) / 3n, WAD - 1n],
  [WAD, 1n, 10n ** 24n],
  // Not WAD - 1: the contract accepts it, but the SDK reads theta as Number(theta) / 1e18, which
  // rounds to 1.0, and refuses to compute the epoch (reported; the SDK is not under test here).
  [WAD / 2n, WAD / 10n, 1n, WAD - 1000n],
  [WAD / 100n, WAD / 20n, 0n, WAD / 1000n, WAD],
  [TOKENS(1), 0n, TOKENS(20), TOKENS(1), 2n ** 128n - 1n],
  [8n, 0n, 1n, 5n],
  [6n, 0n, 2n, 12n, MAX_BLOCKS],
];
const OUT_OF_BOUNDS: bigint[][] = [
  [0n, WAD + 1n],
  [WAD / 2n - 1n, WAD],
  [0n, 10n ** 24n + 1n],
  [0n, WAD],
  [WAD + 1n, MaxUint256],
  [2n ** 128n],
  [MAX_BLOCKS + 1n],
  [MAX_BLOCKS + 1n, MaxUint256],
];

// ---------------------------------------------------------------- world and model

interface World {
  token: ReentrantToken;
  market: RankingMarket;
  hostile: HostileReceiver;
  admin: HardhatEthersSigner;
  addresses: string[]; // by actor
  operator: string; // the EOA that drives the hostile contract
  marketAddress: string;
  tokenAddress: string;
  hostileAddress: string;
  tokenInterface: Interface;
  hostileInterface: Interface;
  genesis: number;
  parameterAdminRole: string;
  guardSelector: string;
  interfaces: Interface[];
  init: Model;
}

type Hist = [number, bigint][];

interface Peer {
  actor: number;
  regBlock: number;
  stake: bigint;
  hist: Hist;
  unbonding: bigint;
  release: number;
  row: number[] | null; // dense, MAX_PEERS lanes; null: never set (the peer trusts only itself)
  lastWeights: number;
}

interface Leaf {
  uid: number;
  amount: bigint;
  proof: string[];
}

interface Result {
  label: "honest" | "rival" | "greedy" | "overcap";
  root: string;
  total: bigint;
  leaves: Leaf[];
}

type EpochState = "Open" | "Finalized" | "Lapsed";

interface EpochModel {
  state: EpochState;
  final: Result | null;
  claimed: bigint;
  claimedUids: number[];
  commits: Map<number, { result: number; salt: string }>;
  revealed: number[];
  support: Map<string, bigint>;
  results: Result[] | null;
}

interface Model {
  block: number;
  peers: Peer[];
  uidOf: (number | null)[];
  balance: bigint[];
  totalStake: bigint;
  totalHist: Hist;
  totalUnbonding: bigint;
  params: Params;
  tauHist: Hist;
  quorumHist: Hist;
  epochs: Map<number, EpochModel>;
  attempts: number;
  attack: "withdraw" | "stake";
  steps: number;
  // What the last step touched, for the invariants to read.
  probe: number;
  touchedEpoch: number | null;
  touchedActors: number[];
  hostileMoved: boolean;
}

const KINDS = [
  "register",
  "registerFor",
  "stake",
  "unstake",
  "withdraw",
  "setWeights",
  "setWeightsPacked",
  "commit",
  "reveal",
  "claim",
  "claimMany",
  "closeEpoch",
  "mine",
  "setParameter",
  "rearm",
] as const;
type Kind = (typeof KINDS)[number];
const WEIGHTS: Record<Kind, number> = {
  register: 5,
  registerFor: 3,
  stake: 10,
  unstake: 7,
  withdraw: 7,
  setWeights: 7,
  setWeightsPacked: 5,
  commit: 15,
  reveal: 18,
  claim: 9,
  claimMany: 3,
  closeEpoch: 3,
  mine: 5,
  setParameter: 5,
  rearm: 2,
};
/** Kinds without a malicious variant (every move of theirs is a plausible one). */
const NO_MALICIOUS: Kind[] = ["mine", "rearm"];
const MALICIOUS_PERCENT = 25;

interface Action {
  kind: Kind;
  actor: number;
  /** < MALICIOUS_PERCENT: a malicious variant of the action. */
  variant: number;
  /** Seeds every other choice of the step (uids, amounts, rows, epochs). */
  seed: number;
  /** Picks the past block, uid and epoch the invariants probe. */
  probe: number;
}

// noBias: fast-check otherwise favours small values, which would skew the share of malicious
// variants and of actor 0.
const actionArb: fc.Arbitrary<Action> = fc.noBias(
  fc.record({
    kind: fc.oneof(...KINDS.map((k) => ({ arbitrary: fc.constant(k), weight: WEIGHTS[k] }))),
    actor: fc.nat({ max: ACTORS - 1 }),
    variant: fc.nat({ max: 99 }),
    seed: fc.nat(),
    probe: fc.nat(),
  }),
);

/** What the model expects of a transaction: success, or a revert with this error and these arguments. */
type Expect = true | { error: string; args: unknown[] };
const fail = (error: string, ...args: unknown[]): Expect => ({ error, args });

// ---------------------------------------------------------------- coverage statistics

interface KindStats {
  ok: number;
  reverted: number;
  maliciousTried: number;
  maliciousRejected: number;
  errors: Map<string, number>;
}
const stats = new Map<Kind, KindStats>(
  KINDS.map((k) => [k, { ok: 0, reverted: 0, maliciousTried: 0, maliciousRejected: 0, errors: new Map() }]),
);
const errorsSeen = new Map<string, number>();
const epochEvents = { finalized: 0, lapsed: 0, claimedLeaves: 0, greedyRefused: 0 };
let reentryAttemptsSeen = 0;

// ---------------------------------------------------------------- model helpers

const show = (value: unknown) => JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
/**
 * Throws unless the chain's `actual` equals the model's `expected` (compared as JSON, bigints as
 * decimals). Used instead of chai in the per-step checks: hardhat-chai-matchers' bigint-aware
 * equality is slow enough to show at 9,000 steps.
 */
function same(actual: unknown, expected: unknown, what: string): void {
  const a = show(actual);
  const e = show(expected);
  if (a !== e) throw new Error(`${what}: the chain says ${a}, the model expects ${e}`);
}

/** The value of a ledger history (blocks ascending) as of the end of `block`; 0 before its first entry. */
const lookup = (hist: Hist, block: number): bigint => {
  let lo = 0;
  let hi = hist.length; // the answer is the last entry at index < hi with entry block <= block
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (hist[mid][0] <= block) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0n : hist[lo - 1][1];
};
const snapshotOf = (world: World, epoch: number) => world.genesis + (epoch + 1) * L;
const currentEpoch = (world: World, block: number) => (block <= world.genesis + L ? 0 : Math.floor((block - world.genesis - 1) / L));
const commitOpen = (world: World, epoch: number, block: number) => block > snapshotOf(world, epoch) && block <= snapshotOf(world, epoch) + C;
const revealOpen = (world: World, epoch: number, block: number) =>
  block > snapshotOf(world, epoch) + C && block <= snapshotOf(world, epoch) + C + R;
const revealCloses = (world: World, epoch: number) => snapshotOf(world, epoch) + C + R;

function epochOf(model: Model, epoch: number): EpochModel {
  let e = model.epochs.get(epoch);
  if (!e) {
    e = { state: "Open", final: null, claimed: 0n, claimedUids: [], commits: new Map(), revealed: [], support: new Map(), results: null };
    model.epochs.set(epoch, e);
  }
  return e;
}

/** IRankingMarket.EpochStatus of `epoch` at `block`, as SPEC §1.2 defines the phases. */
function statusAt(world: World, model: Model, epoch: number, block: number): number {
  if (model.epochs.get(epoch)?.state === "Finalized") return 3;
  const s = snapshotOf(world, epoch);
  if (block <= s) return 0;
  if (block <= s + C) return 1;
  if (block <= s + C + R) return 2;
  return 4;
}

const stakeAtModel = (model: Model, uid: number | null, block: number) =>
  uid !== null && uid < model.peers.length ? lookup(model.peers[uid].hist, block) : 0n;
const capAt = (model: Model, snapshot: number) => (lookup(model.tauHist, snapshot) * lookup(model.totalHist, snapshot)) / WAD;
const resultKey = (root: string, total: bigint) => `${root.toLowerCase()}/${total}`;

function pushStake(model: Model, uid: number, delta: bigint, block: number): void {
  const p = model.peers[uid];
  p.stake += delta;
  p.hist.push([block, p.stake]);
  model.totalStake += delta;
  model.totalHist.push([block, model.totalStake]);
}

const selfRow = (uid: number) => Array.from({ length: MAX_PEERS }, (_, j) => (j === uid ? ROW_TOTAL : 0));

/** The stored row after a successful update toward `target` (dense, lanes < n): SPEC §1.1, eq. 17. */
function updateRow(model: Model, uid: number, target: number[]): void {
  const p = model.peers[uid];
  const old = p.row ?? selfRow(uid);
  const lambda = model.params.lambda;
  p.row = Array.from({ length: MAX_PEERS }, (_, j) => {
    const t = j < target.length ? target[j] : 0;
    if (lambda === WAD) return t;
    return old[j] === 0 && t === 0 ? 0 : emaWeight(old[j], t, lambda);
  });
}

function pick<T>(items: readonly T[], rand: () => number): T {
  return items[Math.floor(rand() * items.length)];
}
const randInt = (rand: () => number, n: number) => Math.floor(rand() * n);

/** A random bigint in [1, max] (max > 0). */
const randAmount = (rand: () => number, max: bigint) => 1n + (max * BigInt(randInt(rand, 1_000_000))) / 1_000_000n;

/**
 * Mines `blocks` blocks one evm_mine each. Not `mineBlocks` (hardhat_mine) inside a sequence: on
 * this Hardhat (EDR) the intermediate blocks of one hardhat_mine have no state for blockTag reads
 * (eth_call and eth_getCode at them answer as if no contract existed), and validators read each
 * epoch at its snapshot block, which may be one of them. The final drain, which reads no past
 * state, uses mineBlocks.
 */
async function mineEach(blocks: number): Promise<void> {
  for (let i = 0; i < blocks; i++) await hre.network.provider.request({ method: "evm_mine", params: [] });
}

// ---------------------------------------------------------------- sending

/**
 * Calldata of `fn`, the selector taken from a table: ethers' encodeFunctionData recomputes it (a
 * keccak) on every call.
 */
const functionTables = new WeakMap<Interface, Map<string, { selector: string; inputs: readonly ParamType[] }>>();
function encodeCall(iface: Interface, fn: string, args: readonly unknown[]): string {
  let table = functionTables.get(iface);
  if (!table) functionTables.set(iface, (table = new Map()));
  let entry = table.get(fn);
  if (!entry) {
    const fragment = iface.getFunction(fn)!;
    entry = { selector: fragment.selector, inputs: fragment.inputs };
    table.set(fn, entry);
  }
  return entry.selector + AbiCoder.defaultAbiCoder().encode(entry.inputs, args).slice(2);
}

/**
 * A contract's Interface whose parseError finds the error by its selector in a table. ethers'
 * parseError recomputes the selector (a keccak) of every error of the contract until one matches,
 * for each of the thousands of reverts a run decodes; the answer is the same.
 */
class IndexedErrors extends Interface {
  readonly #bySelector = new Map<string, ErrorFragment>();
  constructor(iface: Interface) {
    super(iface.fragments);
    this.forEachError((fragment) => this.#bySelector.set(fragment.selector, fragment));
  }
  override parseError(data: BytesLike): ErrorDescription | null {
    const hex = hexlify(data);
    const selector = hex.slice(0, 10);
    const fragment = this.#bySelector.get(selector);
    if (!fragment) return null;
    return new ErrorDescription(fragment, selector, AbiCoder.defaultAbiCoder().decode(fragment.inputs, "0x" + hex.slice(10)));
  }
}

/**
 * The validator an epoch action is done by: one of `candidates`, half the time (honest actions) the
 * one with the most stake at the snapshot, so that epochs reach quorum more often; with no
 * candidate, some registered peer tries anyway (honest actions), else undefined.
 */
function pickValidator(model: Model, snapshot: number, candidates: number[], registered: number[], malicious: boolean, rand: () => number): number | undefined {
  if (candidates.length > 0) {
    const bySize = [...candidates].sort((x, y) => Number(stakeAtModel(model, model.uidOf[y], snapshot) - stakeAtModel(model, model.uidOf[x], snapshot)));
    return !malicious && rand() < 0.5 ? bySize[0] : pick(candidates, rand);
  }
  if (!malicious && registered.length > 0) return pick(registered, rand);
  return undefined;
}

/** Sends a transaction straight to the embedded node (the harness's rawTransaction) and reports it as `attempt` does. */
function sendRaw(world: World, from: string, to: string, data: string): Promise<Outcome> {
  return attempt(rawTransaction(from, to, data, GAS_LIMIT), world.interfaces);
}

/** `actor` calls the market's `fn`; the hostile contract's calls go through its `act`. */
function send(world: World, actor: number, fn: string, args: unknown[]): Promise<Outcome> {
  const data = encodeCall(world.market.interface as Interface, fn, args);
  if (actor !== HOSTILE) return sendRaw(world, world.addresses[actor], world.marketAddress, data);
  const act = encodeCall(world.hostileInterface, "act", [world.marketAddress, data]);
  return sendRaw(world, world.operator, world.hostileAddress, act);
}

function check(outcome: Outcome, expected: Expect, what: string): void {
  expectOutcome(outcome, expected === true ? true : expected.error, what);
  if (expected !== true && !outcome.ok) {
    const got = outcome.args.map((a) => String(a).toLowerCase());
    const want = expected.args.map((a) => String(a).toLowerCase());
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`${what}: ${expected.error} with (${got.join(", ")}), the model expected (${want.join(", ")})`);
    }
  }
}

function record(kind: Kind, malicious: boolean, outcome: Outcome): void {
  const s = stats.get(kind)!;
  if (outcome.ok) s.ok += 1;
  else {
    s.reverted += 1;
    errorsSeen.set(outcome.error, (errorsSeen.get(outcome.error) ?? 0) + 1);
    s.errors.set(outcome.error, (s.errors.get(outcome.error) ?? 0) + 1);
  }
  if (malicious) {
    s.maliciousTried += 1;
    if (!outcome.ok) s.maliciousRejected += 1;
  }
}

// ---------------------------------------------------------------- epoch results

/** The candidate results of an epoch, computed once its snapshot block is mined. */
async function ensureResults(world: World, model: Model, epoch: number): Promise<Result[]> {
  const e = epochOf(model, epoch);
  if (e.results) return e.results;
  const s = snapshotOf(world, epoch);
  const sdk = await computeEpochOnChain(world.market, epoch);
  // The SDK read getStakes() at the snapshot blockTag: it must be the model's ledger at that block.
  const peersThen = model.peers.filter((p) => p.regBlock <= s).length;
  const modelStakes = Array.from({ length: peersThen }, (_, uid) => stakeAtModel(model, uid, s));
  same(sdk.snapshot.stake, modelStakes, `stakes read at snapshot block ${s} of epoch ${epoch}`);
  const honest: Result = {
    label: "honest",
    root: sdk.root,
    total: sdk.totalEmission,
    leaves: sdk.emission.flatMap((amount, uid) => (amount > 0n ? [{ uid, amount, proof: sdk.proof(uid) }] : [])),
  };
  const cap = capAt(model, s);
  const fromTree = (label: Result["label"], tree: EmissionTree, total: bigint): Result => ({
    label,
    root: tree.root,
    total,
    leaves: tree.leaves.map((l) => ({ uid: l.uid, amount: l.amount, proof: tree.proof(l.uid) })),
  });
  const rivalVector = Array.from({ length: peersThen }, (_, uid) => (uid === epoch % peersThen ? cap : 0n));
  const rival = fromTree("rival", buildEmissionTree(rivalVector), cap);
  // Leaves worth twice the declared total: the contract must stop the claims at the total.
  const greedy = fromTree(
    "greedy",
    buildEmissionTree(sdk.emission.map((a) => a * 2n)),
    sdk.totalEmission,
  );
  const overcap: Result = { ...honest, label: "overcap", total: cap + 1n };
  e.results = [honest, rival, greedy, overcap];
  return e.results;
}

function chooseResult(rand: () => number): number {
  const x = rand();
  return x < 0.7 ? 0 : x < 0.8 ? 1 : x < 0.9 ? 2 : 3;
}

const saltOf = (epoch: number, uid: number) => id(`fuzz salt ${epoch} ${uid}`);

/** The model's prediction of one claim, against `overlay` (claims earlier in the same batch). */
function predictClaim(
  model: Model,
  overlay: Map<number, { claimed: bigint; uids: number[] }>,
  epoch: number,
  uid: number,
  amount: bigint,
  proof: string[],
): Expect {
  const e = model.epochs.get(epoch);
  if (!e || e.state !== "Finalized" || !e.final) return fail("EpochNotFinalized", epoch);
  if (uid >= model.peers.length) return fail("UnknownUid", uid, model.peers.length);
  const o = overlay.get(epoch) ?? { claimed: e.claimed, uids: [...e.claimedUids] };
  if (o.uids.includes(uid)) return fail("AlreadyClaimed", epoch, uid);
  const valid = e.final.leaves.some(
    (l) => l.uid === uid && l.amount === amount && l.proof.length === proof.length && l.proof.every((p, i) => p === proof[i]),
  );
  if (!valid) return fail("InvalidProof", epoch, uid, amount);
  if (o.claimed + amount > e.final.total) return fail("ClaimExceedsEmission", epoch, o.claimed, amount, e.final.total);
  overlay.set(epoch, { claimed: o.claimed + amount, uids: [...o.uids, uid] });
  return true;
}

/** Finalized epochs' unclaimed leaves. */
function claimable(model: Model): { epoch: number; leaf: Leaf }[] {
  const out: { epoch: number; leaf: Leaf }[] = [];
  for (const [epoch, e] of model.epochs) {
    if (e.state !== "Finalized" || !e.final) continue;
    for (const leaf of e.final.leaves) if (!e.claimedUids.includes(leaf.uid)) out.push({ epoch, leaf });
  }
  return out;
}

// ---------------------------------------------------------------- weight rows

/** Sparse (uids, values) and dense rows for setWeights; `n` peers. */
function randomRow(rand: () => number, n: number): number[] {
  const dense = new Array<number>(n).fill(0);
  const k = 1 + randInt(rand, n);
  for (let i = 0; i < k; i++) dense[randInt(rand, n)] = rand() < 0.1 ? 0 : randInt(rand, 65536);
  if (!dense.some((v) => v !== 0)) dense[randInt(rand, n)] = 1 + randInt(rand, 65535);
  return rand() < 0.3 ? normalizeRow(dense) : dense;
}

function predictWeightSetter(world: World, model: Model, actor: number, nb: number): Expect {
  const uid = model.uidOf[actor];
  if (uid === null) return fail("NotRegistered", world.addresses[actor]);
  const p = model.peers[uid];
  if (p.stake < model.params.minStake) return fail("StakeBelowMinimum", uid, p.stake, model.params.minStake);
  if (p.row !== null) {
    const next = p.lastWeights + Number(model.params.rateLimit);
    if (nb < next) return fail("WeightsRateLimited", uid, next);
  }
  return true;
}

/** Registered actors that may set weights in block `nb`. */
function weightSetters(world: World, model: Model, nb: number): number[] {
  return model.peers.filter((p) => predictWeightSetter(world, model, p.actor, nb) === true).map((p) => p.actor);
}

// ---------------------------------------------------------------- steps

const nearEpochs = (world: World, nb: number) => {
  const cur = currentEpoch(world, nb);
  return [cur - 3, cur - 2, cur - 1, cur, cur + 1].filter((e) => e >= 0);
};

/**
 * A plausible move that has nothing to act on becomes the move that has: a validator does the epoch
 * duty that is due (reveal, commit or claim; only one epoch has each window open at a time) or, if
 * none is, waits for blocks; a withdrawal with nothing unbonding becomes an unstake. The statistics
 * count the move made. (Malicious moves are never redirected.)
 */
function redirect(world: World, model: Model, kind: Kind, nb: number): Kind {
  const epochDuty = (): Kind =>
    pendingReveal(world, model, nb) ? "reveal" : eligibleCommit(world, model, nb) ? "commit" : claimable(model).length > 0 ? "claim" : "mine";
  if (kind === "reveal" && !pendingReveal(world, model, nb)) return epochDuty();
  if (kind === "commit" && !eligibleCommit(world, model, nb)) return epochDuty();
  if (kind === "claim" && claimable(model).length === 0) return epochDuty();
  if (kind === "withdraw" && !model.peers.some((p) => p.unbonding > 0n) && model.peers.some((p) => p.stake > 0n)) return "unstake";
  return kind;
}

/** Whether some validator committed to the epoch whose reveal window holds block `nb` and has not revealed. */
function pendingReveal(world: World, model: Model, nb: number): boolean {
  return nearEpochs(world, nb).some((e) => {
    const ep = model.epochs.get(e);
    return revealOpen(world, e, nb) && ep !== undefined && ep.commits.size > ep.revealed.length;
  });
}

/** Whether some registered peer staked at the snapshot may still commit in block `nb`. */
function eligibleCommit(world: World, model: Model, nb: number): boolean {
  return nearEpochs(world, nb).some((e) => {
    if (!commitOpen(world, e, nb)) return false;
    const s = snapshotOf(world, e);
    const commits = model.epochs.get(e)?.commits;
    return model.peers.some((p, uid) => lookup(p.hist, s) > 0n && !commits?.has(uid));
  });
}

async function step(world: World, model: Model, action: Action): Promise<void> {
  const rand = mulberry32(action.seed);
  const nb = model.block + 1; // the block the transaction lands in
  let kind = action.kind;
  const malicious = !NO_MALICIOUS.includes(kind) && action.variant < MALICIOUS_PERCENT;
  if (!malicious) kind = redirect(world, model, kind, nb);
  const n = model.peers.length;
  const all = Array.from({ length: ACTORS }, (_, i) => i);
  const registered = all.filter((a) => model.uidOf[a] !== null);
  const unregistered = all.filter((a) => model.uidOf[a] === null);
  model.steps += 1;
  model.probe = action.probe;
  model.touchedEpoch = null;
  model.touchedActors = [];
  model.hostileMoved = false;

  let actor = action.actor;
  let outcome: Outcome;
  let expected: Expect;
  let what: string;
  let apply: () => void = () => {};
  /** Reads done after a success only (the stored row, commitment, result stake, parameters). */
  let post: (() => Promise<void>) | null = null;

  switch (kind) {
    case "register": {
      if (malicious && registered.length > 0) actor = pick(registered, rand);
      else if (!malicious && unregistered.length > 0) actor = pick(unregistered, rand);
      const uid = model.uidOf[actor];
      expected = uid !== null ? fail("AlreadyRegistered", world.addresses[actor], uid) : n >= MAX_PEERS ? fail("MarketFull", MAX_PEERS) : true;
      apply = () => {
        model.uidOf[actor] = n;
        model.peers.push({ actor, regBlock: nb, stake: 0n, hist: [], unbonding: 0n, release: 0, row: null, lastWeights: 0 });
      };
      what = `actor ${actor} register()`;
      outcome = await send(world, actor, "register", []);
      break;
    }
    case "registerFor": {
      const how = malicious ? randInt(rand, 3) : -1;
      if (how !== 0 && registered.length > 0) actor = pick(registered, rand);
      if (how === 0 && unregistered.length > 0) actor = pick(unregistered, rand);
      let targetActor: number | null = unregistered.length > 0 ? pick(unregistered, rand) : pick(all, rand);
      if (how === 1) targetActor = null; // the zero address
      if (how === 2 && registered.length > 0) targetActor = pick(registered, rand);
      const target = targetActor === null ? ZeroAddress : world.addresses[targetActor];
      const tuid = targetActor === null ? null : model.uidOf[targetActor];
      if (model.uidOf[actor] === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (targetActor === null) expected = fail("ZeroAddress");
      else if (tuid !== null) expected = fail("AlreadyRegistered", target, tuid);
      else if (n >= MAX_PEERS) expected = fail("MarketFull", MAX_PEERS);
      else expected = true;
      apply = () => {
        model.uidOf[targetActor!] = n;
        model.peers.push({ actor: targetActor!, regBlock: nb, stake: 0n, hist: [], unbonding: 0n, release: 0, row: null, lastWeights: 0 });
      };
      what = `actor ${actor} registerFor(${target})`;
      outcome = await send(world, actor, "registerFor", [target]);
      break;
    }
    case "stake": {
      const how = malicious ? randInt(rand, 3) : -1;
      const own = model.uidOf[actor];
      let uid = own !== null && rand() < 0.5 ? own : n > 0 ? randInt(rand, n) : 0;
      if (how === 0) uid = n + randInt(rand, 3);
      let amount = rand() < 0.2 ? randAmount(rand, TOKENS(1)) : randAmount(rand, TOKENS(150));
      if (how === 1) amount = 0n;
      if (how === 2) amount = model.balance[actor] + randAmount(rand, TOKENS(10));
      const balance = model.balance[actor];
      if (uid >= n) expected = fail("UnknownUid", uid, n);
      else if (amount === 0n) expected = fail("ZeroAmount");
      else if (balance < amount) expected = fail("ERC20InsufficientBalance", world.addresses[actor], balance, amount);
      else expected = true;
      apply = () => {
        model.balance[actor] -= amount;
        pushStake(model, uid, amount, nb);
        if (actor === HOSTILE) {
          model.attempts += 1; // the transfer from the hostile calls it back: it reenters
          model.hostileMoved = true;
        }
      };
      model.touchedActors = [actor];
      what = `actor ${actor} stake(${uid}, ${amount})`;
      outcome = await send(world, actor, "stake", [uid, amount]);
      break;
    }
    case "unstake": {
      const how = malicious ? randInt(rand, 3) : -1;
      const withStake = registered.filter((a) => model.peers[model.uidOf[a]!].stake > 0n);
      if (how === 2 && unregistered.length > 0) actor = pick(unregistered, rand);
      else if (withStake.length > 0) actor = pick(withStake, rand);
      const uid = model.uidOf[actor];
      const current = uid === null ? 0n : model.peers[uid].stake;
      let amount = current === 0n ? 1n : rand() < 0.25 ? current : randAmount(rand, current);
      if (how === 0) amount = 0n;
      if (how === 1) amount = current + randAmount(rand, TOKENS(5));
      if (uid === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (amount === 0n) expected = fail("ZeroAmount");
      else if (amount > current) expected = fail("InsufficientStake", uid, current, amount);
      else expected = true;
      apply = () => {
        const p = model.peers[uid!];
        pushStake(model, uid!, -amount, nb);
        p.unbonding += amount;
        p.release = nb + Number(model.params.unbonding);
        model.totalUnbonding += amount;
      };
      model.touchedActors = [actor];
      what = `actor ${actor} unstake(${amount})`;
      outcome = await send(world, actor, "unstake", [amount]);
      break;
    }
    case "withdraw": {
      const how = malicious ? randInt(rand, 3) : -1;
      const released = registered.filter((a) => {
        const p = model.peers[model.uidOf[a]!];
        return p.unbonding > 0n && p.release <= nb;
      });
      const bonding = registered.filter((a) => {
        const p = model.peers[model.uidOf[a]!];
        return p.unbonding > 0n && p.release > nb;
      });
      const nothing = registered.filter((a) => model.peers[model.uidOf[a]!].unbonding === 0n);
      const candidates = [released.length > 0 ? released : bonding, unregistered, nothing, bonding][how + 1];
      if (candidates.length > 0) actor = pick(candidates, rand);
      const uid = model.uidOf[actor];
      const p = uid === null ? null : model.peers[uid];
      if (p === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (p.unbonding === 0n) expected = fail("NothingToWithdraw", uid);
      else if (nb < p.release) expected = fail("StillUnbonding", uid, p.release, nb);
      else expected = true;
      apply = () => {
        model.balance[actor] += p!.unbonding;
        model.totalUnbonding -= p!.unbonding;
        p!.unbonding = 0n;
        p!.release = 0;
        if (actor === HOSTILE) {
          model.attempts += 1;
          model.hostileMoved = true;
        }
      };
      model.touchedActors = [actor];
      what = `actor ${actor} withdraw()`;
      outcome = await send(world, actor, "withdraw", []);
      break;
    }
    case "setWeights": {
      const how = malicious ? randInt(rand, 7) : -1;
      const setters = weightSetters(world, model, nb);
      const limited = registered.filter((a) => {
        const p = model.peers[model.uidOf[a]!];
        return p.row !== null && nb < p.lastWeights + Number(model.params.rateLimit);
      });
      if (how === 0 && unregistered.length > 0) actor = pick(unregistered, rand);
      else if (how === 6 && limited.length > 0) actor = pick(limited, rand);
      else if (how !== 0 && how !== 6 && setters.length > 0) actor = pick(setters, rand);
      const size = Math.max(n, 1);
      const dense = randomRow(rand, size);
      let uids: number[] = [];
      let values: number[] = [];
      dense.forEach((v, u) => {
        if (v !== 0 || rand() < 0.1) {
          uids.push(u);
          values.push(v);
        }
      });
      if (how === 1) {
        if (values.length > 1 && rand() < 0.5) values.pop();
        else values.push(1 + randInt(rand, 100));
      }
      if (how === 2) {
        if (uids.length >= 2 && rand() < 0.5) [uids[0], uids[1]] = [uids[1], uids[0]];
        else {
          const at = randInt(rand, uids.length);
          uids.splice(at + 1, 0, uids[at]);
          values.splice(at + 1, 0, 1 + randInt(rand, 100));
        }
      }
      if (how === 3) {
        uids.push(size + randInt(rand, 40));
        values.push(1 + randInt(rand, 1000));
      }
      if (how === 4) values = values.map(() => 0);
      if (how === 5) [uids, values] = [[], []];
      expected = predictWeightSetter(world, model, actor, nb);
      let target: number[] | null = null;
      if (expected === true) {
        if (uids.length !== values.length) expected = fail("LengthMismatch", uids.length, values.length);
        else {
          let sum = 0;
          for (let i = 0; i < uids.length && expected === true; i++) {
            if (i !== 0 && uids[i] <= uids[i - 1]) expected = fail("UidsNotIncreasing", i, uids[i - 1], uids[i]);
            else if (uids[i] >= n) expected = fail("UidOutOfRange", uids[i], n);
            sum += values[i];
          }
          if (expected === true && sum === 0) expected = fail("AllWeightsZero");
          if (expected === true) {
            const row = new Array<number>(n).fill(0);
            uids.forEach((u, i) => (row[u] = values[i]));
            target = normalizeRow(row);
          }
        }
      }
      const uid = model.uidOf[actor];
      apply = () => {
        updateRow(model, uid!, target!);
        model.peers[uid!].lastWeights = nb;
      };
      what = `actor ${actor} setWeights([${uids}], [${values}])`;
      post = () => checkRow(world, model, uid!);
      outcome = await send(world, actor, "setWeights", [uids, values]);
      break;
    }
    case "setWeightsPacked": {
      const how = malicious ? randInt(rand, 5) : -1;
      const setters = weightSetters(world, model, nb);
      if (how === 0 && unregistered.length > 0) actor = pick(unregistered, rand);
      else if (how !== 0 && setters.length > 0) actor = pick(setters, rand);
      const size = Math.max(n, 1);
      const words = Math.ceil(n / 16);
      let row = packRow(randomRow(rand, size));
      if (how === 1) row = [...row, ...Array.from({ length: 1 + randInt(rand, 2) }, () => BigInt(randInt(rand, 65536)))];
      if (how === 2 && size % 16 !== 0) row[row.length - 1] |= BigInt(1 + randInt(rand, 65535)) << BigInt(16 * (size + randInt(rand, 16 - size)));
      if (how === 3) row = row.map(() => 0n);
      if (how === 4) row = [];
      expected = predictWeightSetter(world, model, actor, nb);
      let target: number[] | null = null;
      if (expected === true) {
        const tail = n & 15;
        if (row.length > words) expected = fail("PackedRowTooLong", row.length, words);
        else if (row.length === words && tail !== 0 && row[words - 1] >> BigInt(16 * tail) !== 0n) {
          let lane = tail;
          while (((row[words - 1] >> BigInt(16 * lane)) & 0xffffn) === 0n) lane++;
          expected = fail("UidOutOfRange", (words - 1) * 16 + lane, n);
        } else {
          const dense = Array.from({ length: n }, (_, u) => (u >> 4 < row.length ? Number((row[u >> 4] >> BigInt(16 * (u & 15))) & 0xffffn) : 0));
          if (!dense.some((v) => v !== 0)) expected = fail("AllWeightsZero");
          else target = normalizeRow(dense);
        }
      }
      const uid = model.uidOf[actor];
      what = `actor ${actor} setWeightsPacked([${row.map((w) => "0x" + w.toString(16))}])`;
      apply = () => {
        updateRow(model, uid!, target!);
        model.peers[uid!].lastWeights = nb;
      };
      post = () => checkRow(world, model, uid!);
      outcome = await send(world, actor, "setWeightsPacked", [row]);
      break;
    }
    case "commit": {
      const how = malicious ? randInt(rand, 5) : -1;
      const cur = currentEpoch(world, nb);
      const near = [cur - 2, cur - 1, cur, cur + 1, cur + 2].filter((e) => e >= 0);
      const open = near.filter((e) => commitOpen(world, e, nb));
      const epoch = how === 0 ? pick(near.filter((e) => !commitOpen(world, e, nb)), rand) : open.length > 0 ? pick(open, rand) : cur;
      const s = snapshotOf(world, epoch);
      const ep = epochOf(model, epoch);
      const staked = registered.filter((a) => stakeAtModel(model, model.uidOf[a]!, s) > 0n);
      const eligible = staked.filter((a) => !ep.commits.has(model.uidOf[a]!));
      const candidates = [
        eligible,
        staked,
        unregistered,
        staked.filter((a) => ep.commits.has(model.uidOf[a]!)),
        registered.filter((a) => stakeAtModel(model, model.uidOf[a]!, s) === 0n),
        eligible,
      ][how + 1];
      actor = pickValidator(model, s, candidates, registered, malicious, rand) ?? actor;
      const uid = model.uidOf[actor];
      if (uid === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (!commitOpen(world, epoch, nb)) expected = fail("NotInCommitWindow", epoch, nb, s, s + C);
      else if (stakeAtModel(model, uid, s) === 0n) expected = fail("NoStakeAtSnapshot", epoch, uid);
      else if (ep.commits.has(uid)) expected = fail("AlreadyCommitted", epoch, uid);
      else expected = true;
      let commitment = id(`not a result ${action.seed}`);
      const choice = chooseResult(rand);
      const salt = uid === null ? ZeroHash : saltOf(epoch, uid);
      if (how === 4) {
        // A zero commitment would store nothing (zero marks "not committed"): refused.
        commitment = ZeroHash;
        if (expected === true) expected = fail("ZeroCommitment", epoch, uid!);
      } else if (expected === true) {
        const result = (await ensureResults(world, model, epoch))[choice];
        commitment = resultCommitment(result.root, result.total, salt, world.addresses[actor]);
      }
      apply = () => {
        if (commitment !== ZeroHash) ep.commits.set(uid!, { result: choice, salt });
      };
      model.touchedEpoch = epoch;
      what = `actor ${actor} commitResult(${epoch}, ${commitment})`;
      post = async () => {
        same(await word(marketIface(world), world.marketAddress, "commitmentOf", [epoch, uid!]), BigInt(commitment), "stored commitment");
      };
      outcome = await send(world, actor, "commitResult", [epoch, commitment]);
      break;
    }
    case "reveal": {
      const how = malicious ? randInt(rand, 6) : -1;
      const cur = currentEpoch(world, nb);
      const near = [cur - 3, cur - 2, cur - 1, cur, cur + 1].filter((e) => e >= 0);
      const open = near.filter((e) => revealOpen(world, e, nb));
      const closed = near.filter((e) => !revealOpen(world, e, nb));
      const epoch = how === 4 && closed.length > 0 ? pick(closed, rand) : open.length > 0 ? pick(open, rand) : cur;
      const s = snapshotOf(world, epoch);
      const ep = epochOf(model, epoch);
      const committed = registered.filter((a) => ep.commits.has(model.uidOf[a]!));
      const pending = committed.filter((a) => !ep.revealed.includes(model.uidOf[a]!));
      const candidates = [
        pending,
        pending,
        pending,
        committed.filter((a) => ep.revealed.includes(model.uidOf[a]!)),
        registered.filter((a) => !ep.commits.has(model.uidOf[a]!)),
        committed,
        unregistered,
      ][how + 1];
      actor = pickValidator(model, s, candidates, registered, malicious, rand) ?? actor;
      const uid = model.uidOf[actor];
      const commit = uid === null ? undefined : ep.commits.get(uid);
      // What is revealed: the committed result and salt, or (malicious) another salt or result.
      let result: Result = { label: "honest", root: ZeroHash, total: 0n, leaves: [] };
      let salt = id("no commitment");
      if (commit) {
        const results = ep.results!;
        result = results[commit.result];
        salt = commit.salt;
        if (how === 0) salt = id(`wrong salt ${action.seed}`);
        if (how === 1) result = results[(commit.result + 1 + randInt(rand, 3)) % 4];
      } else if (ep.results) result = ep.results[0];
      if (uid === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (!revealOpen(world, epoch, nb)) expected = fail("NotInRevealWindow", epoch, nb, s + C, s + C + R);
      else if (!commit) expected = fail("NoCommitment", epoch, uid);
      else if (ep.revealed.includes(uid)) expected = fail("AlreadyRevealed", epoch, uid);
      else {
        const committedResult = ep.results![commit.result];
        if (salt !== commit.salt || result.root !== committedResult.root || result.total !== committedResult.total) {
          expected = fail("CommitmentMismatch", epoch, uid);
        } else if (result.total > capAt(model, s)) expected = fail("EmissionAboveCap", epoch, result.total, capAt(model, s));
        else expected = true;
      }
      const key = resultKey(result.root, result.total);
      apply = () => {
        ep.revealed.push(uid!);
        const support = (ep.support.get(key) ?? 0n) + stakeAtModel(model, uid!, s);
        ep.support.set(key, support);
        if (ep.state === "Open" && support * WAD > lookup(model.quorumHist, s) * lookup(model.totalHist, s)) {
          ep.state = "Finalized";
          ep.final = result;
          epochEvents.finalized += 1;
        }
      };
      model.touchedEpoch = epoch;
      what = `actor ${actor} revealResult(${epoch}, ${result.root}, ${result.total}, ${salt}) [${result.label}]`;
      post = async () => {
        const stake = await word(marketIface(world), world.marketAddress, "resultStake", [epoch, result.root, result.total]);
        same(stake, ep.support.get(key), "stake behind the revealed result");
      };
      outcome = await send(world, actor, "revealResult", [epoch, result.root, result.total, salt]);
      break;
    }
    case "claim": {
      const how = malicious ? randInt(rand, 5) : -1;
      const open = claimable(model);
      const finalized = [...model.epochs].filter(([, e]) => e.state === "Finalized");
      const replays = finalized.flatMap(([epoch, e]) => e.final!.leaves.filter((l) => e.claimedUids.includes(l.uid)).map((leaf) => ({ epoch, leaf })));
      let claim: { epoch: number; uid: number; amount: bigint; proof: string[] };
      const cur = currentEpoch(world, nb);
      const notFinal = () => {
        const epoch = randInt(rand, cur + 2);
        const results = model.epochs.get(epoch)?.results;
        const leaf = results?.[0].leaves[0];
        return leaf ? { epoch, uid: leaf.uid, amount: leaf.amount, proof: leaf.proof } : { epoch, uid: 0, amount: 1n, proof: [] };
      };
      if (how === -1 && open.length > 0) {
        const { epoch, leaf } = pick(open, rand);
        claim = { epoch, uid: leaf.uid, amount: leaf.amount, proof: leaf.proof };
      } else if (how === 0 && replays.length > 0) {
        const { epoch, leaf } = pick(replays, rand);
        claim = { epoch, uid: leaf.uid, amount: leaf.amount, proof: leaf.proof };
      } else if (how === 1 && open.length > 0) {
        const { epoch, leaf } = pick(open, rand);
        claim = { epoch, uid: leaf.uid, amount: leaf.amount + randAmount(rand, 1000n), proof: leaf.proof };
      } else if (how === 2 && open.length > 0) {
        // Someone else's proof, or a leaf of a result that did not win.
        const { epoch, leaf } = pick(open, rand);
        const e = model.epochs.get(epoch)!;
        const inFinal = (l: Leaf) => e.final!.leaves.some((f) => f.uid === l.uid && f.amount === l.amount);
        const losing = e.results!.flatMap((r) => r.leaves).filter((l) => !inFinal(l));
        const others = e.final!.leaves.filter((l) => l.uid !== leaf.uid);
        claim =
          losing.length > 0 && rand() < 0.5
            ? (({ uid, amount, proof }) => ({ epoch, uid, amount, proof }))(pick(losing, rand))
            : { epoch, uid: leaf.uid, amount: leaf.amount, proof: others.length > 0 ? pick(others, rand).proof : [id(`junk ${action.seed}`)] };
      } else if ((how === 1 || how === 2) && finalized.length > 0) {
        // Every leaf is claimed: a uid of a final epoch that has no leaf (or no longer an unclaimed one).
        const [epoch, e] = pick(finalized, rand);
        const unclaimed = Array.from({ length: n }, (_, u) => u).filter((u) => !e.claimedUids.includes(u));
        const uid = unclaimed.length > 0 ? pick(unclaimed, rand) : randInt(rand, n);
        claim = { epoch, uid, amount: randAmount(rand, TOKENS(1)), proof: [id(`junk ${action.seed}`)] };
      } else if (how === 4 && finalized.length > 0) {
        const [epoch] = pick(finalized, rand);
        claim = { epoch, uid: n + randInt(rand, 3), amount: 1n, proof: [] };
      } else claim = notFinal();
      expected = predictClaim(model, new Map(), claim.epoch, claim.uid, claim.amount, claim.proof);
      apply = () => {
        const e = model.epochs.get(claim.epoch)!;
        e.claimed += claim.amount;
        e.claimedUids.push(claim.uid);
        pushStake(model, claim.uid, claim.amount, nb);
        epochEvents.claimedLeaves += 1;
      };
      model.touchedEpoch = claim.epoch;
      what = `actor ${actor} claim(${claim.epoch}, ${claim.uid}, ${claim.amount}, [${claim.proof.length} hashes])`;
      post = () => checkClaimed(world, model, [claim.epoch]);
      outcome = await send(world, actor, "claim", [claim.epoch, claim.uid, claim.amount, claim.proof]);
      if (!outcome.ok && outcome.error === "ClaimExceedsEmission") epochEvents.greedyRefused += 1;
      break;
    }
    case "claimMany": {
      const how = malicious ? randInt(rand, 2) : -1;
      const open = claimable(model);
      const batch: { epoch: number; uid: number; amount: bigint; proof: string[] }[] = [];
      const count = open.length === 0 ? 0 : 1 + randInt(rand, Math.min(3, open.length));
      const pool = [...open];
      for (let i = 0; i < count; i++) {
        const [{ epoch, leaf }] = pool.splice(randInt(rand, pool.length), 1);
        batch.push({ epoch, uid: leaf.uid, amount: leaf.amount, proof: leaf.proof });
      }
      if (how === 0 && batch.length > 0) batch.splice(randInt(rand, batch.length + 1), 0, { ...pick(batch, rand) });
      if (how === 1) {
        const base = batch.length > 0 ? pick(batch, rand) : { epoch: 0, uid: 0, amount: 1n, proof: [] };
        batch.push({ ...base, amount: base.amount + 1n });
      }
      const overlay = new Map<number, { claimed: bigint; uids: number[] }>();
      expected = true;
      for (const c of batch) {
        expected = predictClaim(model, overlay, c.epoch, c.uid, c.amount, c.proof);
        if (expected !== true) break;
      }
      apply = () => {
        for (const c of batch) {
          const e = model.epochs.get(c.epoch)!;
          e.claimed += c.amount;
          e.claimedUids.push(c.uid);
          pushStake(model, c.uid, c.amount, nb);
          epochEvents.claimedLeaves += 1;
        }
      };
      model.touchedEpoch = batch.length > 0 ? batch[0].epoch : null;
      what = `actor ${actor} claimMany(${batch.map((c) => `(${c.epoch}, ${c.uid}, ${c.amount})`).join(", ")})`;
      post = () => checkClaimed(world, model, [...new Set(batch.map((c) => c.epoch))]);
      outcome = await send(world, actor, "claimMany", [batch]);
      if (!outcome.ok && outcome.error === "ClaimExceedsEmission") epochEvents.greedyRefused += 1;
      break;
    }
    case "closeEpoch": {
      const how = malicious ? randInt(rand, 2) : -1;
      const cur = currentEpoch(world, nb);
      const known = Array.from({ length: cur + 2 }, (_, e) => e);
      const over = known.filter((e) => nb > revealCloses(world, e));
      const candidates = [
        over.filter((e) => (model.epochs.get(e)?.state ?? "Open") === "Open"),
        known.filter((e) => nb <= revealCloses(world, e)),
        [...model.epochs].filter(([e, m]) => m.state !== "Open" && e <= cur + 1).map(([e]) => e),
      ][how + 1];
      const epoch = candidates.length > 0 ? pick(candidates, rand) : pick(known, rand);
      const state = model.epochs.get(epoch)?.state ?? "Open";
      if (nb <= revealCloses(world, epoch)) expected = fail("EpochNotOver", epoch, revealCloses(world, epoch));
      else if (state !== "Open") expected = fail("EpochAlreadyClosed", epoch, statusAt(world, model, epoch, nb));
      else expected = true;
      apply = () => {
        epochOf(model, epoch).state = "Lapsed";
        epochEvents.lapsed += 1;
      };
      model.touchedEpoch = epoch;
      what = `actor ${actor} closeEpoch(${epoch})`;
      outcome = await send(world, actor, "closeEpoch", [epoch]);
      break;
    }
    case "mine": {
      const blocks = action.variant < 10 ? 17 + randInt(rand, 20) : 1 + randInt(rand, 6);
      await mineEach(blocks);
      model.block += blocks;
      record(kind, false, { ok: true });
      return;
    }
    case "setParameter": {
      const how = malicious ? randInt(rand, 2) : -1;
      const p = randInt(rand, PARAMS.length);
      const value = how === 1 ? pick(OUT_OF_BOUNDS[p], rand) : pick(IN_BOUNDS[p], rand);
      const [min, max] = BOUNDS[p];
      const asAdmin = how !== 0;
      if (!asAdmin) expected = fail("AccessControlUnauthorizedAccount", world.addresses[actor], world.parameterAdminRole);
      else if (value < min || value > max) expected = fail("ParameterOutOfBounds", p, value, min, max);
      else expected = true;
      apply = () => {
        model.params[PARAMS[p]] = value;
        if (PARAMS[p] === "tau") model.tauHist.push([nb, value]);
        if (PARAMS[p] === "quorum") model.quorumHist.push([nb, value]);
      };
      what = `${asAdmin ? "admin" : `actor ${actor}`} setParameter(${PARAMS[p]}, ${value})`;
      outcome = asAdmin
        ? await sendRaw(world, world.admin.address, world.marketAddress, encodeCall(world.market.interface as Interface, "setParameter", [p, value]))
        : await send(world, actor, "setParameter", [p, value]);
      post = async () => {
        // Config: maxPeers, epochLength, commitBlocks, revealBlocks, then the eight parameters in enum order.
        const onChain = await words(marketIface(world), world.marketAddress, "parameters");
        same(onChain.slice(4), PARAMS.map((name) => model.params[name]), "parameters() after a change");
      };
      break;
    }
    case "rearm": {
      const attack = rand() < 0.5 ? "withdraw" : "stake";
      const data =
        attack === "withdraw"
          ? world.market.interface.encodeFunctionData("withdraw")
          : world.market.interface.encodeFunctionData("stake", [randInt(rand, Math.max(n, 1)), 1n]);
      outcome = await sendRaw(world, world.operator, world.hostileAddress, encodeCall(world.hostileInterface, "arm", [world.marketAddress, data]));
      expected = true;
      apply = () => (model.attack = attack);
      what = `hostile arm(${attack})`;
      break;
    }
  }
  check(outcome, expected, what);
  model.block = nb;
  if (outcome.ok) {
    apply();
    if (post) await post();
  }
  record(kind, malicious, outcome);
}

/** The claim flags of `epochs` (claimedBitmap) are the model's claimed uids. */
async function checkClaimed(world: World, model: Model, epochs: number[]): Promise<void> {
  for (const epoch of epochs) {
    const bitmap = await words(world.market.interface as Interface, world.marketAddress, "claimedBitmap", [epoch]);
    const flags = bitmap[2] ?? 0n; // (offset, length, word 0): at most 256 uids
    const expected = model.epochs.get(epoch)!.claimedUids.reduce((acc, uid) => acc | (1n << BigInt(uid)), 0n);
    same(flags, expected, `claimedBitmap(${epoch})`);
  }
}

/** The stored row of `uid` equals the model's (read right after a successful update). */
async function checkRow(world: World, model: Model, uid: number): Promise<void> {
  // (rowWords, offset, length, words...)
  const [rowWords, , , ...row] = await words(marketIface(world), world.marketAddress, "getWeightRows", [uid, uid + 1]);
  same(rowWords, BigInt(Math.ceil(model.peers.length / 16)), "getWeightRows words per row");
  const lanes = Array.from({ length: MAX_PEERS }, (_, j) => Number((row[j >> 4] >> BigInt(16 * (j & 15))) & 0xffffn));
  same(lanes, model.peers[uid].row, `weight row of uid ${uid}`);
}

// ---------------------------------------------------------------- invariants

/**
 * A view call sent straight to the embedded network, its calldata built and its return words decoded
 * by hand: the invariants make about ten reads per step, and the ethers contract wrapper and ABI
 * coder cost several times the call itself. Arguments are uint256 or addresses; the answer is the
 * return data as 32-byte words.
 */
const selectors = new Map<string, string>();
async function words(iface: Interface, to: string, fn: string, args: (number | bigint | string)[] = []): Promise<bigint[]> {
  let selector = selectors.get(fn);
  if (selector === undefined) {
    selector = iface.getFunction(fn)!.selector;
    selectors.set(fn, selector);
  }
  const encoded = args.map((a) => (typeof a === "string" ? a.slice(2).toLowerCase() : BigInt(a).toString(16)).padStart(64, "0"));
  const data = selector + encoded.join("");
  const ret = (await hre.network.provider.request({ method: "eth_call", params: [{ to, data }] })) as string;
  const out: bigint[] = [];
  for (let i = 2; i < ret.length; i += 64) out.push(BigInt("0x" + ret.slice(i, i + 64)));
  return out;
}
const marketIface = (world: World) => world.market.interface as Interface;
const word = async (iface: Interface, to: string, fn: string, args: (number | bigint | string)[] = []) => (await words(iface, to, fn, args))[0];

async function invariants(world: World, model: Model): Promise<void> {
  const m = world.market.interface as Interface;
  const at = world.marketAddress;
  const g = world.genesis;
  const probeBlock = g + (model.probe % (model.block - g + 1));
  const n = model.peers.length;
  const probeUid = n > 0 ? model.probe % n : 0;
  const cur = currentEpoch(world, model.block);
  const probeEpoch = model.touchedEpoch ?? (model.probe >>> 8) % (cur + 2);
  const tauChanged = model.tauHist.length > 1;
  const quorumChanged = model.quorumHist.length > 1;
  const [head, held, totalStake, totalUnbonding, stakes, stakeAt, totalAt, info, tauAt, quorumAt] = await Promise.all([
    hre.network.provider.request({ method: "eth_blockNumber", params: [] }).then((h) => Number(h)),
    word(world.tokenInterface, world.tokenAddress, "balanceOf", [at]),
    word(m, at, "totalStake"),
    word(m, at, "totalUnbonding"),
    words(m, at, "getStakes").then((w) => w.slice(2, 2 + Number(w[1]))), // (offset, length, items)
    n > 0 ? word(m, at, "stakeAt", [probeUid, probeBlock]) : Promise.resolve(0n),
    word(m, at, "totalStakeAt", [probeBlock]),
    words(m, at, "epochInfo", [probeEpoch]),
    tauChanged ? word(m, at, "tauAt", [probeBlock]) : Promise.resolve(lookup(model.tauHist, probeBlock)),
    quorumChanged ? word(m, at, "quorumAt", [probeBlock]) : Promise.resolve(lookup(model.quorumHist, probeBlock)),
  ]);
  same(head, model.block, "block number (the model's clock)");
  // Conservation: every token held is owed, as stake or unbonding, and the views agree.
  same(held, model.totalStake + model.totalUnbonding, "token.balanceOf(market) == owed");
  same(totalStake, model.totalStake, "totalStake()");
  same(totalUnbonding, model.totalUnbonding, "totalUnbonding()");
  same(held, totalStake + totalUnbonding, "balance == totalStake() + totalUnbonding()");
  same(stakes, model.peers.map((p) => p.stake), "getStakes() per uid");
  // Checkpoints: a random past block reads as the model's ledger history.
  if (n > 0) same(stakeAt, lookup(model.peers[probeUid].hist, probeBlock), `stakeAt(${probeUid}, ${probeBlock})`);
  same(totalAt, lookup(model.totalHist, probeBlock), `totalStakeAt(${probeBlock})`);
  same(tauAt, lookup(model.tauHist, probeBlock), `tauAt(${probeBlock})`);
  same(quorumAt, lookup(model.quorumHist, probeBlock), `quorumAt(${probeBlock})`);
  // Epoch state machine, and a final epoch never pays more than its total.
  const e = model.epochs.get(probeEpoch);
  const final = e?.state === "Finalized" ? e.final! : null;
  same(info, [
    BigInt(statusAt(world, model, probeEpoch, model.block)),
    BigInt(final ? final.root : ZeroHash),
    final ? final.total : 0n,
    e?.claimed ?? 0n,
  ], `epochInfo(${probeEpoch})`);
  for (const [epoch, m] of model.epochs) {
    if (m.final && m.claimed > m.final.total) throw new Error(`epoch ${epoch} paid ${m.claimed} > ${m.final.total}`);
  }
  // The touched actors' unbonding and token balances; the hostile's reentry record.
  for (const actor of model.touchedActors) {
    const uid = model.uidOf[actor];
    const [unbonding, balance] = await Promise.all([
      uid === null ? Promise.resolve([0n, 0n]) : words(m, at, "unbondingOf", [uid]),
      word(world.tokenInterface, world.tokenAddress, "balanceOf", [world.addresses[actor]]),
    ]);
    const p = uid === null ? null : model.peers[uid];
    same([unbonding[0], unbonding[1]], [p?.unbonding ?? 0n, BigInt(p?.release ?? 0)], `unbondingOf(${uid})`);
    same(balance, model.balance[actor], `token balance of actor ${actor}`);
  }
  if (model.hostileMoved) await checkReentry(world, model);
  if (model.steps === FUZZ_STEPS) await drain(world, model);
}

/**
 * After every transfer that touched the hostile contract (the only moments its hook runs): it tried
 * to reenter as often as the model says, never succeeded, and was refused by the reentrancy guard.
 * (reentrySuccesses() only ever grows, so the drain's final check covers every step in between.)
 */
async function checkReentry(world: World, model: Model): Promise<void> {
  const [attempts, successes, lastRevert] = await Promise.all([
    world.hostile.reentryAttempts(),
    world.hostile.reentrySuccesses(),
    world.hostile.lastRevert(),
  ]);
  same(attempts, BigInt(model.attempts), "reentryAttempts()");
  same(successes, 0n, "reentrySuccesses()");
  // The reentry was refused by the reentrancy guard, not by some other check.
  same(lastRevert.slice(0, 10), world.guardSelector, `the revert of the reentry into ${model.attack}()`);
}

/**
 * No balance is unwithdrawable: every peer (every peer's account is an actor) unstakes all of its
 * stake, waits out its unbonding and withdraws; each gets exactly what the model owes it and the
 * market ends holding nothing.
 */
async function drain(world: World, model: Model): Promise<void> {
  for (const [uid, p] of model.peers.entries()) {
    if (p.stake === 0n) continue;
    const amount = p.stake;
    check(await send(world, p.actor, "unstake", [amount]), true, `drain: uid ${uid} unstake(${amount})`);
    model.block += 1;
    pushStake(model, uid, -amount, model.block);
    p.unbonding += amount;
    p.release = model.block + Number(model.params.unbonding);
    model.totalUnbonding += amount;
  }
  const last = Math.max(0, ...model.peers.map((p) => (p.unbonding > 0n ? p.release : 0)));
  if (last > model.block + 1) {
    await mineBlocks(last - model.block - 1);
    model.block = last - 1;
  }
  for (const [uid, p] of model.peers.entries()) {
    if (p.unbonding === 0n) continue;
    check(await send(world, p.actor, "withdraw", []), true, `drain: uid ${uid} withdraw()`);
    model.block += 1;
    model.balance[p.actor] += p.unbonding;
    model.totalUnbonding -= p.unbonding;
    p.unbonding = 0n;
    if (p.actor === HOSTILE) {
      model.attempts += 1;
      await checkReentry(world, model);
    }
  }
  const balances = await Promise.all(world.addresses.map((a) => world.token.balanceOf(a)));
  same(balances, model.balance, "every actor's tokens after the drain");
  same(await world.token.balanceOf(world.marketAddress), 0n, "market balance after the drain");
  same(await world.market.totalStake(), 0n, "total stake after the drain");
  same(await world.market.totalUnbonding(), 0n, "total unbonding after the drain");
  same(await world.hostile.reentrySuccesses(), 0n, "reentrySuccesses() after the drain");
  reentryAttemptsSeen += model.attempts - world.init.attempts;
}

// ---------------------------------------------------------------- deployment

async function deploy(): Promise<World> {
  const signers = await hre.ethers.getSigners();
  const admin = signers[0];
  const eoas = signers.slice(1, 1 + HOSTILE);
  const operator = signers[1 + HOSTILE];
  const mined = async (p: Promise<ContractTransactionResponse>) => (await (await p).wait())!.blockNumber;

  const token = await new ReentrantToken__factory(admin).deploy();
  // RankingMarket is typed for AgoraToken; it only calls ERC-20 functions and mint(address,uint256),
  // which the ReentrantToken has (without access control, so no role is needed).
  const market = await new RankingMarket__factory(admin).deploy(await token.getAddress(), admin.address, CONFIG);
  await market.waitForDeployment();
  const marketAddress = await market.getAddress();
  const genesis = Number(await market.genesisBlock());
  const hostile = await new HostileReceiver__factory(admin).deploy();
  const hostileOp = hostile.connect(operator);
  const hostileAddress = await hostile.getAddress();
  const addresses = [...eoas.map((s) => s.address), hostileAddress];

  for (const s of eoas) {
    await (await token.mint(s.address, FUNDS)).wait();
    await (await token.connect(s).approve(marketAddress, MaxUint256)).wait();
  }
  await (await token.mint(hostileAddress, FUNDS)).wait();
  const tokenAddress = await token.getAddress();
  await (await hostileOp.act(tokenAddress, token.interface.encodeFunctionData("approve", [marketAddress, MaxUint256]))).wait();
  await (await hostileOp.act(tokenAddress, token.interface.encodeFunctionData("registerHook"))).wait();
  await (await hostileOp.arm(marketAddress, market.interface.encodeFunctionData("withdraw"))).wait();

  // Three peers to start with: actors 0 and 1 and the hostile, staking 100, 40 and 30 tokens.
  const initial: [number, bigint][] = [
    [0, TOKENS(100)],
    [1, TOKENS(40)],
    [HOSTILE, TOKENS(30)],
  ];
  const peers: Peer[] = [];
  const uidOf: (number | null)[] = new Array(ACTORS).fill(null);
  const balance = new Array<bigint>(ACTORS).fill(FUNDS);
  const totalHist: Hist = [];
  let total = 0n;
  for (const [actor, amount] of initial) {
    const uid = peers.length;
    const regBlock =
      actor === HOSTILE
        ? await mined(hostileOp.act(marketAddress, market.interface.encodeFunctionData("register")))
        : await mined(market.connect(eoas[actor]).register());
    const stakeBlock =
      actor === HOSTILE
        ? await mined(hostileOp.act(marketAddress, market.interface.encodeFunctionData("stake", [uid, amount])))
        : await mined(market.connect(eoas[actor]).stake(uid, amount));
    total += amount;
    totalHist.push([stakeBlock, total]);
    peers.push({ actor, regBlock, stake: amount, hist: [[stakeBlock, amount]], unbonding: 0n, release: 0, row: null, lastWeights: 0 });
    uidOf[actor] = uid;
    balance[actor] -= amount;
  }
  const block = await hre.ethers.provider.getBlockNumber();
  const init: Model = {
    block,
    peers,
    uidOf,
    balance,
    totalStake: total,
    totalHist,
    totalUnbonding: 0n,
    params: {
      lambda: CONFIG.lambda,
      quorum: CONFIG.quorum,
      rho: CONFIG.rho,
      theta: CONFIG.theta,
      tau: CONFIG.tau,
      minStake: CONFIG.minStakeToSetWeights,
      rateLimit: CONFIG.weightsRateLimit,
      unbonding: CONFIG.unbondingBlocks,
    },
    tauHist: [[genesis, CONFIG.tau]],
    quorumHist: [[genesis, CONFIG.quorum]],
    epochs: new Map(),
    attempts: Number(await hostile.reentryAttempts()),
    attack: "withdraw",
    steps: 0,
    probe: 0,
    touchedEpoch: null,
    touchedActors: [],
    hostileMoved: false,
  };
  same(init.attempts, 1, "the hostile's initial stake already tried to reenter");
  return {
    token,
    market,
    hostile,
    admin,
    addresses,
    operator: operator.address,
    marketAddress,
    tokenAddress,
    hostileAddress,
    tokenInterface: token.interface as Interface,
    hostileInterface: hostile.interface as Interface,
    genesis,
    parameterAdminRole: await market.PARAMETER_ADMIN_ROLE(),
    guardSelector: market.interface.getError("ReentrancyGuardReentrantCall")!.selector,
    interfaces: [market.interface, token.interface, hostile.interface].map((i) => new IndexedErrors(i as Interface)),
    init,
  };
}

// ---------------------------------------------------------------- the suite

/** Custom errors the run must have provoked at least once each (else the generator degenerated). */
const EXPECTED_ERRORS = [
  "NotRegistered",
  "AlreadyRegistered",
  "MarketFull",
  "ZeroAddress",
  "UnknownUid",
  "ZeroAmount",
  "ERC20InsufficientBalance",
  "InsufficientStake",
  "NothingToWithdraw",
  "StillUnbonding",
  "LengthMismatch",
  "UidsNotIncreasing",
  "UidOutOfRange",
  "AllWeightsZero",
  "PackedRowTooLong",
  "StakeBelowMinimum",
  "WeightsRateLimited",
  "NotInCommitWindow",
  "NoStakeAtSnapshot",
  "AlreadyCommitted",
  "ZeroCommitment",
  "NotInRevealWindow",
  "NoCommitment",
  "AlreadyRevealed",
  "CommitmentMismatch",
  "EmissionAboveCap",
  "EpochNotFinalized",
  "EpochNotOver",
  "EpochAlreadyClosed",
  "AlreadyClaimed",
  "InvalidProof",
  "ClaimExceedsEmission",
  "ParameterOutOfBounds",
  "AccessControlUnauthorizedAccount",
];

describe("RankingMarket invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps conservation, withdrawable balances, epoch states, stake checkpoints and reentrancy safety over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async function () {
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    const run = await fuzz<World, Model, Action>({
      deploy,
      model: (world) => structuredClone(world.init),
      action: actionArb,
      step,
      invariants,
    });
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);

    const rows = KINDS.map((k) => {
      const { errors, ...counts } = stats.get(k)!;
      const top = [...errors].sort((a, b) => b[1] - a[1]).map(([e, c]) => `${e} ${c}`);
      return { kind: k, ...counts, errors: top.join(", ") };
    });
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    console.log(`      seed ${FUZZ_SEED}: ${run.sequences} sequences, ${run.steps} steps in ${seconds.toFixed(1)} s (${cpuSeconds.toFixed(1)} s CPU)`);
    console.table(rows.map(({ errors: _errors, ...counts }) => counts));
    for (const { kind, errors } of rows) console.log(`      ${kind} reverts: ${errors || "none"}`);
    console.log("      epochs:", epochEvents, "reentry attempts:", reentryAttemptsSeen);

    expect(run.sequences).to.equal(FUZZ_RUNS);
    expect(run.steps).to.equal(FUZZ_RUNS * FUZZ_STEPS);
    if (GENERATOR_CHECKS) {
      for (const { kind, ok, maliciousTried, maliciousRejected } of rows) {
        expect(ok, `successful ${kind} actions`).to.be.greaterThan(0);
        if (!NO_MALICIOUS.includes(kind)) {
          expect(maliciousTried, `malicious ${kind} actions tried`).to.be.greaterThan(0);
          expect(maliciousRejected, `malicious ${kind} actions rejected`).to.be.greaterThan(0);
        }
      }
      for (const error of EXPECTED_ERRORS) expect(errorsSeen.get(error) ?? 0, `reverts with ${error}`).to.be.greaterThan(0);
      expect(epochEvents.finalized, "epochs finalized").to.be.greaterThan(0);
      expect(epochEvents.lapsed, "epochs closed as lapsed").to.be.greaterThan(0);
      expect(epochEvents.claimedLeaves, "emission leaves claimed").to.be.greaterThan(0);
      expect(reentryAttemptsSeen, "reentry attempts by the hostile receiver").to.be.greaterThan(0);
    }
  });
});
