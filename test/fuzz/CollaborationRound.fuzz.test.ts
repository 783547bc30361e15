/**
 * Stateful invariant fuzzing of CollaborationRound (SPEC §4, "Paid with Models").
 *
 * Five actors (four EOAs and a HostileReceiver) open rounds, join them, contribute, deliver,
 * claim defaults, withdraw, change their allowances, and let time pass, in seeded random
 * sequences that start from two open rounds. The market's token is a ReentrantToken; the hostile
 * actor registered its transfer hook and is armed to reenter a nonReentrant, money-moving function
 * of the market (withdraw, join or createRound, re-armed at random) on every transfer that touches
 * it, so each of its deposits and payouts is a reentry attempt. (contribute, deliver and
 * claimDefault move no tokens and are not guarded; reentering them would be as legitimate as
 * calling them, so they are not used as attacks.)
 *
 * A TypeScript model of the market (rounds with their menus, deadlines, bond, parties,
 * contributions and phase; per-actor credits, token balances and allowances) predicts the exact
 * outcome of every action: success, or the custom error with its arguments, the token's ERC-20
 * errors included. The settlement math (equal shares of the pot, the division's remainder to the
 * first recipient) is small, so credits are predicted to the wei rather than only checked for
 * conservation. Every transaction is mined at a timestamp the model chose
 * (evm_setNextBlockTimestamp), so deadline windows are predicted to the second, boundaries
 * included; the harness's advance() (evm_increaseTime) would let the wall clock leak into the
 * timestamps, so time moves by mining at chosen timestamps instead. Blocks come 12 seconds apart,
 * as on Ethereum (each transaction 12 s after the block before it, waits in whole 12-second
 * blocks), except that a step aiming at a deadline shortens the block before it so that its
 * transaction lands exactly on the deadline or one second after it.
 *
 * The market is deployed with a floor and a ceiling on each of a round's three windows (joining,
 * contributing, delivering): a minute, as deployed, and twelve minutes, short enough for rounds at
 * the ceiling to close within a sequence. createRound draws each window's length inside the bounds,
 * exactly at the floor or the ceiling, one second inside them, or out of bounds (one second below
 * the floor, shorter still, one second above the ceiling, far above it, zero, or ending before it
 * starts), and the model predicts WindowOutOfBounds with the first offending window, its length (0
 * for a window that does not end after it starts) and the bounds.
 *
 * Arguments: most actions ("valid" mode) pick a round and an actor the model says the action fits,
 * and if there is none, become another kind that has one (so sequences get deep), or wait for the
 * window of deliver / claimDefault; "near" picks a round in some phase but the actor or another
 * argument raw (wrong caller, not joined, a past-the-end item, a closed or not yet open window,
 * often landing exactly on a deadline); "raw" takes raw ids (0, or one past the last round);
 * "replay" repeats the last successful action of its kind. Values are mostly sensible with bad ones
 * mixed in (invalid menus and windows, bonds and collateral beyond balance or allowance,
 * contributions below the item's minimum, quality shares above 1e18, the wrong number of shares),
 * and rarely amounts above 2^128 - 1: the contract stores the bond and the contribution as uint128,
 * so for those the suite accepts a revert or a success that records the whole amount, and the
 * invariants compare the chain with what was really posted.
 *
 * After every step: the market's token balance equals what the model says it owes (open rounds'
 * bond + collateral, plus credits); the rounds, parties, credits and token balances the step
 * changed equal the model's, and one actor's credits in turn; the hostile receiver's counters
 * (attempts as predicted, no success, refused by ReentrancyGuardReentrantCall); and no round
 * holds its bond or collateral past createdAt + 3 * maxWindow: every round's delivery deadline (on
 * chain) is at most that, and an open round that has reached it can be settled now (claimDefault,
 * or deliver in the last second of a round whose windows are all at the ceiling, by eth_call).
 * After the last step of a sequence, a full audit: every round, menu and party against the model,
 * the contract's own accounting from its views (its NatSpec invariant: balance == sum over open
 * rounds of bond + collateral, plus credits), withdraw() by eth_call for every actor with credits,
 * and then a drain that settles every open round at createdAt + 3 * maxWindow (or at once if that
 * has passed) and has everyone withdraw, which must leave the market holding exactly nothing.
 */
import { expect } from "chai";
import hre, { network } from "hardhat";
import fc from "fast-check";
import { AbiCoder, ContractTransactionResponse, id as hashOf, Interface, keccak256, MaxUint256, Result } from "ethers";
import { CollaborationRound__factory, HostileReceiver__factory, ReentrantToken__factory } from "../../typechain-types";
import { BLOCK_TIME } from "../helpers";
import { attempt, expectOutcome, fuzz, FUZZ_RUNS, FUZZ_STEPS, GENERATOR_CHECKS, Outcome, rawCall, rawTransaction } from "./harness";

const GAS = { gasLimit: 5_000_000 };
const WAD = 10n ** 18n;
const U128_MAX = (1n << 128n) - 1n;
const INITIAL_BALANCE = 10n ** 24n;
const ACTORS = 5; // 0..3 EOAs, 4 the hostile receiver
const HOSTILE = 4;
const MAX_ITEMS = 16;
const MAX_PARTIES = 64;
const ZERO_HASH = "0x" + "00".repeat(32);
/** Seconds between blocks. */
const BLOCK = BigInt(BLOCK_TIME);
/** The market's floor on each window of a round: a minute (five blocks), as deployed. */
const MIN_WINDOW = 60n;
/** The market's ceiling on each window: twelve minutes (sixty blocks), so that rounds at the ceiling close within a sequence. */
const MAX_WINDOW = 720n;
/** How long after its creation a round holds its bond and collateral at most: three windows at the ceiling. */
const HOLD_LIMIT = 3n * MAX_WINDOW;
/** Collateral values menus draw from; the last one is more than any actor holds. */
const COLLATERALS = [0n, 1n, 2n, 3n, 5n, 8n, 13n, 100n, 1000n, 10n ** 30n];

/**
 * Rounds open at the snapshot, each created in its own block: coordinator, menu, bond, and the
 * lengths of its join, contribution and delivery windows (the first one's all at the ceiling, the
 * second one's contribution window at the floor).
 */
const INITIAL_ROUNDS: [number, Item[], bigint, bigint, bigint, bigint][] = [
  [
    0,
    [
      { contribution: 10n, reward: 20n, collateral: 5n },
      { contribution: 30n, reward: 40n, collateral: 8n },
    ],
    90n,
    MAX_WINDOW,
    MAX_WINDOW,
    MAX_WINDOW,
  ],
  [
    HOSTILE,
    [
      { contribution: 0n, reward: 1n, collateral: 0n },
      { contribution: 5n, reward: 10n, collateral: 3n },
      { contribution: 5n, reward: 20n, collateral: 1000n },
    ],
    7n,
    480n,
    MIN_WINDOW,
    480n,
  ],
];

enum State {
  None = 0,
  Open = 1,
  Delivered = 2,
  Failed = 3,
}

// ------------------------------------------------------------------ world and model

interface World {
  addresses: string[]; // of the five actors
  marketAddress: string;
  tokenAddress: string;
  hostileAddress: string;
  operatorAddress: string; // deploys, mints, and sends the hostile receiver's transactions
  marketIface: Interface;
  tokenIface: Interface;
  hostileIface: Interface;
  start: bigint; // timestamp of the snapshot's block
  initialRounds: RoundModel[]; // open at the snapshot
  guardError: string; // selector of ReentrancyGuardReentrantCall()
}

interface Item {
  contribution: bigint;
  reward: bigint;
  collateral: bigint;
}

interface PartyModel {
  actor: number;
  item: number;
  contributed: boolean;
  amount: bigint;
  dataHash: string;
  share: bigint;
}

interface RoundModel {
  id: bigint;
  createdAt: bigint; // timestamp of the createRound block: the join window starts there
  coordinator: number;
  state: State;
  joinDeadline: bigint;
  contributionDeadline: bigint;
  deliveryDeadline: bigint;
  items: Item[];
  menuHash: string;
  bond: bigint;
  collateral: bigint;
  parties: PartyModel[];
  modelHash: string;
}

interface Deadlines {
  join: bigint;
  contribution: bigint;
  delivery: bigint;
}

interface Model {
  now: bigint; // timestamp of the latest block
  step: number;
  rounds: RoundModel[]; // round id = index + 1
  credits: bigint[];
  balances: bigint[];
  allowances: bigint[];
  reentryAttempts: bigint;
  zeroPulls: bigint; // zero-amount deposits by the hostile receiver since the last check
  last: {
    create?: { actor: number; items: Item[]; bond: bigint; deadlines: Deadlines };
    join?: { actor: number; id: bigint; item: bigint };
    contribute?: { actor: number; id: bigint; dataHash: string; amount: bigint };
    deliver?: { actor: number; id: bigint; modelHash: string; shares: bigint[] };
    claimDefault?: { actor: number; id: bigint };
    withdraw?: { actor: number };
  };
  touched: {
    rounds: Set<bigint>;
    parties: { id: bigint; actor: number }[];
    credits: Set<number>;
    balances: Set<number>;
    roundCount: boolean;
    hostile: boolean;
  };
}

function freshTouched(): Model["touched"] {
  return { rounds: new Set(), parties: [], credits: new Set(), balances: new Set(), roundCount: false, hostile: false };
}

function owed(m: Model): bigint {
  let sum = m.credits.reduce((a, b) => a + b, 0n);
  for (const r of m.rounds) if (r.state === State.Open) sum += r.bond + r.collateral;
  return sum;
}

