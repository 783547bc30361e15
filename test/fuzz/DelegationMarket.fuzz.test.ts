/**
 * Stateful invariant fuzzing of DelegationMarket (SPEC §3.2): random sequences of every external
 * action (registerModels, openSession, topUp, settle, collectEarnings, commitPlan, closeSession by
 * the user and by anyone after the deadline, withdraw) by five EOAs and a HostileReceiver, with
 * wrong callers, replays, stale and unknown session ids, zero and too large amounts, rewards too
 * large for the packed statistics, durations at, below and above the deployment's floor and
 * ceiling, calls out of their phase or time window, and reentry through the token's transfer hook.
 * Time moves as on Ethereum: every block the suite mines (each transaction's, and the empty ones
 * of an `advance` or of a wait for a deadline) comes 12 s after the one before.
 *
 * The model below is an exact bookkeeping of what the market owes to whom (budgets, spent,
 * reserved, each provider's uncollected earnings, credits, wallets), of every version of every
 * provider's models and of each session's phase, statistics and the versions it opened with; it
 * predicts every action's outcome (success, or the custom error and its values), in the contract's
 * order of checks (openSession's: provider count, eps, L and rewardScale, DurationOutOfBounds, the
 * budget's bound, the providers, T; refused opens with two faults pin that order). A provider may
 * register new models at any time, also while it is in open sessions (issue 12): each
 * registration is a new version, and a session keeps the versions it opened with for its
 * payments, model indices, reservations, delta1 and close. Payments are pure integer math and are
 * predicted exactly: min(tokens, count * L) * price, and for owed queries at least what the plan
 * reserved for them (bonus: max(billed * price, count * L * flagship); incentive: max(billed * price,
 * owed * L * flagship), owed = min(count, incentive due); flagship = the session's model 0 price of
 * that provider). A user settling owed queries with no tokens (settleZero) must not lower what the
 * provider gets (what it earned plus what closing would pay it for the owed queries left). Earnings
 * can be collected only once the plan is committed: a collectEarnings in Exploration or after the
 * close must revert with WrongPhase, so what a provider has earned when the plan is computed is
 * exactly its exploration payment. A settle of more than T queries is refused with
 * CountExceedsPhase(..., T) before anything else is read, and a reward too large for the packed
 * statistics with OpenZeppelin's SafeCast errors (see predictSettle for which casts the inputs can
 * reach).
 *
 * The plan committed at the end of exploration needs PRBMath (ln, pow): there the model predicts
 * the exact parts (the best provider by exploration utility = reward - exploration payment, the
 * second best utility, the bonus counts, the reservation given the incentive counts) and checks R,
 * M, the threshold, the deltas and the incentive counts against a floating-point evaluation of the
 * spec's formulas, with every ln floored at 1e-18 as the contract does: an exploration whose
 * average reward or average tokens rounds to zero (generated on purpose), and a rewardScale so
 * small that delta1's min ratio rounds to zero, must give a finite plan, never a revert. Every
 * committed plan must be the spec's, without exception. R, the threshold and the incentive counts
 * are then taken from the chain's views. Whether the budget covers the plan is predicted exactly
 * except within one incentive query per provider of the boundary, where either success or
 * BudgetTooLow (with a need in range) is accepted. Everything after the plan (early stop, phase
 * changes, what a close pays) is exact again.
 *
 * Checked after every step: the market's token balance equals what the model says it owes
 * (NatSpec: open sessions' budget - spent + uncollected earnings, plus credits); the changed
 * session's phase and money fields and the stats of the providers the step changed, the changed
 * credits, and that the hostile contract's reentry failed; owed means paid (owedMeansPaid): for
 * every provider of every planned session, what it was paid for the owed phases plus what the plan
 * still reserves for it is never below its owed queries at L tokens of its flagship, and the
 * reservation identity (reserved = owed queries still due at L tokens of the flagship, spent +
 * reserved <= budget). After a registration, the provider's version and latest models; after an
 * open, the deadline (the opening block's time + duration) and the models the session keeps. After
 * the last step of each sequence: every session and provider statistic, credits, every version of
 * every provider's models and each session's, the clock, the NatSpec sum from the contract's own
 * views, the reservation identity; then every open session is closed by its user and every credit
 * withdrawn, after which the market must hold nothing and every wallet what the model says, and
 * reentry must have been refused by the guard. At the end of a run of at least 100 sequences
 * (GENERATOR_CHECKS), every action kind must have gone through at least once, every malicious kind
 * been refused at least once, every harmless attack gone through, and every error, phase, way out
 * and new rule (versions mid-session, owed queries paid their reservation, zero-token settlements,
 * the duration bounds and their place in the order of checks, closes at and after a deadline in
 * 12-second blocks, the floored ln) have been reached.
 */
import { expect } from "chai";
import hre, { network } from "hardhat";
import fc from "fast-check";
import { ContractTransactionResponse, ErrorFragment, Interface, isHexString, MaxUint256, ParamType, parseEther } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  DelegationMarket,
  DelegationMarket__factory,
  HostileReceiver,
  HostileReceiver__factory,
  ReentrantToken,
  ReentrantToken__factory,
} from "../../typechain-types";
import { mulberry32 } from "../../sdk/src/ranking/generators";
import { DEFAULT_SESSION_DURATION } from "../../deploy/config";
import { BLOCK_TIME } from "../helpers";
import { attempt, expectOutcome, fuzz, FUZZ_RUNS, FUZZ_STEPS, GENERATOR_CHECKS, Outcome, rawCall, rawTransaction } from "./harness";

const WAD = 10n ** 18n;
const U128_MAX = (1n << 128n) - 1n;
const I128_MAX = (1n << 127n) - 1n;
const I128_MIN = -(1n << 127n);
const I256_MAX = (1n << 255n) - 1n;
const PANIC_OVERFLOW = 0x11n; // Solidity's Panic code for checked arithmetic that overflows
const GAS_LIMIT = 10_000_000; // on every transaction: no eth_estimateGas
const EOAS = 5;
const HOSTILE = EOAS; // actor index of the HostileReceiver
const ACTORS = EOAS + 1;
const FUNDS = parseEther("1000");
const U64_MAX = (1n << 64n) - 1n;
/** The deployment's bounds on a session's duration (seconds): the protocol's floor and ceiling. */
const MIN_DURATION = BigInt(DEFAULT_SESSION_DURATION.min);
const MAX_DURATION = BigInt(DEFAULT_SESSION_DURATION.max);
/** Every block the suite mines comes this long after the latest, as on Ethereum (Hardhat's default is 1 s). */
const BLOCK = BigInt(BLOCK_TIME);

enum Phase {
  None,
  Exploration,
  Exploitation,
  Bonus,
  Incentive,
  Closed,
}

// ------------------------------------------------------------------ fixed inputs

interface ChainModel {
  score: bigint;
  outputTokens: bigint;
  tokenPrice: bigint;
}
const m = (score: number, outputTokens: number, tokenPrice: bigint): ChainModel => ({ score: parseEther(String(score)), outputTokens: BigInt(outputTokens), tokenPrice });
const MENUS: ChainModel[][] = [
  [m(0.9, 40, 10n ** 13n), m(0.6, 20, 4n * 10n ** 12n)],
  [m(0.8, 60, 8n * 10n ** 12n)],
  [m(0.95, 80, 12n * 10n ** 12n), m(0.5, 30, 3n * 10n ** 12n), m(0.7, 50, 6n * 10n ** 12n)],
  [m(0.7, 25, 5n * 10n ** 12n), m(0.85, 45, 9n * 10n ** 12n)],
];
/** The menu each actor has registered when a sequence starts: actors 2, 3, 4 and the hostile contract. */
const INITIAL_MENU: (number | undefined)[] = [undefined, undefined, 0, 1, 2, 3];

/** floor(t^(2 eps)) for parameters far from an integer boundary (PRBMath's pow is exact to ~1e-17). */
function blockSize(t: bigint, eps: bigint): bigint {
  if (t <= 1n) return t; // pow(0, y) = 0 and pow(1, y) = 1 exactly
  const exact = Math.pow(Number(t), (2 * Number(eps)) / 1e18);
  if (Math.abs(exact - Math.round(exact)) < 1e-6) throw new Error(`test bug: t^(2 eps) = ${exact} is too close to an integer to predict B`);
  return BigInt(Math.floor(exact));
}

interface Profile {
  t: bigint;
  eps: bigint;
  l: bigint;
  rewardScale: bigint;
}
/** Session shapes whose R is zero to ten blocks of B, so that sequences reach every phase. */
const PROFILES: Profile[] = [
  { t: 1200n, eps: parseEther("0.3"), l: 100n, rewardScale: parseEther("5") }, // B = 70
  { t: 1500n, eps: parseEther("0.3"), l: 60n, rewardScale: parseEther("5") }, // B = 80
  { t: 2500n, eps: parseEther("0.3"), l: 100n, rewardScale: parseEther("3") }, // B = 109
  { t: 300n, eps: parseEther("0.25"), l: 100n, rewardScale: parseEther("5") }, // B = 17
  { t: 300n, eps: parseEther("0.3"), l: 100n, rewardScale: parseEther("5") }, // B = 30, R = 0: straight to the bonus
  // rewardScale 10 wei: rewardScale * score / outputTokens rounds to zero for every menu, so delta1's
  // ln is floored at 1e-18 (delta1 ~ 43): R = 0 and large incentives. B = 17.
  { t: 300n, eps: parseEther("0.25"), l: 100n, rewardScale: 10n },
];
/** Budgets from ample to too small for the plan's reservation, and zero. */
const BUDGETS = ["5", "5", "3", "2", "2", "1", "0.5", "0"].map((x) => parseEther(x));
/**
 * Durations within the bounds: at the floor and the ceiling, one second above the floor and below
 * the ceiling (deadlines off the 12-second grid), and ordinary ones.
 */
const DURATIONS = [MIN_DURATION, MIN_DURATION + 1n, 600n, 3600n, 86_400n, MAX_DURATION - 1n, MAX_DURATION];
/** Durations out of the bounds: zero, one second below the floor, one above the ceiling, the most a uint64 holds. */
const BAD_DURATIONS = [0n, MIN_DURATION - 1n, MAX_DURATION + 1n, U64_MAX];

// ------------------------------------------------------------------ world and model

interface World {
  admin: HardhatEthersSigner;
  eoas: HardhatEthersSigner[];
  addresses: string[]; // by actor index; the last is the hostile contract
  token: ReentrantToken;
  market: DelegationMarket;
  hostile: HostileReceiver;
  marketAddress: string;
  tokenAddress: string;
  hostileAddress: string;
  withdrawData: string;
  errorDecoders: Interface[]; // the market's and the token's, to decode reverts
  marketCoder: StaticCoder;
  tokenCoder: StaticCoder;
  hostileCoder: StaticCoder;
}

interface ProviderStats {
  explored: bigint;
  bonusDue: bigint;
  incentiveDue: bigint;
  extraAllowed: bigint;
  tokenSum: bigint;
  rewardSum: bigint;
  earned: bigint;
  /**
   * What it was paid in exploration (the spec's measure of its utility there), kept apart from
   * `earned`: the plan must read exactly this, which commitPlan checks against the chain's `earned`.
   */
  paidExploring: bigint;
  /** The bonus and incentive queries the committed plan owes it (0 before the plan). */
  bonusPlanned: bigint;
  incentivePlanned: bigint;
  /**
   * What it was paid for the plan's owed phases: its bonus and incentive settlements, and the owed
   * queries its close paid. Earnings collected along the way stay counted here (the chain's `earned`
   * drops when they are collected), and exploration and exploitation pay is for other queries.
   */
  paidOwed: bigint;
}

interface Session {
  id: bigint;
  user: number;
  providers: number[]; // actor indices
  /** By provider index: the version of its models the session opened with, those models, and their flagship's price. */
  versions: number[];
  menus: ChainModel[][];
  flagships: bigint[];
  phase: Phase;
  stoppedEarly: boolean;
  best: bigint;
  deadline: bigint;
  t: bigint;
  b: bigint;
  l: bigint;
  r: bigint;
  rewardScale: bigint;
  eps: bigint;
  budget: bigint;
  spent: bigint;
  reserved: bigint;
  exploited: bigint;
  threshold: bigint;
  exploitUtility: bigint;
  stats: ProviderStats[];
}

interface Model {
  versions: ChainModel[][][]; // by actor: every menu it registered, version v at v - 1
  credits: bigint[];
  wallet: bigint[];
  sessions: Session[]; // id - 1
  armed: string; // the hostile's reentry calldata
  last?: Call; // the last call that went through, for replays
  step: number;
  sequence: number;
  touchedSessions: Map<bigint, Set<number>>; // session id -> provider indices whose stats changed
  touchedActors: Set<number>;
  hostileActed: boolean;
  /** The latest block's timestamp: the suite mines every block 12 s after the one before. */
  clock: bigint;
}

type Call =
  | { fn: "registerModels"; caller: number; models: ChainModel[] }
  | { fn: "openSession"; caller: number; providers: string[]; t: bigint; eps: bigint; l: bigint; rewardScale: bigint; budget: bigint; duration: bigint }
  | { fn: "topUp"; caller: number; id: bigint; amount: bigint }
  | { fn: "settle"; caller: number; id: bigint; index: bigint; count: bigint; tokens: bigint; reward: bigint; model: bigint }
  | { fn: "collectEarnings"; caller: number; id: bigint; index: bigint }
  | { fn: "commitPlan"; caller: number; id: bigint }
  | { fn: "closeSession"; caller: number; id: bigint; nextTimestamp?: bigint; late?: boolean }
  | { fn: "withdraw"; caller: number };

