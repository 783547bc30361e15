/**
 * Stateful invariant fuzzing of RankingMarket (SPEC §1.1-1.2).
 *
 * Seven EOAs (one of them, the poor actor, funded with nothing: it lives on what others stake on it)
 * and one hostile contract (a HostileReceiver, hooked on a ReentrantToken that the market uses as
 * its token, armed to reenter `withdraw()` or `stake()` whenever a transfer or a burn touches it)
 * register (each registration burns `registrationBurn` from its caller, the sponsor for
 * `registerFor`), approve the market, stake to their own and others' uids, unstake, withdraw, set
 * weight rows (sparse and packed), commit / reveal epoch results, close epochs and claim emission,
 * in random seeded orders, with a share of malicious moves: wrong callers, unknown uids, zero and
 * too-large amounts, registrations and stakes without allowance or balance, malformed rows,
 * out-of-window commits and reveals, wrong salts, commitments replayed from another epoch, chain,
 * market or validator, claims with wrong proofs or amounts, claims of uids that committed and never
 * revealed or whose holder changed twice since the snapshot, claims on epochs that are not final,
 * parameter changes by non-admins and out of bounds. An admin changes parameters too.
 *
 * The market has five uids for eight would-be peers, so it fills: a newcomer then takes the uid of
 * the weakest peer past its immunity (least stake, ties to the lowest uid), whose stake goes into
 * its account's unbonding and whose row and column are cleared; with every peer immune, MarketFull.
 *
 * The model below predicts, for every transaction, success or the exact custom error (with its
 * arguments), and keeps per uid its holder (and the holder it replaced), the stake ledger with its
 * block history (from which it derives the stake that counts in each epoch: the low-water mark over
 * the epoch, so increases count from the next epoch and epoch 0 has none), the weight row
 * (normalized and moved with lambda by the SDK's own functions, which mirror the contract's); per
 * account the token balance, the allowance to the market and the unbonding with its release block
 * (the latest of the release already set, block + unbondingBlocks and the end of the previous
 * epoch's reveal window + 1); per epoch the commitments (and whether each is bound to this chain,
 * market, epoch and validator), reveals, the stake that counts behind each result, the final result
 * and the claims. What it does not re-implement is the rank computation: the "honest" result of an
 * epoch is what the SDK computes from the chain at the snapshot block (`computeEpochOnChain`), and
 * the model only predicts what the contract must do with it (cap and quorum on the stake that
 * counts, proofs, claim limits, who is paid). Beside the honest result, validators sometimes commit
 * a rival result (the whole cap to one uid), a greedy one (leaves that add up to more than the
 * declared totalEmission) or one above the cap.
 *
 * Plausible moves that have nothing to act on are turned into the move that has (a validator does
 * the epoch duty that is due; a withdrawal with nothing unbonding becomes an unstake), so sequences
 * reach finalized epochs and claims; about a quarter of the moves are malicious.
 *
 * After every step: the block number is the model's; token.balanceOf(market) == totalStake() +
 * totalUnbonding() == what the model owes, and the token's supply is the model's (burns destroyed,
 * emission minted); getStakes() equals the model's stake of every uid; stakeAt / totalStakeAt (and
 * tauAt / quorumAt once changed) at a random past block equal the model's ledger history;
 * getCountingStakes, countingStakeOf and countingTotalStake of the epochs the step touched (and the
 * accumulating one and a random one) equal the model's, and countingTotalStake(e) is the sum of the
 * uids'; peer() and formerHolder() of a random uid are the model's; epochInfo (status, root,
 * emission, claimed) of the touched or a random epoch equals the model's, and no final epoch has
 * paid more than its total; the touched actors' unbondingOf, token balance and allowance equal the
 * model's; every account whose release block is reached can withdraw (a simulated withdraw()
 * succeeds) and a touched one still bonding is refused with its exact release block. After a
 * success, what it stored is read back (weight rows, peer and former holder, commitment, stake
 * behind the result, claim flags, allowance, parameters), and the stakes that count the SDK reads
 * at a snapshot block equal the model's. After every transfer or burn that touched the hostile
 * contract: it tried to reenter exactly as often as the model says, reentrySuccesses() is 0 and the
 * reentry was refused by the reentrancy guard. After the last step countingTotalStake(e) == the sum
 * of countingStakeOf(uid, e) over every uid for every epoch so far (0 for epoch 0), then every peer
 * unstakes all, every account with unbonding (replaced peers too) waits out its release block and
 * withdraws: each gets exactly what the model says, the market ends holding nothing, and
 * reentrySuccesses() (a counter that only grows) is still 0.
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
import { HostileReceiver, HostileReceiver__factory, RankingMarket, ReentrantToken, ReentrantToken__factory } from "../../typechain-types";
import { deployRankingMarket } from "../../deploy/agora";
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
const MAX_UINT128 = 2n ** 128n - 1n;

/** Small market: five uids for eight would-be peers (so it fills, and newcomers replace the weakest
 * peer past a 6-block immunity, or meet MarketFull while every peer is immune), 10-block epochs
 * whose commit window is the whole next epoch and reveal window the one after (so every block has
 * an epoch committing and one revealing), a weights rate limit, a 1-token registration burn, and an
 * unbonding of 15 blocks, which the release rule (the end of the previous epoch's reveal window)
 * overrides early in an epoch and not late in it. tau 1% and maxTau 5% as deployed by default. */
const CONFIG: RankingConfig = {
  ...DEFAULT_RANKING_CONFIG,
  maxPeers: 5n,
  epochLength: 10n,
  commitBlocks: 10n,
  revealBlocks: 10n,
  weightsRateLimit: 8n,
  unbondingBlocks: 15n,
  minStakeToSetWeights: TOKENS(1),
  registrationBurn: TOKENS(1),
  immunityBlocks: 6n,
};
const MAX_PEERS = Number(CONFIG.maxPeers);
const L = Number(CONFIG.epochLength);
const C = Number(CONFIG.commitBlocks);
const R = Number(CONFIG.revealBlocks);
const FUNDS = TOKENS(1000);

const ACTORS = 8; // actors 0..6 are EOAs, actor 7 is the hostile contract
const HOSTILE = 7;
const POOR = 6; // an EOA with no tokens of its own: a sponsor registers it, others stake on it

/** IRankingMarket.Parameter, in enum order. */
const PARAMS = ["lambda", "quorum", "rho", "theta", "tau", "minStake", "rateLimit", "unbonding", "burn", "immunity"] as const;
type ParamName = (typeof PARAMS)[number];
type Params = Record<ParamName, bigint>;
/** The bounds of SPEC §1.1-1.2 / parameterBounds, in enum order (tau up to the deployment's maxTau). */
const BOUNDS: [bigint, bigint][] = [
  [1n, WAD],
  [WAD / 2n, WAD - 1n],
  [1n, 10n ** 24n],
  [1n, WAD - 1n],
  [0n, CONFIG.maxTau],
  [0n, MAX_UINT128],
  [0n, MAX_BLOCKS],
  [0n, MAX_BLOCKS],
  [0n, MAX_UINT128],
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
  [WAD / 100n, CONFIG.maxTau, 0n, WAD / 1000n],
  [TOKENS(1), 0n, TOKENS(20), TOKENS(1), MAX_UINT128],
  [8n, 0n, 1n, 5n],
  [15n, 0n, 2n, 25n, MAX_BLOCKS],
  // The largest burn leaves every caller short of balance (or allowance) until it is lowered again.
  [TOKENS(1), 0n, 1n, TOKENS(5), MAX_UINT128],
  // 0 and 1: a newcomer can be replaced at once (so a uid changes hands twice after a snapshot);
  // MAX_BLOCKS: every peer stays immune, a full market refuses newcomers.
  [6n, 0n, 1n, 3n, 30n, MAX_BLOCKS],
];
const OUT_OF_BOUNDS: bigint[][] = [
  [0n, WAD + 1n],
  [WAD / 2n - 1n, WAD],
  [0n, 10n ** 24n + 1n],
  [0n, WAD],
  [CONFIG.maxTau + 1n, WAD, MaxUint256],
  [MAX_UINT128 + 1n],
  [MAX_BLOCKS + 1n],
  [MAX_BLOCKS + 1n, MaxUint256],
  [MAX_UINT128 + 1n, MaxUint256],
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
  chainId: bigint;
  genesis: number;
  parameterAdminRole: string;
  guardSelector: string;
  interfaces: Interface[];
  init: Model;
}

type Hist = [number, bigint][];

/** Tokens unbonding and the block they are released in (both 0 once withdrawn). */
interface Bucket {
  amount: bigint;
  release: number;
}