function roundById(m: Model, id: bigint): RoundModel | undefined {
  return id >= 1n && id <= BigInt(m.rounds.length) ? m.rounds[Number(id) - 1] : undefined;
}

/** The timestamp the next transaction will be mined at: one block after the latest. */
function nextTs(m: Model): bigint {
  return m.now + BLOCK;
}

/** The last second a round may hold its bond and collateral: by then it can be settled. */
function settleBy(r: RoundModel): bigint {
  return r.createdAt + HOLD_LIMIT;
}

// ------------------------------------------------------------------ actions

/**
 * How an action picks its arguments. valid: a round and an actor the model says the action fits
 * (falling back to raw arguments when nothing fits); near: a round in a plausible phase but the
 * actor or another argument taken raw (wrong caller, not joined, a past-the-end item, a closed
 * window); raw: raw ids, so often a nonexistent round; replay: the last successful action of the
 * kind again.
 */
type Mode = "valid" | "near" | "raw" | "replay";
type Attack = "withdraw" | "join" | "createRound";

interface MenuChoice {
  shape: "valid" | "sixteen" | "empty" | "seventeen" | "decreasing";
  items: { contribution: number; reward: number; collateral: number }[];
}
interface BondChoice {
  kind: "zero" | "small" | "beyondBalance" | "huge";
  value: number;
}
/**
 * How long one window of a new round lasts: within the bounds (drawn, at the floor or ceiling, or
 * one second inside them) or out of them (one second below the floor, shorter still, one second
 * above the ceiling, far above it, zero, or ending `seconds` before it starts).
 */
interface LengthChoice {
  kind: "inBounds" | "floor" | "aboveFloor" | "belowCeiling" | "ceiling" | "justBelowFloor" | "belowFloor" | "justAboveCeiling" | "farAboveCeiling" | "zero" | "negative";
  seconds: number;
}
interface WindowChoice {
  join: LengthChoice;
  contribution: LengthChoice;
  delivery: LengthChoice;
}
interface AmountChoice {
  kind: "need" | "more" | "less" | "zero" | "huge";
  extra: number;
}
type ShareChoice = "good" | "tooLarge" | "wrongCount";

type MarketKind = "join" | "contribute" | "deliver" | "claimDefault" | "withdraw";
const MARKET_KINDS: MarketKind[] = ["join", "contribute", "deliver", "claimDefault", "withdraw"];

/**
 * An action on a round or on the caller's credits. All carry the same random material, so that a
 * valid-mode action with nothing to act on can become another kind that has (see step()).
 */
interface MarketAction {
  kind: MarketKind;
  mode: Mode;
  actor: number;
  round: number; // picks a round (or a candidate)
  item: number;
  amount: AmountChoice;
  data: number;
  shares: ShareChoice;
  seeds: number[];
  model: number;
  edge: number;
}

type Action =
  | { kind: "create"; mode: Mode; actor: number; menu: MenuChoice; bond: BondChoice; window: WindowChoice }
  | MarketAction
  | { kind: "advance"; to: "deadline" | "blocks"; round: number; deadline: number; after: number; blocks: number }
  | { kind: "approve"; actor: number; amount: "zero" | "small" | "max"; small: number }
  | { kind: "arm"; attack: Attack };

const actorArb = fc.integer({ min: 0, max: ACTORS - 1 });
const pickArb = fc.nat({ max: 1_000 });
/** Small values (which ones depends on the action) make it first wait for a deadline of its round, to land on the boundary. */
const edgeArb = fc.integer({ min: 0, max: 5 });
const modeArb: fc.Arbitrary<Mode> = fc.oneof(
  { arbitrary: fc.constant<Mode>("valid"), weight: 65 },
  { arbitrary: fc.constant<Mode>("near"), weight: 17 },
  { arbitrary: fc.constant<Mode>("raw"), weight: 8 },
  { arbitrary: fc.constant<Mode>("replay"), weight: 10 },
);
function weighted<T>(choices: [T, number][]): fc.Arbitrary<T> {
  return fc.oneof(...choices.map(([value, weight]) => ({ arbitrary: fc.constant(value), weight })));
}

const menuArb: fc.Arbitrary<MenuChoice> = fc.record({
  shape: weighted<MenuChoice["shape"]>([
    ["valid", 85],
    ["sixteen", 3],
    ["empty", 4],
    ["seventeen", 3],
    ["decreasing", 5],
  ]),
  items: fc.array(
    fc.record({
      contribution: fc.integer({ min: 0, max: 40 }),
      reward: fc.integer({ min: 0, max: 100 }),
      collateral: fc.oneof({ arbitrary: fc.integer({ min: 0, max: COLLATERALS.length - 2 }), weight: 12 }, { arbitrary: fc.constant(COLLATERALS.length - 1), weight: 1 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});
const bondArb: fc.Arbitrary<BondChoice> = fc.record({
  kind: weighted<BondChoice["kind"]>([
    ["zero", 20],
    ["small", 70],
    ["beyondBalance", 5],
    ["huge", 5],
  ]),
  value: fc.integer({ min: 1, max: 1_000 }),
});
// About one window in fifteen is out of bounds, so about four rounds in five pass the window checks.
const lengthArb: fc.Arbitrary<LengthChoice> = fc.record({
  kind: weighted<LengthChoice["kind"]>([
    ["inBounds", 160],
    ["floor", 8],
    ["aboveFloor", 4],
    ["belowCeiling", 4],
    ["ceiling", 8],
    ["justBelowFloor", 3],
    ["belowFloor", 2],
    ["justAboveCeiling", 3],
    ["farAboveCeiling", 1],
    ["zero", 2],
    ["negative", 2],
  ]),
  seconds: fc.integer({ min: Number(MIN_WINDOW), max: Number(MAX_WINDOW) }),
});
const windowArb: fc.Arbitrary<WindowChoice> = fc.record({ join: lengthArb, contribution: lengthArb, delivery: lengthArb });
const amountArb: fc.Arbitrary<AmountChoice> = fc.record({
  kind: weighted<AmountChoice["kind"]>([
    ["need", 40],
    ["more", 35],
    ["less", 10],
    ["zero", 10],
    ["huge", 5],
  ]),
  extra: fc.integer({ min: 1, max: 50 }),
});

function marketArb(kind: MarketKind): fc.Arbitrary<MarketAction> {
  return fc.record({
    kind: fc.constant(kind),
    mode: modeArb,
    actor: actorArb,
    round: pickArb,
    item: pickArb,
    amount: amountArb,
    data: pickArb,
    shares: weighted<ShareChoice>([
      ["good", 70],
      ["tooLarge", 20],
      ["wrongCount", 10],
    ]),
    seeds: fc.array(fc.nat({ max: 1_000 }), { minLength: 5, maxLength: 5 }),
    model: pickArb,
    edge: edgeArb,
  });
}

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({ kind: fc.constant("create" as const), mode: modeArb, actor: actorArb, menu: menuArb, bond: bondArb, window: windowArb }),
  },
  { weight: 24, arbitrary: marketArb("join") },
  { weight: 20, arbitrary: marketArb("contribute") },
  { weight: 10, arbitrary: marketArb("deliver") },
  { weight: 6, arbitrary: marketArb("claimDefault") },
  { weight: 9, arbitrary: marketArb("withdraw") },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      to: weighted<"deadline" | "blocks">([
        ["deadline", 50],
        ["blocks", 50],
      ]),
      round: pickArb,
      deadline: fc.integer({ min: 0, max: 2 }),
      after: fc.integer({ min: 0, max: 1 }),
      blocks: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 15 }), weight: 4 }, { arbitrary: fc.integer({ min: 16, max: 150 }), weight: 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("approve" as const),
      actor: actorArb,
      amount: weighted<"zero" | "small" | "max">([
        ["zero", 15],
        ["small", 35],
        ["max", 50],
      ]),
      small: fc.integer({ min: 0, max: 50 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("arm" as const), attack: weighted<Attack>([["withdraw", 1], ["join", 1], ["createRound", 1]]) }) },
);

// ------------------------------------------------------------------ run statistics

/** Counters over the whole run (all sequences), for the coverage assertions at the end. */
const stats = {
  ok: {} as Record<string, number>,
  rejected: {} as Record<string, number>,
  errors: {} as Record<string, number>,
  events: {} as Record<string, number>,
  reentryAttempts: 0n,
};
function bump(counter: Record<string, number>, key: string): void {
  counter[key] = (counter[key] ?? 0) + 1;
}
function record(kind: string, outcome: Outcome, actor?: number, mode?: Mode): void {
  if (mode) bump(outcome.ok ? stats.ok : stats.rejected, `${kind} (${mode})`);
  if (outcome.ok) {
    bump(stats.ok, kind);
    if (actor === HOSTILE) bump(stats.events, `hostile ${kind}`);
  } else {
    bump(stats.rejected, kind);
    bump(stats.errors, `${kind}: ${outcome.error}`);
  }
}

// ------------------------------------------------------------------ sending, with predicted outcomes

/** Success, or the custom error's name and arguments. */
type Expect = true | [string, ...unknown[]];

function check(outcome: Outcome, expected: Expect, what: string): void {
  expectOutcome(outcome, expected === true ? true : expected[0], what);
  if (expected !== true && !outcome.ok) {
    const want = expected.slice(1).map(String);
    const got = outcome.args.map(String);
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      throw new Error(`${what}: expected ${expected[0]}(${want.join(", ")}), got ${outcome.error}(${got.join(", ")})`);
    }
  }
}

/** Fixes the next block's timestamp (one block after the latest), so the model knows block.timestamp of the next transaction. */
async function tick(m: Model): Promise<bigint> {
  m.now += BLOCK;
  await network.provider.send("evm_setNextBlockTimestamp", [Number(m.now)]);
  return m.now;
}