type Prediction =
  | { kind: "ok"; apply: () => void | Promise<void> }
  | { kind: "revert"; error: string; args: unknown[]; checkArgs?: (args: unknown[]) => void }
  /** Success or `error` are both right (the budget is within rounding of what the plan reserves). */
  | { kind: "either"; error: string; checkArgs: (args: unknown[]) => void; apply: () => Promise<void> };

const ok = (apply: () => void | Promise<void>): Prediction => ({ kind: "ok", apply });
const revert = (error: string, ...args: unknown[]): Prediction => ({ kind: "revert", error, args });
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
const wei = (x: bigint) => Number(x) / 1e18;

/**
 * expect(actual).to.equal(expected, message), without chai's cost when the two are identical (as
 * they are on every step of a passing run; with hardhat-chai-matchers each expect costs a few
 * module resolutions): anything else goes to chai, which decides as before.
 */
function same(actual: unknown, expected: unknown, message: string): void {
  if (actual !== expected) expect(actual).to.equal(expected, message);
}

/** expect(condition, message).to.equal(true), at the same cost as `same`. */
function holds(condition: boolean, message: string): void {
  if (!condition) expect(condition, message).to.equal(true);
}

function freshModel(clock: bigint): Model {
  return {
    versions: INITIAL_MENU.map((i) => (i === undefined ? [] : [MENUS[i]])),
    credits: Array(ACTORS).fill(0n),
    wallet: Array(ACTORS).fill(FUNDS),
    sessions: [],
    armed: "",
    step: 0,
    sequence: ++coverage.sequences,
    touchedSessions: new Map(),
    touchedActors: new Set(),
    hostileActed: false,
    clock,
  };
}

function touch(model: Model, id: bigint, ...indices: number[]): void {
  const set = model.touchedSessions.get(id) ?? new Set<number>();
  for (const i of indices) set.add(i);
  model.touchedSessions.set(id, set);
}

function sessionOf(model: Model, id: bigint): Session | undefined {
  return id >= 1n && id <= BigInt(model.sessions.length) ? model.sessions[Number(id - 1n)] : undefined;
}

/** A provider's latest models (what a session opened now gets; none if it never registered). */
const latestMenu = (model: Model, actor: number): ChainModel[] => model.versions[actor].at(-1) ?? [];

/** Whether the actor is a provider of an open session (before issue 12 it could not re-register then). */
const inOpenSession = (model: Model, actor: number) => model.sessions.some((s) => s.phase !== Phase.Closed && s.providers.includes(actor));

/** What the plan still reserves for provider `i`: its owed queries not yet delivered, at L tokens of its flagship. */
const reservedFor = (s: Session, i: number) => (s.stats[i].bonusDue + s.stats[i].incentiveDue) * s.l * s.flagships[i];

/**
 * What closing the session now would give provider `i`, on top of what it has collected: what it
 * earned and the owed queries not yet delivered. A settlement of owed queries must never lower it.
 */
const entitlement = (s: Session, i: number) => s.stats[i].earned + reservedFor(s, i);

/** Everything the market owes: open sessions' budget - spent + uncollected earnings, and credits (NatSpec). */
function owed(model: Model): bigint {
  let total = sum(model.credits);
  for (const s of model.sessions) if (s.phase !== Phase.Closed) total += s.budget - s.spent + sum(s.stats.map((p) => p.earned));
  return total;
}

/** Counters over the whole run, for the coverage assertions at the end. */
const coverage = {
  kinds: new Map<string, { ok: number; reverted: number; errors: Map<string, number> }>(),
  errors: new Map<string, number>(),
  events: new Map<string, number>(),
  reentryAttempts: 0n,
  sequences: 0,
  reentrySuccesses: 0n,
  drained: 0,
};
const note = (event: string) => coverage.events.set(event, (coverage.events.get(event) ?? 0) + 1);
function record(kind: string, outcome: Outcome): void {
  const entry = coverage.kinds.get(kind) ?? { ok: 0, reverted: 0, errors: new Map<string, number>() };
  if (outcome.ok) entry.ok += 1;
  else {
    entry.reverted += 1;
    entry.errors.set(outcome.error, (entry.errors.get(outcome.error) ?? 0) + 1);
    coverage.errors.set(outcome.error, (coverage.errors.get(outcome.error) ?? 0) + 1);
  }
  coverage.kinds.set(kind, entry);
}

// ------------------------------------------------------------------ predictions (the model)

function predict(w: World, model: Model, call: Call): Prediction {
  switch (call.fn) {
    case "registerModels":
      return predictRegister(w, model, call);
    case "openSession":
      return predictOpen(w, model, call);
    case "topUp":
      return predictTopUp(w, model, call);
    case "settle":
      return predictSettle(w, model, call);
    case "collectEarnings":
      return predictCollect(w, model, call);
    case "commitPlan":
      return predictCommit(w, model, call);
    case "closeSession":
      return predictClose(w, model, call);
    case "withdraw":
      return predictWithdraw(w, model, call);
  }
}

/**
 * registerModels always works, also while the provider is in open sessions (issue 12: no session
 * holds a provider's terms hostage): it adds a version, and the sessions already open keep theirs.
 */
function predictRegister(w: World, model: Model, c: Extract<Call, { fn: "registerModels" }>): Prediction {
  if (c.models.length === 0 || c.models.length > 8) return revert("InvalidModels", "between 1 and 8 models");
  for (const x of c.models) {
    if (x.score === 0n || x.score > WAD) return revert("InvalidModels", "score must be in (0, 1]");
    if (x.outputTokens === 0n) return revert("InvalidModels", "output tokens must be positive");
    if (x.tokenPrice === 0n) return revert("InvalidModels", "token price must be positive");
  }
  const version = BigInt(model.versions[c.caller].length + 1);
  return ok(async () => {
    const [onChain, latest] = await Promise.all([chain.modelVersion(w, c.caller), chain.modelsOf(w, c.caller)]);
    same(onChain, version, "a registration adds one version");
    sameMenu(latest, c.models, `latest models of actor ${c.caller}`);
    const midSession = inOpenSession(model, c.caller);
    const before = latestMenu(model, c.caller);
    model.versions[c.caller].push(c.models.map((x) => ({ ...x })));
    if (midSession) {
      note("provider re-registered mid-session");
      if (c.models[0].tokenPrice > before[0].tokenPrice) note("provider raised its flagship price mid-session");
    } else if (version === 1n) note("new provider registered");
  });
}

/** Throws unless the chain's models are `expected`, field by field. */
function sameMenu(actual: readonly DelegationMarket.ModelStructOutput[], expected: readonly ChainModel[], what: string): void {
  same(actual.length, expected.length, `${what}: count`);
  expected.forEach((x, j) => {
    same(actual[j].score, x.score, `${what}: model ${j} score`);
    same(actual[j].outputTokens, x.outputTokens, `${what}: model ${j} output tokens`);
    same(actual[j].tokenPrice, x.tokenPrice, `${what}: model ${j} token price`);
  });
}

/**
 * openSession's order of checks (issue 12): the provider count, eps, L and rewardScale, the
 * duration within the deployment's bounds, the budget's bound, then each provider (registered,
 * distinct), then T against B * K, then the token transfer.
 */
function predictOpen(w: World, model: Model, c: Extract<Call, { fn: "openSession" }>): Prediction {
  const k = c.providers.length;
  if (k < 2 || k > 8) return revert("InvalidSession", "between 2 and 8 providers");
  if (c.eps === 0n || c.eps >= WAD / 2n) return revert("InvalidSession", "eps must be in (0, 1/2)");
  if (c.l === 0n || c.rewardScale === 0n) return revert("InvalidSession", "L and rewardScale must be positive");
  if (c.duration < MIN_DURATION || c.duration > MAX_DURATION) return revert("DurationOutOfBounds", c.duration, MIN_DURATION, MAX_DURATION);
  if (c.budget > U128_MAX) return revert("InvalidSession", "budget exceeds 2^128");
  const actors: number[] = [];
  for (let i = 0; i < k; i++) {
    const actor = w.addresses.findIndex((a) => a.toLowerCase() === c.providers[i].toLowerCase());
    if (actor < 0 || model.versions[actor].length === 0) return revert("UnknownProvider", c.providers[i]);
    for (let j = 0; j < i; j++) if (c.providers[j].toLowerCase() === c.providers[i].toLowerCase()) return revert("InvalidSession", "a provider appears twice");
    actors.push(actor);
  }
  const b = blockSize(c.t, c.eps);
  if (b === 0n || b * BigInt(k) > c.t) return revert("InvalidSession", "T too small to explore every provider");
  if (c.budget > model.wallet[c.caller]) return revert("ERC20InsufficientBalance", w.addresses[c.caller], model.wallet[c.caller], c.budget);
  const id = BigInt(model.sessions.length + 1);
  return ok(async () => {
    // The session keeps each provider's latest version as of this block, whatever it registers later.
    const versions = actors.map((a) => model.versions[a].length);
    const menus = actors.map((a, i) => model.versions[a][versions[i] - 1]);
    const [onChain, ...kept] = await Promise.all([chain.session(w, id), ...actors.map((_, i) => chain.sessionModels(w, id, i))]);
    same(onChain.b, b, "B = floor(T^(2 eps))");
    // The block that opened it is the model's clock (every block comes 12 s after the one before).
    same(onChain.deadline, model.clock + c.duration, "deadline = the opening block's time + duration");
    kept.forEach((x, i) => sameMenu(x, menus[i], `session ${id} provider ${i}: the models it opened with`));
    if (c.duration === MIN_DURATION) note("opened at the shortest duration");
    if (c.duration === MAX_DURATION) note("opened at the longest duration");
    model.sessions.push({
      id,
      user: c.caller,
      providers: actors,
      versions,
      menus,
      flagships: menus.map((x) => x[0].tokenPrice),
      phase: Phase.Exploration,
      stoppedEarly: false,
      best: 0n,
      deadline: model.clock + c.duration,
      t: c.t,
      b,
      l: c.l,
      r: 0n,
      rewardScale: c.rewardScale,
      eps: c.eps,
      budget: c.budget,
      spent: 0n,
      reserved: 0n,
      exploited: 0n,
      threshold: 0n,
      exploitUtility: 0n,
      stats: actors.map(() => ({
        explored: 0n,
        bonusDue: 0n,
        incentiveDue: 0n,
        extraAllowed: 0n,
        tokenSum: 0n,
        rewardSum: 0n,
        earned: 0n,
        paidExploring: 0n,
        bonusPlanned: 0n,
        incentivePlanned: 0n,
        paidOwed: 0n,
      })),
    });
    model.wallet[c.caller] -= c.budget;
    touch(model, id);
    note("session opened");
  });
}

function predictTopUp(w: World, model: Model, c: Extract<Call, { fn: "topUp" }>): Prediction {
  const s = sessionOf(model, c.id);
  if (!s) return revert("UnknownSession", c.id);
  if (s.phase === Phase.Closed) return revert("WrongPhase", c.id, BigInt(Phase.Closed));
  if (s.budget + c.amount > U128_MAX) return revert("InvalidSession", "budget exceeds 2^128");
  if (c.amount > model.wallet[c.caller]) return revert("ERC20InsufficientBalance", w.addresses[c.caller], model.wallet[c.caller], c.amount);
  return ok(() => {
    s.budget += c.amount;
    model.wallet[c.caller] -= c.amount;
    touch(model, c.id);
  });
}

/**
 * settle, in the contract's order of checks. Where user amounts enter packed storage the contract
 * casts with SafeCast; which of those casts the generated inputs reach:
 * - the reward: in exploration rewardSum.toUint128() (a reward over 2^128 - 1), then the uint128 sum
 *   of the provider's rewards (checked addition: Panic 0x11); in exploitation rewardSum.toInt256()
 *   (a reward of 2^255 or more), (reward - payment).toInt128(), then the int128 running utility
 *   (checked addition: Panic 0x11). settleBad's "huge reward" variant reaches every one of them and
 *   the model predicts each. In the bonus and incentive phases the reward is not stored: any value goes.
 * - count.toUint48 / toUint64, billed.toUint96 and the uint96 token sum, payment.toInt256: kept below
 *   them. count <= T <= 2500 (a larger count is refused with CountExceedsPhase first), billed <=
 *   count * L <= 250,000 tokens and prices <= 1.2e13, so payments stay below 2^64.
 * - spent.toUint128 and payment.toUint128 into `earned`: unreachable for any input, since the
 *   BudgetTooLow check before them keeps spent (and every payment, and so what a provider has
 *   earned in a session) within the budget, itself below 2^128 (openSession and topUp refuse more
 *   with InvalidSession before their own toUint128, which no input can therefore reach either).
 */
