/**
 * Stateful invariant fuzzing of DelegationMarket (SPEC §3.2): random sequences of every external
 * action (registerModels, openSession, topUp, settle, collectEarnings, commitPlan, closeSession by
 * the user and by anyone after the deadline, withdraw) by five EOAs and a HostileReceiver, with
 * wrong callers, replays, stale and unknown session ids, zero and too large amounts, rewards too
 * large for the packed statistics, calls out of their phase or time window, and reentry through the
 * token's transfer hook.
 *
 * The model below is an exact bookkeeping of what the market owes to whom (budgets, spent,
 * reserved, each provider's uncollected earnings, credits, wallets) and of each session's phase and
 * statistics; it predicts every action's outcome (success, or the custom error and its values), in
 * the contract's order of checks. Payments are pure integer math (min(tokens, count * L) * price)
 * and are predicted exactly. Earnings can be collected only once the plan is committed: a
 * collectEarnings in Exploration or after the close must revert with WrongPhase, so what a provider
 * has earned when the plan is computed is exactly its exploration payment. A settle of more than T
 * queries is refused with CountExceedsPhase(..., T) before anything else is read, and a reward too
 * large for the packed statistics with OpenZeppelin's SafeCast errors (see predictSettle for which
 * casts the inputs can reach).
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
 * session's phase and money fields, the changed credits, and that the hostile contract's reentry
 * failed. After the last step of each sequence: every session and provider statistic, credits and
 * open-session counts against the model, the NatSpec sum from the contract's own views, the
 * reservation identity (reserved = owed queries at L tokens of the flagship, spent + reserved <=
 * budget); then every open session is closed by its user and every credit withdrawn, after which
 * the market must hold nothing and every wallet what the model says, and reentry must have been
 * refused by the guard. At the end of the run, every action kind must have gone through at least
 * once, every malicious kind been refused at least once, and every error, phase and way out
 * (including the floored ln) have been reached.
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
import { advance, attempt, expectOutcome, fuzz, FUZZ_RUNS, FUZZ_STEPS, GENERATOR_CHECKS, Outcome, rawCall, rawTransaction } from "./harness";

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
const DURATIONS = [600n, 3600n, 86_400n];

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
}

interface Session {
  id: bigint;
  user: number;
  providers: number[]; // actor indices
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
  models: ChainModel[][]; // by actor
  openSessionsOf: bigint[];
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

function freshModel(): Model {
  return {
    models: INITIAL_MENU.map((i) => (i === undefined ? [] : MENUS[i])),
    openSessionsOf: Array(ACTORS).fill(0n),
    credits: Array(ACTORS).fill(0n),
    wallet: Array(ACTORS).fill(FUNDS),
    sessions: [],
    armed: "",
    step: 0,
    sequence: ++coverage.sequences,
    touchedSessions: new Map(),
    touchedActors: new Set(),
    hostileActed: false,
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

/** The price of a provider's flagship (model 0): owed queries are valued at L tokens of it. */
const flagship = (model: Model, actor: number) => model.models[actor][0].tokenPrice;

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

function predictRegister(w: World, model: Model, c: Extract<Call, { fn: "registerModels" }>): Prediction {
  const busy = model.openSessionsOf[c.caller];
  if (busy !== 0n) return revert("ProviderBusy", w.addresses[c.caller], busy);
  if (c.models.length === 0 || c.models.length > 8) return revert("InvalidModels", "between 1 and 8 models");
  for (const x of c.models) {
    if (x.score === 0n || x.score > WAD) return revert("InvalidModels", "score must be in (0, 1]");
    if (x.outputTokens === 0n) return revert("InvalidModels", "output tokens must be positive");
    if (x.tokenPrice === 0n) return revert("InvalidModels", "token price must be positive");
  }
  return ok(() => {
    model.models[c.caller] = c.models.map((x) => ({ ...x }));
  });
}