/**
 * Mines so that the next transaction lands at `timestamp`, if that is ahead by at most `within`
 * seconds (a probe of a boundary should not fast-forward through every other round's phases).
 */
async function landAt(m: Model, timestamp: bigint, within = 20n * BLOCK): Promise<boolean> {
  if (timestamp <= nextTs(m)) return timestamp === nextTs(m);
  if (timestamp - nextTs(m) > within) return false;
  await mineAt(m, timestamp - BLOCK);
  return true;
}

/**
 * A boundary probe: among the open rounds whose `target` timestamp is at most sixty blocks ahead,
 * pick one and mine so that the next transaction lands exactly at it. Undefined if there is none.
 */
async function probeBoundary(m: Model, pick: number, target: (r: RoundModel) => bigint): Promise<RoundModel | undefined> {
  const ts = nextTs(m);
  const r = choose(
    m.rounds.filter((x) => x.state === State.Open && target(x) >= ts && target(x) - ts <= 60n * BLOCK),
    pick,
  );
  if (r) await landAt(m, target(r), 60n * BLOCK);
  return r;
}

/**
 * Mines 12-second blocks up to `timestamp`, the last one shorter if the gap is not a whole number
 * of blocks (so that a deadline can be landed on exactly).
 */
async function mineAt(m: Model, timestamp: bigint): Promise<void> {
  if (timestamp <= m.now) throw new Error(`test bug: mining at ${timestamp} <= ${m.now}`);
  const full = (timestamp - m.now - 1n) / BLOCK; // the whole blocks before the last one
  if (full > 0n) {
    // hardhat_mine mines its first block one second after the latest unless told otherwise.
    await network.provider.send("evm_setNextBlockTimestamp", [Number(m.now + BLOCK)]);
    await network.provider.send("hardhat_mine", ["0x" + full.toString(16), "0x" + BLOCK.toString(16)]);
  }
  m.now = timestamp;
  await network.provider.send("evm_mine", [Number(timestamp)]);
}

/*
 * Transactions and reads go through JSON-RPC directly: ethers' contract layer costs about 1 ms per
 * call on the embedded network, several times what the EVM does, and this suite makes tens of
 * thousands of them. Hardhat mines each transaction at once; a reverted one throws with its revert
 * data, which the harness's attempt() decodes as usual (the harness's rawTransaction and rawCall).
 */
const rawTx = (from: string, to: string, data: string): (() => Promise<ContractTransactionResponse>) => rawTransaction(from, to, data, GAS.gasLimit);
const read = rawCall;

function interfaces(w: World): Interface[] {
  return [w.marketIface, w.tokenIface, w.hostileIface];
}

/** Sends `data` to `to` as `actor`: an EOA directly, the hostile receiver through act() (sent by the operator). */
async function sendAs(w: World, m: Model, actor: number, to: string, data: string): Promise<Outcome> {
  await tick(m);
  if (actor === HOSTILE) return attempt(rawTx(w.operatorAddress, w.hostileAddress, w.hostileIface.encodeFunctionData("act", [to, data])), interfaces(w));
  return attempt(rawTx(w.addresses[actor], to, data), interfaces(w));
}

/** Calls the market's `method` as `actor`. */
async function send(w: World, m: Model, actor: number, method: string, args: unknown[]): Promise<Outcome> {
  return sendAs(w, m, actor, w.marketAddress, w.marketIface.encodeFunctionData(method, args));
}

/** What transferFrom(actor -> market, amount) does, given the model's allowance and balance. */
function predictPull(w: World, m: Model, actor: number, amount: bigint): Expect {
  const allowance = m.allowances[actor];
  if (allowance !== MaxUint256 && allowance < amount) return ["ERC20InsufficientAllowance", w.marketAddress, allowance, amount];
  if (m.balances[actor] < amount) return ["ERC20InsufficientBalance", w.addresses[actor], m.balances[actor], amount];
  return true;
}

function applyPull(m: Model, actor: number, amount: bigint): void {
  if (m.allowances[actor] !== MaxUint256) m.allowances[actor] -= amount;
  m.balances[actor] -= amount;
  m.touched.balances.add(actor);
  // Every transfer from or to the hostile receiver makes it reenter the market once. A deposit of
  // zero may or may not call the token (this contract transfers zero; a market that skips empty
  // pulls does not), so it allows one attempt without requiring it.
  if (actor === HOSTILE) {
    if (amount > 0n) m.reentryAttempts += 1n;
    else m.zeroPulls += 1n;
    m.touched.hostile = true;
  }
}

function credit(m: Model, actor: number, amount: bigint): void {
  if (amount === 0n) return;
  m.credits[actor] += amount;
  m.touched.credits.add(actor);
}

function choose<T>(list: T[], pick: number): T | undefined {
  return list.length === 0 ? undefined : list[pick % list.length];
}

/** A raw round id: an existing one, 0, or the next id that does not exist yet. */
function rawRound(m: Model, pick: number): bigint {
  return BigInt(pick % (m.rounds.length + 2));
}

// ------------------------------------------------------------------ createRound

function buildMenu(choice: MenuChoice): Item[] {
  const base = choice.items.map((i) => ({ contribution: BigInt(i.contribution), reward: BigInt(i.reward), collateral: COLLATERALS[i.collateral] }));
  const ascending = [...base].sort((a, b) => (a.contribution < b.contribution ? -1 : a.contribution > b.contribution ? 1 : 0));
  const fill = (n: number) => Array.from({ length: n }, (_, k) => ({ ...ascending[k % ascending.length], contribution: BigInt(k) }));
  switch (choice.shape) {
    case "valid":
      return ascending;
    case "sixteen":
      return fill(MAX_ITEMS);
    case "empty":
      return [];
    case "seventeen":
      return fill(MAX_ITEMS + 1);
    case "decreasing": {
      const items = [...ascending].reverse();
      if (items.length < 2) items.push({ ...items[0] });
      items[items.length - 1] = { ...items[items.length - 1], contribution: 0n };
      if (items[0].contribution === 0n) items[0] = { ...items[0], contribution: 1n };
      return items;
    }
  }
}

function menuHash(items: Item[]): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["tuple(uint128,uint128,uint128)[]"], [items.map((i) => [i.contribution, i.reward, i.collateral])]));
}

/** The contract's Window enum, in its order. */
const WINDOWS = ["Join", "Contribution", "Delivery"] as const;

/** A new round's windows, from the block it is created in: [start, end] of each, in WINDOWS order. */
function windowsOf(createdAt: bigint, d: Deadlines): [bigint, bigint][] {
  return [
    [createdAt, d.join],
    [d.join, d.contribution],
    [d.contribution, d.delivery],
  ];
}

function predictCreate(w: World, m: Model, actor: number, items: Item[], bond: bigint, d: Deadlines): Expect {
  if (items.length === 0 || items.length > MAX_ITEMS) return ["InvalidMenu", "between 1 and 16 items"];
  for (let i = 1; i < items.length; i++) if (items[i].contribution < items[i - 1].contribution) return ["InvalidMenu", "contributions must not decrease"];
  for (const [window, [start, end]] of windowsOf(nextTs(m), d).entries()) {
    const length = end > start ? end - start : 0n; // a window that does not end after it starts lasts 0
    if (length < MIN_WINDOW || length > MAX_WINDOW) return ["WindowOutOfBounds", window, length, MIN_WINDOW, MAX_WINDOW];
  }
  return predictPull(w, m, actor, bond);
}

/** The length a window choice stands for, in seconds: negative for a window that ends before it starts. */
function lengthOf(choice: LengthChoice): bigint {
  const seconds = BigInt(choice.seconds);
  switch (choice.kind) {
    case "inBounds":
      return seconds;
    case "floor":
      return MIN_WINDOW;
    case "aboveFloor":
      return MIN_WINDOW + 1n;
    case "belowCeiling":
      return MAX_WINDOW - 1n;
    case "ceiling":
      return MAX_WINDOW;
    case "justBelowFloor":
      return MIN_WINDOW - 1n;
    case "belowFloor":
      return 1n + (seconds % (MIN_WINDOW - 1n)); // one second up to just below the floor; shorter than a block at times
    case "justAboveCeiling":
      return MAX_WINDOW + 1n;
    case "farAboveCeiling":
      return MAX_WINDOW + seconds * 10_000n;
    case "zero":
      return 0n;
    case "negative":
      return -(1n + (seconds % 100n));
  }
}

/** How a window of `length` seconds stands against the bounds, for the statistics. */
function lengthClass(length: bigint): string {
  if (length <= 0n) return "not positive";
  if (length < MIN_WINDOW) return "below the floor";
  if (length > MAX_WINDOW) return "above the ceiling";
  if (length === MIN_WINDOW) return "at the floor";
  if (length === MAX_WINDOW) return "at the ceiling";
  return "within the bounds";
}