function predictSettle(w: World, model: Model, c: Extract<Call, { fn: "settle" }>): Prediction {
  const s = sessionOf(model, c.id);
  if (!s) return revert("UnknownSession", c.id);
  if (c.caller !== s.user) return revert("NotUser", c.id, w.addresses[c.caller]);
  if (c.count === 0n) return revert("ZeroCount");
  const k = BigInt(s.providers.length);
  if (c.index >= k) return revert("ProviderIndexOutOfRange", c.index, k);
  // No phase allows more than T queries: refused before the provider's models are read.
  if (c.count > s.t) return revert("CountExceedsPhase", c.id, c.index, c.count, s.t);
  const i = Number(c.index);
  // The models (and prices) are those of the version the session opened with, not the provider's latest.
  const models = s.menus[i];
  if (c.model >= BigInt(models.length)) {
    if (c.model < BigInt(latestMenu(model, s.providers[i]).length)) note("a later version's model refused");
    return revert("ModelOutOfRange", c.model, BigInt(models.length));
  }
  const billed = min(c.tokens, c.count * s.l);
  const billedPayment = billed * models[Number(c.model)].tokenPrice;
  let payment = billedPayment;
  // Owed queries (bonus, and incentive up to what is due) are paid at least what the plan reserved
  // for them, L tokens of the flagship each (issue 12: owed means paid).
  let owedValue: bigint | undefined;
  const p = s.stats[i];
  let reserved = s.reserved;
  let change: () => void;
  const exceeds = (allowed: bigint) => revert("CountExceedsPhase", c.id, c.index, c.count, allowed);
  switch (s.phase) {
    case Phase.Exploration: {
      const allowed = s.b - p.explored;
      if (c.count > allowed) return exceeds(allowed);
      if (c.reward > U128_MAX) return revert("SafeCastOverflowedUintDowncast", 128n, c.reward);
      if (p.rewardSum + c.reward > U128_MAX) return revert("Panic", PANIC_OVERFLOW);
      change = () => {
        p.explored += c.count;
        p.tokenSum += billed;
        p.rewardSum += c.reward;
        p.paidExploring += payment;
      };
      break;
    }
    case Phase.Exploitation: {
      if (c.index !== s.best) return revert("NotBestProvider", c.id, c.index, s.best);
      const inBlock = s.b - (s.exploited % s.b);
      const allowed = min(inBlock, s.r - s.exploited);
      if (c.count > allowed) return exceeds(allowed);
      if (c.reward > I256_MAX) return revert("SafeCastOverflowedUintToInt", c.reward);
      const net = c.reward - payment;
      if (net > I128_MAX || net < I128_MIN) return revert("SafeCastOverflowedIntDowncast", 128n, net);
      const utility = s.exploitUtility + net;
      if (utility > I128_MAX || utility < I128_MIN) return revert("Panic", PANIC_OVERFLOW);
      const done = s.exploited + c.count;
      let stop = false;
      let toBonus = false;
      if (done % s.b === 0n || done === s.r) {
        // The early-stop rule at a block end: the running average below the threshold.
        if (utility < s.threshold * done) {
          stop = true;
          reserved -= sum(s.stats.map((q, j) => q.bonusDue * s.l * s.flagships[j]));
        } else if (done === s.r) toBonus = true;
      }
      change = () => {
        s.exploited = done;
        s.exploitUtility = utility;
        if (stop) {
          s.stoppedEarly = true;
          for (const q of s.stats) q.bonusDue = 0n;
          s.phase = Phase.Incentive;
          touch(model, c.id, ...s.stats.map((_, j) => j)); // every provider's bonus is released
          note("stopped early");
        } else if (toBonus) {
          s.phase = Phase.Bonus;
          note("exploitation completed");
        }
      };
      break;
    }
    case Phase.Bonus: {
      if (c.count > p.bonusDue) return exceeds(p.bonusDue);
      owedValue = c.count * s.l * s.flagships[i];
      reserved -= owedValue;
      payment = billedPayment > owedValue ? billedPayment : owedValue;
      const allDone = s.stats.every((q, j) => (j === i ? q.bonusDue - c.count : q.bonusDue) === 0n);
      change = () => {
        p.bonusDue -= c.count;
        if (allDone) {
          s.phase = Phase.Incentive;
          note("bonus delivered");
        }
      };
      break;
    }
    case Phase.Incentive: {
      const allowed = p.incentiveDue + p.extraAllowed;
      if (c.count > allowed) return exceeds(allowed);
      const owedQueries = min(c.count, p.incentiveDue);
      owedValue = owedQueries * s.l * s.flagships[i];
      reserved -= owedValue;
      payment = billedPayment > owedValue ? billedPayment : owedValue;
      change = () => {
        if (c.count > owedQueries) {
          p.extraAllowed = 0n;
          note("extra incentive query");
        }
        p.incentiveDue -= owedQueries;
      };
      break;
    }
    default:
      return revert("WrongPhase", c.id, BigInt(s.phase));
  }
  const spent = s.spent + payment;
  if (spent + reserved > s.budget) return revert("BudgetTooLow", c.id, spent + reserved, s.budget);
  return ok(() => {
    const phase = s.phase;
    const before = entitlement(s, i);
    change();
    s.spent = spent;
    s.reserved = reserved;
    p.earned += payment;
    touch(model, c.id, i);
    if (billed < c.tokens) note("tokens capped at L");
    if (s.versions[i] < model.versions[s.providers[i]].length) note("settled at the models a session opened with, older than the latest");
    if (owedValue === undefined) return;
    // A settlement of owed queries moves their reservation into what the provider earned: whatever
    // the user reports (no tokens at all, the cheapest model), the provider never ends up with less
    // than before it.
    p.paidOwed += payment;
    const after = entitlement(s, i);
    holds(after >= before, `session ${c.id} provider ${i}: settling owed queries (${c.tokens} tokens) lowered what it gets from ${before} to ${after}`);
    if (owedValue > 0n && billedPayment < owedValue) note(`owed queries in ${Phase[phase]} paid the reservation over a lower bill`);
    if (billedPayment > owedValue) note(`queries in ${Phase[phase]} billed above the reservation`);
    if (c.tokens === 0n && owedValue > 0n) note(`zero-token settlement in ${Phase[phase]} paid the reservation`);
  });
}

function predictCollect(w: World, model: Model, c: Extract<Call, { fn: "collectEarnings" }>): Prediction {
  const s = sessionOf(model, c.id);
  if (!s) return revert("UnknownSession", c.id);
  const k = BigInt(s.providers.length);
  if (c.index >= k) return revert("ProviderIndexOutOfRange", c.index, k);
  const i = Number(c.index);
  const provider = s.providers[i];
  if (c.caller !== provider) return revert("NotProvider", c.id, c.index, w.addresses[c.caller]);
  // In exploration what a provider earned is its exploration payment, which the plan reads: it
  // stays in the session until the plan is committed. After the close there is nothing left.
  if (s.phase === Phase.Exploration || s.phase === Phase.Closed) {
    if (s.phase === Phase.Exploration && s.stats[i].earned > 0n) note("early collection refused");
    return revert("WrongPhase", c.id, BigInt(s.phase));
  }
  return ok(() => {
    if (s.stats[i].earned > 0n) note(`earnings collected in ${Phase[s.phase]}`);
    model.credits[provider] += s.stats[i].earned;
    s.stats[i].earned = 0n;
    model.touchedActors.add(provider);
    touch(model, c.id, i);
  });
}

/** ln of an 18-decimal value floored at 1 wei (1e-18), as the contract's _lnFloored: ln 0 is ln 1e-18 = -41.4. */
const lnFloored = (x: bigint) => Math.log(wei(x > 0n ? x : 1n));

/**
 * The plan as the spec defines it, in floating point where the chain uses PRBMath (delta1, the
 * provider terms, R, M, the threshold, the incentive counts) and exactly where it is integer
 * arithmetic (the best provider, the second best utility, the 18-decimal averages that go into
 * ln). A provider's utility in exploration is the measured reward minus what it was paid in
 * exploration (SPEC §3.1), kept by the model apart from `earned`. Every ln is floored at 1e-18,
 * as the contract's: an average reward or average token count that rounds to zero, or a min
 * ratio rewardScale * score / tokens that does, gives a large finite term.
 */
function planEstimate(s: Session) {
  const b = s.b;
  const k = s.providers.length;
  let minRatio: bigint | undefined;
  let maxTokens = 0n;
  // delta1 ranges over the models of the versions the session opened with.
  for (const menu of s.menus)
    for (const x of menu) {
      const ratio = (x.score * s.rewardScale) / WAD / x.outputTokens;
      if (minRatio === undefined || ratio < minRatio) minRatio = ratio;
      if (x.outputTokens > maxTokens) maxTokens = x.outputTokens;
    }
  const delta1 = -lnFloored(minRatio!) + wei((maxTokens * WAD) / s.l) + 1;
  const term = (p: ProviderStats) => {
    const avgTokens = (p.tokenSum * WAD) / b;
    return lnFloored(p.rewardSum / b) - lnFloored(avgTokens) - wei(avgTokens) / Number(s.l);
  };
  const utilities = s.stats.map((p) => p.rewardSum - p.paidExploring);
  let best = 0;
  for (let i = 1; i < k; i++) if (utilities[i] > utilities[best]) best = i; // ties to the lower index
  const second = [...utilities].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0))[1];
  const secondBest = second / b; // truncates toward zero, as Solidity's int division
  const delta2 = Math.log(wei(s.rewardScale));
  let delta3 = 0;
  for (let i = 0; i < k; i++) if (i !== best) delta3 += term(s.stats[i]);
  const t = Number(s.t);
  const r = t - ((delta1 + 3) * k + delta2 + delta3) * Number(b);
  const mm = Math.pow(t, -wei(s.eps)) * Math.log(k * t);
  const bestPayment = s.stats[best].paidExploring / b;
  const threshold = wei(secondBest) - ((wei(s.rewardScale) + wei(bestPayment)) * mm) / 2;
  const deltas = s.stats.map((p) => delta1 + term(p));
  const incentive = deltas.map((d) => (d > 0 ? BigInt(Math.floor(d * Number(b))) : 0n));
  const floored = {
    minRatio: minRatio === 0n,
    reward: s.stats.some((p) => p.rewardSum / b === 0n),
    tokens: s.stats.some((p) => p.tokenSum === 0n),
  };
  return { best, secondBest, delta1, delta2, delta3, r, m: mm, threshold, deltas, incentive, floored };
}

type Estimate = ReturnType<typeof planEstimate>;

/** How the committed plan differs from an estimate: exact for best and u2, 1e-9 relative for the PRBMath values, one query for R. */
function planDeviations(plan: DelegationMarket.PlanStructOutput, est: Estimate): string[] {
  const out: string[] = [];
  if (Number(plan.best) !== est.best) out.push(`best provider ${plan.best}, spec ${est.best}`);
  if (plan.secondBestUtility !== est.secondBest) out.push(`u2 ${plan.secondBestUtility}, spec ${est.secondBest}`);
  const near = (name: string, onChain: bigint, value: number) => {
    if (!(Math.abs(wei(onChain) - value) <= 1e-9 * Math.max(1, Math.abs(value)))) out.push(`${name} ${wei(onChain)}, spec ${value}`);
  };
  near("delta1", plan.delta1, est.delta1);
  near("delta2", plan.delta2, est.delta2);
  near("delta3", plan.delta3, est.delta3);
  near("M", plan.m, est.m);
  near("threshold", plan.threshold, est.threshold);
  if (Math.abs(Number(plan.r) - Math.max(0, Math.floor(est.r))) > 1) out.push(`R ${plan.r}, spec ${est.r}`);
  return out;
}

function predictCommit(w: World, model: Model, c: Extract<Call, { fn: "commitPlan" }>): Prediction {
  const s = sessionOf(model, c.id);
  if (!s) return revert("UnknownSession", c.id);
  if (s.phase !== Phase.Exploration) return revert("WrongPhase", c.id, BigInt(s.phase));
  for (let i = 0; i < s.stats.length; i++) if (s.stats[i].explored < s.b) return revert("ExplorationIncomplete", c.id, BigInt(i), s.stats[i].explored, s.b);
  // Always computable (every ln is floored): the only way a complete exploration's plan is refused is the budget.
  const est = planEstimate(s);
  const value = (queries: (i: number) => bigint) => sum(s.stats.map((_, i) => queries(i) * s.l * s.flagships[i]));
  const low = s.spent + value((i) => s.b + (est.incentive[i] > 0n ? est.incentive[i] - 1n : 0n));
  const high = s.spent + value((i) => s.b + est.incentive[i] + 1n);
  // What the plan needs depends on the incentive counts (PRBMath): within the estimate's range.
  const checkArgs = (args: unknown[]) => {
    const need = args[1] as bigint;
    same(args[0], c.id, "BudgetTooLow session");
    same(args[2], s.budget, "BudgetTooLow budget");
    holds(need > s.budget && need >= low && need <= high, `BudgetTooLow need ${need} in [${low}, ${high}], budget ${s.budget}`);
  };
  const apply = async () => {
    const [chainPlan, onChain, stats] = await Promise.all([
      chain.plan(w, c.id),
      chain.session(w, c.id),
      Promise.all(s.stats.map((_, i) => chain.stats(w, c.id, i))),
    ]);
    // The plan must be the spec's: best provider (highest exploration utility = reward - payment,
    // ties to the lower index), u2, the deltas, M, the threshold, R. No exception: earnings cannot
    // leave a session before its plan, so the chain's `earned` is the exploration payment.
    const deviations = planDeviations(chainPlan, est);
    if (deviations.length > 0) throw new Error(`session ${c.id}: the committed plan differs from the spec (${deviations.join("; ")})`);
    for (let i = 0; i < stats.length; i++) {
      same(stats[i].earned, s.stats[i].paidExploring, `provider ${i}: what it earned before the plan is its exploration payment`);
      same(stats[i].bonusDue, s.b, `provider ${i} is owed B bonus queries`);
      const diff = stats[i].incentiveDue - est.incentive[i];
      holds(diff >= -1n && diff <= 1n, `provider ${i} incentive: chain ${stats[i].incentiveDue}, spec ${est.incentive[i]}`);
      holds(stats[i].extraAllowed <= 1n, `provider ${i} extraAllowed ${stats[i].extraAllowed} <= 1`);
      if (est.deltas[i] < -1e-9) same(stats[i].incentiveDue + stats[i].extraAllowed, 0n, `provider ${i} with delta_i < 0 is owed nothing`);
    }
    // What the plan reserves is every owed query at L tokens of the provider's flagship: exact.
    const reserved = sum(stats.map((p, i) => (p.bonusDue + p.incentiveDue) * s.l * s.flagships[i]));
    same(onChain.reserved, reserved, "reserved = owed queries at L tokens of the flagship");
    holds(s.spent + reserved <= s.budget, "a committed plan fits the budget");
    same(onChain.best, chainPlan.best, "the session's best provider is the plan's");
    same(onChain.r, chainPlan.r, "the session's R is the plan's");
    same(onChain.threshold, chainPlan.threshold, "the session's threshold is the plan's");
    s.best = chainPlan.best;
    s.r = chainPlan.r;
    s.threshold = chainPlan.threshold;
    s.reserved = reserved;
    s.phase = chainPlan.r > 0n ? Phase.Exploitation : Phase.Bonus;
    stats.forEach((p, i) => {
      s.stats[i].bonusDue = p.bonusDue;
      s.stats[i].incentiveDue = p.incentiveDue;
      s.stats[i].extraAllowed = p.extraAllowed;
      s.stats[i].bonusPlanned = p.bonusDue;
      s.stats[i].incentivePlanned = p.incentiveDue;
    });
    touch(model, c.id, ...s.stats.map((_, i) => i));
    note(chainPlan.r > 0n ? "plan committed (exploitation)" : "plan committed (R = 0, bonus)");
    if (est.floored.reward) note("plan with a zero average reward (ln floored)");
    if (est.floored.tokens) note("plan with a zero average token count (ln floored)");
    if (est.floored.minRatio) note("plan with a zero min ratio (delta1's ln floored)");
  };
  if (low > s.budget) {
    return { kind: "revert", error: "BudgetTooLow", args: [c.id, undefined, s.budget], checkArgs };
  }
  if (high <= s.budget) return ok(apply);
  return { kind: "either", error: "BudgetTooLow", checkArgs, apply };
}