function predictOpen(w: World, model: Model, c: Extract<Call, { fn: "openSession" }>): Prediction {
  const k = c.providers.length;
  if (k < 2 || k > 8) return revert("InvalidSession", "between 2 and 8 providers");
  if (c.eps === 0n || c.eps >= WAD / 2n) return revert("InvalidSession", "eps must be in (0, 1/2)");
  if (c.l === 0n || c.rewardScale === 0n || c.duration === 0n) return revert("InvalidSession", "L, rewardScale and duration must be positive");
  if (c.budget > U128_MAX) return revert("InvalidSession", "budget exceeds 2^128");
  const actors: number[] = [];
  for (let i = 0; i < k; i++) {
    const actor = w.addresses.findIndex((a) => a.toLowerCase() === c.providers[i].toLowerCase());
    if (actor < 0 || model.models[actor].length === 0) return revert("UnknownProvider", c.providers[i]);
    for (let j = 0; j < i; j++) if (c.providers[j].toLowerCase() === c.providers[i].toLowerCase()) return revert("InvalidSession", "a provider appears twice");
    actors.push(actor);
  }
  const b = blockSize(c.t, c.eps);
  if (b === 0n || b * BigInt(k) > c.t) return revert("InvalidSession", "T too small to explore every provider");
  if (c.budget > model.wallet[c.caller]) return revert("ERC20InsufficientBalance", w.addresses[c.caller], model.wallet[c.caller], c.budget);
  const id = BigInt(model.sessions.length + 1);
  return ok(async () => {
    // The deadline is the opening block's timestamp + duration: read it back; B, which the model
    // predicted, is compared with the chain's.
    const onChain = await chain.session(w, id);
    same(onChain.b, b, "B = floor(T^(2 eps))");
    model.sessions.push({
      id,
      user: c.caller,
      providers: actors,
      phase: Phase.Exploration,
      stoppedEarly: false,
      best: 0n,
      deadline: onChain.deadline,
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
      stats: actors.map(() => ({ explored: 0n, bonusDue: 0n, incentiveDue: 0n, extraAllowed: 0n, tokenSum: 0n, rewardSum: 0n, earned: 0n, paidExploring: 0n })),
    });
    for (const a of actors) model.openSessionsOf[a] += 1n;
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
  const provider = s.providers[i];
  const models = model.models[provider];
  if (c.model >= BigInt(models.length)) return revert("ModelOutOfRange", c.model, BigInt(models.length));
  const billed = min(c.tokens, c.count * s.l);
  const payment = billed * models[Number(c.model)].tokenPrice;
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
          reserved -= sum(s.stats.map((q, j) => q.bonusDue * s.l * flagship(model, s.providers[j])));
        } else if (done === s.r) toBonus = true;
      }
      change = () => {
        s.exploited = done;
        s.exploitUtility = utility;
        if (stop) {
          s.stoppedEarly = true;
          for (const q of s.stats) q.bonusDue = 0n;
          s.phase = Phase.Incentive;
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
      reserved -= c.count * s.l * flagship(model, provider);
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
      reserved -= owedQueries * s.l * flagship(model, provider);
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
    change();
    s.spent = spent;
    s.reserved = reserved;
    p.earned += payment;
    touch(model, c.id); // its stats are compared in the final check (and through every later outcome)
    if (billed < c.tokens) note("tokens capped at L");
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
function planEstimate(model: Model, s: Session) {
  const b = s.b;
  const k = s.providers.length;
  let minRatio: bigint | undefined;
  let maxTokens = 0n;
  for (const a of s.providers)
    for (const x of model.models[a]) {
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
  const est = planEstimate(model, s);
  const value = (queries: (i: number) => bigint) => sum(s.stats.map((_, i) => queries(i) * s.l * flagship(model, s.providers[i])));
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
    const reserved = sum(stats.map((p, i) => (p.bonusDue + p.incentiveDue) * s.l * flagship(model, s.providers[i])));
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
    if (c.nextTimestamp <= s.deadline) return revert("SessionOpen", c.id, s.deadline);
  }
  return ok(() => {
    const planned = s.phase !== Phase.Exploration;
    let owedPaid = 0n;
    s.stats.forEach((p, i) => {
      const provider = s.providers[i];
      let value = 0n;
      if (planned) {
        value = ((s.stoppedEarly ? 0n : p.bonusDue) + p.incentiveDue) * s.l * flagship(model, provider);
        p.bonusDue = 0n;
        p.incentiveDue = 0n;
        owedPaid += value;
      }
      model.credits[provider] += value + p.earned;
      p.earned = 0n;
      model.openSessionsOf[provider] -= 1n;
      model.touchedActors.add(provider);
    });
    if (owedPaid > 0n) note("owed queries paid at close");
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
    m.check("openSessionsOf", [a], x);
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
  openSessionsOf: async (w: World, a: number) => (await w.marketCoder.call(w.marketAddress, "openSessionsOf", [w.addresses[a]])) as bigint,
  sessionCount: async (w: World) => (await w.marketCoder.call(w.marketAddress, "sessionCount")) as bigint,
  balance: async (w: World, address: string) => (await w.tokenCoder.call(w.tokenAddress, "balanceOf", [address])) as bigint,
  hostile: async (w: World, fn: "reentryAttempts" | "reentrySuccesses") => (await w.hostileCoder.call(w.hostileAddress, fn)) as bigint,
  lastRevert: async (w: World) => (await read(w.hostileAddress, w.hostile.interface, "lastRevert"))[0] as string,
  latestTimestamp: async () => BigInt(((await network.provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string }).timestamp),
};

/** Sends the call as its caller: an EOA directly, the hostile contract through `act` (reverts bubble unchanged). */
async function send(w: World, c: Call): Promise<Outcome> {
  if (c.fn === "closeSession" && c.nextTimestamp !== undefined) await network.provider.send("evm_setNextBlockTimestamp", [Number(c.nextTimestamp)]);
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
  if (call.fn === "closeSession") await timeClose(model, call);
  const prediction = predict(w, model, call);
  if (call.caller === HOSTILE) {
    // The hostile contract reenters on every token transfer touching it: when it pays a budget in
    // (openSession, topUp) and when it is paid (withdraw). It reenters withdraw(), or the very
    // action it is doing.
    if (call.fn === "openSession" || call.fn === "topUp" || call.fn === "withdraw") {
      const attack = call.fn === "withdraw" || model.step % 2 === 0 ? w.withdrawData : encode(w, call);
      if (attack !== model.armed) {
        await sendRaw(w.admin.address, w.hostileAddress, w.hostile.interface.encodeFunctionData("arm", [w.marketAddress, attack]));
        model.armed = attack;
      }
      model.hostileActed = true;
    }
  }
  const outcome = await send(w, call);
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
 * A close by anyone but the user depends on the next block's time: unless the builder chose one,
 * the next block comes one second after the latest, and a "late" close is put at the deadline
 * (still refused) or one second after (allowed).
 */
async function timeClose(model: Model, c: Extract<Call, { fn: "closeSession" }>): Promise<void> {
  const s = sessionOf(model, c.id);
  if (!s || s.phase === Phase.Closed || c.caller === s.user) {
    c.nextTimestamp = undefined;
    return;
  }
  const latest = await chain.latestTimestamp();
  if (c.late && s.deadline > latest) c.nextTimestamp = model.step % 4 === 0 ? s.deadline : s.deadline + 1n;
  else c.nextTimestamp = latest + 1n;
}

function describeCall(c: Call): string {
  const { fn, caller, ...rest } = c;
  const who = caller === HOSTILE ? "hostile" : `eoa${caller}`;
  return `${fn} by ${who} ${JSON.stringify(rest, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`.slice(0, 400);
}

// ------------------------------------------------------------------ the action generator

const HONEST = ["settle", "open", "commit", "topUp", "collect", "close", "closeLate", "withdraw", "register", "advance"] as const;
const MALICIOUS = ["settleBad", "openBad", "topUpBad", "commitBad", "collectBad", "closeBad", "withdrawBad", "registerBad", "replay"] as const;
type Kind = (typeof HONEST)[number] | (typeof MALICIOUS)[number];
const WEIGHTS: Record<Kind, number> = {
  settle: 40, // drives a session forward: settle, or commit / top up / close when that is the next step
  open: 4,
  commit: 3,
  topUp: 2,
  collect: 5,
  close: 3,
  closeLate: 2,
  withdraw: 5,
  register: 2,
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

type Planned = { kind: string; call: Call } | { kind: "advance"; seconds: number };

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
function honestSettle(model: Model, s: Session, d: Dice): Call {
  const options = settleable(s);
  const [index, allowed] = options.length > 0 ? d.pick(options) : [0, 1n];
  let count = allowed;
  if (s.phase === Phase.Incentive) {
    const due = s.stats[index].incentiveDue;
    count = d.chance(0.4) ? allowed : d.chance(0.5) && due > 0n ? due : 1n + d.big(allowed);
  } else if (d.chance(0.3)) count = 1n + d.big(allowed);
  const models = model.models[s.providers[index]];
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
    const est = planEstimate(model, s);
    const high = s.spent + sum(s.stats.map((_, i) => (s.b + est.incentive[i] + 1n) * s.l * flagship(model, s.providers[i])));
    if (high > s.budget && d.chance(0.7)) return topUp(high);
    return { kind: "commit", call: { fn: "commitPlan", caller: s.user, id: s.id } };
  }
  const call = honestSettle(model, s, d);
  const expected = predict(w, model, call);
  if (expected.kind === "revert" && expected.error === "BudgetTooLow" && d.chance(0.6)) return topUp(expected.args[1] as bigint);
  // A reward sum already at its bound (an earlier huge reward): the user gives up on the session.
  if (expected.kind === "revert" && expected.error === "Panic" && d.chance(0.7)) return { kind: "close", call: { fn: "closeSession", caller: s.user, id: s.id } };
  return { kind: "settle", call };
}

function registered(model: Model): number[] {
  return model.models.flatMap((x, a) => (x.length > 0 ? [a] : []));
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
      const free = Array.from({ length: ACTORS }, (_, a) => a).filter((a) => model.openSessionsOf[a] === 0n);
      const caller = free.length > 0 ? d.pick(free) : actor;
      return { kind: "register", call: { fn: "registerModels", caller, models: d.pick(MENUS) } };
    }
    case "advance":
      return { kind: "advance", seconds: d.pick([30, 300, 700, 4000, 90_000]) };
    case "settleBad":
      return { kind: "settleBad", call: badSettle(model, d, actor) };
    case "openBad":
      return { kind: "openBad", call: badOpen(w, model, d, actor) };
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
  // A huge reward is stored in exploration and in exploitation only: mostly one of those.
  const storing = [exploiting, exploring].filter((x) => x.length > 0);
  const huge = exploiting.length > 0 && d.chance(0.5) ? exploiting : storing.length > 0 && d.chance(0.9) ? d.pick(storing) : open;
  const pool = variant === 7 ? closed : variant === 5 ? exploiting : variant === 9 ? huge : open.length > 0 ? open : model.sessions;
  if (pool.length === 0 || variant === 6) return { fn: "settle", caller: actor, id: unknownId(model, d), index: 0n, count: 1n, tokens: 10n, reward: WAD, model: 0n };
  const s = d.latest(pool);
  const base = honestSettle(model, s, d) as Extract<Call, { fn: "settle" }>;
  const k = s.providers.length;
  switch (variant) {
    case 0: // not the session's user
      return { ...base, caller: otherThan(d, s.user) };
    case 1:
      return { ...base, count: 0n };
    case 2:
      return { ...base, index: BigInt(k + d.int(3)) };
    case 3:
      return { ...base, model: BigInt(model.models[s.providers[Number(base.index)]].length + d.int(2)) };
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
      return { ...target, reward: hugeReward(model, s, target, d) };
    }
  }
}

/**
 * A reward too large for the packed statistics: beyond the SafeCast bound of the phase, or within it
 * but overflowing the running sum (Panic), or exactly the most the sum can hold (it goes through,
 * and the plan and the early stop must cope with it). In the bonus and incentive phases the reward
 * is not stored, so any value goes.
 */
function hugeReward(model: Model, s: Session, base: Extract<Call, { fn: "settle" }>, d: Dice): bigint {
  const jitter = d.big(1000n);
  const p = s.stats[Number(base.index)];
  if (s.phase === Phase.Exploration) {
    // Within the cast and over the provider's reward sum (exactly the most it can hold when the sum is zero).
    const sumOverflow = U128_MAX - d.big(p.rewardSum);
    return d.pick([U128_MAX + 1n + jitter, MaxUint256 - jitter, sumOverflow, sumOverflow, U128_MAX - p.rewardSum]);
  }
  if (s.phase === Phase.Exploitation) {
    const payment = min(base.tokens, base.count * s.l) * model.models[s.providers[Number(base.index)]][Number(base.model)].tokenPrice;
    // reward - payment over int128; or within it and over the running utility when that is positive
    // (exactly int128's max when it is not: it goes through, and later settlements overflow it).
    const sumOverflow = I128_MAX + payment - (s.exploitUtility > 0n ? d.big(s.exploitUtility) : 0n);
    return d.pick([d.chance(0.5) ? I256_MAX + 1n + jitter : MaxUint256 - jitter, I128_MAX + payment + 1n + jitter, sumOverflow]);
  }
  return MaxUint256 - jitter;
}

function badOpen(w: World, model: Model, d: Dice, actor: number): Call {
  const base = honestOpen(w, model, d, actor);
  const pool = registered(model).map((a) => w.addresses[a]);
  switch (d.int(14)) {
    case 0:
      return { ...base, providers: [base.providers[0]] };
    case 1:
      return { ...base, providers: Array.from({ length: 9 }, (_, i) => pool[i % pool.length]) };
    case 2:
      return { ...base, eps: 0n };
    case 3:
      return { ...base, eps: WAD / 2n };
    case 4:
      return { ...base, l: 0n };
    case 5:
      return { ...base, rewardScale: 0n };
    case 6:
      return { ...base, duration: 0n };
    case 7:
      return { ...base, budget: U128_MAX + 1n + d.big(1000n) };
    case 8: {
      // a provider that never registered (an actor without models, or the token contract)
      const strangers = [...model.models.flatMap((x, a) => (x.length === 0 ? [w.addresses[a]] : [])), w.tokenAddress];
      const providers = [...base.providers];
      providers[d.int(providers.length)] = d.pick(strangers);
      return { ...base, providers };
    }
    case 9:
      return { ...base, providers: [base.providers[0], ...base.providers.slice(1, -1), base.providers[0]] };
    case 10:
      return { ...base, t: 0n };
    case 11:
      return { ...base, t: 1n };
    case 12:
      return { ...base, t: 10n, eps: parseEther("0.49") };
    default:
      return { ...base, budget: model.wallet[actor] + 1n + d.big(1000n) };
  }
}

function badRegister(model: Model, d: Dice, actor: number): Call {
  const variant = d.int(7);
  if (variant === 0) {
    const busy = Array.from({ length: ACTORS }, (_, a) => a).filter((a) => model.openSessionsOf[a] > 0n);
    return { fn: "registerModels", caller: busy.length > 0 ? d.pick(busy) : actor, models: d.pick(MENUS) };
  }
  if (variant === 1) return { fn: "registerModels", caller: actor, models: [] };
  if (variant === 2) return { fn: "registerModels", caller: actor, models: Array.from({ length: 9 }, () => MENUS[0][0]) };
  const models = d.pick(MENUS).map((x) => ({ ...x }));
  const i = d.int(models.length);
  if (variant === 3) models[i].score = 0n;
  else if (variant === 4) models[i].score = WAD + 1n;
  else if (variant === 5) models[i].outputTokens = 0n;
  else models[i].tokenPrice = 0n;
  return { fn: "registerModels", caller: actor, models };
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
  model.touchedSessions.clear();
  model.touchedActors.clear();
  model.hostileActed = false;
  if (model.step === FUZZ_STEPS) {
    await fullCheck(w, model);
    await drain(w, model);
  }
}

/**
 * After the last step, everything against the model (every session and every provider's stats,
 * credits, open-session counts), the reservation identity, and the NatSpec invariant computed from
 * the contract's own views.
 */
async function fullCheck(w: World, model: Model): Promise<void> {
  const actors = Array.from({ length: ACTORS }, (_, a) => a);
  const [count, credits, busies, held] = await Promise.all([
    chain.sessionCount(w),
    Promise.all(actors.map((a) => chain.credits(w, a))),
    Promise.all(actors.map((a) => chain.openSessionsOf(w, a))),
    chain.balance(w, w.marketAddress),
    ...model.sessions.map((s) => checkSession(w, s, s.stats.map((_, i) => i))),
  ]);
  same(count, BigInt(model.sessions.length), "session count");
  let owedByViews = 0n;
  for (const s of model.sessions) {
    const prices = s.providers.map((a) => flagship(model, a));
    const owedQueries = sum(s.stats.map((p, i) => (p.bonusDue + p.incentiveDue) * s.l * prices[i]));
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
    same(busies[a], model.openSessionsOf[a], `open sessions of actor ${a}`);
    same(busies[a], BigInt(openSessions(model).filter((s) => s.providers.includes(a)).length), `open sessions of actor ${a}, counted`);
    owedByViews += credits[a];
  }
  same(held, owedByViews, "token balance = sum over open sessions of (budget - spent + earned) + credits, by the views");
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
  const market = await new DelegationMarket__factory(admin).deploy(await token.getAddress());
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
    await advance(planned.seconds);
    record("advance", { ok: true });
    return;
  }
  record(planned.kind, await run(w, model, planned.call, planned.kind));
}

describe("DelegationMarket invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps the escrow conserved, credits, phases and stats as modelled, reentry refused and every balance withdrawable over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async function () {
    const started = Date.now();
    const stats = await fuzz<World, Model, Action>({
      deploy,
      model: (w) => ({ ...freshModel(), armed: w.withdrawData }),
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
        "ProviderBusy",
        "InvalidModels",
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
      ])
        expect(coverage.events.get(event) ?? 0, `${event} happened`).to.be.greaterThan(0);
      expect(coverage.reentryAttempts).to.be.greaterThan(0n, "the hostile receiver tried to reenter");
    }
    expect(coverage.reentrySuccesses).to.equal(0n);
  });
});