async function create(w: World, m: Model, a: Extract<Action, { kind: "create" }>): Promise<void> {
  let actor: number;
  let items: Item[];
  let bond: bigint;
  let deadlines: Deadlines;
  const replay = a.mode === "replay" ? m.last.create : undefined;
  if (replay) {
    // The same menu, bond and absolute deadlines again: a second round while the join window is
    // still long enough, WindowOutOfBounds(Join, ...) once it is below the floor or over.
    ({ actor, items, bond, deadlines } = replay);
  } else {
    actor = a.actor;
    items = buildMenu(a.menu);
    switch (a.bond.kind) {
      case "zero":
        bond = 0n;
        break;
      case "small":
        bond = BigInt(a.bond.value);
        break;
      case "beyondBalance":
        bond = m.balances[actor] + BigInt(a.bond.value);
        break;
      case "huge":
        // More than a uint128 holds: the actor (an EOA; minting to the hostile receiver would make it reenter) gets the tokens first.
        bond = (1n << 128n) + BigInt(a.bond.value);
        if (actor !== HOSTILE && m.balances[actor] < bond) {
          await tick(m);
          check(await attempt(rawTx(w.operatorAddress, w.tokenAddress, w.tokenIface.encodeFunctionData("mint", [w.addresses[actor], bond])), interfaces(w)), true, "mint");
          m.balances[actor] += bond;
          m.touched.balances.add(actor);
        }
        break;
    }
    // After the mint above, if any: the join window starts at the createRound block.
    const join = nextTs(m) + lengthOf(a.window.join);
    const contribution = join + lengthOf(a.window.contribution);
    deadlines = { join, contribution, delivery: contribution + lengthOf(a.window.delivery) };
  }
  const createdAt = nextTs(m);
  const expected = predictCreate(w, m, actor, items, bond, deadlines);
  const outcome = await send(w, m, actor, "createRound", [items, bond, deadlines.join, deadlines.contribution, deadlines.delivery]);
  if (bond > U128_MAX && (expected === true || expected[0].startsWith("ERC20"))) {
    // The bond is stored as uint128. Refusing the amount (before or instead of pulling it) is
    // correct; accepting it is correct only if the whole amount is owed back, which the invariants
    // check against the round on chain.
    bump(stats.events, outcome.ok ? "bond above 2^128 - 1 accepted" : "bond above 2^128 - 1 refused");
    if (outcome.ok && expected !== true) throw new Error(`createRound by actor ${actor} (bond ${bond}): went through, but the pull must fail with ${expected[0]}`);
    if (!outcome.ok) {
      record("create", outcome, actor, replay ? "replay" : undefined);
      return;
    }
  } else {
    check(outcome, expected, `createRound by actor ${actor} (bond ${bond})`);
  }
  record("create", outcome, actor, replay ? "replay" : undefined);
  const lengths = windowsOf(createdAt, deadlines).map(([start, end]) => end - start);
  if (!outcome.ok) {
    if (outcome.error === "WindowOutOfBounds") {
      const window = Number(outcome.args[0]);
      bump(stats.events, `create refused: ${WINDOWS[window]} window ${lengthClass(lengths[window])}`);
    }
    return;
  }
  for (const [window, length] of lengths.entries()) bump(stats.events, `created with the ${WINDOWS[window]} window ${lengthClass(length)}`);
  m.touched.roundCount = true;
  const id = BigInt(m.rounds.length + 1);
  m.rounds.push({
    id,
    createdAt,
    coordinator: actor,
    state: State.Open,
    joinDeadline: deadlines.join,
    contributionDeadline: deadlines.contribution,
    deliveryDeadline: deadlines.delivery,
    items,
    menuHash: menuHash(items),
    bond,
    collateral: 0n,
    parties: [],
    modelHash: ZERO_HASH,
  });
  applyPull(m, actor, bond);
  m.touched.rounds.add(id);
  m.last.create = { actor, items, bond, deadlines };
}

// ------------------------------------------------------------------ valid-mode candidates

/** Joins the contract should accept, except that the actor may lack the allowance or the tokens. */
function joinCandidates(w: World, m: Model): { actor: number; id: bigint; item: bigint }[] {
  const candidates: { actor: number; id: bigint; item: bigint }[] = [];
  for (const r of m.rounds) {
    if (r.state !== State.Open || nextTs(m) > r.joinDeadline) continue;
    for (let x = 0; x < ACTORS; x++) {
      for (let i = 0n; i < BigInt(r.items.length); i++) {
        const expected = predictJoin(w, m, x, r.id, i);
        if (expected === true || expected[0].startsWith("ERC20")) candidates.push({ actor: x, id: r.id, item: i });
      }
    }
  }
  return candidates;
}

/** Parties that may still contribute (the amount is drawn separately and may be too small). */
function contributeCandidates(m: Model): { actor: number; id: bigint }[] {
  const ts = nextTs(m);
  const candidates: { actor: number; id: bigint }[] = [];
  for (const r of m.rounds) {
    if (r.state !== State.Open || ts > r.contributionDeadline) continue;
    for (const p of r.parties) if (!p.contributed) candidates.push({ actor: p.actor, id: r.id });
  }
  return candidates;
}

function deliverCandidates(m: Model): RoundModel[] {
  const ts = nextTs(m);
  return m.rounds.filter((r) => r.state === State.Open && ts > r.contributionDeadline && ts <= r.deliveryDeadline);
}

function claimCandidates(m: Model): RoundModel[] {
  const ts = nextTs(m);
  return m.rounds.filter((r) => r.state === State.Open && ts > r.deliveryDeadline);
}

function withdrawCandidates(m: Model): number[] {
  return [...Array(ACTORS).keys()].filter((x) => m.credits[x] > 0n);
}

function hasCandidates(w: World, m: Model, kind: MarketKind): boolean {
  switch (kind) {
    case "join":
      return joinCandidates(w, m).length > 0;
    case "contribute":
      return contributeCandidates(m).length > 0;
    case "deliver":
      return deliverCandidates(m).length > 0;
    case "claimDefault":
      return claimCandidates(m).length > 0;
    case "withdraw":
      return withdrawCandidates(m).length > 0;
  }
}

// ------------------------------------------------------------------ join

function predictJoin(w: World, m: Model, actor: number, id: bigint, item: bigint): Expect {
  const r = roundById(m, id);
  if (!r) return ["UnknownRound", id];
  if (r.state !== State.Open) return ["WrongState", id, r.state];
  const ts = nextTs(m);
  if (ts > r.joinDeadline) return ["TooLate", id, r.joinDeadline, ts];
  if (item >= BigInt(r.items.length)) return ["UnknownItem", id, item, r.items.length];
  if (r.parties.some((p) => p.actor === actor)) return ["AlreadyJoined", id, w.addresses[actor]];
  if (r.parties.length >= MAX_PARTIES) return ["RoundFull", id, MAX_PARTIES];
  const collateral = r.items[Number(item)].collateral;
  if (r.collateral + collateral > U128_MAX) throw new Error("test bug: the menus must not let a round's collateral overflow uint128");
  return predictPull(w, m, actor, collateral);
}

async function join(w: World, m: Model, a: MarketAction): Promise<void> {
  let actor = a.actor;
  let id = rawRound(m, a.round);
  let item = BigInt(a.item % (MAX_ITEMS + 2));
  const replay = a.mode === "replay" ? m.last.join : undefined;
  const c = choose(!replay && a.mode === "valid" ? joinCandidates(w, m) : [], a.round + a.item);
  if (replay) ({ actor, id, item } = replay);
  else if (c) {
    ({ actor, id, item } = c);
    if (a.edge === 0) await landAt(m, roundById(m, id)!.joinDeadline); // the last second allowed
  } else {
    if (a.mode !== "raw") {
      const open = m.rounds.filter((r) => r.state === State.Open);
      const joinable = open.filter((r) => nextTs(m) <= r.joinDeadline);
      const r =
        (a.edge === 0 ? await probeBoundary(m, a.round, (x) => x.joinDeadline + 1n) : undefined) ?? // the first second refused
        choose(joinable.length > 0 ? joinable : open, a.round);
      if (r) id = r.id;
    }
    const r = roundById(m, id);
    if (r) item = BigInt(a.item % (r.items.length + 1)); // sometimes just past the menu's end
  }
  const expected = predictJoin(w, m, actor, id, item);
  const outcome = await send(w, m, actor, "join", [id, item]);
  check(outcome, expected, `join(${id}, ${item}) by actor ${actor}`);
  record("join", outcome, actor, a.mode);
  const r = roundById(m, id);
  if (!outcome.ok) {
    if (r && outcome.error === "TooLate" && m.now === r.joinDeadline + 1n) bump(stats.events, "join refused one second after the join deadline");
    return;
  }
  if (m.now === r!.joinDeadline) bump(stats.events, "join at the join deadline");
  m.touched.rounds.add(id);
  const collateral = r!.items[Number(item)].collateral;
  r!.parties.push({ actor, item: Number(item), contributed: false, amount: 0n, dataHash: ZERO_HASH, share: 0n });
  r!.collateral += collateral;
  applyPull(m, actor, collateral);
  m.touched.parties.push({ id, actor });
  m.last.join = { actor, id, item };
}

// ------------------------------------------------------------------ contribute

function predictContribute(w: World, m: Model, actor: number, id: bigint, amount: bigint): Expect {
  const r = roundById(m, id);
  if (!r) return ["UnknownRound", id];
  if (r.state !== State.Open) return ["WrongState", id, r.state];
  const ts = nextTs(m);
  if (ts > r.contributionDeadline) return ["TooLate", id, r.contributionDeadline, ts];
  const p = r.parties.find((x) => x.actor === actor);
  if (!p) return ["NotJoined", id, w.addresses[actor]];
  if (p.contributed) return ["AlreadyContributed", id, w.addresses[actor]];
  const need = r.items[p.item].contribution;
  if (amount < need) return ["ContributionTooSmall", id, need, amount];
  return true;
}