function predictClose(_w: World, model: Model, c: Extract<Call, { fn: "closeSession" }>): Prediction {
  const s = sessionOf(model, c.id);
  if (!s) return revert("UnknownSession", c.id);
  if (s.phase === Phase.Closed) return revert("WrongPhase", c.id, BigInt(Phase.Closed));
  if (c.caller !== s.user) {
    if (c.nextTimestamp === undefined) throw new Error("test bug: a close by someone else needs the next block's timestamp");
    if (c.nextTimestamp <= s.deadline) {
      if (c.nextTimestamp === s.deadline) note("close by another refused in the deadline's own block");
      else if (c.nextTimestamp + BLOCK > s.deadline) note("close by another refused in the last block before the deadline");
      return revert("SessionOpen", c.id, s.deadline);
    }
    if (c.nextTimestamp - BLOCK <= s.deadline) note("closed by another in the first block after the deadline");
  }
  return ok(() => {
    const planned = s.phase !== Phase.Exploration;
    let owedPaid = 0n;
    s.stats.forEach((p, i) => {
      const provider = s.providers[i];
      let value = 0n;
      if (planned) {
        value = ((s.stoppedEarly ? 0n : p.bonusDue) + p.incentiveDue) * s.l * s.flagships[i];
        p.bonusDue = 0n;
        p.incentiveDue = 0n;
        p.paidOwed += value;
        owedPaid += value;
      }
      model.credits[provider] += value + p.earned;
      p.earned = 0n;
      model.touchedActors.add(provider);
    });
    if (owedPaid > 0n) note("owed queries paid at close");
    if (s.providers.some((a, i) => s.versions[i] < model.versions[a].length)) note("closed at the models it opened with, older than the latest");
    note(`closed in ${Phase[s.phase]}${c.caller === s.user ? "" : " by another after the deadline"}`);
    s.spent += owedPaid;
    s.reserved = 0n;
    s.phase = Phase.Closed;
    model.credits[s.user] += s.budget - s.spent;
    model.touchedActors.add(s.user);
    touch(model, c.id); // the zeroed stats are compared in the final check
  });
}

function predictWithdraw(w: World, model: Model, c: Extract<Call, { fn: "withdraw" }>): Prediction {
  const amount = model.credits[c.caller];
  if (amount === 0n) return revert("NothingToWithdraw", w.addresses[c.caller]);
  return ok(() => {
    model.wallet[c.caller] += amount;
    model.credits[c.caller] = 0n;
    model.touchedActors.add(c.caller);
  });
}

// ------------------------------------------------------------------ sending

function encode(w: World, c: Call): string {
  const i = w.market.interface;
  const fast = w.marketCoder;
  switch (c.fn) {
    case "registerModels":
      return i.encodeFunctionData("registerModels", [c.models]);
    case "openSession":
      return i.encodeFunctionData("openSession", [c.providers, c.t, c.eps, c.l, c.rewardScale, c.budget, c.duration]);
    case "topUp":
      return fast.encode("topUp", [c.id, c.amount]);
    case "settle":
      return fast.encode("settle", [c.id, c.index, c.count, c.tokens, c.reward, c.model]);
    case "collectEarnings":
      return fast.encode("collectEarnings", [c.id, c.index]);
    case "commitPlan":
      return fast.encode("commitPlan", [c.id]);
    case "closeSession":
      return fast.encode("closeSession", [c.id]);
    case "withdraw":
      return fast.encode("withdraw", []);
  }
}

type Word = bigint | boolean | string;
/** The named fields of a typechain struct output (without its tuple indices and array methods). */
type Fields<T> = { [K in Exclude<keyof T, keyof unknown[] | `${number}`>]: T[K] };
type SessionView = Fields<DelegationMarket.SessionStructOutput>;
type StatsView = Fields<DelegationMarket.ProviderStatsStructOutput>;

const WORD_BITS = 256n;
const isStaticWord = (t: ParamType) => /^(u?int\d*|address|bool)$/.test(t.baseType);

/**
 * ABI coding of the calls made on every step, all of static words (uintN, intN, bool, address, and
 * tuples of them): ethers recomputes a selector (a keccak) on every encode and builds a Result
 * proxy on every decode, a large share of the suite's JavaScript time. Selectors are taken once
 * from the ABI; deploy() checks this coder against ethers' on every function it is used for.
 * Addresses decode in lower case (every comparison of addresses here is case-insensitive).
 */
class StaticCoder {
  private readonly fns = new Map<string, { selector: string; inputs: readonly ParamType[]; outputs: readonly ParamType[]; tuple: boolean }>();

  constructor(readonly iface: Interface) {}

  private fn(name: string) {
    let f = this.fns.get(name);
    if (!f) {
      const fragment = this.iface.getFunction(name);
      if (!fragment) throw new Error(`test bug: no function ${name}`);
      const tuple = fragment.outputs.length === 1 && fragment.outputs[0].baseType === "tuple";
      const outputs = tuple ? fragment.outputs[0].components! : fragment.outputs;
      if (!fragment.inputs.every((t) => /^(uint\d*|address)$/.test(t.baseType)) || !outputs.every(isStaticWord) || (!tuple && outputs.length > 1)) {
        throw new Error(`test bug: ${name} does not take and return static words`);
      }
      f = { selector: fragment.selector, inputs: fragment.inputs, outputs, tuple };
      this.fns.set(name, f);
    }
    return f;
  }

  encode(name: string, args: readonly (bigint | number | string)[]): string {
    const f = this.fn(name);
    if (args.length !== f.inputs.length) throw new Error(`test bug: ${name} takes ${f.inputs.length} arguments`);
    let data = f.selector;
    args.forEach((arg, i) => {
      const type = f.inputs[i].baseType;
      if (type === "address") {
        if (typeof arg !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(arg)) throw new Error(`test bug: ${name} argument ${i} is not an address`);
        data += arg.slice(2).toLowerCase().padStart(64, "0");
      } else {
        const value = BigInt(arg);
        const bits = BigInt(f.inputs[i].type.slice("uint".length) || "256");
        if (value < 0n || value >> bits !== 0n) throw new Error(`test bug: ${name} argument ${i} = ${value} is not a ${f.inputs[i].type}`);
        data += value.toString(16).padStart(64, "0");
      }
    });
    return data;
  }

  /** The call's result: its single value, or the named fields of its single tuple. */
  decode(name: string, data: string): Word | Record<string, Word> {
    const f = this.fn(name);
    if (data.length !== 2 + 64 * f.outputs.length) throw new Error(`${name} returned ${data.length} hex characters, expected ${2 + 64 * f.outputs.length}`);
    const values = f.outputs.map((t, i): Word => {
      const word = data.slice(2 + 64 * i, 66 + 64 * i);
      if (t.baseType === "address") return "0x" + word.slice(24);
      const value = BigInt("0x" + word);
      if (t.baseType === "bool") return value !== 0n;
      if (t.baseType.startsWith("int") && value >> (WORD_BITS - 1n) === 1n) return value - (1n << WORD_BITS);
      return value;
    });
    return f.tuple ? Object.fromEntries(f.outputs.map((t, i) => [t.name, values[i]])) : values[0];
  }

  async call(to: string, name: string, args: readonly (bigint | number | string)[] = []): Promise<Word | Record<string, Word>> {
    return this.decode(name, await network.provider.send("eth_call", [{ to, data: this.encode(name, args) }, "latest"]));
  }

  /** Throws unless this coder agrees with ethers on `name` for these arguments and this result (if it returns one). */
  check(name: string, args: readonly (bigint | string)[], result?: unknown): void {
    expect(this.encode(name, args)).to.equal(this.iface.encodeFunctionData(name, args), `StaticCoder encodes ${name}`);
    if (this.fn(name).outputs.length === 0) return;
    const data = this.iface.encodeFunctionResult(name, [result]);
    const ours = this.decode(name, data);
    const theirs = this.iface.decodeFunctionResult(name, data)[0] as unknown;
    const lower = (x: unknown) => (typeof x === "string" ? x.toLowerCase() : x);
    if (typeof ours === "object") {
      const named = theirs as Record<string, unknown>;
      const fields = this.fn(name).outputs.map((t) => t.name);
      expect(fields.length).to.be.greaterThan(0);
      for (const field of fields) expect(lower(ours[field]), `StaticCoder decodes ${name}.${field}`).to.equal(lower(named[field]));
    } else expect(lower(ours), `StaticCoder decodes ${name}`).to.equal(lower(theirs));
  }
}

/**
 * An Interface whose errors are looked up by selector in a map: ethers hashes the signature of every
 * error of the ABI on each lookup, and the harness decodes every revert (a third of the steps).
 */
class ErrorDecoder extends Interface {
  private readonly bySelector: Map<string, ErrorFragment>;

  constructor(iface: Interface) {
    super(iface.fragments);
    this.bySelector = new Map();
    this.forEachError((fragment) => this.bySelector.set(fragment.selector, fragment));
  }

  override getError(key: string, values?: unknown[]): ErrorFragment | null {
    return (isHexString(key) && this.bySelector?.get(key.toLowerCase())) || super.getError(key, values);
  }
}

/** Checks the StaticCoders against ethers on every function they serve, at extreme and ordinary values. */
function checkCoders(w: World): void {
  const m = w.marketCoder;
  const a = w.addresses[HOSTILE];
  const big = MaxUint256 - 12345n;
  for (const x of [0n, 1n, 123456789n, big]) {
    m.check("settle", [x, 1n, 70n, x, big - x, 2n]);
    m.check("topUp", [x, big - x]);
    m.check("collectEarnings", [x, 3n]);
    m.check("commitPlan", [x]);
    m.check("closeSession", [x]);
    m.check("credits", [a], x);
    m.check("modelVersionOf", [a], x % (1n << 32n));
    m.check("sessionCount", [], x);
    w.tokenCoder.check("balanceOf", [a], x);
    w.hostileCoder.check("reentrySuccesses", [], x);
    w.hostileCoder.check("reentryAttempts", [], x);
  }
  m.check("withdraw", []);
  for (const [decoder, iface] of [[w.errorDecoders[0], w.market.interface], [w.errorDecoders[1], w.token.interface]] as const) {
    iface.forEachError((fragment) => {
      const data = iface.encodeErrorResult(fragment, fragment.inputs.map((t) => (t.baseType === "address" ? a : t.baseType === "string" ? "why" : t.baseType === "bool" ? true : 7n)));
      const ours = decoder.parseError(data);
      const theirs = iface.parseError(data);
      expect(ours?.name).to.equal(theirs?.name, `ErrorDecoder decodes ${fragment.name}`);
      expect(ours?.args.map(String)).to.deep.equal(theirs?.args.map(String), `ErrorDecoder decodes ${fragment.name}'s values`);
    });
  }
  const session = (sign: bigint, x: bigint) => ({
    user: a,
    phase: 4n,
    stoppedEarly: sign < 0n,
    best: 7n,
    k: 8n,
    deadline: (1n << 64n) - 1n,
    t: x,
    b: 70n,
    l: 100n,
    r: x / 2n,
    rewardScale: U128_MAX - x,
    eps: 3n * 10n ** 17n,
    budget: U128_MAX,
    spent: x,
    reserved: 12345n,
    exploited: x,
    threshold: sign * (I128_MAX - x),
    exploitUtility: sign < 0n ? I128_MIN : I128_MAX,
  });
  for (const [sign, x] of [[1n, 0n], [-1n, 1n], [-1n, 10n ** 18n], [1n, (1n << 63n) + 5n]] as const) {
    m.check("sessionOf", [x], session(sign, x));
    m.check("stats", [x, 7n], { explored: (1n << 48n) - 1n, bonusDue: x % (1n << 48n), incentiveDue: 5n, extraAllowed: 1n, tokenSum: (1n << 96n) - 1n - x, rewardSum: U128_MAX - x, earned: x });
  }
}