/** One uid. Its stake ledger stays with the uid across holders (a replacement empties it first). */
interface Peer {
  actor: number; // the account holding the uid
  regBlock: number; // the block its holder registered in: immunity and claims run from there
  created: number; // the block the uid was first given out
  stake: bigint;
  hist: Hist;
  row: number[] | null; // dense, MAX_PEERS lanes; null: never set by this holder (it trusts only itself)
  lastWeights: number;
  former: { actor: number; since: number; until: number } | null; // the holder it last replaced
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

/** A stored commitment: the result and salt meant, by whom, and whether it was computed for this
 * chain, market, epoch and validator (a replay was not, and can never be revealed). */
interface Commit {
  result: number;
  salt: string;
  actor: number;
  bound: boolean;
}

interface EpochModel {
  state: EpochState;
  final: Result | null;
  claimed: bigint;
  claimedUids: number[];
  commits: Map<number, Commit>;
  revealed: number[];
  support: Map<string, bigint>;
  results: Result[] | null;
}

interface Model {
  block: number;
  peers: Peer[];
  uidOf: (number | null)[];
  balance: bigint[];
  allowance: bigint[]; // to the market, by actor
  // Unbonding is kept per account, in two parts each released on its own: what the account unstaked
  // (unbondingOf), and what a replacement of its uid unbonded for it plus emission paid to it as a
  // former holder (replacedUnbondingOf).
  unbonding: Bucket[];
  replacedUnbonding: Bucket[];
  // released(account): what a bucket held that was released already when more was added to it; it stays
  // free (withdrawable at once) instead of waiting again with the new amount.
  released: bigint[];
  supply: bigint; // the token's total supply
  totalStake: bigint;
  totalHist: Hist;
  totalUnbonding: bigint;
  lastReplacement: number; // lastReplacementBlock(): 0 until a first replacement
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
  touchedEpochs: number[];
  touchedActors: number[];
  hostileMoved: boolean;
}

const KINDS = [
  "register",
  "registerFor",
  "approve",
  "stake",
  "unstake",
  "withdraw",
  "setWeights",
  "setWeightsPacked",
  "commit",
  "reveal",
  "revealAsFormer",
  "claim",
  "claimMany",
  "closeEpoch",
  "mine",
  "setParameter",
  "rearm",
] as const;
type Kind = (typeof KINDS)[number];
const WEIGHTS: Record<Kind, number> = {
  register: 7,
  registerFor: 5,
  approve: 3,
  stake: 10,
  unstake: 7,
  withdraw: 7,
  setWeights: 7,
  setWeightsPacked: 5,
  commit: 15,
  reveal: 18,
  revealAsFormer: 5,
  claim: 9,
  claimMany: 3,
  closeEpoch: 3,
  mine: 5,
  setParameter: 5,
  rearm: 2,
};
/** Kinds without a malicious variant (every move of theirs is a plausible one). */
const NO_MALICIOUS: Kind[] = ["approve", "mine", "rearm"];
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
const peerEvents = {
  /** Registrations that took a full market's weakest uid; of those, the ones that unbonded a stake. */
  replaced: 0,
  replacedWithStake: 0,
  /** Claims paid into a replaced holder's unbonding. */
  paidToFormer: 0,
  /** Withdrawals that paid what a replacement unbonded (replacedUnbondingOf). */
  formerWithdrawals: 0,
  /** Unbondings added to a bucket already released, whose tokens moved to released(account). */
  keptReleased: 0,
  /** Commitments bound to another epoch, chain, market or validator that the market stored, and
   * their reveals, refused. */
  replays: 0,
  replaysRefused: 0,
  /** Reveals by peers replaced after the snapshot (revealAsFormerHolder). */
  formerReveals: 0,
};
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
/** epochStartBlock: the previous snapshot (the deployment block for epoch 0). */
const epochStartOf = (world: World, epoch: number) => world.genesis + epoch * L;
/** The epoch being accumulated in `block` (the contract's currentEpoch and _accumulatingEpoch). */
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

const stakeAtModel = (model: Model, uid: number, block: number) => (uid < model.peers.length ? lookup(model.peers[uid].hist, block) : 0n);

/**
 * The stake of `uid` that counts in `epoch` (SPEC §1.2): the least it held from the state after
 * epochStartBlock(epoch) to the state after snapshotBlock(epoch) (or now, if that is not mined
 * yet). Only a decrease can set a new least value, so an increase counts from the next epoch; a
 * uid given out during the epoch, and every uid in epoch 0, started it at 0.
 */
function countingStake(world: World, model: Model, uid: number, epoch: number): bigint {
  const p = model.peers[uid];
  if (p === undefined) return 0n;
  const start = epochStartOf(world, epoch);
  const end = snapshotOf(world, epoch);
  let low = lookup(p.hist, start);
  for (const [block, value] of p.hist) if (block > start && block <= end && value < low) low = value;
  return low;
}
const countingTotal = (world: World, model: Model, epoch: number) =>
  model.peers.reduce((sum, _p, uid) => sum + countingStake(world, model, uid, epoch), 0n);
/** A validator's vote weight: the uid's stake that counts, if its holder held it at the snapshot. */
const voteStake = (world: World, model: Model, uid: number, epoch: number) =>
  model.peers[uid].regBlock <= snapshotOf(world, epoch) ? countingStake(world, model, uid, epoch) : 0n;
/** The emission cap: tau at the snapshot times the epoch's stake that counts. */
const capOf = (world: World, model: Model, epoch: number) =>
  (lookup(model.tauHist, snapshotOf(world, epoch)) * countingTotal(world, model, epoch)) / WAD;
const resultKey = (root: string, total: bigint) => `${root.toLowerCase()}/${total}`;

function pushStake(model: Model, uid: number, delta: bigint, block: number): void {
  const p = model.peers[uid];
  p.stake += delta;
  p.hist.push([block, p.stake]);
  model.totalStake += delta;
  model.totalHist.push([block, model.totalStake]);
}

/**
 * Puts `amount` into `actor`'s unbonding `bucket` in block `nb`. What the bucket holds that is released
 * by then moves to released(actor) first, so it stays withdrawable. Its release block becomes the latest of
 * the bucket's release already set, nb + unbondingBlocks, and (from epoch 1 on) the block after the
 * reveal window of the epoch before the one being accumulated, the last epoch the stake may have
 * voted in.
 */
function addUnbonding(world: World, model: Model, actor: number, bucket: Bucket, amount: bigint, nb: number): void {
  if (bucket.amount > 0n && bucket.release <= nb) {
    model.released[actor] += bucket.amount;
    bucket.amount = 0n;
    peerEvents.keptReleased += 1;
  }
  let release = nb + Number(model.params.unbonding);
  const c = currentEpoch(world, nb);
  if (c > 0) release = Math.max(release, revealCloses(world, c - 1) + 1);
  bucket.release = Math.max(release, bucket.release);
  bucket.amount += amount;
  model.totalUnbonding += amount;
}

/** An account's buckets, what of them is released in block `nb`, and the earliest release still ahead. */
function unbondingState(model: Model, actor: number, nb: number): { owed: bigint; released: bigint; next: number | null } {
  const buckets = [model.unbonding[actor], model.replacedUnbonding[actor]].filter((b) => b.amount > 0n);
  const released = buckets.filter((b) => b.release <= nb);
  const ahead = buckets.filter((b) => b.release > nb).map((b) => b.release);
  const free = model.released[actor];
  return {
    owed: buckets.reduce((sum, b) => sum + b.amount, free),
    released: released.reduce((sum, b) => sum + b.amount, free),
    next: ahead.length > 0 ? Math.min(...ahead) : null,
  };
}

/** `actor` withdraws in block `nb`: released(actor) and every bucket released by then are paid and emptied. */
function applyWithdraw(model: Model, actor: number, nb: number): bigint {
  let amount = model.released[actor];
  model.released[actor] = 0n;
  for (const bucket of [model.unbonding[actor], model.replacedUnbonding[actor]]) {
    if (bucket.amount === 0n || bucket.release > nb) continue;
    amount += bucket.amount;
    bucket.amount = 0n;
    bucket.release = 0;
  }
  model.balance[actor] += amount;
  model.totalUnbonding -= amount;
  if (actor === HOSTILE) {
    model.attempts += 1; // the transfer to the hostile calls it back: it reenters
    model.hostileMoved = true;
  }
  return amount;
}

/** Whether `actor` can pay `amount` to the market (its allowance and its balance cover it). */
const canPay = (model: Model, actor: number, amount: bigint) =>
  amount === 0n || (model.allowance[actor] >= amount && model.balance[actor] >= amount);

/** `amount` leaves `actor`'s tokens by a transferFrom or burnFrom of the market. */
function spend(model: Model, actor: number, amount: bigint): void {
  model.balance[actor] -= amount;
  if (model.allowance[actor] !== MaxUint256) model.allowance[actor] -= amount; // OpenZeppelin: an infinite allowance stays
}

/**
 * The uid a full market hands to a newcomer in block `nb`: the least stake past immunity, ties to the
 * lowest uid (with `leaving`, as if that uid's holder had unstaked all first).
 */
function weakestReplaceable(model: Model, nb: number, leaving: number | null = null): number | null {
  const stakeOf = (uid: number) => (uid === leaving ? 0n : model.peers[uid].stake);
  let weakest: number | null = null;
  for (const [uid, p] of model.peers.entries()) {
    if (nb < p.regBlock + Number(model.params.immunity)) continue;
    if (weakest === null || stakeOf(uid) < stakeOf(weakest)) weakest = uid;
  }
  return weakest;
}

/** The model's prediction of `account` registering in block `nb`, the burn paid by `sponsor`. */
function predictRegister(world: World, model: Model, account: number, sponsor: number, nb: number): { expected: Expect; uid: number } {
  const existing = model.uidOf[account];
  if (existing !== null) return { expected: fail("AlreadyRegistered", world.addresses[account], existing), uid: existing };
  let uid = model.peers.length;
  if (uid >= MAX_PEERS) {
    const weakest = weakestReplaceable(model, nb);
    if (weakest === null) return { expected: fail("MarketFull", MAX_PEERS), uid };
    uid = weakest;
  }
  const burn = model.params.burn;
  if (burn > 0n && model.allowance[sponsor] < burn) {
    return { expected: fail("ERC20InsufficientAllowance", world.marketAddress, model.allowance[sponsor], burn), uid };
  }
  if (burn > 0n && model.balance[sponsor] < burn) {
    return { expected: fail("ERC20InsufficientBalance", world.addresses[sponsor], model.balance[sponsor], burn), uid };
  }
  return { expected: true, uid };
}

/**
 * A successful registration of `account` on `uid` in block `nb`, burnt from `sponsor`. On a full
 * market the uid's holder is replaced: its stake moves into its own unbonding, it is no peer any
 * more, its row and every row's weight on the uid are cleared, and it becomes the uid's former holder.
 */
function applyRegister(world: World, model: Model, account: number, sponsor: number, uid: number, nb: number): void {
  if (uid < model.peers.length) {
    const p = model.peers[uid];
    const formerActor = p.actor;
    const left = p.stake;
    if (left > 0n) {
      pushStake(model, uid, -left, nb);
      addUnbonding(world, model, formerActor, model.replacedUnbonding[formerActor], left, nb);
      peerEvents.replacedWithStake += 1;
    }
    model.uidOf[formerActor] = null;
    for (const [i, q] of model.peers.entries()) if (i !== uid && q.row !== null) q.row[uid] = 0;
    p.former = { actor: formerActor, since: p.regBlock, until: nb };
    p.actor = account;
    p.regBlock = nb;
    p.row = null;
    p.lastWeights = 0;
    model.lastReplacement = nb;
    model.touchedActors.push(formerActor);
    peerEvents.replaced += 1;
  } else {
    model.peers.push({ actor: account, regBlock: nb, created: nb, stake: 0n, hist: [], row: null, lastWeights: 0, former: null });
  }
  model.uidOf[account] = uid;
  const burn = model.params.burn;
  if (burn > 0n) {
    spend(model, sponsor, burn);
    model.supply -= burn;
    if (sponsor === HOSTILE) {
      model.attempts += 1; // the burn from the hostile calls it back: it reenters
      model.hostileMoved = true;
    }
  }
}

const selfRow = (uid: number) => Array.from({ length: MAX_PEERS }, (_, j) => (j === uid ? ROW_TOTAL : 0));
/** What getWeightRows shows of `uid`'s row: a row never set, or left with no weight, reads as self-trust. */
const shownRow = (model: Model, uid: number) => {
  const row = model.peers[uid].row;
  return row === null || row.every((v) => v === 0) ? selfRow(uid) : row;
};

/**
 * The stored row after a successful update toward `target` (dense, lanes < n): SPEC §1.1, eq. 17.
 * A row never set moves from self-trust; a row set and then emptied by replacements moves from zero,
 * as the contract stores it.
 */
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
/** 0, 1, ..., n - 1 (the actors, for n = ACTORS). */
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

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
 * one with the most vote stake in the epoch, so that epochs reach quorum more often; with no
 * candidate, some registered peer tries anyway (honest actions), else undefined.
 */
function pickValidator(
  world: World,
  model: Model,
  epoch: number,
  candidates: number[],
  registered: number[],
  malicious: boolean,
  rand: () => number,
): number | undefined {
  if (candidates.length > 0) {
    const votes = (a: number) => (model.uidOf[a] === null ? 0n : voteStake(world, model, model.uidOf[a]!, epoch));
    const bySize = [...candidates].sort((x, y) => Number(votes(y) - votes(x)));
    return !malicious && rand() < 0.5 ? bySize[0] : pick(candidates, rand);
  }
  if (!malicious && registered.length > 0) return pick(registered, rand);
  return undefined;
}

/** Sends a transaction straight to the embedded node (the harness's rawTransaction) and reports it as `attempt` does. */
function sendRaw(world: World, from: string, to: string, data: string): Promise<Outcome> {
  return attempt(rawTransaction(from, to, data, GAS_LIMIT), world.interfaces);
}

/** The sender, target and calldata of `actor` calling `to`; the hostile contract's calls go through its `act`. */
function route(world: World, actor: number, to: string, data: string): { from: string; to: string; data: string } {
  if (actor !== HOSTILE) return { from: world.addresses[actor], to, data };
  return { from: world.operator, to: world.hostileAddress, data: encodeCall(world.hostileInterface, "act", [to, data]) };
}

/** `actor` calls the market's `fn`. */
function send(world: World, actor: number, fn: string, args: unknown[]): Promise<Outcome> {
  const call = route(world, actor, world.marketAddress, encodeCall(marketIface(world), fn, args));
  return sendRaw(world, call.from, call.to, call.data);
}

/** `actor` calls the token's `fn`. */
function sendToken(world: World, actor: number, fn: string, args: unknown[]): Promise<Outcome> {
  const call = route(world, actor, world.tokenAddress, encodeCall(world.tokenInterface, fn, args));
  return sendRaw(world, call.from, call.to, call.data);
}

/** What `actor` calling the market's `fn` would do at the latest block (an eth_call: nothing is mined). */
function simulate(world: World, actor: number, fn: string, args: unknown[]): Promise<Outcome> {
  const call = route(world, actor, world.marketAddress, encodeCall(marketIface(world), fn, args));
  const gas = "0x" + BigInt(GAS_LIMIT).toString(16);
  return attempt(async () => {
    await hre.network.provider.send("eth_call", [{ ...call, gas }, "latest"]);
    return { wait: async () => null } as unknown as ContractTransactionResponse;
  }, world.interfaces);
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

/**
 * A move of its own that a malicious step makes first, in a block of its own: `actor` sets its
 * allowance to the market to `value` (a caller that never approved, or took its approval back).
 */
async function approveFirst(world: World, model: Model, actor: number, value: bigint): Promise<void> {
  check(await sendToken(world, actor, "approve", [world.marketAddress, value]), true, `actor ${actor} approve(market, ${value}) first`);
  model.block += 1;
  model.allowance[actor] = value;
}

/** Likewise: `actor` (an EOA) gives all its tokens to the EOA `to` (a caller left without balance). */
async function giveAllFirst(world: World, model: Model, actor: number, to: number): Promise<void> {
  const amount = model.balance[actor];
  check(await sendToken(world, actor, "transfer", [world.addresses[to], amount]), true, `actor ${actor} transfer(${to}, ${amount}) first`);
  model.block += 1;
  model.balance[actor] -= amount;
  model.balance[to] += amount;
  model.touchedActors.push(actor, to);
}

/** Makes sure `actor` lacks the allowance for `amount` (> 0), approving less first if needed. */
async function withoutAllowance(world: World, model: Model, actor: number, amount: bigint, rand: () => number): Promise<void> {
  if (amount > 0n && model.allowance[actor] >= amount) await approveFirst(world, model, actor, rand() < 0.5 ? 0n : amount - 1n);
}

/** Makes sure the EOA `actor` lacks the balance for `amount` (> 0), giving its tokens away first if needed. */
async function withoutBalance(world: World, model: Model, actor: number, amount: bigint, rand: () => number): Promise<void> {
  if (amount > 0n && model.balance[actor] >= amount) {
    const others = Array.from({ length: HOSTILE }, (_, a) => a).filter((a) => a !== actor && a !== POOR);
    await giveAllFirst(world, model, actor, pick(others, rand));
  }
}

/**
 * A crowd of newcomers arriving first (as issue 12's squatter would send them), one registration per
 * block, until the next one would not go through or maxPeers of them went through. Each newcomer is
 * immune, so on a full market the registration that follows meets MarketFull (unless the immunity
 * is shorter than the crowd). Each registration is checked against the model.
 */
async function crowdFirst(world: World, model: Model, rand: () => number): Promise<void> {
  for (let i = 0; i < MAX_PEERS; i++) {
    const free = Array.from({ length: ACTORS }, (_, a) => a).filter((a) => model.uidOf[a] === null && canPay(model, a, model.params.burn));
    if (free.length === 0 || !(await registerFirst(world, model, pick(free, rand)))) return;
  }
}

/**
 * First, each move in a block of its own, a newcomer takes `uid` from its holder: the holder leaves
 * (unstakes all, so the uid is the weakest), waiting out its immunity if that takes at most
 * `maxWait` blocks, and a newcomer registers on it. Stops where the model says the next move would
 * not go as planned; returns whether the uid changed hands.
 */
async function takeOverFirst(world: World, model: Model, uid: number, maxWait: number, rand: () => number): Promise<boolean> {
  const p = model.peers[uid];
  const wait = p.regBlock + Number(model.params.immunity) - (model.block + 1);
  if (wait > maxWait) return false;
  if (wait > 0) {
    await mineEach(wait);
    model.block += wait;
  }
  if (p.stake > 0n) {
    const amount = p.stake;
    check(await send(world, p.actor, "unstake", [amount]), true, `actor ${p.actor} unstake(${amount}) first`);
    model.block += 1;
    pushStake(model, uid, -amount, model.block);
    addUnbonding(world, model, p.actor, model.unbonding[p.actor], amount, model.block);
    model.touchedActors.push(p.actor);
  }
  const newcomers = range(ACTORS).filter((a) => model.uidOf[a] === null && canPay(model, a, model.params.burn));
  if (weakestReplaceable(model, model.block + 1) !== uid || newcomers.length === 0) return false;
  return registerFirst(world, model, pick(newcomers, rand));
}

/**
 * First, `uid` changes hands (`takeOverFirst`, twice at most, the second once the first newcomer's
 * immunity has passed) until no holder of it since the snapshot of `epoch` is left to pay.
 */
async function orphanFirst(world: World, model: Model, epoch: number, uid: number, rand: () => number): Promise<void> {
  for (let change = 0; change < 2 && payeeOf(world, model, epoch, uid) !== null; change++) {
    if (!(await takeOverFirst(world, model, uid, 2 * L, rand))) return;
  }
}

/** `account` registers first, in a block of its own, if the model says it goes through; returns whether it did. */
async function registerFirst(world: World, model: Model, account: number): Promise<boolean> {
  const nb = model.block + 1;
  const { expected, uid } = predictRegister(world, model, account, account, nb);
  if (expected !== true) return false;
  check(await send(world, account, "register", []), true, `actor ${account} register() first`);
  model.block = nb;
  applyRegister(world, model, account, account, uid, nb);
  model.touchedActors.push(account);
  return true;
}

// ---------------------------------------------------------------- epoch results

/** The candidate results of an epoch, computed once its snapshot block is mined. */
async function ensureResults(world: World, model: Model, epoch: number): Promise<Result[]> {
  const e = epochOf(model, epoch);
  if (e.results) return e.results;
  const s = snapshotOf(world, epoch);
  const sdk = await computeEpochOnChain(world.market, epoch);
  // The SDK read getCountingStakes(epoch) at the snapshot blockTag: it must be the model's stake
  // that counts, for every uid given out by then.
  const peersThen = model.peers.filter((p) => p.created <= s).length;
  const modelStakes = Array.from({ length: peersThen }, (_, uid) => countingStake(world, model, uid, epoch));
  same(sdk.snapshot.stake, modelStakes, `stakes that count read at snapshot block ${s} of epoch ${epoch}`);
  const honest: Result = {
    label: "honest",
    root: sdk.root,
    total: sdk.totalEmission,
    leaves: sdk.emission.flatMap((amount, uid) => (amount > 0n ? [{ uid, amount, proof: sdk.proof(uid) }] : [])),
  };
  const cap = capOf(world, model, epoch);
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

/** Who a claim of `uid`'s leaf of `epoch` pays: the uid's holder at the snapshot, by its stake or, if
 * it has been replaced since, by its unbonding; null if neither holds it any more (NotHolderAtSnapshot). */
type Payee = { to: "stake" } | { to: "former"; actor: number };
function payeeOf(world: World, model: Model, epoch: number, uid: number): Payee | null {
  const s = snapshotOf(world, epoch);
  const p = model.peers[uid];
  if (p.regBlock <= s) return { to: "stake" };
  const f = p.former;
  return f !== null && f.since <= s && f.until > s ? { to: "former", actor: f.actor } : null;
}

/** Whether `uid` committed for the epoch and did not reveal: its leaf is refused. */
const unrevealed = (e: EpochModel, uid: number) => e.commits.has(uid) && !e.revealed.includes(uid);

interface Claim {
  epoch: number;
  uid: number;
  amount: bigint;
  proof: string[];
}

/** The model's prediction of one claim, against `overlay` (claims earlier in the same batch), and whom it pays. */
function predictClaim(
  world: World,
  model: Model,
  overlay: Map<number, { claimed: bigint; uids: number[] }>,
  { epoch, uid, amount, proof }: Claim,
): { expected: Expect; payee: Payee | null } {
  const e = model.epochs.get(epoch);
  const refused = (expected: Expect) => ({ expected, payee: null });
  if (!e || e.state !== "Finalized" || !e.final) return refused(fail("EpochNotFinalized", epoch));
  if (uid >= model.peers.length) return refused(fail("UnknownUid", uid, model.peers.length));
  const o = overlay.get(epoch) ?? { claimed: e.claimed, uids: [...e.claimedUids] };
  if (o.uids.includes(uid)) return refused(fail("AlreadyClaimed", epoch, uid));
  if (unrevealed(e, uid)) return refused(fail("UnrevealedCommitment", epoch, uid));
  const valid = e.final.leaves.some(
    (l) => l.uid === uid && l.amount === amount && l.proof.length === proof.length && l.proof.every((p, i) => p === proof[i]),
  );
  if (!valid) return refused(fail("InvalidProof", epoch, uid, amount));
  if (o.claimed + amount > e.final.total) return refused(fail("ClaimExceedsEmission", epoch, o.claimed, amount, e.final.total));
  const payee = payeeOf(world, model, epoch, uid);
  if (payee === null) return refused(fail("NotHolderAtSnapshot", epoch, uid));
  overlay.set(epoch, { claimed: o.claimed + amount, uids: [...o.uids, uid] });
  return { expected: true, payee };
}

/** A successful claim: the epoch's books, then the emission minted into the payee's stake or unbonding. */
function applyClaim(model: Model, claim: Claim, payee: Payee, nb: number): void {
  const e = model.epochs.get(claim.epoch)!;
  e.claimed += claim.amount;
  e.claimedUids.push(claim.uid);
  model.supply += claim.amount;
  if (payee.to === "stake") pushStake(model, claim.uid, claim.amount, nb);
  else {
    // Into what the replacement unbonded for the former holder, released with it (no extra delay).
    model.replacedUnbonding[payee.actor].amount += claim.amount;
    model.totalUnbonding += claim.amount;
    model.touchedActors.push(payee.actor);
    peerEvents.paidToFormer += 1;
  }
  epochEvents.claimedLeaves += 1;
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

/** Unclaimed leaves the market pays: not of a uid that committed without revealing, and with a payee. */
function payable(world: World, model: Model): { epoch: number; leaf: Leaf }[] {
  return claimable(model).filter(
    ({ epoch, leaf }) => !unrevealed(model.epochs.get(epoch)!, leaf.uid) && payeeOf(world, model, epoch, leaf.uid) !== null,
  );
}

/**
 * The claims an honest claimer makes in block `nb`, as the SDK's validator does: the unclaimed leaves
 * of uids that revealed (or never committed), a uid's own leaf at once by its holder, every other
 * leaf once the epoch's reveal window is over by anyone. The SDK cannot tell a uid whose holder
 * changed twice since the snapshot, so neither can this (the market refuses such a claim).
 */
function dueClaims(world: World, model: Model, nb: number): { epoch: number; leaf: Leaf; by: number | null }[] {
  return claimable(model).flatMap(({ epoch, leaf }): { epoch: number; leaf: Leaf; by: number | null }[] => {
    if (unrevealed(model.epochs.get(epoch)!, leaf.uid)) return [];
    if (nb > revealCloses(world, epoch)) return [{ epoch, leaf, by: null }];
    const holder = model.peers[leaf.uid].actor;
    return model.uidOf[holder] === leaf.uid ? [{ epoch, leaf, by: holder }] : [];
  });
}

/**
 * What revealResult and revealAsFormerHolder check once the caller is known to hold `uid` (or to have
 * held it at the snapshot): the window, the commitment (recomputed for this chain, market, epoch and
 * caller) and the cap on the stake that counts.
 */
function predictReveal(world: World, model: Model, epoch: number, uid: number, actor: number, result: Result, salt: string, nb: number): Expect {
  const s = snapshotOf(world, epoch);
  const ep = epochOf(model, epoch);
  const commit = ep.commits.get(uid);
  if (!revealOpen(world, epoch, nb)) return fail("NotInRevealWindow", epoch, nb, s + C, s + C + R);
  if (!commit) return fail("NoCommitment", epoch, uid);
  if (ep.revealed.includes(uid)) return fail("AlreadyRevealed", epoch, uid);
  const meant = ep.results![commit.result];
  const matches = commit.bound && commit.actor === actor && salt === commit.salt && result.root === meant.root && result.total === meant.total;
  if (!matches) return fail("CommitmentMismatch", epoch, uid);
  const cap = capOf(world, model, epoch);
  if (result.total > cap) return fail("EmissionAboveCap", epoch, result.total, cap);
  return true;
}

/** A successful reveal of `uid` for `epoch` with vote weight `vote`: its support, and the epoch final on quorum. */
function applyReveal(world: World, model: Model, epoch: number, uid: number, result: Result, vote: bigint): void {
  const ep = epochOf(model, epoch);
  const key = resultKey(result.root, result.total);
  ep.revealed.push(uid);
  const support = (ep.support.get(key) ?? 0n) + vote;
  ep.support.set(key, support);
  if (ep.state === "Open" && support * WAD > lookup(model.quorumHist, snapshotOf(world, epoch)) * countingTotal(world, model, epoch)) {
    ep.state = "Finalized";
    ep.final = result;
    epochEvents.finalized += 1;
  }
}

/** What a revealer reveals for `uid`: its committed result and salt, else the honest result (or nothing). */
function revealedOf(ep: EpochModel, uid: number | null): { result: Result; salt: string } {
  const commit = uid === null ? undefined : ep.commits.get(uid);
  if (commit) return { result: ep.results![commit.result], salt: commit.salt };
  return { result: ep.results ? ep.results[0] : { label: "honest", root: ZeroHash, total: 0n, leaves: [] }, salt: id("no commitment") };
}

/** Whether `actor` is the last holder replaced on `uid` and held it at the snapshot of `epoch` (revealAsFormerHolder's check). */
function formerAtSnapshot(world: World, model: Model, epoch: number, uid: number, actor: number): boolean {
  const f = model.peers[uid]?.former;
  const s = snapshotOf(world, epoch);
  return f !== null && f !== undefined && f.actor === actor && f.since <= s && f.until > s;
}

/** The uids of `epoch` whose replaced holder committed (bound to the epoch) and can still reveal as former holder. */
function formerRevealers(world: World, model: Model, epoch: number): number[] {
  const ep = model.epochs.get(epoch);
  if (ep === undefined) return [];
  return [...ep.commits]
    .filter(([uid, c]) => c.bound && !ep.revealed.includes(uid) && formerAtSnapshot(world, model, epoch, uid, c.actor))
    .map(([uid]) => uid);
}

/** Whether a replaced holder can reveal as former holder in block `nb`, or a committer could be replaced first. */
function pendingFormerReveal(world: World, model: Model, nb: number): boolean {
  return nearEpochs(world, nb).some((e) => {
    const ep = model.epochs.get(e);
    return revealOpen(world, e, nb) && ep !== undefined && (formerRevealers(world, model, e).length > 0 || (model.peers.length >= MAX_PEERS && revealers(model, ep).length > 0));
  });
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
 * duty that is due (reveal, as holder or former holder, commit or claim; only one epoch has each
 * window open at a time) or, if
 * none is, waits for blocks; a withdrawal with nothing released waits for blocks too, or becomes an
 * unstake if nothing is unbonding at all. The statistics
 * count the move made. (Malicious moves are never redirected.)
 */
function redirect(world: World, model: Model, kind: Kind, nb: number): Kind {
  const epochDuty = (): Kind =>
    pendingReveal(world, model, nb) ? "reveal" : pendingFormerReveal(world, model, nb) ? "revealAsFormer" : eligibleCommit(world, model, nb) ? "commit" : dueClaims(world, model, nb).length > 0 ? "claim" : "mine";
  if (kind === "reveal" && !pendingReveal(world, model, nb)) return epochDuty();
  if (kind === "revealAsFormer" && !pendingFormerReveal(world, model, nb)) return epochDuty();
  if (kind === "commit" && !eligibleCommit(world, model, nb)) return epochDuty();
  if (kind === "claim" && dueClaims(world, model, nb).length === 0) return epochDuty();
  const states = model.unbonding.map((_, a) => unbondingState(model, a, nb));
  if (kind === "withdraw" && !states.some((u) => u.released > 0n)) {
    // Nothing released: a peer with tokens unbonding waits for its release; one with none unstakes.
    if (states.some((u) => u.owed > 0n)) return "mine";
    if (model.peers.some((p) => p.stake > 0n)) return "unstake";
  }
  return kind;
}

/**
 * The actors whose commitment for `epoch` is due for its reveal: theirs, still holding the uid, not
 * revealed. With `bound`, only commitments bound to the epoch (the ones that can be revealed); else
 * only replayed ones (whose validator reveals like any other, and is refused).
 */
function revealers(model: Model, ep: EpochModel, bound = true): number[] {
  return [...ep.commits]
    .filter(([uid, c]) => c.bound === bound && model.uidOf[c.actor] === uid && !ep.revealed.includes(uid))
    .map(([, c]) => c.actor);
}

/** Whether some validator committed to the epoch whose reveal window holds block `nb` and can still reveal. */
function pendingReveal(world: World, model: Model, nb: number): boolean {
  return nearEpochs(world, nb).some((e) => {
    const ep = model.epochs.get(e);
    return revealOpen(world, e, nb) && ep !== undefined && revealers(model, ep).length + revealers(model, ep, false).length > 0;
  });
}

/** Whether some registered peer with stake that counts in an epoch may still commit to it in block `nb`. */
function eligibleCommit(world: World, model: Model, nb: number): boolean {
  return nearEpochs(world, nb).some((e) => {
    if (!commitOpen(world, e, nb)) return false;
    const commits = model.epochs.get(e)?.commits;
    return model.peers.some((_p, uid) => voteStake(world, model, uid, e) > 0n && !commits?.has(uid));
  });
}

async function step(world: World, model: Model, action: Action): Promise<void> {
  const rand = mulberry32(action.seed);
  // The block the transaction lands in; a malicious registration or stake that first takes its
  // approval back or gives its tokens away moves it on (`nb = model.block + 1` again).
  let nb = model.block + 1;
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
  model.touchedEpochs = [];
  model.touchedActors = [];
  model.hostileMoved = false;

  let actor = action.actor;
  let outcome: Outcome;
  let expected: Expect;
  let what: string;
  let apply: () => void = () => {};
  /** Reads done after a success only (the stored rows, peer, commitment, result stake, parameters). */
  let post: (() => Promise<void>) | null = null;
  /** Counts what the outcome says about the generator's aims (a replay refused at its reveal). */
  let tally: (outcome: Outcome) => void = () => {};

  switch (kind) {
    case "register": {
      // Malicious: a registered caller; a caller without allowance for the burn; one without
      // balance; a caller coming right after a crowd of newcomers.
      const how = malicious ? randInt(rand, 4) : -1;
      const burn = model.params.burn;
      if (how === 0 && registered.length > 0) actor = pick(registered, rand);
      else if (unregistered.length > 0) {
        const payers = unregistered.filter((a) => canPay(model, a, burn));
        if (how === -1) actor = pick(payers.length > 0 ? payers : unregistered, rand);
        if (how === 1) {
          actor = pick(unregistered, rand);
          await withoutAllowance(world, model, actor, burn, rand);
        }
        if (how === 2) {
          const broke = unregistered.filter((a) => model.balance[a] < burn);
          actor = pick(broke.length > 0 ? broke : unregistered.filter((a) => a !== HOSTILE), rand);
          await withoutBalance(world, model, actor, burn, rand);
        }
        if (how === 3) {
          await crowdFirst(world, model, rand);
          const left = all.filter((a) => model.uidOf[a] === null);
          if (left.length > 0) actor = pick(left, rand);
        }
      }
      nb = model.block + 1;
      const prediction = predictRegister(world, model, actor, actor, nb);
      expected = prediction.expected;
      apply = () => applyRegister(world, model, actor, actor, prediction.uid, nb);
      model.touchedActors.push(actor);
      what = `actor ${actor} register()`;
      post = () => checkRegistration(world, model, prediction.uid);
      outcome = await send(world, actor, "register", []);
      break;
    }
    case "registerFor": {
      // Malicious: an unregistered sponsor; the zero address; a registered account; a sponsor
      // without allowance for the burn; one without balance; a newcomer sponsoring right after a
      // crowd filled the market.
      const how = malicious ? randInt(rand, 6) : -1;
      const burn = model.params.burn;
      if (how === 0 && unregistered.length > 0) actor = pick(unregistered, rand);
      else if (registered.length > 0) {
        const payers = registered.filter((a) => canPay(model, a, burn));
        actor = pick(payers.length > 0 && how !== 3 && how !== 4 ? payers : registered, rand);
        if (how === 3) await withoutAllowance(world, model, actor, burn, rand);
        if (how === 4) {
          const broke = registered.filter((a) => model.balance[a] < burn);
          const eoas = registered.filter((a) => a !== HOSTILE);
          if (broke.length > 0) actor = pick(broke, rand);
          else if (eoas.length > 0) {
            actor = pick(eoas, rand);
            await withoutBalance(world, model, actor, burn, rand);
          }
        }
        if (how === 5) {
          // A crowd of newcomers fills the market, then one of them (immune itself, so the market
          // has no peer to give up) sponsors another.
          await crowdFirst(world, model, rand);
          const immune = all.filter((a) => model.uidOf[a] !== null && canPay(model, a, burn) && model.block + 1 < model.peers[model.uidOf[a]!].regBlock + Number(model.params.immunity));
          if (immune.length > 0) actor = pick(immune, rand);
        }
      }
      const free = all.filter((a) => model.uidOf[a] === null);
      let targetActor: number | null = free.length > 0 ? pick(free, rand) : pick(all, rand);
      if (how === 1) targetActor = null; // the zero address
      if (how === 2 && registered.length > 0) targetActor = pick(all.filter((a) => model.uidOf[a] !== null), rand);
      nb = model.block + 1;
      const target = targetActor === null ? ZeroAddress : world.addresses[targetActor];
      let uid = n;
      if (model.uidOf[actor] === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (targetActor === null) expected = fail("ZeroAddress");
      else {
        const prediction = predictRegister(world, model, targetActor, actor, nb);
        expected = prediction.expected;
        uid = prediction.uid;
      }
      apply = () => applyRegister(world, model, targetActor!, actor, uid, nb);
      model.touchedActors.push(actor, ...(targetActor === null ? [] : [targetActor]));
      what = `actor ${actor} registerFor(${target})`;
      post = () => checkRegistration(world, model, uid);
      outcome = await send(world, actor, "registerFor", [target]);
      break;
    }
    case "approve": {
      // Any allowance an account may give: unlimited, none, one short of the burn, some tokens.
      const burn = model.params.burn;
      const x = rand();
      const value = x < 0.4 ? MaxUint256 : x < 0.6 ? 0n : x < 0.8 ? (burn > 0n ? burn - 1n : 0n) : randAmount(rand, TOKENS(200));
      expected = true;
      apply = () => (model.allowance[actor] = value);
      model.touchedActors.push(actor);
      what = `actor ${actor} approve(market, ${value})`;
      outcome = await sendToken(world, actor, "approve", [world.marketAddress, value]);
      break;
    }
    case "stake": {
      // Malicious: an unknown uid; zero; more than the balance; more than the allowance.
      const how = malicious ? randInt(rand, 4) : -1;
      let amount = rand() < 0.2 ? randAmount(rand, TOKENS(1)) : randAmount(rand, TOKENS(150));
      if (how === -1 && !canPay(model, actor, amount)) {
        const able = all.filter((a) => canPay(model, a, amount));
        if (able.length > 0) actor = pick(able, rand);
      }
      const own = model.uidOf[actor];
      let uid = own !== null && rand() < 0.5 ? own : n > 0 ? randInt(rand, n) : 0;
      if (how === 0) uid = n + randInt(rand, 3);
      if (how === 1) amount = 0n;
      if (how === 2) amount = model.balance[actor] + randAmount(rand, TOKENS(10));
      if (how === 3) await withoutAllowance(world, model, actor, amount, rand);
      nb = model.block + 1;
      const balance = model.balance[actor];
      const allowance = model.allowance[actor];
      if (uid >= n) expected = fail("UnknownUid", uid, n);
      else if (amount === 0n) expected = fail("ZeroAmount");
      else if (allowance < amount) expected = fail("ERC20InsufficientAllowance", world.marketAddress, allowance, amount);
      else if (balance < amount) expected = fail("ERC20InsufficientBalance", world.addresses[actor], balance, amount);
      else expected = true;
      apply = () => {
        spend(model, actor, amount);
        pushStake(model, uid, amount, nb);
        if (actor === HOSTILE) {
          model.attempts += 1; // the transfer from the hostile calls it back: it reenters
          model.hostileMoved = true;
        }
      };
      model.touchedActors.push(actor);
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
        pushStake(model, uid!, -amount, nb);
        addUnbonding(world, model, actor, model.unbonding[actor], amount, nb);
      };
      model.touchedActors.push(actor);
      what = `actor ${actor} unstake(${amount})`;
      outcome = await send(world, actor, "unstake", [amount]);
      break;
    }
    case "withdraw": {
      // Any account with unbonding may withdraw (replaced peers too): it gets every part released.
      // Malicious: nothing unbonding (not a peer, or a peer), or nothing released yet.
      const how = malicious ? randInt(rand, 3) : -1;
      const state = (a: number) => unbondingState(model, a, nb);
      const released = all.filter((a) => state(a).released > 0n);
      const bonding = all.filter((a) => state(a).owed > 0n && state(a).released === 0n);
      const nothing = all.filter((a) => state(a).owed === 0n);
      const candidates = [
        released.length > 0 ? released : bonding,
        nothing.filter((a) => model.uidOf[a] === null),
        nothing.filter((a) => model.uidOf[a] !== null),
        bonding,
      ][how + 1];
      if (candidates.length > 0) actor = pick(candidates, rand);
      const { owed, released: paid, next } = unbondingState(model, actor, nb);
      const replacedPaid = model.replacedUnbonding[actor].amount > 0n && model.replacedUnbonding[actor].release <= nb;
      if (owed === 0n) expected = fail("NothingToWithdraw", world.addresses[actor]);
      else if (paid === 0n) expected = fail("StillUnbonding", world.addresses[actor], next, nb);
      else expected = true;
      apply = () => {
        applyWithdraw(model, actor, nb);
        if (replacedPaid) peerEvents.formerWithdrawals += 1;
      };
      model.touchedActors.push(actor);
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
      // Malicious: outside the window; not a peer; committed already; no stake that counts (none,
      // added during the epoch, or a uid taken over after the snapshot); a zero commitment; a
      // commitment bound to another epoch, chain, market or validator (stored, never revealable).
      const how = malicious ? randInt(rand, 6) : -1;
      const cur = currentEpoch(world, nb);
      const near = [cur - 2, cur - 1, cur, cur + 1, cur + 2].filter((e) => e >= 0);
      const open = near.filter((e) => commitOpen(world, e, nb));
      const epoch = how === 0 ? pick(near.filter((e) => !commitOpen(world, e, nb)), rand) : open.length > 0 ? pick(open, rand) : cur;
      const s = snapshotOf(world, epoch);
      const ep = epochOf(model, epoch);
      const votes = (a: number) => voteStake(world, model, model.uidOf[a]!, epoch);
      const voters = registered.filter((a) => votes(a) > 0n);
      const eligible = voters.filter((a) => !ep.commits.has(model.uidOf[a]!));
      const candidates = [
        eligible,
        voters,
        unregistered,
        voters.filter((a) => ep.commits.has(model.uidOf[a]!)),
        registered.filter((a) => votes(a) === 0n),
        eligible,
        eligible,
      ][how + 1];
      actor = pickValidator(world, model, epoch, candidates, registered, malicious, rand) ?? actor;
      const uid = model.uidOf[actor];
      if (uid === null) expected = fail("NotRegistered", world.addresses[actor]);
      else if (!commitOpen(world, epoch, nb)) expected = fail("NotInCommitWindow", epoch, nb, s, s + C);
      else if (voteStake(world, model, uid, epoch) === 0n) expected = fail("NoStakeThatCounts", epoch, uid);
      else if (ep.commits.has(uid)) expected = fail("AlreadyCommitted", epoch, uid);
      else expected = true;
      let commitment = id(`not a result ${action.seed}`);
      const choice = chooseResult(rand);
      const salt = uid === null ? ZeroHash : saltOf(epoch, uid);
      let bound = true;
      let context = "";
      if (how === 4) {
        // A zero commitment would store nothing (zero marks "not committed"): refused.
        commitment = ZeroHash;
        if (expected === true) expected = fail("ZeroCommitment", epoch, uid!);
      } else if (expected === true) {
        const result = (await ensureResults(world, model, epoch))[choice];
        let where = { chainId: world.chainId, market: world.marketAddress, epoch: BigInt(epoch) };
        let validator = world.addresses[actor];
        if (how === 5) {
          // The commitment of this very result and salt, made for somewhere else: replayed here, it
          // is stored (the market cannot tell), and its reveal must fail.
          bound = false;
          const r = randInt(rand, 4);
          if (r === 0) where = { ...where, epoch: BigInt(pick([epoch - 2, epoch - 1, epoch + 1, epoch + 2].filter((e) => e >= 0), rand)) };
          if (r === 1) where = { ...where, chainId: world.chainId + 1n };
          if (r === 2) where = { ...where, market: world.tokenAddress };
          if (r === 3) validator = world.addresses[(actor + 1 + randInt(rand, ACTORS - 1)) % ACTORS];
          context = ` [replay: epoch ${where.epoch}, chain ${where.chainId}, market ${where.market}, validator ${validator}]`;
        }
        commitment = resultCommitment(where, result.root, result.total, salt, validator);
      }
      apply = () => {
        ep.commits.set(uid!, { result: choice, salt, actor, bound });
        if (!bound) peerEvents.replays += 1;
      };
      model.touchedEpoch = epoch;
      what = `actor ${actor} commitResult(${epoch}, ${commitment})${context}`;
      post = async () => {
        same(await word(marketIface(world), world.marketAddress, "commitmentOf", [epoch, uid!]), BigInt(commitment), "stored commitment");
      };
      outcome = await send(world, actor, "commitResult", [epoch, commitment]);
      break;
    }
    case "reveal": {
      // Malicious: a wrong salt; another result; revealed already; no commitment; outside the
      // window; not a peer; the reveal of a replayed commitment.
      const how = malicious ? randInt(rand, 7) : -1;
      const cur = currentEpoch(world, nb);
      const near = [cur - 3, cur - 2, cur - 1, cur, cur + 1].filter((e) => e >= 0);
      const open = near.filter((e) => revealOpen(world, e, nb));
      const closed = near.filter((e) => !revealOpen(world, e, nb));
      const epoch = how === 4 && closed.length > 0 ? pick(closed, rand) : open.length > 0 ? pick(open, rand) : cur;
      const ep = epochOf(model, epoch);
      const committed = registered.filter((a) => ep.commits.has(model.uidOf[a]!));
      const pending = revealers(model, ep);
      const replayers = revealers(model, ep, false);
      const candidates = [
        [...pending, ...replayers],
        pending,
        pending,
        registered.filter((a) => ep.revealed.includes(model.uidOf[a]!)),
        registered.filter((a) => !ep.commits.has(model.uidOf[a]!)),
        committed,
        unregistered,
        replayers,
      ][how + 1];
      actor = pickValidator(world, model, epoch, candidates, registered, malicious, rand) ?? actor;
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
      expected = uid === null ? fail("NotRegistered", world.addresses[actor]) : predictReveal(world, model, epoch, uid, actor, result, salt, nb);
      const key = resultKey(result.root, result.total);
      // The vote of the uid's holder at the snapshot (a newcomer since has none).
      apply = () => applyReveal(world, model, epoch, uid!, result, voteStake(world, model, uid!, epoch));
      tally = (o) => {
        if (commit && !commit.bound && !o.ok && o.error === "CommitmentMismatch") peerEvents.replaysRefused += 1;
      };
      model.touchedEpoch = epoch;
      what = `actor ${actor} revealResult(${epoch}, ${result.root}, ${result.total}, ${salt}) [${result.label}]`;
      post = async () => {
        const stake = await word(marketIface(world), world.marketAddress, "resultStake", [epoch, result.root, result.total]);
        same(stake, ep.support.get(key), "stake that counts behind the revealed result");
      };
      outcome = await send(world, actor, "revealResult", [epoch, result.root, result.total, salt]);
      break;
    }
    case "revealAsFormer": {
      // A peer replaced after an epoch's snapshot reveals what it committed while it held its uid:
      // its vote is the uid's stake that counts (if none is pending, a committer leaves first and a
      // newcomer takes its uid, `takeOverFirst`; so too for the wrong salt). Malicious: not the uid's former holder; a former
      // holder of it, for an epoch it did not hold it at the snapshot of; a wrong salt; outside the
      // window; revealed already; no commitment. Malicious reveals go for the wrong salt (the one
      // that reaches the commitment check) when they can.
      let how = malicious ? randInt(rand, 6) : -1;
      const cur = currentEpoch(world, nb);
      const near = [cur - 3, cur - 2, cur - 1, cur, cur + 1].filter((e) => e >= 0);
      const open = near.filter((e) => revealOpen(world, e, nb));
      type Pair = { epoch: number; uid: number };
      const formers: Pair[] = near.flatMap((epoch) =>
        model.peers.flatMap((p, uid) => (p.former !== null && formerAtSnapshot(world, model, epoch, uid, p.former.actor) ? [{ epoch, uid }] : [])),
      );
      const committedBy = ({ epoch, uid }: Pair) => model.epochs.get(epoch)?.commits.get(uid)?.actor === model.peers[uid].former!.actor;
      const revealedAlready = ({ epoch, uid }: Pair) => model.epochs.get(epoch)?.revealed.includes(uid) ?? false;
      let due: Pair[] = open.flatMap((epoch) => formerRevealers(world, model, epoch).map((uid) => ({ epoch, uid })));
      const pending = open.flatMap((epoch) => {
        const ep = model.epochs.get(epoch);
        return ep === undefined ? [] : revealers(model, ep).map((a) => ({ epoch, uid: model.uidOf[a]! }));
      });
      if (malicious && (due.length > 0 || (n >= MAX_PEERS && pending.some(({ uid }) => weakestReplaceable(model, nb + 1, uid) === uid))) && rand() < 0.4) how = 2;
      if ((how === -1 || how === 2) && due.length === 0 && n >= MAX_PEERS) {
        // A committer whose uid is the weakest once it leaves (it unstakes in nb, the newcomer comes in nb + 1).
        const takeable = pending.filter(({ uid }) => weakestReplaceable(model, nb + 1, uid) === uid);
        if (takeable.length > 0) {
          const chosen = pick(takeable, rand);
          await takeOverFirst(world, model, chosen.uid, 0, rand);
          nb = model.block + 1;
          due = open.flatMap((epoch) => formerRevealers(world, model, epoch).map((uid) => ({ epoch, uid })));
        }
      }
      const candidates = [
        due,
        due.length > 0 ? due : formers,
        formers.map(({ uid }) => ({ epoch: pick(near.filter((e) => !formerAtSnapshot(world, model, e, uid, model.peers[uid].former!.actor)), rand) ?? cur, uid })),
        due,
        formers.filter(({ epoch }) => !revealOpen(world, epoch, nb)),
        formers.filter(revealedAlready),
        formers.filter((f) => !committedBy(f)),
      ][how + 1];
      const chosen: Pair = candidates.length > 0 ? pick(candidates, rand) : { epoch: pick(near, rand), uid: n > 0 ? randInt(rand, n) : 0 };
      const { epoch, uid } = chosen;
      const ep = epochOf(model, epoch);
      const former = uid < n ? model.peers[uid].former : null;
      actor = former !== null && how !== 0 ? former.actor : how === 0 ? pick(range(ACTORS).filter((a) => a !== former?.actor), rand) : actor;
      let { result, salt } = revealedOf(ep, uid);
      if (how === 2) salt = id(`wrong salt ${action.seed}`);
      const formerOk = uid < n && formerAtSnapshot(world, model, epoch, uid, actor);
      expected = formerOk ? predictReveal(world, model, epoch, uid, actor, result, salt, nb) : fail("NotHolderAtSnapshot", epoch, uid);
      const key = resultKey(result.root, result.total);
      apply = () => {
        applyReveal(world, model, epoch, uid, result, countingStake(world, model, uid, epoch));
        peerEvents.formerReveals += 1;
      };
      model.touchedEpoch = epoch;
      what = `actor ${actor} revealAsFormerHolder(${epoch}, ${uid}, ${result.root}, ${result.total}, ${salt}) [${result.label}]`;
      post = async () => {
        const stake = await word(marketIface(world), world.marketAddress, "resultStake", [epoch, result.root, result.total]);
        same(stake, ep.support.get(key), "stake that counts behind the result revealed by a former holder");
      };
      outcome = await send(world, actor, "revealAsFormerHolder", [epoch, uid, result.root, result.total, salt]);
      break;
    }
    case "claim": {
      // Honest: a claim that is due (`dueClaims`), as the SDK's validator makes them. Malicious: a
      // replay; a wrong amount; someone else's proof or a losing leaf; an epoch not final; an
      // unknown uid; a uid that committed and never revealed; a uid whose holder changed twice
      // since the snapshot (`orphanFirst` makes it so, if need be). Malicious claims go for the last
      // two, the rarest, when they can.
      const open = claimable(model);
      const paying = payable(world, model);
      const forfeited = open.filter(({ epoch, leaf }) => unrevealed(model.epochs.get(epoch)!, leaf.uid));
      const revealedOnly = open.filter(({ epoch, leaf }) => !unrevealed(model.epochs.get(epoch)!, leaf.uid));
      let orphaned = revealedOnly.filter(({ epoch, leaf }) => payeeOf(world, model, epoch, leaf.uid) === null);
      let how = malicious ? randInt(rand, 7) : -1;
      if (malicious && (orphaned.length > 0 || (n >= MAX_PEERS && revealedOnly.length > 0)) && rand() < 0.75) how = 6;
      else if (malicious && forfeited.length > 0 && rand() < 0.5) how = 5;
      if (how === 6 && orphaned.length === 0 && n >= MAX_PEERS && revealedOnly.length > 0) {
        // Preferably a leaf whose uid is the weakest once its holder leaves.
        const takeable = revealedOnly.filter(({ leaf }) => weakestReplaceable(model, nb + 1, leaf.uid) === leaf.uid);
        const { epoch, leaf } = pick(takeable.length > 0 ? takeable : revealedOnly, rand);
        await orphanFirst(world, model, epoch, leaf.uid, rand);
        nb = model.block + 1;
        orphaned = revealedOnly.filter(({ epoch, leaf }) => payeeOf(world, model, epoch, leaf.uid) === null);
      }
      const finalized = [...model.epochs].filter(([, e]) => e.state === "Finalized");
      const replays = finalized.flatMap(([epoch, e]) => e.final!.leaves.filter((l) => e.claimedUids.includes(l.uid)).map((leaf) => ({ epoch, leaf })));
      const ofLeaf = ({ epoch, leaf }: { epoch: number; leaf: Leaf }): Claim => ({ epoch, uid: leaf.uid, amount: leaf.amount, proof: leaf.proof });
      let claim: Claim;
      const cur = currentEpoch(world, nb);
      const notFinal = () => {
        const epoch = randInt(rand, cur + 2);
        const results = model.epochs.get(epoch)?.results;
        const leaf = results?.[0].leaves[0];
        return leaf ? { epoch, uid: leaf.uid, amount: leaf.amount, proof: leaf.proof } : { epoch, uid: 0, amount: 1n, proof: [] };
      };
      const due = dueClaims(world, model, nb);
      if (how === -1 && due.length > 0) {
        const chosen = pick(due, rand);
        actor = chosen.by ?? actor;
        claim = ofLeaf(chosen);
      } else if (how === 0 && replays.length > 0) claim = ofLeaf(pick(replays, rand));
      else if (how === 1 && paying.length > 0) {
        const { epoch, leaf } = pick(paying, rand);
        claim = { epoch, uid: leaf.uid, amount: leaf.amount + randAmount(rand, 1000n), proof: leaf.proof };
      } else if (how === 2 && paying.length > 0) {
        // Someone else's proof, or a leaf of a result that did not win.
        const { epoch, leaf } = pick(paying, rand);
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
      } else if (how === 5 && forfeited.length > 0) claim = ofLeaf(pick(forfeited, rand));
      else if (how === 6 && orphaned.length > 0) claim = ofLeaf(pick(orphaned, rand));
      else claim = notFinal();
      const { expected: prediction, payee } = predictClaim(world, model, new Map(), claim);
      expected = prediction;
      apply = () => applyClaim(model, claim, payee!, nb);
      model.touchedEpoch = claim.epoch;
      model.touchedActors.push(actor);
      what = `actor ${actor} claim(${claim.epoch}, ${claim.uid}, ${claim.amount}, [${claim.proof.length} hashes])`;
      post = () => checkClaimed(world, model, [claim.epoch]);
      outcome = await send(world, actor, "claim", [claim.epoch, claim.uid, claim.amount, claim.proof]);
      if (!outcome.ok && outcome.error === "ClaimExceedsEmission") epochEvents.greedyRefused += 1;
      break;
    }
    case "claimMany": {
      const how = malicious ? randInt(rand, 2) : -1;
      const open = payable(world, model);
      const batch: Claim[] = [];
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
      const payees: Payee[] = [];
      expected = true;
      for (const c of batch) {
        const prediction = predictClaim(world, model, overlay, c);
        expected = prediction.expected;
        if (expected !== true) break;
        payees.push(prediction.payee!);
      }
      apply = () => batch.forEach((c, i) => applyClaim(model, c, payees[i], nb));
      model.touchedEpoch = batch.length > 0 ? batch[0].epoch : null;
      model.touchedEpochs = [...new Set(batch.map((c) => c.epoch))];
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
        ? await sendRaw(world, world.admin.address, world.marketAddress, encodeCall(marketIface(world), "setParameter", [p, value]))
        : await send(world, actor, "setParameter", [p, value]);
      post = async () => {
        // Config: maxPeers, epochLength, commitBlocks, revealBlocks, the eight first parameters in
        // enum order, maxTau (fixed), then registrationBurn and immunityBlocks.
        const onChain = await words(marketIface(world), world.marketAddress, "parameters");
        same(onChain.slice(4, 12), PARAMS.slice(0, 8).map((name) => model.params[name]), "parameters() after a change");
        same(onChain.slice(12), [CONFIG.maxTau, model.params.burn, model.params.immunity], "parameters() maxTau, burn and immunity");
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
  tally(outcome);
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
    const bitmap = await words(marketIface(world), world.marketAddress, "claimedBitmap", [epoch]);
    const flags = bitmap[2] ?? 0n; // (offset, length, word 0): at most 256 uids
    const expected = model.epochs.get(epoch)!.claimedUids.reduce((acc, uid) => acc | (1n << BigInt(uid)), 0n);
    same(flags, expected, `claimedBitmap(${epoch})`);
  }
}

/** Lanes 0..MAX_PEERS-1 of row `uid` in getWeightRows' flat words. */
const lanesOf = (flat: bigint[], rowWords: number, uid: number) =>
  Array.from({ length: MAX_PEERS }, (_, j) => Number((flat[uid * rowWords + (j >> 4)] >> BigInt(16 * (j & 15))) & 0xffffn));

/** The stored row of `uid` equals the model's (read right after a successful update). */
async function checkRow(world: World, model: Model, uid: number): Promise<void> {
  // (rowWords, offset, length, words...)
  const [rowWords, , , ...row] = await words(marketIface(world), world.marketAddress, "getWeightRows", [uid, uid + 1]);
  same(rowWords, BigInt(Math.ceil(model.peers.length / 16)), "getWeightRows words per row");
  same(lanesOf(row, Number(rowWords), 0), shownRow(model, uid), `weight row of uid ${uid}`);
}

/** peer(uid) as the model has it: (account, lastWeightsBlock, rowSet, registeredBlock). */
function peerView(world: World, model: Model, uid: number): bigint[] {
  const p = model.peers[uid];
  return [BigInt(world.addresses[p.actor]), BigInt(p.lastWeights), p.row === null ? 0n : 1n, BigInt(p.regBlock)];
}

/** formerHolder(uid) as the model has it: (account, since, until), zeros if never replaced. */
function formerView(world: World, model: Model, uid: number): bigint[] {
  const f = model.peers[uid].former;
  return f === null ? [0n, 0n, 0n] : [BigInt(world.addresses[f.actor]), BigInt(f.since), BigInt(f.until)];
}

/**
 * After a registration: the uid's holder and former holder are the model's, and every row reads as
 * the model's (a replacement cleared the uid's row and every row's weight on it).
 */
async function checkRegistration(world: World, model: Model, uid: number): Promise<void> {
  const m = marketIface(world);
  const n = model.peers.length;
  const [peer, former, rows] = await Promise.all([
    words(m, world.marketAddress, "peer", [uid]),
    words(m, world.marketAddress, "formerHolder", [uid]),
    words(m, world.marketAddress, "getWeightRows", [0, n]),
  ]);
  same(peer, peerView(world, model, uid), `peer(${uid}) after the registration`);
  same(former, formerView(world, model, uid), `formerHolder(${uid}) after the registration`);
  const [rowWords, , , ...flat] = rows;
  for (let i = 0; i < n; i++) same(lanesOf(flat, Number(rowWords), i), shownRow(model, i), `weight row of uid ${i} after the registration of uid ${uid}`);
}

// ---------------------------------------------------------------- invariants

/**
 * A view call sent straight to the embedded network, its calldata built and its return words decoded
 * by hand: the invariants make a few dozen reads per step, and the ethers contract wrapper and ABI
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
const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);

/**
 * The stake that counts in `epoch`: getCountingStakes is the model's for every uid,
 * countingTotalStake is their sum, and countingStakeOf of `uids` answers as getCountingStakes.
 */
async function checkCounting(world: World, model: Model, epoch: number, uids: number[]): Promise<void> {
  const m = marketIface(world);
  const at = world.marketAddress;
  const [stakes, total, ...single] = await Promise.all([
    words(m, at, "getCountingStakes", [epoch]).then((w) => w.slice(2, 2 + Number(w[1]))), // (offset, length, items)
    word(m, at, "countingTotalStake", [epoch]),
    ...uids.map((uid) => word(m, at, "countingStakeOf", [uid, epoch])),
  ]);
  const expected = model.peers.map((_, uid) => countingStake(world, model, uid, epoch));
  same(stakes, expected, `getCountingStakes(${epoch})`);
  same(total, sum(stakes), `countingTotalStake(${epoch}) == sum of the uids' stake that counts`);
  same(single, uids.map((uid) => expected[uid]), `countingStakeOf([${uids}], ${epoch})`);
}

async function invariants(world: World, model: Model): Promise<void> {
  const m = marketIface(world);
  const at = world.marketAddress;
  const g = world.genesis;
  const probeBlock = g + (model.probe % (model.block - g + 1));
  const n = model.peers.length;
  const probeUid = n > 0 ? model.probe % n : 0;
  const cur = currentEpoch(world, model.block);
  const probeEpoch = model.touchedEpoch ?? (model.probe >>> 8) % (cur + 2);
  const tauChanged = model.tauHist.length > 1;
  const quorumChanged = model.quorumHist.length > 1;
  const [head, held, supply, totalStake, totalUnbonding, stakes, stakeAt, totalAt, info, tauAt, quorumAt, peer, former, lastReplacement] = await Promise.all([
    hre.network.provider.request({ method: "eth_blockNumber", params: [] }).then((h) => Number(h)),
    word(world.tokenInterface, world.tokenAddress, "balanceOf", [at]),
    word(world.tokenInterface, world.tokenAddress, "totalSupply"),
    word(m, at, "totalStake"),
    word(m, at, "totalUnbonding"),
    words(m, at, "getStakes").then((w) => w.slice(2, 2 + Number(w[1]))), // (offset, length, items)
    n > 0 ? word(m, at, "stakeAt", [probeUid, probeBlock]) : Promise.resolve(0n),
    word(m, at, "totalStakeAt", [probeBlock]),
    words(m, at, "epochInfo", [probeEpoch]),
    tauChanged ? word(m, at, "tauAt", [probeBlock]) : Promise.resolve(lookup(model.tauHist, probeBlock)),
    quorumChanged ? word(m, at, "quorumAt", [probeBlock]) : Promise.resolve(lookup(model.quorumHist, probeBlock)),
    n > 0 ? words(m, at, "peer", [probeUid]) : Promise.resolve([]),
    n > 0 ? words(m, at, "formerHolder", [probeUid]) : Promise.resolve([]),
    word(m, at, "lastReplacementBlock"),
  ]);
  same(head, model.block, "block number (the model's clock)");
  // Conservation: every token held is owed, as stake or unbonding, and the views agree; every token
  // in existence is an actor's or the market's (registration burns destroyed, emission minted).
  same(held, model.totalStake + model.totalUnbonding, "token.balanceOf(market) == owed");
  same(totalStake, model.totalStake, "totalStake()");
  same(totalUnbonding, model.totalUnbonding, "totalUnbonding()");
  same(held, totalStake + totalUnbonding, "balance == totalStake() + totalUnbonding()");
  same(supply, model.supply, "token totalSupply()");
  same(sum(model.balance) + model.totalStake + model.totalUnbonding, model.supply, "the model: every token is an actor's or the market's");
  same(stakes, model.peers.map((p) => p.stake), "getStakes() per uid");
  // Checkpoints: a random past block reads as the model's ledger history.
  if (n > 0) same(stakeAt, stakeAtModel(model, probeUid, probeBlock), `stakeAt(${probeUid}, ${probeBlock})`);
  same(totalAt, lookup(model.totalHist, probeBlock), `totalStakeAt(${probeBlock})`);
  same(tauAt, lookup(model.tauHist, probeBlock), `tauAt(${probeBlock})`);
  same(quorumAt, lookup(model.quorumHist, probeBlock), `quorumAt(${probeBlock})`);
  // Who holds a random uid, and whom it replaced.
  if (n > 0) {
    same(peer, peerView(world, model, probeUid), `peer(${probeUid})`);
    same(former, formerView(world, model, probeUid), `formerHolder(${probeUid})`);
  }
  same(lastReplacement, BigInt(model.lastReplacement), "lastReplacementBlock()");
  // The stake that counts, in the epochs this step touched, the one being accumulated and a random one.
  const countingEpochs = new Set([...model.touchedEpochs, ...(model.touchedEpoch === null ? [] : [model.touchedEpoch]), cur, (model.probe >>> 16) % (cur + 2)]);
  for (const epoch of countingEpochs) await checkCounting(world, model, epoch, n > 0 ? [probeUid] : []);
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
  // The touched actors' unbonding, tokens and allowance; one still bonding is refused its withdrawal
  // with its release block.
  for (const actor of new Set(model.touchedActors)) {
    const address = world.addresses[actor];
    const [unbonding, replaced, released, balance, allowance] = await Promise.all([
      words(m, at, "unbondingOf", [address]),
      words(m, at, "replacedUnbondingOf", [address]),
      word(m, at, "released", [address]),
      word(world.tokenInterface, world.tokenAddress, "balanceOf", [address]),
      word(world.tokenInterface, world.tokenAddress, "allowance", [address, at]),
    ]);
    const bucket = (b: Bucket) => [b.amount, BigInt(b.release)];
    same(unbonding, bucket(model.unbonding[actor]), `unbondingOf(actor ${actor})`);
    same(replaced, bucket(model.replacedUnbonding[actor]), `replacedUnbondingOf(actor ${actor})`);
    same(released, model.released[actor], `released(actor ${actor})`);
    same(balance, model.balance[actor], `token balance of actor ${actor}`);
    same(allowance, model.allowance[actor], `allowance of actor ${actor} to the market`);
    const state = unbondingState(model, actor, model.block);
    if (state.owed > 0n && state.released === 0n) {
      check(await simulate(world, actor, "withdraw", []), fail("StillUnbonding", address, state.next, model.block), `actor ${actor} withdraw() before its release`);
    }
  }
  // Every account with a release block reached can withdraw: a peer that unstaked, a replaced one.
  for (const actor of range(ACTORS).filter((a) => unbondingState(model, a, model.block).released > 0n)) {
    check(await simulate(world, actor, "withdraw", []), true, `actor ${actor} withdraw() once released`);
  }
  if (model.hostileMoved) await checkReentry(world, model);
  if (model.steps === FUZZ_STEPS) await drain(world, model);
}

/**
 * After every transfer or burn that touched the hostile contract (the only moments its hook runs):
 * it tried to reenter as often as the model says, never succeeded, and was refused by the
 * reentrancy guard. (reentrySuccesses() only ever grows, so the drain's final check covers every
 * step in between.)
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
 * The end of a sequence. First, for every epoch so far, countingTotalStake(e) == the sum of
 * countingStakeOf(uid, e) over every uid, each as the model has it (epoch 0: none at all). Then no
 * balance is unwithdrawable: every peer unstakes all of its stake, every account with unbonding
 * (replaced peers too, who are no peers any more) waits out its release block and withdraws; each
 * gets exactly what the model owes it and the market ends holding nothing.
 */
async function drain(world: World, model: Model): Promise<void> {
  const uids = model.peers.map((_, uid) => uid);
  for (let epoch = 0; epoch <= currentEpoch(world, model.block) + 1; epoch++) await checkCounting(world, model, epoch, uids);
  same(await world.market.countingTotalStake(0), 0n, "stake that counts in epoch 0");
  for (const [uid, p] of model.peers.entries()) {
    if (p.stake === 0n) continue;
    const amount = p.stake;
    check(await send(world, p.actor, "unstake", [amount]), true, `drain: uid ${uid} unstake(${amount})`);
    model.block += 1;
    pushStake(model, uid, -amount, model.block);
    addUnbonding(world, model, p.actor, model.unbonding[p.actor], amount, model.block);
  }
  const owed = range(ACTORS).filter((actor) => unbondingState(model, actor, model.block).owed > 0n);
  const last = Math.max(0, ...owed.flatMap((actor) => [model.unbonding[actor].release, model.replacedUnbonding[actor].release]));
  if (last > model.block + 1) {
    await mineBlocks(last - model.block - 1);
    model.block = last - 1;
  }
  for (const actor of owed) {
    check(await send(world, actor, "withdraw", []), true, `drain: actor ${actor} withdraw()`);
    model.block += 1;
    applyWithdraw(model, actor, model.block);
    if (actor === HOSTILE) await checkReentry(world, model);
  }
  const balances = await Promise.all(world.addresses.map((a) => world.token.balanceOf(a)));
  same(balances, model.balance, "every actor's tokens after the drain");
  same(await world.token.balanceOf(world.marketAddress), 0n, "market balance after the drain");
  same(await world.market.totalStake(), 0n, "total stake after the drain");
  same(await world.market.totalUnbonding(), 0n, "total unbonding after the drain");
  same(await world.token.totalSupply(), sum(model.balance), "token supply after the drain: the actors' tokens");
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
  await token.waitForDeployment();
  const tokenAddress = await token.getAddress();
  const hostile = await new HostileReceiver__factory(admin).deploy();
  const hostileOp = hostile.connect(operator);
  const hostileAddress = await hostile.getAddress();
  const addresses = [...eoas.map((s) => s.address), hostileAddress];
  // Funds before the market, so that the first peers' stake lands in epoch 0 and counts from epoch 1.
  for (const [actor, s] of eoas.entries()) if (actor !== POOR) await (await token.mint(s.address, FUNDS)).wait();
  await (await token.mint(hostileAddress, FUNDS)).wait();
  await (await hostileOp.act(tokenAddress, token.interface.encodeFunctionData("registerHook"))).wait();
  // The market calls ERC-20 functions, burnFrom and mint(address,uint256) on its token, which the
  // ReentrantToken has (mint without access control, so no minter is bound).
  const market = await deployRankingMarket(admin, tokenAddress, admin.address, CONFIG);
  const marketAddress = await market.getAddress();
  const genesis = Number(await market.genesisBlock());
  const approve = (actor: number) =>
    actor === HOSTILE
      ? hostileOp.act(tokenAddress, token.interface.encodeFunctionData("approve", [marketAddress, MaxUint256]))
      : token.connect(eoas[actor]).approve(marketAddress, MaxUint256);

  // Three peers to start with: actors 0 and 1 and the hostile, staking 100, 40 and 30 tokens, each
  // burning the registration cost; the hostile is armed first, so its burn and its stake reenter.
  const initial: [number, bigint][] = [
    [0, TOKENS(100)],
    [1, TOKENS(40)],
    [HOSTILE, TOKENS(30)],
  ];
  for (const [actor] of initial) await (await approve(actor)).wait();
  await (await hostileOp.arm(marketAddress, market.interface.encodeFunctionData("withdraw"))).wait();
  const peers: Peer[] = [];
  const uidOf: (number | null)[] = new Array(ACTORS).fill(null);
  const balance = addresses.map((_, actor) => (actor === POOR ? 0n : FUNDS));
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
    peers.push({ actor, regBlock, created: regBlock, stake: amount, hist: [[stakeBlock, amount]], row: null, lastWeights: 0, former: null });
    uidOf[actor] = uid;
    balance[actor] -= amount + CONFIG.registrationBurn;
  }
  same(totalHist.at(-1)![0] <= genesis + L, true, "the first peers' stake counts from epoch 1");
  for (let actor = 0; actor < ACTORS; actor++) if (!initial.some(([a]) => a === actor)) await (await approve(actor)).wait();
  const block = await hre.ethers.provider.getBlockNumber();
  const init: Model = {
    block,
    peers,
    uidOf,
    balance,
    allowance: new Array<bigint>(ACTORS).fill(MaxUint256),
    unbonding: range(ACTORS).map(() => ({ amount: 0n, release: 0 })),
    replacedUnbonding: range(ACTORS).map(() => ({ amount: 0n, release: 0 })),
    released: new Array<bigint>(ACTORS).fill(0n),
    supply: sum(balance) + total,
    totalStake: total,
    totalHist,
    totalUnbonding: 0n,
    lastReplacement: 0,
    params: {
      lambda: CONFIG.lambda,
      quorum: CONFIG.quorum,
      rho: CONFIG.rho,
      theta: CONFIG.theta,
      tau: CONFIG.tau,
      minStake: CONFIG.minStakeToSetWeights,
      rateLimit: CONFIG.weightsRateLimit,
      unbonding: CONFIG.unbondingBlocks,
      burn: CONFIG.registrationBurn,
      immunity: CONFIG.immunityBlocks,
    },
    tauHist: [[genesis, CONFIG.tau]],
    quorumHist: [[genesis, CONFIG.quorum]],
    epochs: new Map(),
    attempts: Number(await hostile.reentryAttempts()),
    attack: "withdraw",
    steps: 0,
    probe: 0,
    touchedEpoch: null,
    touchedEpochs: [],
    touchedActors: [],
    hostileMoved: false,
  };
  same(init.attempts, 2, "the hostile's registration burn and initial stake already tried to reenter");
  same(await token.totalSupply(), init.supply, "token supply after the setup (three registration burns)");
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
    chainId: (await hre.ethers.provider.getNetwork()).chainId,
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
  "ERC20InsufficientAllowance",
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
  "NoStakeThatCounts",
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
  "UnrevealedCommitment",
  "InvalidProof",
  "ClaimExceedsEmission",
  "NotHolderAtSnapshot",
  "ParameterOutOfBounds",
  "AccessControlUnauthorizedAccount",
];
/** Errors each of these actions must have met: the registration burn is paid by the caller (the
 * sponsor for registerFor), and a caller without allowance or balance is refused. */
const EXPECTED_BY_KIND: Partial<Record<Kind, string[]>> = {
  register: ["AlreadyRegistered", "MarketFull", "ERC20InsufficientAllowance", "ERC20InsufficientBalance"],
  registerFor: ["NotRegistered", "ZeroAddress", "AlreadyRegistered", "MarketFull", "ERC20InsufficientAllowance", "ERC20InsufficientBalance"],
  stake: ["ERC20InsufficientAllowance", "ERC20InsufficientBalance"],
  commit: ["NoStakeThatCounts"],
  reveal: ["CommitmentMismatch"],
  revealAsFormer: ["NotHolderAtSnapshot", "CommitmentMismatch"],
  claim: ["UnrevealedCommitment", "NotHolderAtSnapshot"],
};

describe("RankingMarket invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps conservation, withdrawable balances, epoch states, stake checkpoints, the stake that counts and reentrancy safety over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async function () {
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
    console.log("      peers:", peerEvents);

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
      for (const [kind, errors] of Object.entries(EXPECTED_BY_KIND) as [Kind, string[]][]) {
        for (const error of errors) expect(stats.get(kind)!.errors.get(error) ?? 0, `${kind} reverts with ${error}`).to.be.greaterThan(0);
      }
      expect(epochEvents.finalized, "epochs finalized").to.be.greaterThan(0);
      expect(epochEvents.lapsed, "epochs closed as lapsed").to.be.greaterThan(0);
      expect(epochEvents.claimedLeaves, "emission leaves claimed").to.be.greaterThan(0);
      expect(peerEvents.replaced, "peers replaced in a full market").to.be.greaterThan(0);
      expect(peerEvents.replacedWithStake, "replaced peers whose stake went into their unbonding").to.be.greaterThan(0);
      expect(peerEvents.paidToFormer, "claims paid into a replaced holder's unbonding").to.be.greaterThan(0);
      expect(peerEvents.formerWithdrawals, "withdrawals by replaced peers").to.be.greaterThan(0);
      expect(peerEvents.keptReleased, "unbondings added to a released bucket (released() kept free)").to.be.greaterThan(0);
      expect(peerEvents.replays, "replayed commitments stored").to.be.greaterThan(0);
      expect(peerEvents.replaysRefused, "reveals of replayed commitments refused").to.be.greaterThan(0);
      expect(reentryAttemptsSeen, "reentry attempts by the hostile receiver").to.be.greaterThan(0);
    }
  });
});