async function contribute(w: World, m: Model, a: MarketAction): Promise<void> {
  let actor = a.actor;
  let id = rawRound(m, a.round);
  const replay = a.mode === "replay" ? m.last.contribute : undefined;
  const c = choose(!replay && a.mode === "valid" ? contributeCandidates(m) : [], a.round);
  if (c) {
    ({ actor, id } = c);
    if (a.edge === 0) await landAt(m, roundById(m, id)!.contributionDeadline, 40n * BLOCK); // the last second allowed
  } else if (!replay && a.mode !== "raw") {
    // An open round in any phase, one of its parties or the actor as drawn: not joined, already contributed, or too late.
    const r =
      (a.edge === 0 ? await probeBoundary(m, a.round, (x) => x.contributionDeadline + 1n) : undefined) ?? // the first second refused
      choose(
        m.rounds.filter((x) => x.state === State.Open),
        a.round,
      );
    if (r) {
      id = r.id;
      if (r.parties.length > 0 && a.data % 2 === 0) actor = r.parties[a.data % r.parties.length].actor;
    }
  }
  let amount: bigint;
  let dataHash = hashOf(`data ${a.data}`);
  if (replay) ({ actor, id, amount, dataHash } = replay);
  else {
    const r = roundById(m, id);
    const p = r?.parties.find((x) => x.actor === actor);
    const need = p ? r!.items[p.item].contribution : BigInt(a.amount.extra % 41);
    switch (a.amount.kind) {
      case "need":
        amount = need;
        break;
      case "more":
        amount = need + BigInt(a.amount.extra);
        break;
      case "less":
        amount = need > 0n ? need - 1n : 0n;
        break;
      case "zero":
        amount = 0n;
        break;
      case "huge":
        // Passes the minimum, but is stored as uint128: just below the minimum once truncated.
        amount = (1n << 128n) + (need > 0n ? need - 1n : 0n);
        break;
    }
  }
  const expected = predictContribute(w, m, actor, id, amount);
  const outcome = await send(w, m, actor, "contribute", [id, dataHash, amount]);
  if (amount > U128_MAX && expected === true) {
    // The amount is stored as uint128: a revert is correct, and so is a success that records the
    // amount given (checked against partyOf below).
    bump(stats.events, outcome.ok ? "contribution above 2^128 - 1 accepted" : "contribution above 2^128 - 1 refused");
  } else {
    check(outcome, expected, `contribute(${id}, ${amount}) by actor ${actor}`);
  }
  record("contribute", outcome, actor, a.mode);
  const r = roundById(m, id);
  if (!outcome.ok) {
    if (r && outcome.error === "TooLate" && m.now === r.contributionDeadline + 1n) bump(stats.events, "contribution refused one second after its deadline");
    return;
  }
  if (m.now === r!.contributionDeadline) bump(stats.events, "contribution at the contribution deadline");
  m.touched.rounds.add(id);
  const p = r!.parties.find((x) => x.actor === actor)!;
  p.contributed = true;
  p.amount = amount;
  p.dataHash = dataHash;
  m.touched.parties.push({ id, actor });
  m.last.contribute = { actor, id, dataHash, amount };
}

// ------------------------------------------------------------------ settlement (deliver, claimDefault)

/** The contract's _settle: contributors get their collateral back; forfeited + bond is shared. */
function settle(m: Model, r: RoundModel, bond: bigint): void {
  const contributors = r.parties.filter((p) => p.contributed).length;
  const forfeited = r.parties.filter((p) => !p.contributed).reduce((s, p) => s + r.items[p.item].collateral, 0n);
  const recipients = contributors > 0 ? contributors : r.parties.length;
  if (recipients === 0) return;
  const pot = forfeited + bond;
  const each = pot / BigInt(recipients);
  let remainder = pot - each * BigInt(recipients);
  for (const p of r.parties) {
    const recipient = contributors > 0 ? p.contributed : true;
    let amount = p.contributed ? r.items[p.item].collateral : 0n;
    if (recipient) {
      amount += each + remainder;
      remainder = 0n;
    }
    credit(m, p.actor, amount);
  }
}

function settlementKind(r: RoundModel): string {
  const contributors = r.parties.filter((p) => p.contributed).length;
  if (r.parties.length === 0) return "no parties";
  if (contributors === 0) return "nobody contributed";
  if (contributors < r.parties.length) return "some forfeited";
  return "everyone contributed";
}

function predictDeliver(w: World, m: Model, actor: number, id: bigint, shares: bigint[]): Expect {
  const r = roundById(m, id);
  if (!r) return ["UnknownRound", id];
  if (r.state !== State.Open) return ["WrongState", id, r.state];
  if (actor !== r.coordinator) return ["NotCoordinator", id, w.addresses[actor]];
  const ts = nextTs(m);
  if (ts <= r.contributionDeadline) return ["TooEarly", id, r.contributionDeadline, ts];
  if (ts > r.deliveryDeadline) return ["TooLate", id, r.deliveryDeadline, ts];
  if (shares.length !== r.parties.length) return ["WrongShareCount", id, shares.length, r.parties.length];
  for (const [i, p] of r.parties.entries()) {
    // Only contributors' shares are checked and recorded; a non-contributor's is ignored.
    if (p.contributed && shares[i] > WAD) return ["ShareTooLarge", id, w.addresses[p.actor], shares[i]];
  }
  return true;
}

function sharesFor(r: RoundModel | undefined, a: MarketAction): bigint[] {
  const parties = r?.parties ?? [];
  const good = [0n, 1n, (3n * WAD) / 10n, WAD, BigInt(a.seeds[0]) * 10n ** 15n];
  const shares = parties.map((p, i) => {
    const seed = a.seeds[i % a.seeds.length];
    if (p.contributed) return good[seed % good.length];
    return seed % 2 === 0 ? 0n : 5n * WAD; // ignored by the contract
  });
  if (a.shares === "tooLarge" && shares.length > 0) {
    const contributors = parties.map((p, i) => (p.contributed ? i : -1)).filter((i) => i >= 0);
    const target = contributors.length > 0 ? contributors[a.seeds[1] % contributors.length] : 0;
    shares[target] = WAD + 1n;
  }
  if (a.shares === "wrongCount") {
    if (shares.length > 0 && a.seeds[2] % 2 === 0) shares.pop();
    else shares.push(0n);
  }
  return shares;
}

async function deliver(w: World, m: Model, a: MarketAction): Promise<void> {
  let actor = a.actor;
  let id = rawRound(m, a.round);
  let modelHash = hashOf(`model ${a.model}`);
  let shares: bigint[];
  const replay = a.mode === "replay" ? m.last.deliver : undefined;
  if (replay) ({ actor, id, modelHash, shares } = replay);
  else {
    const ts = nextTs(m);
    let c = choose(a.mode === "valid" ? deliverCandidates(m) : [], a.round);
    if (c && a.edge === 0) await landAt(m, c.deliveryDeadline, 40n * BLOCK); // the last second allowed
    if (!c && a.mode === "valid" && a.seeds[4] % 3 === 0) {
      // No round can be delivered yet: sometimes the coordinator of the round whose window opens
      // first (one with parties if there is one) waits for the window's first second.
      const waiting = m.rounds.filter((r) => r.state === State.Open && ts <= r.contributionDeadline);
      const withParties = waiting.filter((r) => r.parties.length > 0);
      c = (withParties.length > 0 ? withParties : waiting).reduce<RoundModel | undefined>(
        (best, r) => (!best || r.contributionDeadline < best.contributionDeadline ? r : best),
        undefined,
      );
      if (c && (await landAt(m, c.contributionDeadline + 1n, 60n * BLOCK))) bump(stats.events, "coordinator waited for its delivery window");
      else c = undefined;
    }
    if (c) {
      id = c.id;
      actor = c.coordinator;
    } else if (a.mode !== "raw") {
      // An open round in any phase, usually by its coordinator: too early, too late, or the wrong caller.
      const c =
        (a.edge === 0 ? await probeBoundary(m, a.round, (r) => r.contributionDeadline) : undefined) ?? // the last second too early
        (a.edge === 1 || a.edge === 2 ? await probeBoundary(m, a.round, (r) => r.deliveryDeadline + 1n) : undefined) ?? // the first second too late
        choose(
          m.rounds.filter((r) => r.state === State.Open),
          a.round,
        );
      if (c) {
        id = c.id;
        if (a.seeds[3] % 3 !== 0) actor = c.coordinator;
      }
    }
    shares = sharesFor(roundById(m, id), a);
  }
  const expected = predictDeliver(w, m, actor, id, shares);
  const outcome = await send(w, m, actor, "deliver", [id, modelHash, shares]);
  check(outcome, expected, `deliver(${id}, [${shares.join(", ")}]) by actor ${actor}`);
  record("deliver", outcome, actor, a.mode);
  const r = roundById(m, id);
  if (!outcome.ok) {
    if (r && outcome.error === "TooEarly" && m.now === r.contributionDeadline) bump(stats.events, "delivery refused at the contribution deadline");
    if (r && outcome.error === "TooLate" && m.now === r.deliveryDeadline + 1n) bump(stats.events, "delivery refused one second after its deadline");
    return;
  }
  const round = r!;
  if (m.now === round.deliveryDeadline) bump(stats.events, "delivery at the delivery deadline");
  bump(stats.events, `delivered, ${settlementKind(round)}`);
  applyDeliver(m, round, modelHash, shares);
  m.last.deliver = { actor, id, modelHash, shares };
}

function applyDeliver(m: Model, r: RoundModel, modelHash: string, shares: bigint[]): void {
  m.touched.rounds.add(r.id);
  r.state = State.Delivered;
  r.modelHash = modelHash;
  for (const [i, p] of r.parties.entries()) {
    if (p.contributed) p.share = shares[i];
    m.touched.parties.push({ id: r.id, actor: p.actor });
  }
  settle(m, r, 0n);
  credit(m, r.coordinator, r.bond);
}