/**
 * The transport: transactions and views go straight to the in-process node (the harness's
 * rawTransaction and rawCall; through ethers' signer each transaction costs three more round trips).
 */
const sendRaw = (from: string, to: string, data: string): Promise<ContractTransactionResponse> => rawTransaction(from, to, data, GAS_LIMIT)();
const read = rawCall;

const chain = {
  session: async (w: World, id: bigint) => (await w.marketCoder.call(w.marketAddress, "sessionOf", [id])) as unknown as SessionView,
  stats: async (w: World, id: bigint, i: number) => (await w.marketCoder.call(w.marketAddress, "stats", [id, i])) as unknown as StatsView,
  plan: async (w: World, id: bigint) => (await read(w.marketAddress, w.market.interface, "planOf", [id]))[0] as DelegationMarket.PlanStructOutput,
  credits: async (w: World, a: number) => (await w.marketCoder.call(w.marketAddress, "credits", [w.addresses[a]])) as bigint,
  modelVersion: async (w: World, a: number) => (await w.marketCoder.call(w.marketAddress, "modelVersionOf", [w.addresses[a]])) as bigint,
  modelsOf: async (w: World, a: number) => (await read(w.marketAddress, w.market.interface, "modelsOf", [w.addresses[a]]))[0] as DelegationMarket.ModelStructOutput[],
  modelsAt: async (w: World, a: number, version: number) =>
    (await read(w.marketAddress, w.market.interface, "modelsAt", [w.addresses[a], version]))[0] as DelegationMarket.ModelStructOutput[],
  sessionModels: async (w: World, id: bigint, i: number) => (await read(w.marketAddress, w.market.interface, "sessionModels", [id, i]))[0] as DelegationMarket.ModelStructOutput[],
  sessionCount: async (w: World) => (await w.marketCoder.call(w.marketAddress, "sessionCount")) as bigint,
  balance: async (w: World, address: string) => (await w.tokenCoder.call(w.tokenAddress, "balanceOf", [address])) as bigint,
  hostile: async (w: World, fn: "reentryAttempts" | "reentrySuccesses") => (await w.hostileCoder.call(w.hostileAddress, fn)) as bigint,
  lastRevert: async (w: World) => (await read(w.hostileAddress, w.hostile.interface, "lastRevert"))[0] as string,
  latestTimestamp: async () => BigInt(((await network.provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string }).timestamp),
};

/** Mines `blocks` empty blocks, each 12 s after the one before. */
async function mineEmpty(model: Model, blocks: bigint): Promise<void> {
  if (blocks <= 0n) return;
  // hardhat_mine puts its first block 1 s after the latest unless told otherwise.
  await network.provider.send("evm_setNextBlockTimestamp", [Number(model.clock + BLOCK)]);
  await network.provider.send("hardhat_mine", ["0x" + blocks.toString(16), "0x" + BLOCK.toString(16)]);
  model.clock += blocks * BLOCK;
}

/**
 * Makes the next transaction's block come at `timestamp`, a whole number of 12-second blocks after
 * the latest: the blocks in between are mined empty. Every transaction the suite sends mines one
 * block (a reverted one too), so the model's clock is the chain's (fullCheck compares them).
 */
async function nextBlockAt(model: Model, timestamp: bigint = model.clock + BLOCK): Promise<void> {
  const gap = timestamp - model.clock;
  if (gap <= 0n || gap % BLOCK !== 0n) throw new Error(`test bug: a block at ${timestamp} is not a 12-second block after ${model.clock}`);
  await mineEmpty(model, gap / BLOCK - 1n);
  await network.provider.send("evm_setNextBlockTimestamp", [Number(timestamp)]);
  model.clock = timestamp;
}

/** Sends the call as its caller, in the next 12-second block (or at the close's chosen time): an EOA directly, the hostile contract through `act` (reverts bubble unchanged). */
async function send(w: World, model: Model, c: Call): Promise<Outcome> {
  await nextBlockAt(model, c.fn === "closeSession" ? c.nextTimestamp : undefined);
  const interfaces = w.errorDecoders;
  const data = encode(w, c);
  if (c.caller === HOSTILE) {
    const act = w.hostile.interface.encodeFunctionData("act", [w.marketAddress, data]);
    return attempt(() => sendRaw(w.admin.address, w.hostileAddress, act), interfaces);
  }
  return attempt(() => sendRaw(w.addresses[c.caller], w.marketAddress, data), interfaces);
}

const normalize = (x: unknown) => (typeof x === "string" ? x.toLowerCase() : String(x));

/** Predicts, (re)arms the hostile contract if it is the caller, sends, checks the outcome against the prediction, applies it. */
async function run(w: World, model: Model, call: Call, kind: string): Promise<Outcome> {
  if (call.fn === "closeSession") timeClose(model, call);
  const prediction = predict(w, model, call);
  if (call.caller === HOSTILE) {
    // The hostile contract reenters on every token transfer touching it: when it pays a budget in
    // (openSession, topUp) and when it is paid (withdraw). It reenters withdraw(), or the very
    // action it is doing.
    if (call.fn === "openSession" || call.fn === "topUp" || call.fn === "withdraw") {
      const attack = call.fn === "withdraw" || model.step % 2 === 0 ? w.withdrawData : encode(w, call);
      if (attack !== model.armed) {
        await nextBlockAt(model);
        await sendRaw(w.admin.address, w.hostileAddress, w.hostile.interface.encodeFunctionData("arm", [w.marketAddress, attack]));
        model.armed = attack;
      }
      model.hostileActed = true;
    }
  }
  const outcome = await send(w, model, call);
  // The description is built only for a failure message.
  const what = () => `${kind}: ${describeCall(call)}`;
  const expectError = (error: string) => {
    if (outcome.ok || outcome.error !== error) expectOutcome(outcome, error, what());
  };
  if (prediction.kind === "ok") {
    if (!outcome.ok) expectOutcome(outcome, true, what());
  } else if (prediction.kind === "revert") {
    expectError(prediction.error);
    const args = (outcome as { args: unknown[] }).args;
    prediction.args.forEach((expected, i) => {
      if (expected !== undefined && normalize(args[i]) !== normalize(expected)) {
        expect(normalize(args[i])).to.equal(normalize(expected), `${what()}: argument ${i} of ${prediction.error}`);
      }
    });
    prediction.checkArgs?.(args);
  } else if (!outcome.ok) {
    expectError(prediction.error);
    prediction.checkArgs(outcome.args);
  }
  if (outcome.ok) {
    if (prediction.kind === "revert") throw new Error("unreachable");
    await prediction.apply();
    model.last = { ...call };
  }
  return outcome;
}

/**
 * A close by anyone but the user depends on the next block's time. Blocks come 12 s apart: a close
 * goes in the next block, and a "late" close waits, in 12-second blocks, for the last block at or
 * before the deadline (still refused; the deadline's own block when the duration is a multiple of
 * 12 s) or the first block after it (allowed).
 */
function timeClose(model: Model, c: Extract<Call, { fn: "closeSession" }>): void {
  const s = sessionOf(model, c.id);
  if (!s || s.phase === Phase.Closed || c.caller === s.user) {
    c.nextTimestamp = undefined;
    return;
  }
  const next = model.clock + BLOCK;
  if (c.late && s.deadline >= next) {
    const lastNotAfter = model.clock + ((s.deadline - model.clock) / BLOCK) * BLOCK;
    c.nextTimestamp = model.step % 4 === 0 ? lastNotAfter : lastNotAfter + BLOCK;
  } else c.nextTimestamp = next;
}

function describeCall(c: Call): string {
  const { fn, caller, ...rest } = c;
  const who = caller === HOSTILE ? "hostile" : `eoa${caller}`;
  return `${fn} by ${who} ${JSON.stringify(rest, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`.slice(0, 400);
}

// ------------------------------------------------------------------ the action generator

const HONEST = ["settle", "open", "commit", "topUp", "collect", "close", "closeLate", "withdraw", "register", "advance"] as const;
const MALICIOUS = ["settleBad", "openBad", "topUpBad", "commitBad", "collectBad", "closeBad", "withdrawBad", "registerBad", "replay"] as const;
/**
 * Malicious actions the market must let through without harm: a user settling owed (bonus and
 * incentive) queries as if they used no tokens (issue 12, attack 3), to release their reservation
 * and pay the provider nothing.
 */
const HARMLESS = ["settleZero"] as const;
type Kind = (typeof HONEST)[number] | (typeof MALICIOUS)[number] | (typeof HARMLESS)[number];
const WEIGHTS: Record<Kind, number> = {
  settle: 40, // drives a session forward: settle, or commit / top up / close when that is the next step
  open: 4,
  commit: 3,
  topUp: 2,
  collect: 5,
  close: 3,
  closeLate: 2,
  withdraw: 5,
  register: 3, // mostly a provider in an open session re-registering
  advance: 2,
  // 30 in 100 are malicious (replays included)
  settleBad: 8,
  openBad: 3,
  topUpBad: 2,
  commitBad: 3,
  collectBad: 3,
  closeBad: 3,
  withdrawBad: 2,
  registerBad: 2,
  replay: 4,
  settleZero: 3,
};

interface Action {
  kind: Kind;
  actor: number;
  seed: number;
}

const actionArbitrary: fc.Arbitrary<Action> = fc.record({
  kind: fc.oneof(...(Object.keys(WEIGHTS) as Kind[]).map((k) => ({ arbitrary: fc.constant(k), weight: WEIGHTS[k] }))),
  actor: fc.nat(ACTORS - 1),
  seed: fc.nat(),
});

type Planned = { kind: string; call: Call; faults?: OpenFault[] } | { kind: "advance"; seconds: number };