function predictClaimDefault(m: Model, id: bigint): Expect {
  const r = roundById(m, id);
  if (!r) return ["UnknownRound", id];
  if (r.state !== State.Open) return ["WrongState", id, r.state];
  const ts = nextTs(m);
  if (ts <= r.deliveryDeadline) return ["TooEarly", id, r.deliveryDeadline, ts];
  return true;
}

function applyClaimDefault(m: Model, r: RoundModel): void {
  r.state = State.Failed;
  const contributors = r.parties.filter((p) => p.contributed).length;
  const recipients = contributors > 0 ? contributors : r.parties.length;
  if (recipients === 0) credit(m, r.coordinator, r.bond);
  settle(m, r, recipients > 0 ? r.bond : 0n);
}

async function claimDefault(w: World, m: Model, a: MarketAction): Promise<void> {
  let actor = a.actor;
  let id = rawRound(m, a.round);
  const replay = a.mode === "replay" ? m.last.claimDefault : undefined;
  let c = choose(a.mode === "valid" ? claimCandidates(m) : [], a.round);
  if (!c && !replay && a.mode === "valid" && a.edge < 2) {
    // Nothing to claim yet: sometimes wait for the delivery deadline that passes first.
    c = m.rounds.filter((r) => r.state === State.Open).reduce<RoundModel | undefined>((best, r) => (!best || r.deliveryDeadline < best.deliveryDeadline ? r : best), undefined);
    if (c && (await landAt(m, c.deliveryDeadline + 1n, 60n * BLOCK))) bump(stats.events, "claimant waited for a delivery deadline");
    else c = undefined;
  }
  if (replay) ({ actor, id } = replay);
  else if (c) id = c.id;
  else if (a.mode !== "raw") {
    const open =
      (a.edge <= 1 ? await probeBoundary(m, a.round, (r) => r.deliveryDeadline) : undefined) ?? // the last second too early
      choose(
        m.rounds.filter((r) => r.state === State.Open),
        a.round,
      );
    if (open) id = open.id;
  }
  const expected = predictClaimDefault(m, id);
  const outcome = await send(w, m, actor, "claimDefault", [id]);
  check(outcome, expected, `claimDefault(${id}) by actor ${actor}`);
  record("claimDefault", outcome, actor, a.mode);
  const r = roundById(m, id);
  if (!outcome.ok) {
    if (r && outcome.error === "TooEarly" && m.now === r.deliveryDeadline) bump(stats.events, "default refused at the delivery deadline");
    return;
  }
  bump(stats.events, `defaulted, ${settlementKind(r!)}`);
  m.touched.rounds.add(id);
  applyClaimDefault(m, r!);
  m.last.claimDefault = { actor, id };
}

// ------------------------------------------------------------------ withdraw

function predictWithdraw(w: World, m: Model, actor: number): Expect {
  return m.credits[actor] === 0n ? ["NothingToWithdraw", w.addresses[actor]] : true;
}

function applyWithdraw(m: Model, actor: number): void {
  m.balances[actor] += m.credits[actor];
  m.credits[actor] = 0n;
  m.touched.credits.add(actor);
  m.touched.balances.add(actor);
  if (actor === HOSTILE) {
    m.reentryAttempts += 1n;
    m.touched.hostile = true;
  }
}

async function withdraw(w: World, m: Model, a: MarketAction): Promise<void> {
  let actor = a.actor;
  const replay = a.mode === "replay" ? m.last.withdraw : undefined;
  if (replay) actor = replay.actor;
  else if (a.mode === "valid") {
    const c = choose(withdrawCandidates(m), a.actor);
    if (c !== undefined) actor = c;
  }
  const expected = predictWithdraw(w, m, actor);
  const outcome = await send(w, m, actor, "withdraw", []);
  check(outcome, expected, `withdraw by actor ${actor}`);
  record("withdraw", outcome, actor, a.mode);
  if (!outcome.ok) return;
  applyWithdraw(m, actor);
  m.last.withdraw = { actor };
}

// ------------------------------------------------------------------ time, allowances, the hostile receiver's attack

async function advanceTime(m: Model, a: Extract<Action, { kind: "advance" }>): Promise<void> {
  if (a.to === "deadline") {
    // Mine so that the next transaction lands exactly at the next deadline of any open round
    // (sometimes the one after), or one second after it: one phase at a time, boundaries included.
    const targets = m.rounds
      .filter((r) => r.state === State.Open)
      .flatMap((r) => [r.joinDeadline, r.contributionDeadline, r.deliveryDeadline])
      .map((d) => d + BigInt(a.after) - BLOCK)
      .filter((t) => t > m.now)
      .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const target = targets[Math.min(targets.length - 1, a.deadline === 2 ? 1 : 0)];
    if (target !== undefined) {
      await mineAt(m, target);
      bump(stats.ok, "advance");
      return;
    }
  }
  await mineAt(m, m.now + BigInt(a.blocks) * BLOCK);
  bump(stats.ok, "advance");
}

async function approve(w: World, m: Model, a: Extract<Action, { kind: "approve" }>): Promise<void> {
  const amount = a.amount === "zero" ? 0n : a.amount === "small" ? BigInt(a.small) : MaxUint256;
  const outcome = await sendAs(w, m, a.actor, w.tokenAddress, w.tokenIface.encodeFunctionData("approve", [w.marketAddress, amount]));
  check(outcome, true, `approve(${amount}) by actor ${a.actor}`);
  record("approve", outcome, a.actor);
  m.allowances[a.actor] = amount;
}

function attackCalldata(w: World, m: Model, attack: Attack): string {
  const market = w.marketIface;
  switch (attack) {
    case "withdraw":
      return market.encodeFunctionData("withdraw");
    case "join":
      return market.encodeFunctionData("join", [1n, 0n]);
    case "createRound": {
      // A round whose windows are within the bounds for MAX_WINDOW - MIN_WINDOW seconds after arming.
      const join = nextTs(m) + MAX_WINDOW;
      return market.encodeFunctionData("createRound", [[{ contribution: 1n, reward: 1n, collateral: 0n }], 0n, join, join + MIN_WINDOW, join + 2n * MIN_WINDOW]);
    }
  }
}

async function arm(w: World, m: Model, a: Extract<Action, { kind: "arm" }>): Promise<void> {
  await tick(m);
  const outcome = await attempt(rawTx(w.operatorAddress, w.hostileAddress, w.hostileIface.encodeFunctionData("arm", [w.marketAddress, attackCalldata(w, m, a.attack)])), interfaces(w));
  check(outcome, true, `arm(${a.attack})`);
  record("arm", outcome);
}

async function step(w: World, m: Model, a: Action): Promise<void> {
  m.step += 1;
  if (a.kind === "create" || a.kind === "advance" || a.kind === "approve" || a.kind === "arm") {
    switch (a.kind) {
      case "create":
        return create(w, m, a);
      case "advance":
        return advanceTime(m, a);
      case "approve":
        return approve(w, m, a);
      case "arm":
        return arm(w, m, a);
    }
  }
  // A valid-mode action with nothing to act on becomes the next kind (in MARKET_KINDS order) that
  // has something, so that sequences keep moving; deliver and claimDefault may instead wait for
  // their window (decided inside them).
  let kind = a.kind;
  const waits = (kind === "deliver" && a.seeds[4] % 3 === 0) || (kind === "claimDefault" && a.edge < 2);
  if (a.mode === "valid" && !waits && !hasCandidates(w, m, kind)) {
    const start = MARKET_KINDS.indexOf(kind);
    const other = MARKET_KINDS.map((_, i) => MARKET_KINDS[(start + i) % MARKET_KINDS.length]).find((k) => hasCandidates(w, m, k));
    if (other) {
      bump(stats.events, `valid ${kind} with nothing to act on became ${other}`);
      kind = other;
    }
  }
  switch (kind) {
    case "join":
      return join(w, m, a);
    case "contribute":
      return contribute(w, m, a);
    case "deliver":
      return deliver(w, m, a);
    case "claimDefault":
      return claimDefault(w, m, a);
    case "withdraw":
      return withdraw(w, m, a);
  }
}

// ------------------------------------------------------------------ invariants

function fail(message: string): never {
  throw new Error(`invariant broken: ${message}`);
}

async function checkRound(w: World, r: RoundModel): Promise<void> {
  const [c] = await read(w.marketAddress, w.marketIface, "roundOf", [r.id]);
  const got = [...c]; // coordinator, state, joinDeadline, contributionDeadline, deliveryDeadline, menuHash, bond, collateral, modelHash
  const want = [w.addresses[r.coordinator], r.state, r.joinDeadline, r.contributionDeadline, r.deliveryDeadline, r.menuHash, r.bond, r.collateral, r.modelHash];
  const names = ["coordinator", "state", "joinDeadline", "contributionDeadline", "deliveryDeadline", "menuHash", "bond", "collateral", "modelHash"];
  for (let i = 0; i < names.length; i++) {
    if (String(got[i]) !== String(want[i])) fail(`round ${r.id} ${names[i]} is ${got[i]} on chain, ${want[i]} in the model`);
  }
  const deliveryDeadline = got[4] as bigint;
  if (deliveryDeadline > settleBy(r)) {
    fail(`round ${r.id}, created at ${r.createdAt}, has its delivery deadline at ${deliveryDeadline}, past createdAt + 3 * maxWindow = ${settleBy(r)}`);
  }
}

/** Calls the market's `method` as `actor` by eth_call at the latest block (whose timestamp is m.now); throws if it would revert. */
async function callAs(w: World, actor: number, method: string, args: unknown[]): Promise<void> {
  if (actor === HOSTILE) await read(w.hostileAddress, w.hostileIface, "act", [w.marketAddress, w.marketIface.encodeFunctionData(method, args)], w.operatorAddress);
  else await read(w.marketAddress, w.marketIface, method, args, w.addresses[actor]);
}

/**
 * No round holds its bond and collateral past createdAt + 3 * maxWindow: an open round that has
 * reached that time can be settled in this block, by claimDefault, or, in the last second of a
 * round whose windows are all at the ceiling, by its coordinator's delivery.
 */
async function checkSettleable(w: World, m: Model): Promise<void> {
  for (const r of m.rounds) {
    if (r.state !== State.Open || m.now < settleBy(r)) continue;
    const byDelivery = m.now <= r.deliveryDeadline;
    try {
      if (byDelivery) await callAs(w, r.coordinator, "deliver", [r.id, ZERO_HASH, r.parties.map(() => 0n)]);
      else await callAs(w, 0, "claimDefault", [r.id]);
    } catch (error) {
      fail(`round ${r.id}, created at ${r.createdAt}, holds its bond and collateral at ${m.now} (createdAt + 3 * maxWindow = ${settleBy(r)}) and cannot be settled by ${byDelivery ? "deliver" : "claimDefault"}: ${(error as Error).message.split("\n")[0]}`);
    }
    bump(stats.events, byDelivery ? "open round at createdAt + 3 * maxWindow can be delivered" : "open round at or past createdAt + 3 * maxWindow can be claimed");
  }
}

async function checkParty(w: World, r: RoundModel, actor: number): Promise<void> {
  const p = r.parties.find((x) => x.actor === actor);
  const [c] = await read(w.marketAddress, w.marketIface, "partyOf", [r.id, w.addresses[actor]]);
  const want = p
    ? [true, p.contributed, p.item, p.amount, p.dataHash, p.share]
    : [false, false, 0, 0n, ZERO_HASH, 0n];
  const got = [...c]; // joined, contributed, item, amount, dataHash, qualityShare
  const names = ["joined", "contributed", "item", "amount", "dataHash", "qualityShare"];
  for (let i = 0; i < names.length; i++) {
    if (String(got[i]) !== String(want[i])) fail(`round ${r.id} party ${actor} ${names[i]} is ${got[i]} on chain, ${want[i]} in the model`);
  }
}

async function checkCredits(w: World, m: Model, actor: number): Promise<void> {
  const [c] = await read(w.marketAddress, w.marketIface, "credits", [w.addresses[actor]]);
  if (c !== m.credits[actor]) fail(`credits of actor ${actor} are ${c} on chain, ${m.credits[actor]} in the model`);
}

async function checkBalance(w: World, m: Model, actor: number): Promise<void> {
  const [b] = await read(w.tokenAddress, w.tokenIface, "balanceOf", [w.addresses[actor]]);
  if (b !== m.balances[actor]) fail(`token balance of actor ${actor} is ${b} on chain, ${m.balances[actor]} in the model`);
}

async function checkHostile(w: World, m: Model): Promise<void> {
  const [successes] = await read(w.hostileAddress, w.hostileIface, "reentrySuccesses");
  if (successes !== 0n) fail(`the hostile receiver reentered the market successfully ${successes} time(s)`);
  const [attempts] = await read(w.hostileAddress, w.hostileIface, "reentryAttempts");
  if (attempts < m.reentryAttempts || attempts > m.reentryAttempts + m.zeroPulls) {
    fail(`the hostile receiver attempted ${attempts} reentries, the model expected ${m.reentryAttempts} (+ up to ${m.zeroPulls} for zero-amount deposits)`);
  }
  m.reentryAttempts = attempts;
  m.zeroPulls = 0n;
  if (attempts > 0n) {
    const [last] = await read(w.hostileAddress, w.hostileIface, "lastRevert");
    if (last !== w.guardError) fail(`the last reentry was refused with ${last}, not ReentrancyGuardReentrantCall()`);
  }
}

async function checkHeld(w: World, m: Model): Promise<void> {
  const [held] = await read(w.tokenAddress, w.tokenIface, "balanceOf", [w.marketAddress]);
  if (held !== owed(m)) fail(`the market holds ${held} tokens but owes ${owed(m)} (open rounds' bond + collateral, plus credits)`);
}

/**
 * After every step. The steps mark what their successful transactions changed (a reverted
 * transaction changes no state, so only the balance and one actor's credits in turn are read
 * after it); the last step also runs the full audit and the drain.
 */
async function invariants(w: World, m: Model): Promise<void> {
  await checkHeld(w, m);
  const t = m.touched;
  m.touched = freshTouched();
  if (t.roundCount) {
    const [count] = await read(w.marketAddress, w.marketIface, "roundCount");
    if (count !== BigInt(m.rounds.length)) fail(`roundCount is ${count} on chain, ${m.rounds.length} in the model`);
  }
  for (const id of t.rounds) await checkRound(w, roundById(m, id)!);
  for (const { id, actor } of t.parties) await checkParty(w, roundById(m, id)!, actor);
  t.credits.add(m.step % ACTORS); // and one actor in turn, whatever the step did
  for (const actor of t.credits) await checkCredits(w, m, actor);
  for (const actor of t.balances) await checkBalance(w, m, actor);
  if (t.hostile) await checkHostile(w, m);
  await checkSettleable(w, m);
  if (m.step === FUZZ_STEPS) await audit(w, m);
}