/** Random choices of one action, derived from its seed (so a printed action replays exactly). */
class Dice {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  unit(): number {
    return this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  big(n: bigint): bigint {
    return BigInt(this.int(Number(n)));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** The latest of `xs` three times in four (to drive one session deep), else any. */
  latest<T>(xs: readonly T[]): T {
    return this.chance(0.75) ? xs[xs.length - 1] : this.pick(xs);
  }
  tokensOf(x: number): bigint {
    return BigInt(Math.floor(x * 1e6)) * 10n ** 12n;
  }
}

const openSessions = (model: Model) => model.sessions.filter((s) => s.phase !== Phase.Closed);

/** The settlements the phase allows right now: [provider index, max count]. */
function settleable(s: Session): [number, bigint][] {
  switch (s.phase) {
    case Phase.Exploration:
      return s.stats.flatMap((p, i): [number, bigint][] => (p.explored < s.b ? [[i, s.b - p.explored]] : []));
    case Phase.Exploitation:
      return [[Number(s.best), min(s.b - (s.exploited % s.b), s.r - s.exploited)]];
    case Phase.Bonus:
      return s.stats.flatMap((p, i): [number, bigint][] => (p.bonusDue > 0n ? [[i, p.bonusDue]] : []));
    case Phase.Incentive:
      return s.stats.flatMap((p, i): [number, bigint][] => (p.incentiveDue + p.extraAllowed > 0n ? [[i, p.incentiveDue + p.extraAllowed]] : []));
    default:
      return [];
  }
}

/** A settlement the user would send: a whole block (or what is due) mostly, a part of it sometimes. */
function honestSettle(s: Session, d: Dice): Call {
  const options = settleable(s);
  const [index, allowed] = options.length > 0 ? d.pick(options) : [0, 1n];
  let count = allowed;
  if (s.phase === Phase.Incentive) {
    const due = s.stats[index].incentiveDue;
    count = d.chance(0.4) ? allowed : d.chance(0.5) && due > 0n ? due : 1n + d.big(allowed);
  } else if (d.chance(0.3)) count = 1n + d.big(allowed);
  const models = s.menus[index];
  const modelIndex = d.chance(0.6) ? 0n : BigInt(d.int(models.length));
  const perQueryTokens = BigInt(1 + d.int((Number(s.l) * 3) / 2)); // above L sometimes: billed at L
  let reward = count * d.tokensOf(0.5 + 5 * d.unit());
  if (s.phase === Phase.Exploitation && d.chance(0.4)) reward = count * d.tokensOf(1.5 * d.unit()); // a bad block: may stop early
  let tokens = count * perQueryTokens;
  // A provider that reports no tokens, or earns no reward, in exploration: its average rounds to
  // zero and the plan's ln of it is floored at 1e-18 (it must still be computed).
  if (s.phase === Phase.Exploration && d.chance(0.04)) tokens = 0n;
  if (s.phase === Phase.Exploration && d.chance(0.04)) reward = 0n;
  if (d.chance(0.02)) tokens = 1n << 200n; // far too many tokens reported: capped at count * L
  return { fn: "settle", caller: s.user, id: s.id, index: BigInt(index), count, tokens, reward, model: modelIndex };
}

/**
 * What the user of a session does next, to drive sessions deep: settle what the phase allows,
 * commit the plan once exploration is complete, top up first when the budget would not cover the
 * plan or the settlement (mostly), close a finished session or one whose statistics can hold no more.
 * Mostly the oldest unfinished session, so that one runs to its end; a new one when none is left.
 */
function progress(w: World, model: Model, d: Dice, actor: number): Planned {
  const unfinished = openSessions(model).filter((s) => s.phase === Phase.Exploration || settleable(s).length > 0);
  if (unfinished.length === 0) {
    const finished = openSessions(model);
    if (finished.length > 0 && d.chance(0.5)) {
      const s = d.pick(finished);
      return { kind: "close", call: { fn: "closeSession", caller: s.user, id: s.id } };
    }
    return { kind: "open", call: honestOpen(w, model, d, actor) };
  }
  const s = d.chance(0.8) ? unfinished[0] : d.pick(unfinished);
  const topUp = (need: bigint): Planned => ({ kind: "topUp", call: { fn: "topUp", caller: s.user, id: s.id, amount: need - s.budget + d.big(10n ** 17n) } });
  if (s.phase === Phase.Exploration && settleable(s).length === 0) {
    const est = planEstimate(s);
    const high = s.spent + sum(s.stats.map((_, i) => (s.b + est.incentive[i] + 1n) * s.l * s.flagships[i]));
    if (high > s.budget && d.chance(0.7)) return topUp(high);
    return { kind: "commit", call: { fn: "commitPlan", caller: s.user, id: s.id } };
  }
  const call = honestSettle(s, d);
  const expected = predict(w, model, call);
  if (expected.kind === "revert" && expected.error === "BudgetTooLow" && d.chance(0.6)) return topUp(expected.args[1] as bigint);
  // A reward sum already at its bound (an earlier huge reward): the user gives up on the session.
  if (expected.kind === "revert" && expected.error === "Panic" && d.chance(0.7)) return { kind: "close", call: { fn: "closeSession", caller: s.user, id: s.id } };
  return { kind: "settle", call };
}

function registered(model: Model): number[] {
  return model.versions.flatMap((x, a) => (x.length > 0 ? [a] : []));
}

/** A menu to register: one of MENUS, its prices sometimes halved, doubled or tripled (a provider changing its terms). */
function menuToRegister(d: Dice): ChainModel[] {
  const [num, den] = d.pick([[1n, 1n], [1n, 1n], [1n, 2n], [2n, 1n], [3n, 1n]] as const);
  return d.pick(MENUS).map((x) => ({ ...x, tokenPrice: (x.tokenPrice * num) / den }));
}

/**
 * The user settles owed queries (bonus, or incentive up to what is due and sometimes the optional
 * extra one) reporting no tokens, often at the cheapest model: the provider must still be paid what
 * the plan reserved for them.
 */
function zeroTokenSettle(model: Model, d: Dice): Call | undefined {
  const owing = openSessions(model).filter((s) => (s.phase === Phase.Bonus || s.phase === Phase.Incentive) && settleable(s).length > 0);
  if (owing.length === 0) return undefined;
  const s = d.latest(owing);
  const [index, due] = d.pick(settleable(s));
  const menu = s.menus[index];
  const cheapest = menu.reduce((best, x, j) => (x.tokenPrice < menu[best].tokenPrice ? j : best), 0);
  const allowed = min(due, s.t); // a plan may owe more incentive queries than one settlement takes (T)
  const count = d.chance(0.6) ? allowed : 1n + d.big(allowed);
  return { fn: "settle", caller: s.user, id: s.id, index: BigInt(index), count, tokens: 0n, reward: count * d.tokensOf(5 * d.unit()), model: BigInt(d.chance(0.6) ? cheapest : d.int(menu.length)) };
}

function honestOpen(w: World, model: Model, d: Dice, caller: number): Extract<Call, { fn: "openSession" }> {
  const pool = registered(model);
  const k = Math.min(pool.length, d.chance(0.55) ? 2 : d.chance(0.75) ? 3 : 4);
  const chosen: number[] = [];
  while (chosen.length < k) {
    const a = d.pick(pool);
    if (!chosen.includes(a)) chosen.push(a);
  }
  const profile = d.pick(PROFILES);
  return {
    fn: "openSession",
    caller,
    providers: chosen.map((a) => w.addresses[a]),
    ...profile,
    budget: d.pick(BUDGETS),
    duration: d.pick(DURATIONS),
  };
}

function unknownId(model: Model, d: Dice): bigint {
  return d.pick([0n, BigInt(model.sessions.length + 1), BigInt(model.sessions.length + 1 + d.int(5)), 1n << 64n]);
}

function otherThan(d: Dice, actor: number): number {
  return (actor + 1 + d.int(ACTORS - 1)) % ACTORS;
}

function plan(w: World, model: Model, action: Action): Planned {
  const d = new Dice(action.seed);
  const actor = action.actor;
  const open = openSessions(model);
  const fallback = () => plan(w, model, { ...action, kind: "settle" });
  switch (action.kind) {
    case "settle":
      return progress(w, model, d, actor);
    case "open":
      return { kind: "open", call: honestOpen(w, model, d, actor) };
    case "commit": {
      const ready = open.filter((s) => s.phase === Phase.Exploration && s.stats.every((p) => p.explored === s.b));
      if (ready.length === 0) return fallback();
      return { kind: "commit", call: { fn: "commitPlan", caller: actor, id: d.latest(ready).id } };
    }
    case "topUp": {
      if (open.length === 0) return fallback();
      const s = d.latest(open);
      const caller = d.chance(0.8) ? s.user : actor; // anyone may add to a budget
      return { kind: "topUp", call: { fn: "topUp", caller, id: s.id, amount: d.pick([parseEther("0.5"), parseEther("1"), parseEther("0.05"), 0n]) } };
    }
    case "collect": {
      // Earnings are collected once the plan is committed and until the close.
      const planned = open.filter((s) => s.phase !== Phase.Exploration);
      const earning = planned.flatMap((s) => s.stats.flatMap((p, i) => (p.earned > 0n ? [{ s, i }] : [])));
      if (earning.length > 0) {
        const { s, i } = d.pick(earning);
        return { kind: "collect", call: { fn: "collectEarnings", caller: s.providers[i], id: s.id, index: BigInt(i) } };
      }
      if (planned.length === 0) return fallback();
      const s = d.pick(planned); // nothing earned: collects zero
      const i = d.int(s.providers.length);
      return { kind: "collect", call: { fn: "collectEarnings", caller: s.providers[i], id: s.id, index: BigInt(i) } };
    }
    case "close": {
      if (open.length === 0) return fallback();
      const finished = open.filter((s) => s.phase === Phase.Incentive && settleable(s).length === 0);
      const s = finished.length > 0 && d.chance(0.7) ? d.pick(finished) : d.pick(open);
      return { kind: "close", call: { fn: "closeSession", caller: s.user, id: s.id } };
    }
    case "closeLate": {
      if (open.length === 0) return fallback();
      const s = d.pick(open);
      return { kind: "closeLate", call: { fn: "closeSession", caller: otherThan(d, s.user), id: s.id, late: true } };
    }
    case "withdraw": {
      const owedTo = model.credits.flatMap((c, a) => (c > 0n ? [a] : []));
      if (owedTo.length === 0) return fallback();
      return { kind: "withdraw", call: { fn: "withdraw", caller: d.pick(owedTo) } };
    }
    case "register": {
      // Mostly a provider of an open session, which keeps the models it opened with; else anyone
      // (a first registration for an actor that never registered).
      const busy = Array.from({ length: ACTORS }, (_, a) => a).filter((a) => inOpenSession(model, a));
      const caller = busy.length > 0 && d.chance(0.7) ? d.pick(busy) : actor;
      // A busy provider often grows its menu to the longest one, so that its sessions' users can be
      // seen refused the models their session's version does not have.
      const models = busy.includes(caller) && d.chance(0.5) ? MENUS[2] : menuToRegister(d);
      return { kind: "register", call: { fn: "registerModels", caller, models } };
    }
    case "advance":
      // In 12-second blocks; now and then past the longest duration, so every session is past its deadline.
      return { kind: "advance", seconds: d.chance(0.1) ? Number(MAX_DURATION + BLOCK) : d.pick([30, 300, 700, 4000, 90_000]) };
    case "settleZero": {
      const call = zeroTokenSettle(model, d);
      return call ? { kind: "settleZero", call } : fallback();
    }
    case "settleBad":
      return { kind: "settleBad", call: badSettle(model, d, actor) };
    case "openBad":
      return { kind: "openBad", ...badOpen(w, model, d, actor) };
    case "topUpBad": {
      const variant = d.int(4);
      const closed = model.sessions.filter((s) => s.phase === Phase.Closed);
      if (variant === 1 && closed.length > 0) return { kind: "topUpBad", call: { fn: "topUp", caller: actor, id: d.pick(closed).id, amount: parseEther("0.1") } };
      if (variant >= 2 && open.length > 0) {
        const s = d.pick(open);
        const amount = variant === 2 ? model.wallet[actor] + 1n + d.big(1000n) : U128_MAX - s.budget + 1n + d.big(1000n);
        return { kind: "topUpBad", call: { fn: "topUp", caller: actor, id: s.id, amount } };
      }
      return { kind: "topUpBad", call: { fn: "topUp", caller: actor, id: unknownId(model, d), amount: parseEther("0.1") } };
    }
    case "commitBad": {
      const variant = d.int(3);
      const planned = model.sessions.filter((s) => s.phase !== Phase.Exploration);
      const exploring = open.filter((s) => s.phase === Phase.Exploration && s.stats.some((p) => p.explored < s.b));
      if (variant === 1 && planned.length > 0) return { kind: "commitBad", call: { fn: "commitPlan", caller: actor, id: d.pick(planned).id } };
      if (variant === 2 && exploring.length > 0) return { kind: "commitBad", call: { fn: "commitPlan", caller: actor, id: d.pick(exploring).id } };
      return { kind: "commitBad", call: { fn: "commitPlan", caller: actor, id: variant === 0 || model.sessions.length === 0 ? unknownId(model, d) : d.pick(model.sessions).id } };
    }
    case "collectBad": {
      const variant = Math.min(4, d.int(6)); // 4 (by the provider in exploration) twice as often
      // By the provider itself, out of phase: in exploration (its exploration pay, preferably, which
      // the plan has yet to read) or after the close.
      const early = open.filter((s) => s.phase === Phase.Exploration);
      const closed = model.sessions.filter((s) => s.phase === Phase.Closed);
      const outOfPhase = variant === 4 ? early : variant === 3 ? closed : [];
      if (outOfPhase.length > 0) {
        const s = d.latest(outOfPhase);
        const earning = s.stats.flatMap((p, i) => (p.earned > 0n ? [i] : []));
        const i = earning.length > 0 && d.chance(0.8) ? d.pick(earning) : d.int(s.providers.length);
        return { kind: "collectBad", call: { fn: "collectEarnings", caller: s.providers[i], id: s.id, index: BigInt(i) } };
      }
      if (variant < 2 && model.sessions.length > 0) {
        const s = d.latest(model.sessions);
        const i = d.int(s.providers.length);
        if (variant === 0) return { kind: "collectBad", call: { fn: "collectEarnings", caller: otherThan(d, s.providers[i]), id: s.id, index: BigInt(i) } };
        return { kind: "collectBad", call: { fn: "collectEarnings", caller: s.providers[i], id: s.id, index: BigInt(s.providers.length + d.int(3)) } };
      }
      return { kind: "collectBad", call: { fn: "collectEarnings", caller: actor, id: unknownId(model, d), index: 0n } };
    }
    case "closeBad": {
      const variant = d.int(3);
      const closed = model.sessions.filter((s) => s.phase === Phase.Closed);
      if (variant === 0 && open.length > 0) {
        const s = d.pick(open); // by someone else, in the next block: before the deadline unless time ran past it
        return { kind: "closeBad", call: { fn: "closeSession", caller: otherThan(d, s.user), id: s.id } };
      }
      if (variant === 1 && closed.length > 0) {
        const s = d.pick(closed);
        return { kind: "closeBad", call: { fn: "closeSession", caller: d.chance(0.5) ? s.user : actor, id: s.id } };
      }
      return { kind: "closeBad", call: { fn: "closeSession", caller: actor, id: unknownId(model, d) } };
    }
    case "withdrawBad": {
      const empty = model.credits.flatMap((c, a) => (c === 0n ? [a] : []));
      return { kind: "withdrawBad", call: { fn: "withdraw", caller: empty.length > 0 ? d.pick(empty) : actor } };
    }
    case "registerBad":
      return { kind: "registerBad", call: badRegister(model, d, actor) };
    case "replay":
      if (!model.last) return fallback();
      return { kind: "replay", call: { ...model.last, ...(model.last.fn === "closeSession" ? { nextTimestamp: undefined, late: false } : {}) } as Call };
  }
}

function badSettle(model: Model, d: Dice, actor: number): Call {
  const open = openSessions(model);
  const closed = model.sessions.filter((s) => s.phase === Phase.Closed);
  const exploiting = open.filter((s) => s.phase === Phase.Exploitation);
  const exploring = open.filter((s) => s.phase === Phase.Exploration);
  // Exploitation is the shortest phase: while a session is in it, aim at it often (another provider
  // than the best, a reward too large for the running utility).
  let variant = exploiting.length > 0 && d.chance(0.5) ? d.pick([5, 9, 9]) : Math.min(9, d.int(11)); // 9 twice as often
  if (variant === 5 && exploiting.length === 0) variant = 4;
  // A provider whose latest menu grew past an open session's version is rare: aim at it when there is one.
  const hasGrown = open.some((x) => x.providers.some((a, i) => latestMenu(model, a).length > x.menus[i].length));
  if (hasGrown && d.chance(0.3)) variant = 3;
  // A huge reward is stored in exploration and in exploitation only: mostly one of those.
  const storing = [exploiting, exploring].filter((x) => x.length > 0);
  const huge = exploiting.length > 0 && d.chance(0.5) ? exploiting : storing.length > 0 && d.chance(0.9) ? d.pick(storing) : open;
  const pool = variant === 7 ? closed : variant === 5 ? exploiting : variant === 9 ? huge : open.length > 0 ? open : model.sessions;
  if (pool.length === 0 || variant === 6) return { fn: "settle", caller: actor, id: unknownId(model, d), index: 0n, count: 1n, tokens: 10n, reward: WAD, model: 0n };
  const s = d.latest(pool);
  const base = honestSettle(s, d) as Extract<Call, { fn: "settle" }>;
  const k = s.providers.length;
  switch (variant) {
    case 0: // not the session's user
      return { ...base, caller: otherThan(d, s.user) };
    case 1:
      return { ...base, count: 0n };
    case 2:
      return { ...base, index: BigInt(k + d.int(3)) };
    case 3: {
      // A model the session's version does not have: past its menu, often one the provider's latest
      // version (registered after the session opened) has.
      const grown = open.flatMap((x) => x.providers.flatMap((a, i) => (latestMenu(model, a).length > x.menus[i].length ? [{ x, i }] : [])));
      if (grown.length > 0 && d.chance(0.7)) {
        const { x, i } = d.pick(grown);
        const own = BigInt(x.menus[i].length);
        const later = own + d.big(BigInt(latestMenu(model, x.providers[i]).length) - own);
        return { ...(honestSettle(x, d) as Extract<Call, { fn: "settle" }>), index: BigInt(i), count: 1n, tokens: x.l, model: later };
      }
      return { ...base, model: BigInt(s.menus[Number(base.index)].length + d.int(2)) };
    }
    case 4: {
      // one more than the phase allows (a replayed block, a block end crossed, more than owed)
      const allowed = settleable(s).find(([i]) => i === Number(base.index))?.[1] ?? 0n;
      return { ...base, count: allowed + 1n, tokens: (allowed + 1n) * s.l };
    }
    case 5: // another provider than the best one, in exploitation
      return { ...base, index: (s.best + 1n + d.big(BigInt(k - 1))) % BigInt(k), count: 1n, tokens: s.l };
    case 7:
      return base; // a closed session, when there is one
    case 8: // more queries than the session has: refused against T whatever the phase
      return { ...base, count: d.chance(0.5) ? s.t + 1n + d.big(s.t) : (1n << 64n) + d.big(1000n) };
    default: {
      // Mostly on a provider part-way through its exploration, whose reward sum a reward within
      // the cast can overflow.
      const partial = s.phase === Phase.Exploration ? s.stats.flatMap((p, i) => (p.rewardSum > 0n && p.explored < s.b ? [i] : [])) : [];
      const target = partial.length > 0 && d.chance(0.7) ? { ...base, index: BigInt(d.pick(partial)), count: 1n, model: 0n } : base;
      return { ...target, reward: hugeReward(s, target, d) };
    }
  }
}

/**
 * A reward too large for the packed statistics: beyond the SafeCast bound of the phase, or within it
 * but overflowing the running sum (Panic), or exactly the most the sum can hold (it goes through,
 * and the plan and the early stop must cope with it). In the bonus and incentive phases the reward
 * is not stored, so any value goes.
 */
function hugeReward(s: Session, base: Extract<Call, { fn: "settle" }>, d: Dice): bigint {
  const jitter = d.big(1000n);
  const p = s.stats[Number(base.index)];
  if (s.phase === Phase.Exploration) {
    // Within the cast and over the provider's reward sum (exactly the most it can hold when the sum is zero).
    const sumOverflow = U128_MAX - d.big(p.rewardSum);
    return d.pick([U128_MAX + 1n + jitter, MaxUint256 - jitter, sumOverflow, sumOverflow, U128_MAX - p.rewardSum]);
  }
  if (s.phase === Phase.Exploitation) {
    const payment = min(base.tokens, base.count * s.l) * s.menus[Number(base.index)][Number(base.model)].tokenPrice;
    // reward - payment over int128; or within it and over the running utility when that is positive
    // (exactly int128's max when it is not: it goes through, and later settlements overflow it).
    const sumOverflow = I128_MAX + payment - (s.exploitUtility > 0n ? d.big(s.exploitUtility) : 0n);
    return d.pick([d.chance(0.5) ? I256_MAX + 1n + jitter : MaxUint256 - jitter, I128_MAX + payment + 1n + jitter, sumOverflow]);
  }
  return MaxUint256 - jitter;
}

type OpenCall = Extract<Call, { fn: "openSession" }>;
/** The ways an openSession can be wrong, in the contract's order of checks (DURATION_FAULTS among them). */
const OPEN_FAULTS = ["providerCount", "eps", "l", "rewardScale", "durationLow", "durationHigh", "budgetBound", "unknownProvider", "duplicate", "tSmall", "wallet"] as const;
type OpenFault = (typeof OPEN_FAULTS)[number];
const DURATION_FAULTS: readonly OpenFault[] = ["durationLow", "durationHigh"];

function applyOpenFault(w: World, model: Model, d: Dice, c: OpenCall, fault: OpenFault): OpenCall {
  const pool = registered(model).map((a) => w.addresses[a]);
  switch (fault) {
    case "providerCount":
      return { ...c, providers: d.chance(0.5) ? [c.providers[0]] : Array.from({ length: 9 }, (_, i) => pool[i % pool.length]) };
    case "eps":
      return { ...c, eps: d.chance(0.5) ? 0n : WAD / 2n };
    case "l":
      return { ...c, l: 0n };
    case "rewardScale":
      return { ...c, rewardScale: 0n };
    case "durationLow":
      return { ...c, duration: d.pick(BAD_DURATIONS.filter((x) => x < MIN_DURATION)) };
    case "durationHigh":
      return { ...c, duration: d.pick(BAD_DURATIONS.filter((x) => x > MAX_DURATION)) };
    case "budgetBound":
      return { ...c, budget: U128_MAX + 1n + d.big(1000n) };
    case "unknownProvider": {
      // a provider that never registered (an actor without models, or the token contract)
      const strangers = [...model.versions.flatMap((x, a) => (x.length === 0 ? [w.addresses[a]] : [])), w.tokenAddress];
      const providers = [...c.providers];
      providers[d.int(providers.length)] = d.pick(strangers);
      return { ...c, providers };
    }
    case "duplicate":
      return { ...c, providers: [c.providers[0], ...c.providers.slice(1, -1), c.providers[0]] };
    case "tSmall":
      return d.pick([{ ...c, t: 0n }, { ...c, t: 1n }, { ...c, t: 10n, eps: parseEther("0.49") }]);
    case "wallet":
      return { ...c, budget: model.wallet[c.caller] + 1n + d.big(1000n) };
  }
}

/**
 * A wrong openSession: one fault, or two (often a duration out of bounds and another) to pin the
 * order of the checks, which the model predicts.
 */
function badOpen(w: World, model: Model, d: Dice, actor: number): { call: OpenCall; faults: OpenFault[] } {
  const faults: OpenFault[] = [d.pick(OPEN_FAULTS)];
  if (d.chance(0.4)) {
    const other = d.pick(OPEN_FAULTS.filter((f) => f !== faults[0]));
    faults.push(DURATION_FAULTS.includes(faults[0]) || d.chance(0.4) ? other : d.pick(DURATION_FAULTS));
  }
  const call = faults.reduce((c, f) => applyOpenFault(w, model, d, c, f), honestOpen(w, model, d, actor));
  return { call, faults };
}

/** Which of two faults of an open the contract refused first, around the duration check it moved (issue 12). */
function noteOpenOrder(faults: readonly OpenFault[], outcome: Outcome): void {
  if (outcome.ok || faults.length < 2 || !faults.some((f) => DURATION_FAULTS.includes(f))) return;
  const later: Partial<Record<OpenFault, string>> = { budgetBound: "the budget bound", unknownProvider: "the providers", duplicate: "the providers", tSmall: "T", wallet: "the transfer" };
  if (outcome.error === "DurationOutOfBounds") for (const f of faults) if (later[f]) note(`duration refused before ${later[f]}`);
  if (outcome.error === "InvalidSession" && outcome.args[0] === "L and rewardScale must be positive") note("L and rewardScale refused before the duration");
}

/**
 * Invalid models; often from a provider in an open session (re-registering is allowed then, but an
 * invalid menu is refused and the sessions keep their versions).
 */
function badRegister(model: Model, d: Dice, actor: number): Call {
  const busy = Array.from({ length: ACTORS }, (_, a) => a).filter((a) => inOpenSession(model, a));
  const caller = busy.length > 0 && d.chance(0.5) ? d.pick(busy) : actor;
  const variant = d.int(7);
  if (variant <= 1) return { fn: "registerModels", caller, models: [] };
  if (variant === 2) return { fn: "registerModels", caller, models: Array.from({ length: 9 }, () => MENUS[0][0]) };
  const models = d.pick(MENUS).map((x) => ({ ...x }));
  const i = d.int(models.length);
  if (variant === 3) models[i].score = 0n;
  else if (variant === 4) models[i].score = WAD + 1n;
  else if (variant === 5) models[i].outputTokens = 0n;
  else models[i].tokenPrice = 0n;
  return { fn: "registerModels", caller, models };
}

// ------------------------------------------------------------------ invariants

async function checkSession(w: World, s: Session, indices: Iterable<number>): Promise<void> {
  const [c, stats] = await Promise.all([
    chain.session(w, s.id),
    Promise.all([...indices].map(async (i) => [i, await chain.stats(w, s.id, i)] as const)),
  ]);
  const at = `session ${s.id}`;
  same(Number(c.phase), s.phase, `${at} phase`);
  same(c.user.toLowerCase(), w.addresses[s.user].toLowerCase(), `${at} user`);
  same(c.stoppedEarly, s.stoppedEarly, `${at} stoppedEarly`);
  same(c.k, BigInt(s.providers.length), `${at} k`);
  same(c.budget, s.budget, `${at} budget`);
  same(c.spent, s.spent, `${at} spent`);
  same(c.reserved, s.reserved, `${at} reserved`);
  same(c.exploited, s.exploited, `${at} exploited`);
  same(c.exploitUtility, s.exploitUtility, `${at} exploitUtility`);
  same(c.deadline, s.deadline, `${at} deadline`);
  if (s.phase !== Phase.Exploration) {
    same(c.best, s.best, `${at} best`);
    same(c.r, s.r, `${at} R`);
    same(c.threshold, s.threshold, `${at} threshold`);
  }
  for (const [i, p] of stats) {
    const q = s.stats[i];
    const where = `${at} provider ${i}`;
    same(p.explored, q.explored, `${where} explored`);
    same(p.bonusDue, q.bonusDue, `${where} bonusDue`);
    same(p.incentiveDue, q.incentiveDue, `${where} incentiveDue`);
    same(p.extraAllowed, q.extraAllowed, `${where} extraAllowed`);
    same(p.tokenSum, q.tokenSum, `${where} tokenSum`);
    same(p.rewardSum, q.rewardSum, `${where} rewardSum`);
    same(p.earned, q.earned, `${where} earned`);
  }
}

/**
 * After every step, few reads (sent together): conservation (the market's balance equals what the
 * model says it owes), the state of the session the step changed (phase, budget, spent, reserved,
 * exploitation), with the stats of the providers it touched when the step was a plan or a close,
 * the credits it changed, and that the hostile contract's reentry failed when tokens moved to or
 * from it. After the last step, everything (fullCheck), then the drain. A reverted step changes
 * nothing on chain, which the conservation check and the next steps' outcomes confirm.
 */
async function invariants(w: World, model: Model): Promise<void> {
  const actors = [...model.touchedActors];
  const [held, credits, successes] = await Promise.all([
    chain.balance(w, w.marketAddress),
    Promise.all(actors.map((a) => chain.credits(w, a))),
    model.hostileActed ? chain.hostile(w, "reentrySuccesses") : 0n,
    ...[...model.touchedSessions].map(([id, indices]) => checkSession(w, sessionOf(model, id)!, indices)),
  ]);
  same(held, owed(model), "conservation: the market holds exactly what it owes");
  actors.forEach((a, i) => same(credits[i], model.credits[a], `credits of actor ${a}`));
  same(successes, 0n, "no reentry succeeds");
  owedMeansPaid(model);
  model.touchedSessions.clear();
  model.touchedActors.clear();
  model.hostileActed = false;
  if (model.step === FUZZ_STEPS) {
    await fullCheck(w, model);
    await drain(w, model);
  }
}

/**
 * Owed means paid (issue 12), for every provider of every session with a plan, after every step:
 * what it was paid for the plan's owed phases plus what the plan still reserves for it is never
 * below what its owed queries are worth, each at L tokens of its flagship price (of the models the
 * session opened with). Its owed queries are what the plan committed (read from the chain), less
 * the bonus when exploitation stopped early (the spec owes the bonus only if exploitation ran to
 * its end). This holds whatever a settlement paid, so it does not lean on the model's payment
 * formula; the state it reads is the chain's (checkSession compares every session a step touches,
 * fullCheck all of them). Also the reservation identity: reserved = the owed queries still to
 * deliver at L tokens of the flagship, and spent + reserved <= budget.
 */
function owedMeansPaid(model: Model): void {
  for (const s of model.sessions) {
    if (s.phase === Phase.Exploration) continue;
    s.stats.forEach((p, i) => {
      const worth = ((s.stoppedEarly ? 0n : p.bonusPlanned) + p.incentivePlanned) * s.l * s.flagships[i];
      const covered = p.paidOwed + reservedFor(s, i);
      holds(covered >= worth, `session ${s.id} provider ${i}: paid for owed queries ${p.paidOwed} + still reserved ${reservedFor(s, i)} < their worth ${worth}`);
    });
    if (s.phase === Phase.Closed) continue;
    same(s.reserved, sum(s.stats.map((_, i) => reservedFor(s, i))), `session ${s.id}: reserved = owed queries at L tokens of the flagship`);
    holds(s.spent + s.reserved <= s.budget, `session ${s.id}: spent + reserved <= budget`);
  }
}

/**
 * After the last step, everything against the model (every session and every provider's stats,
 * credits, every version of every provider's models and the versions each session opened with,
 * the clock), the reservation identity, and the NatSpec invariant computed from the contract's own
 * views.
 */
async function fullCheck(w: World, model: Model): Promise<void> {
  const actors = Array.from({ length: ACTORS }, (_, a) => a);
  const [count, credits, held, latest] = await Promise.all([
    chain.sessionCount(w),
    Promise.all(actors.map((a) => chain.credits(w, a))),
    chain.balance(w, w.marketAddress),
    chain.latestTimestamp(),
    ...model.sessions.map((s) => checkSession(w, s, s.stats.map((_, i) => i))),
    ...actors.map((a) => checkVersions(w, model, a)),
    ...model.sessions.flatMap((s) => s.menus.map(async (menu, i) => sameMenu(await chain.sessionModels(w, s.id, i), menu, `session ${s.id} provider ${i}: the models it opened with`))),
  ]);
  same(count, BigInt(model.sessions.length), "session count");
  same(latest, model.clock, "every block came 12 s after the one before");
  owedMeansPaid(model);
  let owedByViews = 0n;
  for (const s of model.sessions) {
    const owedQueries = sum(s.stats.map((_, i) => reservedFor(s, i)));
    if (s.phase === Phase.Closed) {
      same(s.reserved + owedQueries + sum(s.stats.map((p) => p.earned)), 0n, `closed session ${s.id} keeps nothing`);
      continue;
    }
    same(s.reserved, owedQueries, `session ${s.id}: reserved = owed queries at L tokens`);
    holds(s.spent + s.reserved <= s.budget, `session ${s.id}: spent + reserved <= budget`);
    // the views' side of the NatSpec invariant (checkSession compared them with the model)
    owedByViews += s.budget - s.spent + sum(s.stats.map((p) => p.earned));
  }
  for (const a of actors) {
    same(credits[a], model.credits[a], `credits of actor ${a}`);
    owedByViews += credits[a];
  }
  same(held, owedByViews, "token balance = sum over open sessions of (budget - spent + earned) + credits, by the views");
}

/** A provider's versions: the latest number, modelsOf (the latest), and every version as it was registered. */
async function checkVersions(w: World, model: Model, a: number): Promise<void> {
  const versions = model.versions[a];
  const [number, latest, ...each] = await Promise.all([chain.modelVersion(w, a), chain.modelsOf(w, a), ...versions.map((_, v) => chain.modelsAt(w, a, v + 1))]);
  same(number, BigInt(versions.length), `actor ${a}: model versions`);
  sameMenu(latest, latestMenu(model, a), `actor ${a}: latest models`);
  each.forEach((x, v) => sameMenu(x, versions[v], `actor ${a}: models of version ${v + 1}`));
}

/**
 * Nothing is unwithdrawable, and every open session has a way out: after the last step every open
 * session is closed by its user and every credit withdrawn (as the model predicts, with the
 * hostile contract reentering), and the market must then hold nothing, each wallet what the model
 * says.
 */
async function drain(w: World, model: Model): Promise<void> {
  for (const s of openSessions(model)) await run(w, model, { fn: "closeSession", caller: s.user, id: s.id }, "drain");
  for (let a = 0; a < ACTORS; a++) if (model.credits[a] > 0n) await run(w, model, { fn: "withdraw", caller: a }, "drain");
  const [held, ...wallets] = await Promise.all([w.marketAddress, ...w.addresses].map((a) => chain.balance(w, a)));
  same(held, 0n, "the market holds nothing once everything is closed and withdrawn");
  wallets.forEach((wallet, a) => same(wallet, model.wallet[a], `wallet of actor ${a} after the drain`));
  same(sum(model.wallet), FUNDS * BigInt(ACTORS), "every token is back with the actors");
  const [attempts, successes] = await Promise.all([chain.hostile(w, "reentryAttempts"), chain.hostile(w, "reentrySuccesses")]);
  same(successes, 0n, "no reentry succeeds");
  if (attempts > 0n) same(w.market.interface.parseError(await chain.lastRevert(w))?.name, "ReentrancyGuardReentrantCall", "reentry is refused by the guard");
  coverage.reentryAttempts += attempts;
  coverage.reentrySuccesses += successes;
  coverage.drained += 1;
}

// ------------------------------------------------------------------ the suite

async function deploy(): Promise<World> {
  const [admin, ...rest] = await hre.ethers.getSigners();
  const eoas = rest.slice(0, EOAS);
  const token = await new ReentrantToken__factory(admin).deploy();
  const market = await new DelegationMarket__factory(admin).deploy(await token.getAddress(), MIN_DURATION, MAX_DURATION);
  expect([await market.minDuration(), await market.maxDuration()]).to.deep.equal([MIN_DURATION, MAX_DURATION], "the deployment's duration bounds");
  const hostile = await new HostileReceiver__factory(admin).deploy();
  const [marketAddress, tokenAddress, hostileAddress] = await Promise.all([market.getAddress(), token.getAddress(), hostile.getAddress()]);
  const addresses = [...eoas.map((s) => s.address), hostileAddress];
  for (const s of eoas) {
    await (await token.mint(s.address, FUNDS)).wait();
    await (await token.connect(s).approve(marketAddress, MaxUint256)).wait();
  }
  await (await token.mint(hostileAddress, FUNDS)).wait();
  await (await hostile.act(tokenAddress, token.interface.encodeFunctionData("approve", [marketAddress, MaxUint256]))).wait();
  await (await hostile.act(tokenAddress, token.interface.encodeFunctionData("registerHook"))).wait();
  const withdrawData = market.interface.encodeFunctionData("withdraw");
  await (await hostile.arm(marketAddress, withdrawData)).wait();
  for (let a = 0; a < ACTORS; a++) {
    const menu = INITIAL_MENU[a];
    if (menu === undefined) continue;
    const data = market.interface.encodeFunctionData("registerModels", [MENUS[menu]]);
    if (a === HOSTILE) await (await hostile.act(marketAddress, data)).wait();
    else await (await market.connect(eoas[a]).registerModels(MENUS[menu])).wait();
  }
  // The node sends an impersonated account's transactions unsigned: the same senders and the same
  // execution, without an ECDSA signature and its recovery on every transaction (two thirds of a
  // transaction's cost on the node).
  for (const address of [admin.address, ...eoas.map((s) => s.address)]) await network.provider.send("hardhat_impersonateAccount", [address]);
  const coders = {
    errorDecoders: [new ErrorDecoder(market.interface), new ErrorDecoder(token.interface)],
    marketCoder: new StaticCoder(market.interface),
    tokenCoder: new StaticCoder(token.interface),
    hostileCoder: new StaticCoder(hostile.interface),
  };
  const world = { admin, eoas, addresses, token, market, hostile, marketAddress, tokenAddress, hostileAddress, withdrawData, ...coders };
  checkCoders(world);
  return world;
}

async function step(w: World, model: Model, action: Action): Promise<void> {
  model.step += 1;
  const planned = plan(w, model, action);
  if ("seconds" in planned) {
    await mineEmpty(model, (BigInt(planned.seconds) + BLOCK - 1n) / BLOCK);
    record("advance", { ok: true });
    return;
  }
  const outcome = await run(w, model, planned.call, planned.kind);
  if (planned.faults) noteOpenOrder(planned.faults, outcome);
  record(planned.kind, outcome);
}

describe("DelegationMarket invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps the escrow conserved, owed queries paid at least what was reserved, each session on the models it opened with, credits, phases and stats as modelled, reentry refused and every balance withdrawable over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async function () {
    const started = Date.now();
    const stats = await fuzz<World, Model, Action>({
      deploy,
      model: async (w) => ({ ...freshModel(await chain.latestTimestamp()), armed: w.withdrawData }),
      action: actionArbitrary,
      step,
      invariants,
    });
    const seconds = (Date.now() - started) / 1000;

    const rows = [...coverage.kinds.entries()].sort(([a], [b]) => a.localeCompare(b));
    console.log(`      ${stats.sequences} sequences, ${stats.steps} steps in ${seconds.toFixed(1)} s; reentry attempts ${coverage.reentryAttempts}, successes ${coverage.reentrySuccesses}`);
    for (const [kind, e] of rows) {
      const errors = [...e.errors.entries()].map(([name, n]) => `${name} ${n}`).join(", ");
      console.log(`      ${kind.padEnd(12)} ok ${String(e.ok).padStart(5)}  reverted ${String(e.reverted).padStart(5)}${errors ? `  (${errors})` : ""}`);
    }
    console.log(`      ${[...coverage.events.entries()].map(([k, n]) => `${k}: ${n}`).join("; ")}`);

    expect(stats.sequences).to.be.at.least(FUZZ_RUNS);
    expect(coverage.drained).to.be.at.least(FUZZ_RUNS, "every sequence was drained to zero");
    if (GENERATOR_CHECKS) {
      // The generator must not degenerate: every honest action went through, every malicious kind was refused.
      for (const kind of HONEST) expect(coverage.kinds.get(kind)?.ok ?? 0, `${kind} succeeded at least once`).to.be.greaterThan(0);
      for (const kind of MALICIOUS) expect(coverage.kinds.get(kind)?.reverted ?? 0, `${kind} was refused at least once`).to.be.greaterThan(0);
      for (const kind of HARMLESS) expect(coverage.kinds.get(kind)?.ok ?? 0, `${kind} went through (harmlessly) at least once`).to.be.greaterThan(0);
      // Every way the market can refuse was exercised.
      for (const error of [
        "UnknownSession",
        "NotUser",
        "ZeroCount",
        "ProviderIndexOutOfRange",
        "ModelOutOfRange",
        "CountExceedsPhase",
        "NotBestProvider",
        "WrongPhase",
        "ExplorationIncomplete",
        "BudgetTooLow",
        "SessionOpen",
        "NotProvider",
        "NothingToWithdraw",
        "InvalidModels",
        "DurationOutOfBounds",
        "InvalidSession",
        "UnknownProvider",
        "ERC20InsufficientBalance",
        "SafeCastOverflowedUintDowncast",
        "SafeCastOverflowedUintToInt",
        "SafeCastOverflowedIntDowncast",
        "Panic",
      ])
        expect(coverage.errors.get(error) ?? 0, `${error} was seen`).to.be.greaterThan(0);
      // Sessions reached every phase and every way out.
      for (const event of [
        "plan committed (exploitation)",
        "plan committed (R = 0, bonus)",
        "stopped early",
        "exploitation completed",
        "bonus delivered",
        "extra incentive query",
        "tokens capped at L",
        "owed queries paid at close",
        "closed in Exploration",
        "closed in Exploitation",
        "closed in Bonus",
        "closed in Incentive",
        "closed in Exploration by another after the deadline",
        "early collection refused",
        "earnings collected in Exploitation",
        "earnings collected in Incentive",
        "plan with a zero average reward (ln floored)",
        "plan with a zero average token count (ln floored)",
        "plan with a zero min ratio (delta1's ln floored)",
        // versioned models (issue 12): providers change terms mid-session, sessions keep theirs
        "new provider registered",
        "provider re-registered mid-session",
        "provider raised its flagship price mid-session",
        "settled at the models a session opened with, older than the latest",
        "closed at the models it opened with, older than the latest",
        "a later version's model refused",
        // owed means paid
        "owed queries in Bonus paid the reservation over a lower bill",
        "owed queries in Incentive paid the reservation over a lower bill",
        "queries in Bonus billed above the reservation",
        "queries in Incentive billed above the reservation",
        "zero-token settlement in Bonus paid the reservation",
        "zero-token settlement in Incentive paid the reservation",
        // duration bounds, the order of openSession's checks, deadlines in 12-second blocks
        "opened at the shortest duration",
        "opened at the longest duration",
        "duration refused before the budget bound",
        "duration refused before the providers",
        "duration refused before T",
        "duration refused before the transfer",
        "L and rewardScale refused before the duration",
        "close by another refused in the deadline's own block",
        "close by another refused in the last block before the deadline",
        "closed by another in the first block after the deadline",
      ])
        expect(coverage.events.get(event) ?? 0, `${event} happened`).to.be.greaterThan(0);
      expect(coverage.reentryAttempts).to.be.greaterThan(0n, "the hostile receiver tried to reenter");
    }
    expect(coverage.reentrySuccesses).to.equal(0n);
  });
});