/** After the last step: everything against the model, then every locked token out, each round settled by createdAt + 3 * maxWindow. */
async function audit(w: World, m: Model): Promise<void> {
  const [count] = await read(w.marketAddress, w.marketIface, "roundCount");
  if (count !== BigInt(m.rounds.length)) fail(`roundCount is ${count} on chain, ${m.rounds.length} in the model`);
  // The contract's own accounting (its NatSpec invariant), from its views alone.
  let accounted = 0n;
  for (const r of m.rounds) {
    await checkRound(w, r);
    const [parties] = await read(w.marketAddress, w.marketIface, "partiesOf", [r.id]);
    const want = r.parties.map((p) => w.addresses[p.actor]);
    if (parties.join() !== want.join()) fail(`round ${r.id} parties are [${parties.join()}] on chain, [${want.join()}] in the model`);
    for (const p of r.parties) await checkParty(w, r, p.actor);
    const [items] = await read(w.marketAddress, w.marketIface, "itemsOf", [r.id]);
    const gotItems = items.map((i: Result) => [...i].join("/")).join();
    const wantItems = r.items.map((i) => [i.contribution, i.reward, i.collateral].join("/")).join();
    if (gotItems !== wantItems) fail(`round ${r.id} menu is [${gotItems}] on chain, [${wantItems}] in the model`);
    const [c] = await read(w.marketAddress, w.marketIface, "roundOf", [r.id]);
    if (Number(c[1]) === State.Open) accounted += (c[6] as bigint) + (c[7] as bigint);
  }
  for (let actor = 0; actor < ACTORS; actor++) {
    await checkCredits(w, m, actor);
    await checkBalance(w, m, actor);
    accounted += (await read(w.marketAddress, w.marketIface, "credits", [w.addresses[actor]]))[0] as bigint;
  }
  const [held] = await read(w.tokenAddress, w.tokenIface, "balanceOf", [w.marketAddress]);
  if (held !== accounted) fail(`the market holds ${held} tokens but its views account for ${accounted} (open rounds' bond + collateral, plus credits)`);
  await checkHostile(w, m);
  // Every credit can be withdrawn now.
  for (let actor = 0; actor < ACTORS; actor++) {
    if (m.credits[actor] === 0n) continue;
    try {
      await callAs(w, actor, "withdraw", []);
    } catch (error) {
      fail(`actor ${actor} cannot withdraw its ${m.credits[actor]} credits: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  // Drain: each open round, in the order of its createdAt + 3 * maxWindow, is settled in that very
  // second (or at once if it has passed): anyone claims the default, or, when the delivery deadline
  // is that second (every window at the ceiling), the coordinator delivers. Then everyone withdraws.
  const open = m.rounds.filter((r) => r.state === State.Open).sort((x, y) => (settleBy(x) < settleBy(y) ? -1 : settleBy(x) > settleBy(y) ? 1 : 0));
  for (const r of open) {
    const onTime = await landAt(m, settleBy(r), HOLD_LIMIT);
    const what = `drain: settling round ${r.id} (created at ${r.createdAt}) at ${nextTs(m)}, createdAt + 3 * maxWindow = ${settleBy(r)}`;
    if (nextTs(m) <= r.deliveryDeadline) {
      const shares = r.parties.map(() => WAD / 2n);
      const expected = predictDeliver(w, m, r.coordinator, r.id, shares);
      const outcome = await send(w, m, r.coordinator, "deliver", [r.id, ZERO_HASH, shares]);
      check(outcome, expected, `${what}: deliver`);
      check(outcome, true, `${what}: deliver`);
      bump(stats.ok, "drain deliver");
      if (onTime) bump(stats.events, "drain delivered at createdAt + 3 * maxWindow");
      applyDeliver(m, r, ZERO_HASH, shares);
    } else {
      const expected = predictClaimDefault(m, r.id);
      const outcome = await send(w, m, 0, "claimDefault", [r.id]);
      check(outcome, expected, `${what}: claimDefault`);
      check(outcome, true, `${what}: claimDefault`);
      bump(stats.ok, "drain claimDefault");
      if (onTime) bump(stats.events, "drain claimed the default at createdAt + 3 * maxWindow");
      applyClaimDefault(m, r);
    }
  }
  for (let actor = 0; actor < ACTORS; actor++) {
    if (m.credits[actor] === 0n) continue;
    const outcome = await send(w, m, actor, "withdraw", []);
    check(outcome, true, `drain: withdraw by actor ${actor}`);
    bump(stats.ok, "drain withdraw");
    applyWithdraw(m, actor);
  }
  const [left] = await read(w.tokenAddress, w.tokenIface, "balanceOf", [w.marketAddress]);
  if (left !== 0n || owed(m) !== 0n) fail(`after every round settled and every credit withdrawn, the market still holds ${left} tokens (model: ${owed(m)})`);
  for (let actor = 0; actor < ACTORS; actor++) {
    await checkCredits(w, m, actor);
    await checkBalance(w, m, actor);
  }
  await checkHostile(w, m);
  stats.reentryAttempts += m.reentryAttempts;
}

// ------------------------------------------------------------------ deployment

async function deploy(): Promise<World> {
  const [operator, ...others] = await hre.ethers.getSigners();
  const eoas = others.slice(0, HOSTILE);
  const token = await new ReentrantToken__factory(operator).deploy();
  const tokenAddress = await token.getAddress();
  const market = await new CollaborationRound__factory(operator).deploy(tokenAddress, MIN_WINDOW, MAX_WINDOW);
  const marketAddress = await market.getAddress();
  expect([await market.minWindow(), await market.maxWindow()], "the market's window bounds").to.deep.equal([MIN_WINDOW, MAX_WINDOW]);
  const hostile = await new HostileReceiver__factory(operator).deploy();
  const hostileAddress = await hostile.getAddress();
  for (const e of eoas) {
    await (await token.mint(e.address, INITIAL_BALANCE)).wait();
    await (await token.connect(e).approve(marketAddress, MaxUint256)).wait();
  }
  // Funded before it registers its hook, so the mint is not a reentry attempt.
  await (await token.mint(hostileAddress, INITIAL_BALANCE)).wait();
  await (await hostile.act(tokenAddress, token.interface.encodeFunctionData("registerHook"))).wait();
  await (await hostile.act(tokenAddress, token.interface.encodeFunctionData("approve", [marketAddress, MaxUint256]))).wait();
  // Every sequence starts with two open rounds (one coordinated by an EOA, one by the hostile
  // receiver, which is not armed yet), so that sequences get deep; they create more as they go.
  // Each is created in a block 12 s after the one before, so its join window is known to the second.
  const initialRounds: RoundModel[] = [];
  for (const [coordinator, items, bond, joinWindow, contributionWindow, deliveryWindow] of INITIAL_ROUNDS) {
    const createdAt = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp) + BLOCK;
    const join = createdAt + joinWindow;
    const contribution = join + contributionWindow;
    const delivery = contribution + deliveryWindow;
    const data = market.interface.encodeFunctionData("createRound", [items, bond, join, contribution, delivery]);
    await network.provider.send("evm_setNextBlockTimestamp", [Number(createdAt)]);
    if (coordinator === HOSTILE) await (await hostile.act(marketAddress, data, GAS)).wait();
    else await (await eoas[coordinator].sendTransaction({ to: marketAddress, data, ...GAS })).wait();
    expect((await hre.ethers.provider.getBlock("latest"))!.timestamp, `initial round ${initialRounds.length + 1} created at`).to.equal(Number(createdAt));
    initialRounds.push({
      id: BigInt(initialRounds.length + 1),
      createdAt,
      coordinator,
      state: State.Open,
      joinDeadline: join,
      contributionDeadline: contribution,
      deliveryDeadline: delivery,
      items,
      menuHash: menuHash(items),
      bond,
      collateral: 0n,
      parties: [],
      modelHash: ZERO_HASH,
    });
  }
  await (await hostile.arm(marketAddress, market.interface.encodeFunctionData("withdraw"))).wait();
  const block = await hre.ethers.provider.getBlock("latest");
  return {
    initialRounds,
    addresses: [...eoas.map((e) => e.address), hostileAddress],
    marketAddress,
    tokenAddress,
    hostileAddress,
    operatorAddress: operator.address,
    marketIface: market.interface as unknown as Interface,
    tokenIface: token.interface as unknown as Interface,
    hostileIface: hostile.interface as unknown as Interface,
    start: BigInt(block!.timestamp),
    guardError: market.interface.getError("ReentrancyGuardReentrantCall")!.selector,
  };
}

function freshModel(w: World): Model {
  const balances: bigint[] = Array(ACTORS).fill(INITIAL_BALANCE);
  for (const r of w.initialRounds) balances[r.coordinator] -= r.bond;
  return {
    now: w.start,
    step: 0,
    rounds: w.initialRounds.map((r) => ({ ...r, parties: [] })),
    credits: Array(ACTORS).fill(0n),
    balances,
    allowances: Array(ACTORS).fill(MaxUint256),
    reentryAttempts: 0n,
    zeroPulls: 0n,
    last: {},
    touched: freshTouched(),
  };
}

// ------------------------------------------------------------------ the test

describe("CollaborationRound invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps conservation, credits, round phases and the reentry guard, and leaves nothing unwithdrawable, over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async () => {
    const started = Date.now();
    const run = await fuzz({ deploy, model: freshModel, action: actionArb, step, invariants });
    const seconds = (Date.now() - started) / 1000;
    console.log(`      ${run.sequences} sequences, ${run.steps} steps in ${seconds.toFixed(1)} s`);
    const kinds = [...new Set([...Object.keys(stats.ok), ...Object.keys(stats.rejected)])].sort();
    for (const k of kinds) console.log(`      ${k}: ${stats.ok[k] ?? 0} succeeded, ${stats.rejected[k] ?? 0} reverted`);
    for (const [k, n] of Object.entries(stats.errors).sort()) console.log(`        ${k} x${n}`);
    for (const [k, n] of Object.entries(stats.events).sort()) console.log(`      ${k}: ${n}`);
    console.log(`      hostile reentry attempts, all refused: ${stats.reentryAttempts}`);

    expect(run.sequences).to.equal(FUZZ_RUNS);
    expect(run.steps).to.equal(FUZZ_RUNS * FUZZ_STEPS);
    if (!GENERATOR_CHECKS) return; // too few sequences to expect every path; the invariants above still held
    // Every action succeeded somewhere, the hostile receiver took part in every money-moving one.
    for (const kind of ["create", "join", "contribute", "deliver", "claimDefault", "withdraw", "advance", "approve", "arm"]) {
      expect(stats.ok[kind] ?? 0, `${kind} never succeeded`).to.be.greaterThan(0);
    }
    for (const kind of ["create", "join", "contribute", "deliver", "claimDefault", "withdraw"]) {
      expect(stats.events[`hostile ${kind}`] ?? 0, `the hostile receiver never managed ${kind}`).to.be.greaterThan(0);
    }
    expect(stats.reentryAttempts, "no reentry was attempted").to.be.greaterThan(0n);
    // Every malicious or mistaken call was refused somewhere, with the error the model predicted.
    for (const error of [
      "create: InvalidMenu",
      "create: WindowOutOfBounds",
      "create: ERC20InsufficientBalance",
      "create: ERC20InsufficientAllowance",
      "join: UnknownRound",
      "join: WrongState",
      "join: TooLate",
      "join: UnknownItem",
      "join: AlreadyJoined",
      "join: ERC20InsufficientBalance",
      "join: ERC20InsufficientAllowance",
      "contribute: UnknownRound",
      "contribute: WrongState",
      "contribute: TooLate",
      "contribute: NotJoined",
      "contribute: AlreadyContributed",
      "contribute: ContributionTooSmall",
      "deliver: UnknownRound",
      "deliver: WrongState",
      "deliver: NotCoordinator",
      "deliver: TooEarly",
      "deliver: TooLate",
      "deliver: WrongShareCount",
      "deliver: ShareTooLarge",
      "claimDefault: UnknownRound",
      "claimDefault: WrongState",
      "claimDefault: TooEarly",
      "withdraw: NothingToWithdraw",
    ]) {
      expect(stats.errors[error] ?? 0, `never saw ${error}`).to.be.greaterThan(0);
    }
    // Each window was refused below the floor, above the ceiling and when not positive (with the
    // arguments the model predicted, checked at each step), and accepted at the floor and at the ceiling.
    for (const window of WINDOWS) {
      for (const refused of ["below the floor", "above the ceiling", "not positive"]) {
        expect(stats.events[`create refused: ${window} window ${refused}`] ?? 0, `never saw the ${window} window refused ${refused}`).to.be.greaterThan(0);
      }
      for (const accepted of ["at the floor", "at the ceiling"]) {
        expect(stats.events[`created with the ${window} window ${accepted}`] ?? 0, `never saw a round created with the ${window} window ${accepted}`).to.be.greaterThan(0);
      }
    }
    // Deep states and exact boundaries were reached.
    for (const event of [
      "delivered, some forfeited",
      "delivered, everyone contributed",
      "delivered, nobody contributed",
      "delivered, no parties",
      "defaulted, some forfeited",
      "defaulted, everyone contributed",
      "defaulted, nobody contributed",
      "defaulted, no parties",
      "join at the join deadline",
      "join refused one second after the join deadline",
      "contribution at the contribution deadline",
      "contribution refused one second after its deadline",
      "delivery refused at the contribution deadline",
      "delivery at the delivery deadline",
      "delivery refused one second after its deadline",
      "default refused at the delivery deadline",
      "drain delivered at createdAt + 3 * maxWindow",
      "drain claimed the default at createdAt + 3 * maxWindow",
      "open round at or past createdAt + 3 * maxWindow can be claimed",
      "open round at createdAt + 3 * maxWindow can be delivered",
    ]) {
      expect(stats.events[event] ?? 0, `never reached: ${event}`).to.be.greaterThan(0);
    }
  });
});
