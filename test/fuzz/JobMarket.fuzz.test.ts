/**
 * Stateful invariant fuzzing of the job market (SPEC §2, MODICUM): JobMarket with its bases Escrow
 * and MediatorRegistry, deployed on a ReentrantToken so that a hostile actor (a HostileReceiver)
 * tries to reenter the market on every token transfer that touches it.
 *
 * Actors: five EOAs and the hostile contract; any of them may be a mediator, job creator (JC),
 * resource provider (RP), solver or bystander, and the same account may hold several roles in one
 * match. Each step is honest (a valid action the state allows, so sequences get deep), malicious
 * (wrong caller, replay, out-of-window, nonexistent id, tampered MatchTerms or offer, bad amounts,
 * bad terms, bad offers, an invalid pair, a wrong result count, a bond top-up to the uint96 limit,
 * a job posted on mediator terms that are stale, or matched after its mediator changed them),
 * or lets time pass. Blocks come 12 seconds apart as on
 * Ethereum (issue 12: one-second blocks hid a deposit theft); a wait sometimes lands the next
 * block exactly on a deadline or one second past it, off the 12-second grid.
 *
 * The deployment has its own window bounds, a different floor and ceiling for each window, and
 * the generators post windows at, below and above each of them; mediators state the longest job
 * they stand behind (maxJobTime), JCs the mediator terms they agree to, and resource offers the
 * windows and mediator price they accept. A mediator may leave at any time, also with bonds
 * locked in open matches: each comes back to it when its match closes, as a credit, or into its
 * free bond if it registered again meanwhile.
 *
 * The model below is an independent TypeScript account of what the market owes to whom. It
 * predicts every transaction exactly: success, or the custom error with its arguments, following
 * the contract's order of checks (the job market's math is small enough that no prediction had to
 * fall back to "succeeds or not"); every block's timestamp is set explicitly, so deadlines are
 * exact too. After every step: the market's token balance equals what the model says it owes (open offer
 * escrows + open match escrows and locked bonds + unclaimed shares + credits + free bonds +
 * mediator earnings, the NatSpec invariant of JobMarket), and the chain agrees with the model on
 * every account and object the step touched (credits, wallet balances, mediator records, offer
 * flags, match state/deadline/verdict/claimed bits/result, read under the match's full terms, and
 * the other terms and ids that must not find it). The hostile contract's
 * reentries must all fail with the reentrancy guard's error. At the end of every sequence the whole
 * state is compared, then everything is drained through the permissionless exits (expire, timeout,
 * claim, exit, withdraw): every call must succeed, every actor must receive exactly what the model
 * says it is owed, and the market must end with a zero balance.
 *
 * The bondToMax variant tops a mediator's free bond up to the uint96 limit while a bond of it is
 * locked in an open match. This suite found that closing such a match then overflowed in `_close`
 * and reverted for ever (escrow stuck); the contract now credits the part of the returning bond
 * that does not fit, and the model predicts exactly that.
 */
import { expect } from "chai";
import hre, { network } from "hardhat";
import fc from "fast-check";
import { AbiCoder, ContractTransactionResponse, Interface, ZeroAddress, ZeroHash, id, keccak256 } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { HostileReceiver__factory, JobMarket__factory, ReentrantToken__factory } from "../../typechain-types";
import type { HostileReceiver, JobMarket, ReentrantToken } from "../../typechain-types";
import type { JobOffer, JobRequest, MatchTerms, MediatorTerms, ResourceOffer, WindowBounds } from "../../sdk/src/chain/jobs";
import { MatchState, Verdict } from "../../sdk/src/chain/jobs";
import { revertData } from "../../sdk/src/chain/revert";
import { BLOCK_TIME, seededRandom } from "../helpers";
import { FUZZ_RUNS, FUZZ_SEED, FUZZ_STEPS, GENERATOR_CHECKS, Outcome, attempt, expectOutcome, fuzz, rawCall, rawTransaction } from "./harness";

// ------------------------------------------------------------------ constants

const WAD = 10n ** 18n;
const U96 = 2n ** 96n - 1n;
const MAX_N = 64;
const MAX_RATE = 1000n * WAD;
const MAX_TRUSTED = 16;
const U32 = 2 ** 32 - 1;
const HOUR = 3600;
const DAY = 24 * HOUR;
/** Seconds from one block to the next: the suite mines every block 12 s after the one before. */
const BLOCK = BigInt(BLOCK_TIME);
/**
 * The deployment's window bounds, explicit and different for each window (deployAgora's defaults
 * are a minute and a week for all three), so that a window checked against another's floor or
 * ceiling would show.
 */
const BOUNDS: WindowBounds = {
  minResultTime: 120,
  maxResultTime: 3 * DAY,
  minReactionTime: 60,
  maxReactionTime: DAY,
  minMediationTime: 90,
  maxMediationTime: 2 * DAY,
};
/** IJobMarket.Window, and each window's floor and ceiling. */
const WINDOWS = ["Result", "Reaction", "Mediation"] as const;
const WINDOW_BOUNDS: [number, number][] = [
  [BOUNDS.minResultTime, BOUNDS.maxResultTime],
  [BOUNDS.minReactionTime, BOUNDS.maxReactionTime],
  [BOUNDS.minMediationTime, BOUNDS.maxMediationTime],
];
/** The shortest job the windows allow, without its mediation window. */
const SHORTEST_WINDOWS = BOUNDS.minResultTime + BOUNDS.minReactionTime;
/** IJobMarket.OfferLimit. */
const OFFER_LIMITS = ["MinResultTime", "MaxReactionTime", "MaxMediationTime", "MaxMediatorPrice"] as const;
const T = (n: number) => BigInt(n) * WAD;
const START = T(1_000_000); // every actor's initial wallet
const GAS = { gasLimit: 5_000_000 };
const RESULTS = [id("honest result"), id("other result")];
const MATCH_TERMS_TYPE =
  "tuple(uint256 jobId,uint256 offerId,address jc,address rp,address mediator,uint96 price,uint96 deposit,uint96 ndDeposit,uint96 bond,uint16 n,uint32 reactionTime,uint32 mediationTime)";

/** Functions whose token transfers can reach the hostile actor; all are `nonReentrant`, so it arms only with these. */
const GUARDED = new Set([
  "withdraw",
  "withdrawMediatorEarnings",
  "claimShare",
  "postMatch",
  "acceptResult",
  "mediate",
  "postJobOffer",
  "postResourceOffer",
  "registerMediator",
  "addMediatorBond",
]);

const ALL_FUNCTIONS = [
  "registerMediator",
  "updateMediator",
  "addMediatorBond",
  "exitMediator",
  "withdrawMediatorBond",
  "withdrawMediatorEarnings",
  "postJobOffer",
  "cancelJobOffer",
  "expireJobOffer",
  "postResourceOffer",
  "cancelResourceOffer",
  "expireResourceOffer",
  "postMatch",
  "postResult",
  "acceptResult",
  "rejectResult",
  "mediate",
  "timeoutResult",
  "timeoutReaction",
  "timeoutMediation",
  "claimShare",
  "withdraw",
];

const MALICIOUS = [
  "replay",
  "wrongCaller",
  "outOfWindow",
  "unknownId",
  "wrongTerms",
  "badAmount",
  "badTerms",
  "badOffer",
  "badMatch",
  "wrongResultCount",
  "bondToMax",
  "staleTerms",
] as const;
type Malicious = (typeof MALICIOUS)[number];

/** Every custom error the market can raise in these flows (ZeroAddress and InvalidWindowBounds are constructor-only). */
const EXPECTED_ERRORS = [
  "InvalidMediatorTerms",
  "MediatorAlreadyRegistered",
  "UnknownMediator",
  "MediatorUnavailable",
  "InsufficientFreeBond",
  "WindowOutOfBounds",
  "MediatorTermsChanged",
  "JobTooLongForMediator",
  "OfferLimitExceeded",
  "ZeroAmount",
  "AmountTooLarge",
  "InvalidOffer",
  "NotOfferOwner",
  "OfferNotOpen",
  "OfferMismatch",
  "OfferExpired",
  "NotExpiredYet",
  "PriceBelowRequested",
  "UntrustedMediator",
  "CapacityExceeded",
  "DepositTooLow",
  "UnknownMatch",
  "TermsMismatch",
  "WrongMatchState",
  "NotParty",
  "TooLate",
  "TooEarly",
  "WrongResultCount",
  "NothingToClaim",
  "NothingToWithdraw",
  "TooManyTrustedMediators",
  "ERC20InsufficientBalance",
];

/**
 * The refusals that one error name covers several of, each of which the generator must reach: every
 * window below its floor and above its ceiling, every resource offer limit, every reason.
 */
const EXPECTED_DETAILS = [
  ...WINDOWS.flatMap((w) => [`WindowOutOfBounds ${w} below`, `WindowOutOfBounds ${w} above`]),
  ...OFFER_LIMITS.map((l) => `OfferLimitExceeded ${l}`),
  "InvalidMediatorTerms: n must be at least 1",
  "InvalidMediatorTerms: n must be at most 64",
  "InvalidMediatorTerms: PR * n must be at least 1",
  "InvalidMediatorTerms: NDPR * n must be at least 1",
  "InvalidMediatorTerms: PR and NDPR must be at most 1000",
  "InvalidMediatorTerms: max job time is shorter than the shortest job",
  "InvalidOffer: price is zero",
  "InvalidOffer: expiry is not in the future",
  "ZeroAmount: addMediatorBond",
  "ZeroAmount: withdrawMediatorBond",
  "MediatorTermsChanged: postJobOffer", // the JC's terms are stale
  "MediatorTermsChanged: postMatch", // the mediator changed its terms after the job was offered
];

/** Values exactly at a bound that the contract must accept (an off-by-one there shows as a wrong outcome). */
const EXPECTED_BOUNDARIES = [
  ...WINDOWS.flatMap((w) => [`${w} window at its floor`, `${w} window at its ceiling`]),
  "job exactly as long as the mediator's longest",
  "mediator's longest job exactly the shortest job",
  ...OFFER_LIMITS.map((l) => `match exactly at the offer's ${l}`),
  "whole free bond withdrawn",
  "offer expiring one second after its block",
];

// ------------------------------------------------------------------ world

interface Actor {
  name: string;
  address: string;
  signer?: HardhatEthersSigner; // undefined for the hostile contract, which acts through `act`
}

interface World {
  token: ReentrantToken;
  market: JobMarket;
  hostile: HostileReceiver;
  driver: HardhatEthersSigner;
  marketAddress: string;
  tokenAddress: string;
  hostileAddress: string;
  marketIface: Interface;
  tokenIface: Interface;
  hostileIface: Interface;
  actors: Actor[];
  hostileIndex: number;
  startTime: bigint;
  interfaces: Interface[];
  initialMediators: Map<string, { terms: MediatorTerms; bond: bigint }>;
}

// A stands behind any job the windows allow (exactly the longest), B only behind short ones.
const MED0: MediatorTerms = { pr: WAD / 2n, ndpr: WAD, jcPrice: T(2), rpPrice: T(3), bond: T(50), n: 3, mediationTime: 600, maxJobTime: BOUNDS.maxResultTime + BOUNDS.maxReactionTime + 600 };
const MED1: MediatorTerms = { pr: WAD, ndpr: WAD / 2n, jcPrice: 0n, rpPrice: T(1), bond: T(20), n: 2, mediationTime: 300, maxJobTime: SHORTEST_WINDOWS + 300 + 900 };

async function deploy(): Promise<World> {
  const signers = await hre.ethers.getSigners();
  const driver = signers[0];
  const eoas = signers.slice(1, 6);
  const token = await new ReentrantToken__factory(driver).deploy();
  const market = await new JobMarket__factory(driver).deploy(await token.getAddress(), BOUNDS);
  const bounds = await market.windowBounds();
  expect(
    [bounds.minResultTime, bounds.maxResultTime, bounds.minReactionTime, bounds.maxReactionTime, bounds.minMediationTime, bounds.maxMediationTime].map(Number),
    "the deployment's window bounds",
  ).to.deep.equal(WINDOW_BOUNDS.flat());
  const hostile = await new HostileReceiver__factory(driver).deploy();
  const marketAddress = await market.getAddress();
  const hostileAddress = await hostile.getAddress();
  const tokenAddress = await token.getAddress();
  const actors: Actor[] = eoas.map((s, i) => ({ name: "ABCDE"[i], address: s.address, signer: s }));
  actors.push({ name: "H", address: hostileAddress });
  for (const s of eoas) {
    await (await token.mint(s.address, START)).wait();
    await (await token.connect(s).approve(marketAddress, hre.ethers.MaxUint256)).wait();
  }
  await (await token.mint(hostileAddress, START)).wait();
  const tokenIface: Interface = token.interface;
  const marketIface: Interface = market.interface;
  await (await hostile.act(tokenAddress, tokenIface.encodeFunctionData("approve", [marketAddress, hre.ethers.MaxUint256]))).wait();
  // Two mediators to start with: an EOA and the hostile contract.
  const initialMediators = new Map<string, { terms: MediatorTerms; bond: bigint }>();
  // A's bond covers two matches at a time, then its jobs cannot be matched until one closes.
  await (await market.connect(eoas[0]).registerMediator(MED0, T(100))).wait();
  initialMediators.set(eoas[0].address, { terms: MED0, bond: T(100) });
  await (await hostile.act(marketAddress, marketIface.encodeFunctionData("registerMediator", [MED1, T(100)]))).wait();
  initialMediators.set(hostileAddress, { terms: MED1, bond: T(100) });
  // From now on every transfer from or to the hostile contract calls it back, and it reenters.
  await (await hostile.act(tokenAddress, tokenIface.encodeFunctionData("registerHook", []))).wait();
  await (await hostile.arm(marketAddress, marketIface.encodeFunctionData("withdraw", []))).wait();
  const latest = await hre.ethers.provider.getBlock("latest");
  return {
    token,
    market,
    hostile,
    driver,
    marketAddress,
    tokenAddress,
    hostileAddress,
    marketIface,
    tokenIface,
    hostileIface: hostile.interface,
    actors,
    hostileIndex: actors.length - 1,
    startTime: BigInt(latest!.timestamp),
    interfaces: [marketIface, tokenIface, hostile.interface, new Interface(["error Panic(uint256 code)"])],
    initialMediators,
  };
}

// ------------------------------------------------------------------ model

/** A job request as the contract takes it: the JC always states the mediator terms it agrees to. */
type Request = JobRequest & { terms: MediatorTerms };

interface MedM {
  active: boolean;
  terms: MediatorTerms;
  free: bigint;
  open: number;
  earnings: bigint;
}
interface JobM {
  offer: JobOffer;
  open: boolean;
}
interface OfferM {
  offer: ResourceOffer;
  open: boolean;
}
interface MatchM {
  terms: MatchTerms;
  key: string; // keccak256(abi.encode(matchId, terms)): where the contract keeps the match
  exitedWhileOpen: boolean; // its mediator left (exitMediator) while it was open
  state: MatchState;
  verdict: Verdict;
  deadline: bigint;
  result: string;
  claimed: number; // bit 0 JC, bit 1 RP, bit 2 mediator
}

type Phase = "step" | "drain";

class Model {
  time: bigint; // timestamp of the latest block; the next transaction is mined at time + 1
  wallet = new Map<string, bigint>();
  credits = new Map<string, bigint>();
  meds = new Map<string, MedM>();
  jobs = new Map<bigint, JobM>();
  offers = new Map<bigint, OfferM>();
  matches = new Map<bigint, MatchM>();
  matchKeys = new Map<string, bigint>(); // the contract's storage: a match is found only under its key
  pastTerms = new Map<string, MediatorTerms[]>(); // terms each mediator had before its current ones
  nJobs = 0n;
  nOffers = 0n;
  nMatches = 0n;
  minted: bigint;
  steps = 0;
  phase: Phase = "step";
  reentryAttempts = 0n;
  // What the last step changed, read back from the chain after it (a revert changes nothing).
  touchedCredits = new Set<string>();
  touchedWallets = new Set<string>();
  touchedMeds = new Set<string>();
  touchedMatches = new Set<bigint>();
  touchedJobs = new Set<bigint>();
  touchedOffers = new Set<bigint>();
  hostileTouched = false;

  constructor(readonly w: World) {
    this.time = w.startTime;
    this.minted = START * BigInt(w.actors.length);
    for (const a of w.actors) this.wallet.set(a.address, START);
    for (const [address, { terms, bond }] of w.initialMediators) {
      this.meds.set(address, { active: true, terms, free: bond, open: 0, earnings: 0n });
      this.wallet.set(address, START - bond);
    }
  }

  bal(a: string): bigint {
    return this.wallet.get(a) ?? 0n;
  }
  credit(a: string, amount: bigint): void {
    this.credits.set(a, (this.credits.get(a) ?? 0n) + amount);
    this.touchedCredits.add(a);
  }
  pull(a: string, amount: bigint): void {
    this.wallet.set(a, this.bal(a) - amount);
    this.touchedWallets.add(a);
  }
  pay(a: string, amount: bigint): void {
    this.wallet.set(a, this.bal(a) + amount);
    this.touchedWallets.add(a);
  }
  med(a: string): MedM | undefined {
    return this.meds.get(a);
  }
  /** A mediator record about to change. */
  touchMed(a: string): MedM | undefined {
    this.touchedMeds.add(a);
    return this.meds.get(a);
  }
  active(a: string): boolean {
    return this.meds.get(a)?.active ?? false;
  }

  /** Everything the market owes, by the model. */
  owed(): bigint {
    let total = 0n;
    for (const j of this.jobs.values()) if (j.open) total += jobEscrow(j.offer);
    for (const o of this.offers.values()) if (o.open) total += o.offer.deposit + o.offer.matchFee;
    for (const m of this.matches.values()) {
      const t = m.terms;
      if (m.state !== MatchState.Closed) total += t.price + 2n * t.deposit + t.ndDeposit + t.bond;
      else {
        const s = payouts(t, m.verdict);
        if (!(m.claimed & 1)) total += s.jc;
        if (!(m.claimed & 2)) total += s.rp;
        if (!(m.claimed & 4)) total += s.med;
      }
    }
    for (const c of this.credits.values()) total += c;
    for (const m of this.meds.values()) total += m.free + m.earnings;
    return total;
  }
}

/** D = P*PR*n and N = P*NDPR*n, floored (SPEC §2.1). */
function deposits(price: bigint, terms: MediatorTerms): { d: bigint; nd: bigint } {
  return { d: (price * terms.pr * BigInt(terms.n)) / WAD, nd: (price * terms.ndpr * BigInt(terms.n)) / WAD };
}

function jobEscrow(o: JobOffer): bigint {
  const { d, nd } = deposits(o.price, o.terms);
  return o.price + d + nd + o.matchFee + o.terms.jcPrice;
}

/** The verdict table of SPEC §2.1, written from the spec (not read from the contract). */
function payouts(t: MatchTerms, v: Verdict): { jc: bigint; rp: bigint; med: bigint } {
  const p = t.price;
  const d = t.deposit;
  const nd = t.ndDeposit;
  switch (v) {
    case Verdict.Accepted:
      return { jc: d + nd, rp: p + d, med: 0n };
    case Verdict.JobCreatorWrong:
      return { jc: nd, rp: 2n * p + d, med: d - p };
    case Verdict.ResourceProviderCheated:
      return { jc: 2n * p + d + nd, rp: 0n, med: d - p };
    case Verdict.NonDeterministic:
      return { jc: p + d, rp: p + d, med: nd - p };
    case Verdict.ResultTimeout:
      return { jc: p + 2n * d + nd, rp: 0n, med: 0n };
    case Verdict.MediationTimeout:
      return { jc: p + d + nd + t.bond / 2n, rp: d + (t.bond - t.bond / 2n), med: 0n };
    default:
      return { jc: 0n, rp: 0n, med: 0n };
  }
}

function sameTerms(a: MediatorTerms, b: MediatorTerms): boolean {
  return (
    a.pr === b.pr &&
    a.ndpr === b.ndpr &&
    a.jcPrice === b.jcPrice &&
    a.rpPrice === b.rpPrice &&
    a.bond === b.bond &&
    a.n === b.n &&
    a.mediationTime === b.mediationTime &&
    a.maxJobTime === b.maxJobTime
  );
}
function sameJob(a: JobOffer, b: JobOffer): boolean {
  return (
    a.jc === b.jc &&
    a.mediator === b.mediator &&
    a.specHash === b.specHash &&
    a.instructions === b.instructions &&
    a.bandwidth === b.bandwidth &&
    a.expiry === b.expiry &&
    a.resultTime === b.resultTime &&
    a.reactionTime === b.reactionTime &&
    a.price === b.price &&
    a.matchFee === b.matchFee &&
    sameTerms(a.terms, b.terms)
  );
}
function sameOffer(a: ResourceOffer, b: ResourceOffer): boolean {
  return (
    a.rp === b.rp &&
    a.instructionCapacity === b.instructionCapacity &&
    a.bandwidthCapacity === b.bandwidthCapacity &&
    a.expiry === b.expiry &&
    a.requestedPrice === b.requestedPrice &&
    a.matchFee === b.matchFee &&
    a.deposit === b.deposit &&
    a.minResultTime === b.minResultTime &&
    a.maxReactionTime === b.maxReactionTime &&
    a.maxMediationTime === b.maxMediationTime &&
    a.maxMediatorPrice === b.maxMediatorPrice &&
    a.trustedMediators.length === b.trustedMediators.length &&
    a.trustedMediators.every((m, i) => m === b.trustedMediators[i])
  );
}
/** Where the contract keeps a match: under the full 32-byte hash of its id and terms. */
function matchKey(matchId: bigint, t: MatchTerms): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", MATCH_TERMS_TYPE], [matchId, t]));
}

/** Terms of a match nobody posted. */
const unpostedTerms = (w: World): MatchTerms => ({
  jobId: 1n,
  offerId: 1n,
  jc: w.actors[0].address,
  rp: w.actors[1].address,
  mediator: w.actors[0].address,
  price: T(1),
  deposit: T(2),
  ndDeposit: T(3),
  bond: 0n,
  n: 1,
  reactionTime: 60,
  mediationTime: 90,
});

// ------------------------------------------------------------------ predictions

type Expect = true | { error: string; args: unknown[] };
interface Pred {
  expect: Expect;
  apply: () => void;
}
const err = (error: string, ...args: unknown[]): Pred => ({ expect: { error, args }, apply: () => {} });
const ok = (apply: () => void): Pred => ({ expect: true, apply });

/** `_checkWindow`: the window is within the deployment's floor and ceiling. */
function windowError(window: 0 | 1 | 2, seconds: number): Pred | undefined {
  const [min, max] = WINDOW_BOUNDS[window];
  if (seconds < min || seconds > max) return err("WindowOutOfBounds", window, seconds, min, max);
  return undefined;
}

function termsError(terms: MediatorTerms): Pred | undefined {
  const n = BigInt(terms.n);
  if (terms.n === 0) return err("InvalidMediatorTerms", "n must be at least 1");
  if (terms.n > MAX_N) return err("InvalidMediatorTerms", "n must be at most 64");
  if (terms.pr * n < WAD) return err("InvalidMediatorTerms", "PR * n must be at least 1");
  if (terms.ndpr * n < WAD) return err("InvalidMediatorTerms", "NDPR * n must be at least 1");
  if (terms.pr > MAX_RATE || terms.ndpr > MAX_RATE) return err("InvalidMediatorTerms", "PR and NDPR must be at most 1000");
  const window = windowError(2, terms.mediationTime);
  if (window) return window;
  if (SHORTEST_WINDOWS + terms.mediationTime > terms.maxJobTime) return err("InvalidMediatorTerms", "max job time is shorter than the shortest job");
  return undefined;
}

/** The mediator's terms are replaced: the old ones are what a JC that read them before still holds. */
function replaceTerms(m: Model, c: string, old: MediatorTerms | undefined): void {
  if (old) m.pastTerms.set(c, [...(m.pastTerms.get(c) ?? []), old]);
}

function pullCheck(m: Model, c: string, amount: bigint): Pred | undefined {
  if (amount > 0n && m.bal(c) < amount) return err("ERC20InsufficientBalance", c, m.bal(c), amount);
  return undefined;
}

function pRegister(m: Model, c: string, terms: MediatorTerms, bond: bigint): Pred {
  const rec = m.med(c);
  if (rec?.active) return err("MediatorAlreadyRegistered", c);
  const bad = termsError(terms);
  if (bad) return bad;
  const free = rec?.free ?? 0n;
  if (free + bond > U96) return err("AmountTooLarge", free + bond, U96);
  return (
    pullCheck(m, c, bond) ??
    ok(() => {
      m.touchedMeds.add(c);
      replaceTerms(m, c, rec?.terms);
      m.meds.set(c, { active: true, terms: { ...terms }, free: free + bond, open: rec?.open ?? 0, earnings: rec?.earnings ?? 0n });
      m.pull(c, bond);
    })
  );
}

function pUpdate(m: Model, c: string, terms: MediatorTerms): Pred {
  const rec = m.med(c);
  if (!rec?.active) return err("UnknownMediator", c);
  return (
    termsError(terms) ??
    ok(() => {
      replaceTerms(m, c, rec.terms);
      m.touchMed(c)!.terms = { ...terms };
    })
  );
}

function pAddBond(m: Model, c: string, amount: bigint): Pred {
  if (amount === 0n) return err("ZeroAmount");
  const rec = m.med(c);
  if (!rec?.active) return err("UnknownMediator", c);
  if (rec.free + amount > U96) return err("AmountTooLarge", rec.free + amount, U96);
  return (
    pullCheck(m, c, amount) ??
    ok(() => {
      m.touchMed(c)!.free += amount;
      m.pull(c, amount);
    })
  );
}

/** At any time: the free bond and earnings are credited now, each locked bond when its match closes (`close`). */
function pExit(m: Model, c: string): Pred {
  const rec = m.med(c);
  if (!rec?.active) return err("UnknownMediator", c);
  return ok(() => {
    m.touchMed(c);
    if (rec.free + rec.earnings > 0n) m.credit(c, rec.free + rec.earnings);
    rec.free = 0n;
    rec.earnings = 0n;
    rec.active = false;
    for (const mm of m.matches.values()) if (mm.terms.mediator === c && mm.state !== MatchState.Closed) mm.exitedWhileOpen = true;
    if (m.phase === "step" && rec.open > 0) exits.whileBusy += 1;
  });
}

function pWithdrawBond(m: Model, c: string, amount: bigint): Pred {
  if (amount === 0n) return err("ZeroAmount");
  const free = m.med(c)?.free ?? 0n;
  if (amount > free) return err("InsufficientFreeBond", c, free, amount);
  return ok(() => {
    m.touchMed(c)!.free -= amount;
    m.credit(c, amount);
  });
}

function pWithdrawEarnings(m: Model, c: string): Pred {
  const rec = m.med(c);
  const amount = rec?.earnings ?? 0n;
  if (amount === 0n) return err("NothingToWithdraw", c);
  return ok(() => {
    m.touchMed(c)!.earnings = 0n;
    m.pay(c, amount);
  });
}

function pPostJob(m: Model, c: string, req: Request, t: bigint): Pred {
  if (req.price === 0n) return err("InvalidOffer", "price is zero");
  if (req.expiry <= t) return err("InvalidOffer", "expiry is not in the future");
  const window = windowError(0, req.resultTime) ?? windowError(1, req.reactionTime);
  if (window) return window;
  const rec = m.med(req.mediator);
  if (!rec?.active) return err("UnknownMediator", req.mediator);
  if (!sameTerms(req.terms, rec.terms)) return err("MediatorTermsChanged", req.mediator);
  const jobTime = req.resultTime + req.reactionTime + rec.terms.mediationTime;
  if (jobTime > rec.terms.maxJobTime) return err("JobTooLongForMediator", req.mediator, jobTime, rec.terms.maxJobTime);
  const offer: JobOffer = { jc: c, ...req, terms: { ...rec.terms } };
  const { d, nd } = deposits(req.price, rec.terms);
  if (d > U96) return err("AmountTooLarge", d, U96);
  if (nd > U96) return err("AmountTooLarge", nd, U96);
  const escrow = jobEscrow(offer);
  return (
    pullCheck(m, c, escrow) ??
    ok(() => {
      const jobId = ++m.nJobs;
      m.jobs.set(jobId, { offer, open: true });
      m.touchedJobs.add(jobId);
      m.pull(c, escrow);
    })
  );
}

function takeJob(m: Model, jobId: bigint, offer: JobOffer): { pred?: Pred; job?: JobM } {
  const job = m.jobs.get(jobId);
  if (!job?.open) return { pred: err("OfferNotOpen", jobId) };
  if (!sameJob(job.offer, offer)) return { pred: err("OfferMismatch", jobId) };
  return { job };
}

function takeOffer(m: Model, offerId: bigint, offer: ResourceOffer): { pred?: Pred; res?: OfferM } {
  const res = m.offers.get(offerId);
  if (!res?.open) return { pred: err("OfferNotOpen", offerId) };
  if (!sameOffer(res.offer, offer)) return { pred: err("OfferMismatch", offerId) };
  return { res };
}

function pCloseJob(m: Model, c: string, jobId: bigint, offer: JobOffer, t: bigint, expire: boolean): Pred {
  const { pred, job } = takeJob(m, jobId, offer);
  if (pred) return pred;
  if (!expire && c !== offer.jc) return err("NotOfferOwner", offer.jc, c);
  if (expire && t <= offer.expiry) return err("NotExpiredYet", jobId, offer.expiry, t);
  return ok(() => {
    job!.open = false;
    m.credit(offer.jc, jobEscrow(offer));
  });
}

function pPostOffer(m: Model, c: string, req: ResourceOffer, t: bigint): Pred {
  if (req.expiry <= t) return err("InvalidOffer", "expiry is not in the future");
  if (req.trustedMediators.length > MAX_TRUSTED) return err("TooManyTrustedMediators", req.trustedMediators.length, MAX_TRUSTED);
  const escrow = req.deposit + req.matchFee;
  return (
    pullCheck(m, c, escrow) ??
    ok(() => {
      const offerId = ++m.nOffers;
      m.offers.set(offerId, { offer: { ...req, rp: c, trustedMediators: [...req.trustedMediators] }, open: true });
      m.touchedOffers.add(offerId);
      m.pull(c, escrow);
    })
  );
}

function pCloseOffer(m: Model, c: string, offerId: bigint, offer: ResourceOffer, t: bigint, expire: boolean): Pred {
  const { pred, res } = takeOffer(m, offerId, offer);
  if (pred) return pred;
  if (!expire && c !== offer.rp) return err("NotOfferOwner", offer.rp, c);
  if (expire && t <= offer.expiry) return err("NotExpiredYet", offerId, offer.expiry, t);
  return ok(() => {
    res!.open = false;
    m.credit(offer.rp, offer.deposit + offer.matchFee);
  });
}

function pMatch(m: Model, c: string, jobId: bigint, job: JobOffer, offerId: bigint, offer: ResourceOffer, t: bigint): Pred {
  const j = takeJob(m, jobId, job);
  if (j.pred) return j.pred;
  const o = takeOffer(m, offerId, offer);
  if (o.pred) return o.pred;
  if (t > job.expiry) return err("OfferExpired", jobId, job.expiry, t);
  if (t > offer.expiry) return err("OfferExpired", offerId, offer.expiry, t);
  if (job.price < offer.requestedPrice) return err("PriceBelowRequested", job.price, offer.requestedPrice);
  if (!offer.trustedMediators.includes(job.mediator)) return err("UntrustedMediator", offerId, job.mediator);
  if (job.instructions > offer.instructionCapacity || job.bandwidth > offer.bandwidthCapacity) {
    return err("CapacityExceeded", job.instructions, offer.instructionCapacity, job.bandwidth, offer.bandwidthCapacity);
  }
  // The RP's consent, in the contract's order (IJobMarket.OfferLimit).
  if (job.resultTime < offer.minResultTime) return err("OfferLimitExceeded", offerId, 0, job.resultTime, offer.minResultTime);
  if (job.reactionTime > offer.maxReactionTime) return err("OfferLimitExceeded", offerId, 1, job.reactionTime, offer.maxReactionTime);
  if (job.terms.mediationTime > offer.maxMediationTime) return err("OfferLimitExceeded", offerId, 2, job.terms.mediationTime, offer.maxMediationTime);
  if (job.terms.rpPrice > offer.maxMediatorPrice) return err("OfferLimitExceeded", offerId, 3, job.terms.rpPrice, offer.maxMediatorPrice);
  const med = m.med(job.mediator);
  if (!med?.active || med.free < job.terms.bond) return err("MediatorUnavailable", job.mediator, med?.free ?? 0n, job.terms.bond);
  // A job binds its mediator only to the terms it still offers: an update voids unmatched jobs.
  if (!sameTerms(job.terms, med.terms)) return err("MediatorTermsChanged", job.mediator);
  const { d, nd } = deposits(job.price, job.terms);
  const need = d + job.terms.rpPrice;
  if (offer.deposit < need) return err("DepositTooLow", need, offer.deposit);
  const earnings = med.earnings + job.terms.jcPrice + job.terms.rpPrice;
  if (earnings > U96) return err("AmountTooLarge", earnings, U96);
  return ok(() => {
    j.job!.open = false;
    o.res!.open = false;
    med.free -= job.terms.bond;
    med.open += 1;
    med.earnings = earnings;
    m.touchMed(job.mediator);
    const matchId = ++m.nMatches;
    const terms: MatchTerms = {
      jobId,
      offerId,
      jc: job.jc,
      rp: offer.rp,
      mediator: job.mediator,
      price: job.price,
      deposit: d,
      ndDeposit: nd,
      bond: job.terms.bond,
      n: job.terms.n,
      reactionTime: job.reactionTime,
      mediationTime: job.terms.mediationTime,
    };
    const key = matchKey(matchId, terms);
    m.matches.set(matchId, { terms, key, exitedWhileOpen: false, state: MatchState.AwaitingResult, verdict: Verdict.None, deadline: t + BigInt(job.resultTime), result: ZeroHash, claimed: 0 });
    m.matchKeys.set(key, matchId);
    m.touchedMatches.add(matchId);
    if (offer.deposit > need) m.credit(offer.rp, offer.deposit - need);
    m.pay(c, job.matchFee + offer.matchFee);
  });
}

/**
 * `_status`: a match is stored under the hash of its id and terms, so one looked up with other
 * terms is not found; then it is a mismatch if the id was posted, unknown if not. Found, it must be in `state`.
 */
function status(m: Model, matchId: bigint, terms: MatchTerms, state: MatchState): { pred?: Pred; mm?: MatchM } {
  const found = m.matchKeys.get(matchKey(matchId, terms));
  if (found === undefined) return { pred: matchId === 0n || matchId > m.nMatches ? err("UnknownMatch", matchId) : err("TermsMismatch", matchId) };
  const mm = m.matches.get(found)!;
  if (mm.state !== state) return { pred: err("WrongMatchState", matchId, mm.state) };
  return { mm };
}

const verdictCounts = new Map<string, number>();

function close(m: Model, mm: MatchM, verdict: Verdict): void {
  mm.state = MatchState.Closed;
  mm.verdict = verdict;
  const med = m.touchMed(mm.terms.mediator)!;
  med.open -= 1;
  if (verdict !== Verdict.MediationTimeout && !med.active) {
    // The mediator has left: its bond is credited to it.
    m.credit(mm.terms.mediator, mm.terms.bond);
    if (m.phase === "step" && mm.terms.bond > 0n) exits.bondCreditedOnClose += 1;
  } else if (verdict !== Verdict.MediationTimeout) {
    // The bond comes back to the free bond (also of a mediator that left and registered again
    // while the match was open); what would not fit its 96 bits is credited instead.
    if (m.phase === "step" && mm.exitedWhileOpen && mm.terms.bond > 0n) exits.bondBackAfterRejoin += 1;
    const free = med.free + mm.terms.bond;
    const max = 2n ** 96n - 1n;
    if (free > max) m.credit(mm.terms.mediator, free - max);
    med.free = free > max ? max : free;
  }
  if (m.phase === "step") verdictCounts.set(Verdict[verdict], (verdictCounts.get(Verdict[verdict]) ?? 0) + 1);
}

/** `_payCaller`: the caller's unclaimed shares in a closed match (as JC, RP and/or mediator). */
function callerShare(mm: MatchM, c: string): { amount: bigint; claimed: number } {
  const s = payouts(mm.terms, mm.verdict);
  let amount = 0n;
  let claimed = mm.claimed;
  if (c === mm.terms.jc && !(claimed & 1)) {
    claimed |= 1;
    amount += s.jc;
  }
  if (c === mm.terms.rp && !(claimed & 2)) {
    claimed |= 2;
    amount += s.rp;
  }
  if (c === mm.terms.mediator && !(claimed & 4)) {
    claimed |= 4;
    amount += s.med;
  }
  return { amount, claimed };
}

function payCaller(m: Model, mm: MatchM, c: string): void {
  const { amount, claimed } = callerShare(mm, c);
  mm.claimed = claimed;
  if (amount > 0n) m.pay(c, amount);
}

function pPostResult(m: Model, c: string, matchId: bigint, terms: MatchTerms, hash: string, t: bigint): Pred {
  const { pred, mm } = status(m, matchId, terms, MatchState.AwaitingResult);
  if (pred) return pred;
  if (c !== terms.rp) return err("NotParty", matchId, c);
  if (t > mm!.deadline) return err("TooLate", matchId, mm!.deadline, t);
  return ok(() => {
    mm!.result = hash;
    mm!.state = MatchState.ResultPosted;
    mm!.deadline = t + BigInt(terms.reactionTime);
  });
}

function pReact(m: Model, c: string, matchId: bigint, terms: MatchTerms, t: bigint, accept: boolean): Pred {
  const { pred, mm } = status(m, matchId, terms, MatchState.ResultPosted);
  if (pred) return pred;
  if (c !== terms.jc) return err("NotParty", matchId, c);
  if (t > mm!.deadline) return err("TooLate", matchId, mm!.deadline, t);
  if (accept) {
    return ok(() => {
      close(m, mm!, Verdict.Accepted);
      payCaller(m, mm!, c);
    });
  }
  return ok(() => {
    mm!.state = MatchState.Mediating;
    mm!.deadline = t + BigInt(terms.mediationTime);
  });
}

function pMediate(m: Model, c: string, matchId: bigint, terms: MatchTerms, hashes: string[], t: bigint): Pred {
  const { pred, mm } = status(m, matchId, terms, MatchState.Mediating);
  if (pred) return pred;
  if (c !== terms.mediator) return err("NotParty", matchId, c);
  if (t > mm!.deadline) return err("TooLate", matchId, mm!.deadline, t);
  if (hashes.length !== terms.n) return err("WrongResultCount", matchId, hashes.length, terms.n);
  const verdict = hashes.some((h) => h !== hashes[0])
    ? Verdict.NonDeterministic
    : hashes[0] === mm!.result
      ? Verdict.JobCreatorWrong
      : Verdict.ResourceProviderCheated;
  return ok(() => {
    close(m, mm!, verdict);
    payCaller(m, mm!, c);
  });
}

const TIMEOUTS: Record<string, [MatchState, Verdict]> = {
  timeoutResult: [MatchState.AwaitingResult, Verdict.ResultTimeout],
  timeoutReaction: [MatchState.ResultPosted, Verdict.Accepted],
  timeoutMediation: [MatchState.Mediating, Verdict.MediationTimeout],
};

function pTimeout(m: Model, fn: string, matchId: bigint, terms: MatchTerms, t: bigint): Pred {
  const [state, verdict] = TIMEOUTS[fn];
  const { pred, mm } = status(m, matchId, terms, state);
  if (pred) return pred;
  if (t <= mm!.deadline) return err("TooEarly", matchId, mm!.deadline, t);
  return ok(() => close(m, mm!, verdict));
}

function pClaim(m: Model, c: string, matchId: bigint, terms: MatchTerms): Pred {
  const { pred, mm } = status(m, matchId, terms, MatchState.Closed);
  if (pred) return pred;
  if (c !== terms.jc && c !== terms.rp && c !== terms.mediator) return err("NotParty", matchId, c);
  if (callerShare(mm!, c).amount === 0n) return err("NothingToClaim", matchId, c);
  return ok(() => payCaller(m, mm!, c));
}

function pWithdraw(m: Model, c: string): Pred {
  const amount = m.credits.get(c) ?? 0n;
  if (amount === 0n) return err("NothingToWithdraw", c);
  return ok(() => {
    m.credits.set(c, 0n);
    m.touchedCredits.add(c);
    m.pay(c, amount);
  });
}

// ------------------------------------------------------------------ plans

/** One transaction to try: who, what, and (at the block's timestamp t) what the model predicts. */
interface Plan {
  fn: string;
  actor: number;
  args: unknown[];
  label: string; // "honest", a malicious variant, or "drain"
  predict: (t: bigint) => Pred;
  mint?: bigint; // tokens the test gives the actor first (bondToMax)
  alsoAccept?: string; // a revert that is as correct as the predicted outcome (bondToMax)
  first?: Plan; // a transaction of another actor in the block before (staleTerms: the mediator updates its terms)
}

type Random = () => number;
class Rng {
  constructor(readonly next: Random) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<X>(xs: readonly X[]): X | undefined {
    return xs.length ? xs[Math.floor(this.next() * xs.length)] : undefined;
  }
  weighted<X>(options: [number, X][]): X | undefined {
    const total = options.reduce((a, [w]) => a + w, 0);
    if (total <= 0) return undefined;
    let r = this.next() * total;
    for (const [w, x] of options) if ((r -= w) < 0) return x;
    return options[options.length - 1][1];
  }
  shuffle<X>(xs: readonly X[]): X[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const k = Math.floor(this.next() * (i + 1));
      [out[i], out[k]] = [out[k], out[i]];
    }
    return out;
  }
}

function validTerms(r: Rng): MediatorTerms {
  const n = r.pick([1, 2, 2, 3, 3, 4, 4, r.chance(0.1) ? MAX_N : 3])!;
  // The mediation window at its floor, at its ceiling, or in between; the longest job from exactly
  // the shortest the windows allow to no limit at all.
  const mediationTime = r.weighted([
    [2, BOUNDS.minMediationTime],
    [3, 300],
    [3, 900],
    [1, BOUNDS.maxMediationTime],
  ])!;
  const shortest = SHORTEST_WINDOWS + mediationTime;
  // PR * n and NDPR * n in {1, 1.5, 2, 3}, rounded up so that the product is at least that.
  const rate = () => {
    const [num, den] = r.pick([[1n, 1n], [3n, 2n], [2n, 1n], [3n, 1n]] as const)!;
    return (num * WAD + den * BigInt(n) - 1n) / (den * BigInt(n));
  };
  return {
    pr: rate(),
    ndpr: rate(),
    jcPrice: r.pick([0n, T(1), T(2)])!,
    rpPrice: r.pick([0n, T(1), T(3)])!,
    bond: r.pick([0n, T(10), T(20), T(50)])!,
    n,
    mediationTime,
    maxJobTime: r.weighted([
      [2, shortest], // exactly the shortest job the windows allow
      [4, shortest + r.int(300, 3000)],
      [2, BOUNDS.maxResultTime + BOUNDS.maxReactionTime + mediationTime], // every job fits
      [1, U32],
    ])!,
  };
}

/** Terms that break one bound; which one is drawn first, so that each comes up as often. */
function invalidTerms(r: Rng): MediatorTerms {
  const kind = r.int(0, 8);
  const base = validTerms(r);
  const n = BigInt(base.n);
  const variants: (() => MediatorTerms)[] = [
    () => ({ ...base, n: 0 }),
    () => ({ ...base, n: MAX_N + 1 }),
    () => ({ ...base, pr: (WAD - 1n) / n }),
    () => ({ ...base, ndpr: (WAD - 1n) / n }),
    () => ({ ...base, pr: MAX_RATE + 1n }),
    () => ({ ...base, ndpr: MAX_RATE + 1n }),
    () => ({ ...base, mediationTime: outOfBounds(r, 2, "below") }),
    () => ({ ...base, mediationTime: outOfBounds(r, 2, "above") }),
    () => ({ ...base, maxJobTime: r.chance(0.7) ? SHORTEST_WINDOWS + base.mediationTime - 1 : 0 }),
  ];
  return variants[kind]();
}

/** Another uint32: one more, or one less at the type's maximum. */
function bump(x: number): number {
  return x === U32 ? x - 1 : x + 1;
}

/** A window for `window` below its floor or above its ceiling, by one second or by far. */
function outOfBounds(r: Rng, window: 0 | 1 | 2, side: "below" | "above" = r.pick(["below", "above"] as const)!): number {
  const [min, max] = WINDOW_BOUNDS[window];
  return side === "below" ? r.pick([0, min - 1])! : r.pick([max + 1, U32])!;
}

class Builder {
  constructor(
    readonly w: World,
    readonly m: Model,
    readonly r: Rng,
  ) {}

  /** The timestamp of the next block (the one a plan made now is mined in). */
  get t(): bigint {
    return this.m.time + BLOCK;
  }
  idx(address: string): number {
    return this.w.actors.findIndex((a) => a.address === address);
  }
  anyActor(): number {
    return this.r.int(0, this.w.actors.length - 1);
  }
  otherThan(...addresses: string[]): number | undefined {
    return this.r.pick(this.w.actors.map((_, i) => i).filter((i) => !addresses.includes(this.w.actors[i].address)));
  }
  activeMeds(): string[] {
    return [...this.m.meds.entries()].filter(([, r]) => r.active).map(([a]) => a);
  }
  openJobs(): [bigint, JobM][] {
    return [...this.m.jobs.entries()].filter(([, j]) => j.open);
  }
  closedJobs(): [bigint, JobM][] {
    return [...this.m.jobs.entries()].filter(([, j]) => !j.open);
  }
  openOffers(): [bigint, OfferM][] {
    return [...this.m.offers.entries()].filter(([, o]) => o.open);
  }
  closedOffers(): [bigint, OfferM][] {
    return [...this.m.offers.entries()].filter(([, o]) => !o.open);
  }
  matchesIn(state: MatchState, window?: "before" | "after"): [bigint, MatchM][] {
    const t = this.t;
    return [...this.m.matches.entries()].filter(
      ([, mm]) => mm.state === state && (window === undefined || (window === "before" ? t <= mm.deadline : t > mm.deadline)),
    );
  }
  pairs(valid: boolean): [bigint, JobOffer, bigint, ResourceOffer][] {
    const out: [bigint, JobOffer, bigint, ResourceOffer][] = [];
    for (const [jobId, j] of this.openJobs()) {
      for (const [offerId, o] of this.openOffers()) {
        const probe = pMatch(this.m, ZeroAddress, jobId, j.offer, offerId, o.offer, this.t).expect === true;
        if (probe === valid) out.push([jobId, j.offer, offerId, o.offer]);
      }
    }
    return out;
  }
  claimables(): [bigint, MatchM, string][] {
    const out: [bigint, MatchM, string][] = [];
    for (const [matchId, mm] of this.m.matches) {
      if (mm.state !== MatchState.Closed) continue;
      for (const who of new Set([mm.terms.jc, mm.terms.rp, mm.terms.mediator])) if (callerShare(mm, who).amount > 0n) out.push([matchId, mm, who]);
    }
    return out;
  }
  creditors(): string[] {
    return [...this.m.credits.entries()].filter(([, c]) => c > 0n).map(([a]) => a);
  }
  earners(): string[] {
    return [...this.m.meds.entries()].filter(([, r]) => r.earnings > 0n).map(([a]) => a);
  }

  plan(fn: string, actor: number, args: unknown[], label: string, predict: (t: bigint) => Pred): Plan {
    return { fn, actor, args, label, predict };
  }
  addr(i: number): string {
    return this.w.actors[i].address;
  }

  // ---------------------------------------------------------------- honest actions

  /** An expiry in the future: usually minutes away, sometimes one second after the next block. */
  expiry(): bigint {
    return this.r.chance(0.04) ? this.t + 1n : this.m.time + BigInt(this.r.int(200, 3000));
  }

  /**
   * A job for `mediator` on the terms the JC read (its current ones, or `terms`): windows at their
   * floors, ceilings or in between, within the mediator's longest job, sometimes exactly filling it.
   */
  jobRequest(mediator: string, terms: MediatorTerms = this.m.med(mediator)?.terms ?? validTerms(this.r)): Request {
    const r = this.r;
    const budget = terms.maxJobTime - terms.mediationTime; // at least SHORTEST_WINDOWS for valid terms
    const window = (window: 0 | 1, room: number): number => {
      const [min, max] = WINDOW_BOUNDS[window];
      const wanted = r.weighted([
        [2, min],
        [5, r.int(min, 900)],
        [1.5, max],
      ])!;
      return Math.max(min, Math.min(wanted, max, room));
    };
    const resultTime = window(0, budget - BOUNDS.minReactionTime);
    const reactionTime = r.chance(0.15) ? Math.max(BOUNDS.minReactionTime, Math.min(BOUNDS.maxReactionTime, budget - resultTime)) : window(1, budget - resultTime);
    return {
      mediator,
      specHash: id(`spec ${r.int(0, 1e9)}`),
      instructions: BigInt(r.int(1, 100)),
      bandwidth: BigInt(r.int(1, 100)),
      expiry: this.expiry(),
      resultTime,
      reactionTime,
      price: T(r.int(1, 100)) + (r.chance(0.3) ? BigInt(r.int(1, 1e9)) : 0n),
      matchFee: r.chance(0.3) ? 0n : T(r.int(1, 5)),
      terms: { ...terms },
    };
  }

  resourceRequest(): ResourceOffer {
    const r = this.r;
    // Sometimes an offer that some jobs cannot match: for one reason, or a limit it states, or
    // both (which shows the order of the checks).
    const flaws = new Set<string>();
    if (r.chance(0.4)) flaws.add(r.pick(["trust", "capacity", "price", "deposit"])!);
    if (r.chance(0.3)) flaws.add(r.pick(["minResult", "maxReaction", "maxMediation", "mediatorPrice"])!);
    const meds = this.activeMeds();
    const trusted = flaws.has("trust") ? r.shuffle(meds).slice(0, r.int(0, meds.length - 1)) : r.shuffle(meds);
    if (r.chance(0.2)) trusted.push(this.addr(this.anyActor())); // trusting a non-mediator is allowed
    return {
      rp: this.addr(this.anyActor()), // ignored: the caller is the RP
      instructionCapacity: BigInt(flaws.has("capacity") && r.chance(0.5) ? r.int(0, 50) : r.int(100, 200)),
      bandwidthCapacity: BigInt(flaws.has("capacity") ? r.int(0, 50) : r.int(100, 200)),
      expiry: this.expiry(),
      requestedPrice: flaws.has("price") ? T(r.int(50, 120)) : T(r.int(0, 10)),
      matchFee: r.chance(0.3) ? 0n : T(r.int(1, 4)),
      deposit: flaws.has("deposit") ? T(r.int(0, 100)) : T(r.int(400, 1000)),
      // The limits the RP consents to: without a flaw every honest job fits them (some exactly:
      // the result window's floor, the largest RP price the mediators ask).
      minResultTime: flaws.has("minResult") ? r.int(200, 900) : r.pick([0, BOUNDS.minResultTime])!,
      maxReactionTime: flaws.has("maxReaction") ? r.pick([BOUNDS.minReactionTime, r.int(BOUNDS.minReactionTime, 600)])! : r.pick([BOUNDS.maxReactionTime, U32])!,
      // (A flawed longest mediation window is often exactly some mediator's: its jobs fit, longer ones do not.)
      maxMediationTime: flaws.has("maxMediation")
        ? (meds.length && r.chance(0.5) ? this.m.med(r.pick(meds)!)!.terms.mediationTime : r.pick([BOUNDS.minMediationTime, 300, r.int(BOUNDS.minMediationTime, 900)])!)
        : r.pick([BOUNDS.maxMediationTime, U32, Math.max(BOUNDS.minMediationTime, ...meds.map((a) => this.m.med(a)!.terms.mediationTime))])!, // (the last: the longest its mediators take today)
      maxMediatorPrice: flaws.has("mediatorPrice") ? r.pick([0n, T(1)])! : r.pick([T(3), U96])!,
      trustedMediators: trusted,
    };
  }

  mediatorHashes(mm: MatchM, kind: "agree" | "disagree" | "nondet"): string[] {
    const n = mm.terms.n;
    const other = mm.result === RESULTS[0] ? RESULTS[1] : RESULTS[0];
    if (kind === "nondet" && n >= 2) {
      const hashes = Array.from({ length: n }, () => this.r.pick([mm.result, other])!);
      hashes[this.r.int(0, n - 1)] = hashes[0] === mm.result ? other : mm.result; // not all equal
      return hashes;
    }
    return Array(n).fill(kind === "agree" ? mm.result : other);
  }

  honest(): Plan | undefined {
    const { m, r } = this;
    const H = "honest";
    const meds = this.activeMeds();
    const inactive = this.w.actors.map((_, i) => i).filter((i) => !m.active(this.addr(i)));
    // Mediators that left with bonds still locked: registering again brings those bonds back to the free bond.
    const leftBusy = inactive.filter((i) => (m.med(this.addr(i))?.open ?? 0) > 0);
    const busyMeds = meds.filter((a) => m.med(a)!.open > 0);
    const bonded = meds.filter((a) => m.med(a)!.free > 0n);
    const validPairs = this.pairs(true);
    const awaiting = this.matchesIn(MatchState.AwaitingResult, "before");
    const posted = this.matchesIn(MatchState.ResultPosted, "before");
    // A mediator that has left still rules, but less often: it may be gone (its matches then time
    // out); the hostile one is silent half the time.
    const mediating = this.matchesIn(MatchState.Mediating, "before").filter(([, mm]) =>
      r.chance(!m.active(mm.terms.mediator) ? 0.2 : this.idx(mm.terms.mediator) === this.w.hostileIndex ? 0.5 : 1),
    );
    const lateAwaiting = this.matchesIn(MatchState.AwaitingResult, "after");
    const latePosted = this.matchesIn(MatchState.ResultPosted, "after");
    const lateMediating = this.matchesIn(MatchState.Mediating, "after");
    const claimables = this.claimables();
    const creditors = this.creditors();
    const earners = this.earners();
    const openJobs = this.openJobs();
    const openOffers = this.openOffers();
    const expiredJobs = openJobs.filter(([, j]) => this.t > j.offer.expiry);
    // Jobs whose mediator has changed its terms since: no match can take them, their JCs cancel them.
    const voidedJobs = openJobs.filter(([, j]) => !sameTerms(j.offer.terms, m.med(j.offer.mediator)!.terms));
    const expiredOffers = openOffers.filter(([, o]) => this.t > o.offer.expiry);
    const choice = r.weighted<() => Plan>([
      [inactive.length ? (meds.length ? (leftBusy.length ? 3 : 0.8) : 4) : 0, () => {
        const i = r.pick(leftBusy.length && r.chance(0.6) ? leftBusy : inactive)!;
        const terms = validTerms(r);
        const bond = r.pick([0n, T(10), T(50), T(100), T(300)])!;
        return this.plan("registerMediator", i, [terms, bond], H, () => pRegister(m, this.addr(i), terms, bond));
      }],
      [meds.length ? 0.5 : 0, () => {
        const i = this.idx(r.pick(meds)!);
        const terms = validTerms(r);
        return this.plan("updateMediator", i, [terms], H, () => pUpdate(m, this.addr(i), terms));
      }],
      [meds.length ? 1 : 0, () => {
        const i = this.idx(r.pick(meds)!);
        const amount = T(r.int(1, 200));
        return this.plan("addMediatorBond", i, [amount], H, () => pAddBond(m, this.addr(i), amount));
      }],
      // A mediator leaves at any time, also with jobs open (their bonds come back as they close).
      [meds.length > 1 || (meds.length && inactive.length) ? (busyMeds.length ? 3 : 0.5) : 0, () => {
        const i = this.idx(r.pick(busyMeds.length && r.chance(0.75) ? busyMeds : meds)!);
        return this.plan("exitMediator", i, [], H, () => pExit(m, this.addr(i)));
      }],
      [bonded.length ? 0.7 : 0, () => {
        const a = r.pick(bonded)!;
        const free = m.med(a)!.free;
        const part = T(r.int(1, 60));
        const amount = r.chance(0.3) || part > free ? free : part;
        return this.plan("withdrawMediatorBond", this.idx(a), [amount], H, () => pWithdrawBond(m, a, amount));
      }],
      [earners.length ? 1.5 : 0, () => {
        const i = this.idx(r.pick(earners)!);
        return this.plan("withdrawMediatorEarnings", i, [], H, () => pWithdrawEarnings(m, this.addr(i)));
      }],
      // New offers mostly when few are open, so that sequences go on to match them.
      [meds.length ? (openJobs.length < 2 ? 6 : openJobs.length < 4 ? 2 : 0.5) : 0, () => {
        const i = this.anyActor();
        const req = this.jobRequest(r.pick(meds)!);
        return this.plan("postJobOffer", i, [req], H, (t) => pPostJob(m, this.addr(i), req, t));
      }],
      [openOffers.length < 2 ? 5 : openOffers.length < 4 ? 2 : 0.5, () => {
        const i = this.anyActor();
        const req = this.resourceRequest();
        return this.plan("postResourceOffer", i, [req], H, (t) => pPostOffer(m, this.addr(i), req, t));
      }],
      [openJobs.length ? (voidedJobs.length ? 1.5 : 0.6) : 0, () => {
        const [jobId, j] = r.pick(voidedJobs.length && r.chance(0.7) ? voidedJobs : openJobs)!;
        const i = this.idx(j.offer.jc);
        return this.plan("cancelJobOffer", i, [jobId, j.offer], H, (t) => pCloseJob(m, this.addr(i), jobId, j.offer, t, false));
      }],
      [openOffers.length ? 0.6 : 0, () => {
        const [offerId, o] = r.pick(openOffers)!;
        const i = this.idx(o.offer.rp);
        return this.plan("cancelResourceOffer", i, [offerId, o.offer], H, (t) => pCloseOffer(m, this.addr(i), offerId, o.offer, t, false));
      }],
      [expiredJobs.length ? 1.5 : 0, () => {
        const [jobId, j] = r.pick(expiredJobs)!;
        const i = this.anyActor();
        return this.plan("expireJobOffer", i, [jobId, j.offer], H, (t) => pCloseJob(m, this.addr(i), jobId, j.offer, t, true));
      }],
      [expiredOffers.length ? 1.5 : 0, () => {
        const [offerId, o] = r.pick(expiredOffers)!;
        const i = this.anyActor();
        return this.plan("expireResourceOffer", i, [offerId, o.offer], H, (t) => pCloseOffer(m, this.addr(i), offerId, o.offer, t, true));
      }],
      // Progress of existing matches weighs most, so that sequences reach verdicts.
      [validPairs.length ? 14 : 0, () => {
        const [jobId, job, offerId, offer] = r.pick(validPairs)!;
        const i = this.anyActor();
        return this.plan("postMatch", i, [jobId, job, offerId, offer], H, (t) => pMatch(m, this.addr(i), jobId, job, offerId, offer, t));
      }],
      [awaiting.length ? 12 : 0, () => {
        const [matchId, mm] = r.pick(awaiting)!;
        const i = this.idx(mm.terms.rp);
        const hash = r.chance(0.05) ? ZeroHash : r.chance(0.8) ? RESULTS[0] : RESULTS[1];
        return this.plan("postResult", i, [matchId, mm.terms, hash], H, (t) => pPostResult(m, this.addr(i), matchId, mm.terms, hash, t));
      }],
      [posted.length ? 5 : 0, () => {
        const [matchId, mm] = r.pick(posted)!;
        const i = this.idx(mm.terms.jc);
        return this.plan("acceptResult", i, [matchId, mm.terms], H, (t) => pReact(m, this.addr(i), matchId, mm.terms, t, true));
      }],
      [posted.length ? 8 : 0, () => {
        const [matchId, mm] = r.pick(posted)!;
        const i = this.idx(mm.terms.jc);
        return this.plan("rejectResult", i, [matchId, mm.terms], H, (t) => pReact(m, this.addr(i), matchId, mm.terms, t, false));
      }],
      [mediating.length ? 12 : 0, () => {
        const [matchId, mm] = r.pick(mediating)!;
        const i = this.idx(mm.terms.mediator);
        const hashes = this.mediatorHashes(mm, r.pick(["agree", "disagree", "nondet"] as const)!);
        return this.plan("mediate", i, [matchId, mm.terms, hashes], H, (t) => pMediate(m, this.addr(i), matchId, mm.terms, hashes, t));
      }],
      ...(
        [
          ["timeoutResult", lateAwaiting],
          ["timeoutReaction", latePosted],
          ["timeoutMediation", lateMediating],
        ] as const
      ).map(([fn, list]): [number, () => Plan] => [
        list.length ? 6 : 0,
        () => {
          const [matchId, mm] = r.pick(list)!;
          const i = this.anyActor();
          return this.plan(fn, i, [matchId, mm.terms], H, (t) => pTimeout(m, fn, matchId, mm.terms, t));
        },
      ]),
      [claimables.length ? 3 : 0, () => {
        const [matchId, mm, who] = r.pick(claimables)!;
        const i = this.idx(who);
        return this.plan("claimShare", i, [matchId, mm.terms], H, () => pClaim(m, this.addr(i), matchId, mm.terms));
      }],
      [creditors.length ? 2 : 0, () => {
        const i = this.idx(r.pick(creditors)!);
        return this.plan("withdraw", i, [], H, () => pWithdraw(m, this.addr(i)));
      }],
    ]);
    return choice?.();
  }

  // ---------------------------------------------------------------- malicious actions

  /** The party action a match in its current state waits for, by `caller`. */
  partyAction(matchId: bigint, mm: MatchM, terms: MatchTerms, caller: number, label: string): Plan {
    const { m, r } = this;
    const c = this.addr(caller);
    switch (mm.state) {
      case MatchState.AwaitingResult:
        return this.plan("postResult", caller, [matchId, terms, RESULTS[0]], label, (t) => pPostResult(m, c, matchId, terms, RESULTS[0], t));
      case MatchState.ResultPosted: {
        const accept = r.chance(0.5);
        return this.plan(accept ? "acceptResult" : "rejectResult", caller, [matchId, terms], label, (t) => pReact(m, c, matchId, terms, t, accept));
      }
      case MatchState.Mediating: {
        const hashes = this.mediatorHashes(mm, r.pick(["agree", "disagree", "nondet"] as const)!);
        return this.plan("mediate", caller, [matchId, terms, hashes], label, (t) => pMediate(m, c, matchId, terms, hashes, t));
      }
      default:
        return this.plan("claimShare", caller, [matchId, terms], label, () => pClaim(m, c, matchId, terms));
    }
  }

  /** Who the party action of a match's state belongs to. */
  partyOf(mm: MatchM): string[] {
    switch (mm.state) {
      case MatchState.AwaitingResult:
        return [mm.terms.rp];
      case MatchState.ResultPosted:
        return [mm.terms.jc];
      case MatchState.Mediating:
        return [mm.terms.mediator];
      default:
        return [mm.terms.jc, mm.terms.rp, mm.terms.mediator];
    }
  }

  /** Any match function on `matchId` with `terms`, by `caller`. */
  anyMatchCall(matchId: bigint, terms: MatchTerms, caller: number, label: string): Plan {
    const { m, r } = this;
    const c = this.addr(caller);
    const fn = r.pick(["postResult", "acceptResult", "rejectResult", "mediate", "timeoutResult", "timeoutReaction", "timeoutMediation", "claimShare"])!;
    switch (fn) {
      case "postResult":
        return this.plan(fn, caller, [matchId, terms, RESULTS[1]], label, (t) => pPostResult(m, c, matchId, terms, RESULTS[1], t));
      case "acceptResult":
      case "rejectResult":
        return this.plan(fn, caller, [matchId, terms], label, (t) => pReact(m, c, matchId, terms, t, fn === "acceptResult"));
      case "mediate": {
        const hashes = Array(terms.n).fill(RESULTS[0]);
        return this.plan(fn, caller, [matchId, terms, hashes], label, (t) => pMediate(m, c, matchId, terms, hashes, t));
      }
      case "claimShare":
        return this.plan(fn, caller, [matchId, terms], label, () => pClaim(m, c, matchId, terms));
      default:
        return this.plan(fn, caller, [matchId, terms], label, (t) => pTimeout(m, fn, matchId, terms, t));
    }
  }

  /** Terms that differ from the match's in one field (a caller naming itself as a party, or a number). */
  tamperTerms(terms: MatchTerms, caller: string): MatchTerms {
    const options: MatchTerms[] = [
      { ...terms, price: terms.price + 1n },
      { ...terms, deposit: terms.deposit > 0n ? terms.deposit - 1n : 1n },
      { ...terms, bond: terms.bond + 1n },
      { ...terms, n: terms.n + 1 },
      { ...terms, jobId: terms.jobId + 1n },
    ];
    if (caller !== terms.rp) options.push({ ...terms, rp: caller }, { ...terms, rp: caller });
    if (caller !== terms.mediator) options.push({ ...terms, mediator: caller }, { ...terms, mediator: caller });
    if (caller !== terms.jc) options.push({ ...terms, jc: caller }, { ...terms, jc: caller });
    return this.r.pick(options)!;
  }

  tamperJob(o: JobOffer, caller: string): JobOffer {
    switch (this.r.int(0, 4)) {
      case 0:
        return { ...o, price: o.price - 1n };
      case 1:
        return { ...o, jc: caller === o.jc ? this.addr(this.otherThan(o.jc)!) : caller };
      case 2:
        return this.r.chance(0.5) ? { ...o, terms: { ...o.terms, bond: 0n, jcPrice: o.terms.jcPrice + 1n } } : { ...o, terms: { ...o.terms, maxJobTime: o.terms.maxJobTime - 1 } };
      case 3:
        return this.r.chance(0.5) ? { ...o, expiry: o.expiry + 1000n } : { ...o, resultTime: o.resultTime + 1 };
      default:
        return { ...o, specHash: id("another job") };
    }
  }

  tamperOffer(o: ResourceOffer, caller: string): ResourceOffer {
    switch (this.r.int(0, 4)) {
      case 0:
        return { ...o, deposit: o.deposit + 1n };
      case 4:
        // Looser limits than the RP stated.
        return this.r.pick([
          { ...o, minResultTime: bump(o.minResultTime) },
          { ...o, maxReactionTime: bump(o.maxReactionTime) },
          { ...o, maxMediationTime: bump(o.maxMediationTime) },
          { ...o, maxMediatorPrice: o.maxMediatorPrice === U96 ? U96 - 1n : o.maxMediatorPrice + 1n },
        ])!;
      case 1:
        return { ...o, rp: caller === o.rp ? this.addr(this.otherThan(o.rp)!) : caller };
      case 2:
        return { ...o, trustedMediators: [...o.trustedMediators, caller] };
      default:
        return { ...o, requestedPrice: 0n, expiry: o.expiry + 1000n };
    }
  }

  malicious(label: Malicious): Plan | undefined {
    const { m, r } = this;
    const matches = [...m.matches.entries()];
    switch (label) {
      case "replay": {
        const options: (() => Plan | undefined)[] = [];
        // A match action that already happened, by its party: the state has moved on.
        const advanced = matches.filter(([, mm]) => mm.state !== MatchState.AwaitingResult);
        if (advanced.length) {
          const again = () => {
            const [matchId, mm] = r.pick(advanced)!;
            const terms = mm.terms;
            const choices: Plan[] = [
              this.plan("postResult", this.idx(terms.rp), [matchId, terms, RESULTS[0]], label, (t) => pPostResult(m, terms.rp, matchId, terms, RESULTS[0], t)),
              this.plan("timeoutResult", this.anyActor(), [matchId, terms], label, (t) => pTimeout(m, "timeoutResult", matchId, terms, t)),
            ];
            if (mm.state === MatchState.Mediating || mm.state === MatchState.Closed) {
              choices.push(this.plan("rejectResult", this.idx(terms.jc), [matchId, terms], label, (t) => pReact(m, terms.jc, matchId, terms, t, false)));
              choices.push(this.plan("acceptResult", this.idx(terms.jc), [matchId, terms], label, (t) => pReact(m, terms.jc, matchId, terms, t, true)));
              choices.push(this.plan("timeoutReaction", this.anyActor(), [matchId, terms], label, (t) => pTimeout(m, "timeoutReaction", matchId, terms, t)));
            }
            if (mm.state === MatchState.Closed) {
              const hashes = Array(terms.n).fill(mm.result);
              choices.push(this.plan("mediate", this.idx(terms.mediator), [matchId, terms, hashes], label, (t) => pMediate(m, terms.mediator, matchId, terms, hashes, t)));
              choices.push(this.plan("timeoutMediation", this.anyActor(), [matchId, terms], label, (t) => pTimeout(m, "timeoutMediation", matchId, terms, t)));
            }
            return r.pick(choices);
          };
          options.push(...Array<typeof again>(6).fill(again));
        }
        // A share already taken, or one the verdict left empty (the RP's when it cheated, the
        // mediator's when it did not rule), claimed by its party.
        const nothingLeft: [bigint, MatchM, string][] = [];
        for (const [matchId, mm] of matches) {
          if (mm.state !== MatchState.Closed) continue;
          for (const who of new Set([mm.terms.jc, mm.terms.rp, mm.terms.mediator])) if (callerShare(mm, who).amount === 0n) nothingLeft.push([matchId, mm, who]);
        }
        if (nothingLeft.length) {
          const claim = () => {
            const [matchId, mm, who] = r.pick(nothingLeft)!;
            return this.plan("claimShare", this.idx(who), [matchId, mm.terms], label, () => pClaim(m, who, matchId, mm.terms));
          };
          options.push(...Array<typeof claim>(6).fill(claim));
        }
        // An offer already matched, cancelled or expired.
        const closedJobs = this.closedJobs();
        if (closedJobs.length) {
          options.push(() => {
            const [jobId, j] = r.pick(closedJobs)!;
            const i = this.idx(j.offer.jc);
            if (r.chance(0.5)) return this.plan("cancelJobOffer", i, [jobId, j.offer], label, (t) => pCloseJob(m, j.offer.jc, jobId, j.offer, t, false));
            const offer = r.pick(this.openOffers()) ?? r.pick([...m.offers.entries()]);
            if (!offer) return this.plan("expireJobOffer", i, [jobId, j.offer], label, (t) => pCloseJob(m, j.offer.jc, jobId, j.offer, t, true));
            const s = this.anyActor();
            return this.plan("postMatch", s, [jobId, j.offer, offer[0], offer[1].offer], label, (t) => pMatch(m, this.addr(s), jobId, j.offer, offer[0], offer[1].offer, t));
          });
        }
        const closedOffers = this.closedOffers();
        if (closedOffers.length) {
          options.push(() => {
            const [offerId, o] = r.pick(closedOffers)!;
            const expire = r.chance(0.5);
            const i = expire ? this.anyActor() : this.idx(o.offer.rp);
            return this.plan(expire ? "expireResourceOffer" : "cancelResourceOffer", i, [offerId, o.offer], label, (t) =>
              pCloseOffer(m, this.addr(i), offerId, o.offer, t, expire),
            );
          });
        }
        // Withdrawals with nothing left, a second registration, a second exit.
        const spent = this.w.actors.map((_, k) => k).filter((k) => (m.credits.get(this.addr(k)) ?? 0n) === 0n);
        if (spent.length) {
          options.push(() => {
            const i = r.pick(spent)!;
            return this.plan("withdraw", i, [], label, () => pWithdraw(m, this.addr(i)));
          });
        }
        const unpaid = this.w.actors.map((_, k) => k).filter((k) => (m.med(this.addr(k))?.earnings ?? 0n) === 0n);
        if (unpaid.length) {
          options.push(() => {
            const i = r.pick(unpaid)!;
            return this.plan("withdrawMediatorEarnings", i, [], label, () => pWithdrawEarnings(m, this.addr(i)));
          });
        }
        options.push(() => {
          const i = this.anyActor();
          if (m.active(this.addr(i))) {
            const terms = validTerms(r);
            return this.plan("registerMediator", i, [terms, T(1)], label, () => pRegister(m, this.addr(i), terms, T(1)));
          }
          return this.plan("exitMediator", i, [], label, () => pExit(m, this.addr(i)));
        });
        return r.pick(options)!();
      }

      case "wrongCaller": {
        const options: (() => Plan | undefined)[] = [];
        if (matches.length) {
          options.push(() => {
            const [matchId, mm] = r.pick(matches)!;
            const caller = this.otherThan(...this.partyOf(mm));
            return caller === undefined ? undefined : this.partyAction(matchId, mm, mm.terms, caller, label);
          });
        }
        const jobs = this.openJobs();
        if (jobs.length) {
          options.push(() => {
            const [jobId, j] = r.pick(jobs)!;
            const i = this.otherThan(j.offer.jc)!;
            return this.plan("cancelJobOffer", i, [jobId, j.offer], label, (t) => pCloseJob(m, this.addr(i), jobId, j.offer, t, false));
          });
        }
        const offers = this.openOffers();
        if (offers.length) {
          options.push(() => {
            const [offerId, o] = r.pick(offers)!;
            const i = this.otherThan(o.offer.rp)!;
            return this.plan("cancelResourceOffer", i, [offerId, o.offer], label, (t) => pCloseOffer(m, this.addr(i), offerId, o.offer, t, false));
          });
        }
        const outsiders = this.w.actors.map((_, k) => k).filter((k) => !m.active(this.addr(k)));
        if (outsiders.length) options.push(() => {
          // Mediator-only calls by an account that is not (or no longer) a mediator.
          const i = r.pick(outsiders)!;
          const fn = r.pick(["updateMediator", "addMediatorBond", "exitMediator"])!;
          const c = this.addr(i);
          if (fn === "updateMediator") {
            const terms = validTerms(r);
            return this.plan(fn, i, [terms], label, () => pUpdate(m, c, terms));
          }
          if (fn === "addMediatorBond") return this.plan(fn, i, [T(5)], label, () => pAddBond(m, c, T(5)));
          return this.plan(fn, i, [], label, () => pExit(m, c));
        });
        return r.pick(options)!();
      }

      case "outOfWindow": {
        const options: (() => Plan | undefined)[] = [];
        const waiting = matches.filter(([, mm]) => mm.state !== MatchState.Closed);
        if (waiting.length) {
          // Too late: the party acts one second after its deadline (or some blocks after that).
          options.push(() => {
            const [matchId, mm] = r.pick(waiting)!;
            const late = mm.deadline + 1n + (r.chance(0.7) ? 0n : BLOCK * BigInt(r.int(1, 40)));
            if (this.t <= mm.deadline) m.time = late - BLOCK;
            const party = this.idx(r.pick(this.partyOf(mm))!);
            return this.partyAction(matchId, mm, mm.terms, party, label);
          });
          // Too early: a timeout before (or exactly at) the deadline.
          const early = waiting.filter(([, mm]) => this.t <= mm.deadline);
          if (early.length) {
            const timeoutTooSoon = () => {
              const [matchId, mm] = r.pick(early)!;
              if (r.chance(0.5) && this.t < mm.deadline) m.time = mm.deadline - BLOCK; // the next block exactly at the deadline
              const fn = mm.state === MatchState.AwaitingResult ? "timeoutResult" : mm.state === MatchState.ResultPosted ? "timeoutReaction" : "timeoutMediation";
              const i = this.anyActor();
              return this.plan(fn, i, [matchId, mm.terms], label, (t) => pTimeout(m, fn, matchId, mm.terms, t));
            };
            options.push(timeoutTooSoon, timeoutTooSoon);
          }
        }
        const jobs = this.openJobs().filter(([, j]) => this.t <= j.offer.expiry);
        if (jobs.length) {
          options.push(() => {
            const [jobId, j] = r.pick(jobs)!;
            const i = this.anyActor();
            return this.plan("expireJobOffer", i, [jobId, j.offer], label, (t) => pCloseJob(m, this.addr(i), jobId, j.offer, t, true));
          });
        }
        const offers = this.openOffers().filter(([, o]) => this.t <= o.offer.expiry);
        if (offers.length) {
          options.push(() => {
            const [offerId, o] = r.pick(offers)!;
            const i = this.anyActor();
            return this.plan("expireResourceOffer", i, [offerId, o.offer], label, (t) => pCloseOffer(m, this.addr(i), offerId, o.offer, t, true));
          });
        }
        const pairs = this.pairs(true);
        if (pairs.length) {
          // A match after one of the offers expired.
          options.push(() => {
            const [jobId, job, offerId, offer] = r.pick(pairs)!;
            const expiry = r.chance(0.5) ? job.expiry : offer.expiry;
            if (this.t <= expiry) m.time = expiry + 1n - BLOCK; // the next block one second past it
            const i = this.anyActor();
            return this.plan("postMatch", i, [jobId, job, offerId, offer], label, (t) => pMatch(m, this.addr(i), jobId, job, offerId, offer, t));
          });
        }
        return r.pick(options)?.();
      }

      case "unknownId": {
        const ids = [0n, m.nMatches + 1n, m.nMatches + BigInt(r.int(2, 50)), 2n ** 64n];
        const options: (() => Plan)[] = [];
        const real = r.pick(matches);
        const someTerms: MatchTerms = real ? real[1].terms : unpostedTerms(this.w);
        options.push(() => this.anyMatchCall(r.pick(ids)!, someTerms, this.anyActor(), label));
        const jobIds = [0n, m.nJobs + 1n, m.nJobs + BigInt(r.int(2, 50))];
        const someJob = r.pick([...m.jobs.values()]);
        if (someJob) {
          options.push(() => {
            const jobId = r.pick(jobIds)!;
            const i = this.anyActor();
            const expire = r.chance(0.5);
            return this.plan(expire ? "expireJobOffer" : "cancelJobOffer", i, [jobId, someJob.offer], label, (t) => pCloseJob(m, this.addr(i), jobId, someJob.offer, t, expire));
          });
        }
        const someOffer = r.pick([...m.offers.values()]);
        if (someOffer) {
          options.push(() => {
            const offerId = r.pick([0n, m.nOffers + 1n])!;
            const i = this.anyActor();
            const expire = r.chance(0.5);
            return this.plan(expire ? "expireResourceOffer" : "cancelResourceOffer", i, [offerId, someOffer.offer], label, (t) =>
              pCloseOffer(m, this.addr(i), offerId, someOffer.offer, t, expire),
            );
          });
        }
        return r.pick(options)!();
      }

      case "wrongTerms": {
        const options: (() => Plan | undefined)[] = [];
        if (matches.length) {
          // The party itself, or an outsider who names itself in the terms.
          options.push(() => {
            const [matchId, mm] = r.pick(matches)!;
            const caller = r.chance(0.5) ? this.idx(r.pick(this.partyOf(mm))!) : this.anyActor();
            return this.partyAction(matchId, mm, this.tamperTerms(mm.terms, this.addr(caller)), caller, label);
          });
        }
        const jobs = this.openJobs();
        const offers = this.openOffers();
        if (jobs.length) {
          options.push(() => {
            const [jobId, j] = r.pick(jobs)!;
            const i = this.idx(j.offer.jc);
            const forged = this.tamperJob(j.offer, this.addr(this.anyActor()));
            return this.plan("cancelJobOffer", i, [jobId, forged], label, (t) => pCloseJob(m, this.addr(i), jobId, forged, t, false));
          });
        }
        if (offers.length) {
          options.push(() => {
            const [offerId, o] = r.pick(offers)!;
            const i = this.idx(o.offer.rp);
            const forged = this.tamperOffer(o.offer, this.addr(this.anyActor()));
            return this.plan("cancelResourceOffer", i, [offerId, forged], label, (t) => pCloseOffer(m, this.addr(i), offerId, forged, t, false));
          });
        }
        if (jobs.length && offers.length) {
          // A solver matching with a job or offer it has altered (cheaper price, bigger deposit, ...).
          options.push(() => {
            const [jobId, j] = r.pick(jobs)!;
            const [offerId, o] = r.pick(offers)!;
            const i = this.anyActor();
            const job = r.chance(0.5) ? this.tamperJob(j.offer, this.addr(i)) : j.offer;
            const offer = job === j.offer ? this.tamperOffer(o.offer, this.addr(i)) : o.offer;
            return this.plan("postMatch", i, [jobId, job, offerId, offer], label, (t) => pMatch(m, this.addr(i), jobId, job, offerId, offer, t));
          });
        }
        return r.pick(options)?.();
      }

      case "badAmount": {
        const i = this.anyActor();
        const c = this.addr(i);
        const bal = m.bal(c);
        const meds = this.activeMeds();
        const options: (() => Plan)[] = [
          () => this.plan("addMediatorBond", i, [0n], label, () => pAddBond(m, c, 0n)),
          () => {
            const amount = r.chance(0.5) ? bal + 1n : U96 - (m.med(c)?.free ?? 0n) + 1n;
            return this.plan("addMediatorBond", i, [amount], label, () => pAddBond(m, c, amount));
          },
          () => {
            const bond = r.chance(0.5) ? bal + 1n : 2n ** 96n;
            const terms = validTerms(r);
            return this.plan("registerMediator", i, [terms, bond], label, () => pRegister(m, c, terms, bond));
          },
          () => {
            const req = { ...this.resourceRequest(), deposit: r.chance(0.5) ? bal + 1n : U96 };
            return this.plan("postResourceOffer", i, [req], label, (t) => pPostOffer(m, c, req, t));
          },
          () => this.plan("withdrawMediatorBond", i, [0n], label, () => pWithdrawBond(m, c, 0n)),
          () => {
            // More than the free bond (an outsider's is zero): by one wei, or by the bonds locked
            // in its open matches (which are not free), or by some tokens.
            const free = m.med(c)?.free ?? 0n;
            const locked = [...m.matches.values()].filter((mm) => mm.terms.mediator === c && mm.state !== MatchState.Closed).reduce((a, mm) => a + mm.terms.bond, 0n);
            const amount = free + (r.chance(0.5) ? 1n : locked > 0n ? locked : T(5));
            return this.plan("withdrawMediatorBond", i, [amount], label, () => pWithdrawBond(m, c, amount));
          },
        ];
        if (meds.length) {
          options.push(() => {
            // An escrow the JC cannot pay, or deposits that overflow uint96.
            const req = { ...this.jobRequest(r.pick(meds)!), price: r.chance(0.5) ? bal : U96 };
            return this.plan("postJobOffer", i, [req], label, (t) => pPostJob(m, c, req, t));
          });
        }
        return r.pick(options)!();
      }

      case "badTerms": {
        const i = this.anyActor();
        const c = this.addr(i);
        const terms = invalidTerms(r);
        if (m.active(c)) return this.plan("updateMediator", i, [terms], label, () => pUpdate(m, c, terms));
        return this.plan("registerMediator", i, [terms, T(10)], label, () => pRegister(m, c, terms, T(10)));
      }

      case "badOffer": {
        const i = this.anyActor();
        const c = this.addr(i);
        const meds = this.activeMeds();
        // An expiry that is not in the future: exactly the next block's timestamp, or before it.
        const past = r.chance(0.5) ? this.t : this.t - BigInt(r.int(1, 12));
        if (r.chance(0.75)) {
          const base = this.jobRequest(r.pick(meds) ?? this.addr(this.anyActor()));
          // Windows each within the protocol's bounds whose sum exceeds the mediator's longest job
          // by one second, when the bounds allow such a job.
          const over = base.terms.maxJobTime - base.terms.mediationTime + 1;
          const canBeTooLong = m.active(base.mediator) && over <= BOUNDS.maxResultTime + BOUNDS.maxReactionTime;
          // The kind is drawn first, then only its values, so that every kind comes up as often.
          const kinds = ["price", "expiry", "resultBelow", "resultAbove", "reactionBelow", "reactionAbove", "both", "inactive", "zero", ...(canBeTooLong ? ["tooLong", "tooLong"] : [])];
          const kind = r.pick(kinds)!;
          const tooLongResult = Math.min(BOUNDS.maxResultTime, over - BOUNDS.minReactionTime);
          const variants: Record<string, () => Request> = {
            price: () => ({ ...base, price: 0n }),
            expiry: () => ({ ...base, expiry: past }),
            resultBelow: () => ({ ...base, resultTime: outOfBounds(r, 0, "below") }),
            resultAbove: () => ({ ...base, resultTime: outOfBounds(r, 0, "above") }),
            reactionBelow: () => ({ ...base, reactionTime: outOfBounds(r, 1, "below") }),
            reactionAbove: () => ({ ...base, reactionTime: outOfBounds(r, 1, "above") }),
            both: () => ({ ...base, resultTime: outOfBounds(r, 0), reactionTime: outOfBounds(r, 1) }), // the result window is checked first
            inactive: () => ({ ...base, mediator: this.addr(r.pick(this.w.actors.map((_, k) => k).filter((k) => !m.active(this.addr(k)))) ?? i) }),
            zero: () => ({ ...base, mediator: ZeroAddress }),
            tooLong: () => ({ ...base, resultTime: tooLongResult, reactionTime: over - tooLongResult }),
          };
          const req = variants[kind]();
          return this.plan("postJobOffer", i, [req], label, (t) => pPostJob(m, c, req, t));
        }
        const base = this.resourceRequest();
        const req = r.chance(0.5)
          ? { ...base, expiry: past }
          : { ...base, trustedMediators: Array.from({ length: MAX_TRUSTED + 1 }, (_, k) => this.addr(k % this.w.actors.length)) };
        return this.plan("postResourceOffer", i, [req], label, (t) => pPostOffer(m, c, req, t));
      }

      case "badMatch": {
        // A pair of open offers that do not fit (expiry, price, trust, capacity, mediator bond,
        // deposit); the reason is picked first so that the rarer ones come up too.
        const byReason = new Map<string, [bigint, JobOffer, bigint, ResourceOffer][]>();
        for (const pair of this.pairs(false)) {
          const expected = pMatch(m, ZeroAddress, ...pair, this.t).expect;
          // Each limit of a resource offer is a reason of its own.
          const reason = expected === true ? "none" : expected.error === "OfferLimitExceeded" ? `${expected.error} ${expected.args[1]}` : expected.error;
          byReason.set(reason, [...(byReason.get(reason) ?? []), pair]);
        }
        // (Expired pairs are left to outOfWindow unless there is nothing else.)
        const reasons = [...byReason.keys()].filter((k) => k !== "OfferExpired");
        const reason = r.pick(reasons.length ? reasons : [...byReason.keys()]);
        if (reason === undefined) return undefined;
        const pair = r.pick(byReason.get(reason)!)!;
        const [jobId, job, offerId, offer] = pair;
        const i = this.anyActor();
        return this.plan("postMatch", i, [jobId, job, offerId, offer], label, (t) => pMatch(m, this.addr(i), jobId, job, offerId, offer, t));
      }

      case "wrongResultCount": {
        const mediating = this.matchesIn(MatchState.Mediating, "before");
        const pick = r.pick(mediating);
        if (!pick) return undefined;
        const [matchId, mm] = pick;
        const count = r.chance(0.5) ? mm.terms.n + 1 : mm.terms.n - 1;
        const hashes = Array(count).fill(mm.result);
        const i = this.idx(mm.terms.mediator);
        return this.plan("mediate", i, [matchId, mm.terms, hashes], label, (t) => pMediate(m, this.addr(i), matchId, mm.terms, hashes, t));
      }

      case "bondToMax": {
        // The largest top-up the registry accepts (free bond up to the uint96 limit, which
        // addMediatorBond checks), by a mediator that may have bonds locked in open matches; the
        // test mints the tokens for it first. The model expects what the contract promises: the
        // top-up goes through, and every match still closes (SPEC §2.1: nothing can stay stuck).
        const candidates = this.activeMeds().filter((a) => this.idx(a) !== this.w.hostileIndex);
        const busy = candidates.filter((a) => m.med(a)!.open > 0);
        const c = r.pick(busy.length ? busy : candidates);
        if (c === undefined) return undefined;
        const amount = U96 - m.med(c)!.free;
        if (amount === 0n) return undefined;
        // A contract that refused this top-up (counting the locked bonds against the limit) would
        // be as correct, so AmountTooLarge is accepted too, and changes nothing in the model.
        const plan = this.plan("addMediatorBond", this.idx(c), [amount], label, () => pAddBond(m, c, amount));
        return { ...plan, mint: amount, alsoAccept: "AmountTooLarge" };
      }

      case "staleTerms": {
        // A JC posts a job on mediator terms that are not (or no longer) the mediator's: terms it
        // read before the mediator changed them, in an earlier step or in the block just before
        // (the mediator updates first); another mediator's terms; its own edit of them. Or a
        // solver matches a job whose mediator has changed its terms since it was offered.
        const meds = this.activeMeds();
        const a = r.pick(meds);
        if (a === undefined) return undefined;
        const i = this.anyActor();
        const c = this.addr(i);
        const current = m.med(a)!.terms;
        const past = (m.pastTerms.get(a) ?? []).filter((t) => !sameTerms(t, current));
        const others = meds.filter((x) => x !== a && !sameTerms(m.med(x)!.terms, current));
        /** The mediator's update in the block before (it does nothing wrong: its label is honest). */
        const update = (mediator: string): Plan => {
          let terms = validTerms(r);
          if (sameTerms(terms, m.med(mediator)!.terms)) terms = { ...terms, maxJobTime: bump(terms.maxJobTime) };
          return this.plan("updateMediator", this.idx(mediator), [terms], "honest", () => pUpdate(m, mediator, terms));
        };
        const match = ([jobId, job, offerId, offer]: [bigint, JobOffer, bigint, ResourceOffer]): Plan =>
          this.plan("postMatch", i, [jobId, job, offerId, offer], label, (t) => pMatch(m, c, jobId, job, offerId, offer, t));
        const options: (() => Plan)[] = [
          () => {
            const req = this.jobRequest(a);
            return { ...this.plan("postJobOffer", i, [req], label, (t) => pPostJob(m, c, req, t)), first: update(a) };
          },
          () => {
            const req = this.jobRequest(a, { ...current, maxJobTime: bump(current.maxJobTime) });
            return this.plan("postJobOffer", i, [req], label, (t) => pPostJob(m, c, req, t));
          },
        ];
        if (past.length) {
          const stale = () => {
            const req = this.jobRequest(a, r.pick(past)!);
            return this.plan("postJobOffer", i, [req], label, (t) => pPostJob(m, c, req, t));
          };
          options.push(stale, stale);
        }
        if (others.length) {
          options.push(() => {
            const req = this.jobRequest(a, m.med(r.pick(others)!)!.terms);
            return this.plan("postJobOffer", i, [req], label, (t) => pPostJob(m, c, req, t));
          });
        }
        const voided = this.pairs(false).filter((pair) => {
          const expected = pMatch(m, ZeroAddress, ...pair, this.t).expect;
          return expected !== true && expected.error === "MediatorTermsChanged";
        });
        if (voided.length) options.push(() => match(r.pick(voided)!));
        const pairs = this.pairs(true);
        if (pairs.length) {
          const racedMatch = () => {
            const pair = r.pick(pairs)!;
            return { ...match(pair), first: update(pair[1].mediator) };
          };
          options.push(racedMatch, racedMatch);
        }
        return r.pick(options)!();
      }
    }
  }
}

// ------------------------------------------------------------------ running

interface Counter {
  ok: number;
  reverted: Map<string, number>;
}
const calls = new Map<string, Counter>(); // by function, random steps only
const labels = new Map<string, { ok: number; rejected: number }>();
const errorsSeen = new Map<string, number>();
const drained = { calls: 0, sequences: 0 };
const detailsSeen = new Map<string, number>(); // EXPECTED_DETAILS
const boundariesSeen = new Map<string, number>(); // EXPECTED_BOUNDARIES
/** Mediators that left with jobs open, and what became of their locked bonds as those jobs closed. */
const exits = { whileBusy: 0, bondCreditedOnClose: 0, bondBackAfterRejoin: 0 };
let waits = 0;
let reentryAttempts = 0n;
let hostileActions = 0;

function record(fn: string, label: string, outcome: Outcome): void {
  const c = calls.get(fn) ?? { ok: 0, reverted: new Map() };
  calls.set(fn, c);
  const l = labels.get(label) ?? { ok: 0, rejected: 0 };
  labels.set(label, l);
  if (outcome.ok) {
    c.ok += 1;
    l.ok += 1;
  } else {
    c.reverted.set(outcome.error, (c.reverted.get(outcome.error) ?? 0) + 1);
    l.rejected += 1;
    errorsSeen.set(outcome.error, (errorsSeen.get(outcome.error) ?? 0) + 1);
    const detail = detailOf(fn, outcome.error, outcome.args);
    if (detail) count(detailsSeen, detail);
  }
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Which of the refusals under one error name this is (EXPECTED_DETAILS). */
function detailOf(fn: string, error: string, args: unknown[]): string | undefined {
  switch (error) {
    case "WindowOutOfBounds":
      return `${error} ${WINDOWS[Number(args[0])]} ${Number(args[1]) < Number(args[2]) ? "below" : "above"}`;
    case "OfferLimitExceeded":
      return `${error} ${OFFER_LIMITS[Number(args[1])]}`;
    case "InvalidMediatorTerms":
    case "InvalidOffer":
      return `${error}: ${String(args[0])}`;
    case "ZeroAmount":
    case "MediatorTermsChanged":
      return `${error}: ${fn}`;
    default:
      return undefined;
  }
}

/** The values of a call, about to go through in the block at `t`, that sit exactly on a bound (EXPECTED_BOUNDARIES). */
function boundariesOf(w: World, m: Model, plan: Plan, t: bigint): string[] {
  const out: string[] = [];
  const window = (w: 0 | 1 | 2, seconds: number) => {
    if (seconds === WINDOW_BOUNDS[w][0]) out.push(`${WINDOWS[w]} window at its floor`);
    if (seconds === WINDOW_BOUNDS[w][1]) out.push(`${WINDOWS[w]} window at its ceiling`);
  };
  switch (plan.fn) {
    case "registerMediator":
    case "updateMediator": {
      const terms = plan.args[0] as MediatorTerms;
      window(2, terms.mediationTime);
      if (terms.maxJobTime === SHORTEST_WINDOWS + terms.mediationTime) out.push("mediator's longest job exactly the shortest job");
      break;
    }
    case "postJobOffer": {
      const req = plan.args[0] as Request;
      window(0, req.resultTime);
      window(1, req.reactionTime);
      if (req.resultTime + req.reactionTime + req.terms.mediationTime === req.terms.maxJobTime) out.push("job exactly as long as the mediator's longest");
      if (req.expiry === t + 1n) out.push("offer expiring one second after its block");
      break;
    }
    case "postResourceOffer":
      if ((plan.args[0] as ResourceOffer).expiry === t + 1n) out.push("offer expiring one second after its block");
      break;
    case "postMatch": {
      const job = plan.args[1] as JobOffer;
      const offer = plan.args[3] as ResourceOffer;
      const at = [job.resultTime === offer.minResultTime, job.reactionTime === offer.maxReactionTime, job.terms.mediationTime === offer.maxMediationTime, job.terms.rpPrice === offer.maxMediatorPrice];
      at.forEach((hit, k) => hit && out.push(`match exactly at the offer's ${OFFER_LIMITS[k]}`));
      break;
    }
    case "withdrawMediatorBond":
      if (plan.args[0] === m.med(w.actors[plan.actor].address)?.free) out.push("whole free bond withdrawn");
      break;
  }
  return out;
}

const show = (x: unknown): string => (typeof x === "bigint" ? x.toString() : typeof x === "object" ? JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) : String(x));
const norm = (x: unknown): string => (typeof x === "string" ? x.toLowerCase() : String(x));

/** Like expectOutcome, and also compares the error's arguments with the model's. */
function check(outcome: Outcome, expected: Expect, what: () => string): void {
  if (expected === true) {
    if (!outcome.ok) expectOutcome(outcome, true, what());
    return;
  }
  if (outcome.ok || outcome.error !== expected.error) expectOutcome(outcome, expected.error, what());
  else {
    const got = outcome.args.map(norm).join(", ");
    const want = expected.args.map(norm).join(", ");
    if (got !== want) throw new Error(`${what()}: reverted with ${outcome.error}(${got}), the model expected ${expected.error}(${want})`);
  }
}

// The hot path talks JSON-RPC to the embedded network directly (the harness's rawTransaction and rawCall).
const rawSend = (from: string, to: string, data: string): Promise<ContractTransactionResponse> => rawTransaction(from, to, data, GAS.gasLimit)();
const read = rawCall;
const readMarket = (w: World, fn: string, args: unknown[] = []) => read(w.marketAddress, w.marketIface, fn, args);
const readToken = (w: World, fn: string, args: unknown[] = []) => read(w.tokenAddress, w.tokenIface, fn, args);
const readHostile = (w: World, fn: string) => read(w.hostileAddress, w.hostileIface, fn);

/** Sets the next block's timestamp to 12 seconds after the latest; returns it. */
async function mineAt(m: Model): Promise<bigint> {
  m.time += BLOCK;
  await network.provider.send("evm_setNextBlockTimestamp", [Number(m.time)]);
  return m.time;
}

/** An actor calls the market: an EOA directly, the hostile contract through `act`. */
function send(w: World, actor: number, fn: string, args: unknown[]): Promise<ContractTransactionResponse> {
  const a = w.actors[actor];
  const data = w.marketIface.encodeFunctionData(fn, args);
  if (a.signer) return rawSend(a.address, w.marketAddress, data);
  return rawSend(w.driver.address, w.hostileAddress, w.hostileIface.encodeFunctionData("act", [w.marketAddress, data]));
}

/** Arms the hostile actor to reenter a money-moving (guarded) function while it does `plan`. */
async function arm(w: World, b: Builder, plan: Plan, at: bigint): Promise<void> {
  const iface = w.marketIface;
  const pairs = b.pairs(true);
  const match = b.r.pick([...b.m.matches.entries()]);
  const withdraw = iface.encodeFunctionData("withdraw", []);
  const calldata = b.r.pick([
    withdraw,
    iface.encodeFunctionData("withdrawMediatorEarnings", []),
    GUARDED.has(plan.fn) ? iface.encodeFunctionData(plan.fn, plan.args) : withdraw, // the very action it is doing
    match ? iface.encodeFunctionData("claimShare", [match[0], match[1].terms]) : withdraw,
    pairs.length ? iface.encodeFunctionData("postMatch", pairs[0]) : withdraw,
  ])!;
  await network.provider.send("evm_setNextBlockTimestamp", [Number(at)]);
  await rawSend(w.driver.address, w.hostileAddress, w.hostileIface.encodeFunctionData("arm", [w.marketAddress, calldata]));
}

const MATCH_FUNCTIONS = new Set(["postResult", "acceptResult", "rejectResult", "mediate", "timeoutResult", "timeoutReaction", "timeoutMediation", "claimShare"]);

/** After a successful call, the objects it named are read back from the chain. */
function touchArgs(m: Model, plan: Plan): void {
  if (MATCH_FUNCTIONS.has(plan.fn)) m.touchedMatches.add(plan.args[0] as bigint);
  else if (plan.fn === "cancelJobOffer" || plan.fn === "expireJobOffer") m.touchedJobs.add(plan.args[0] as bigint);
  else if (plan.fn === "cancelResourceOffer" || plan.fn === "expireResourceOffer") m.touchedOffers.add(plan.args[0] as bigint);
  else if (plan.fn === "postMatch") {
    m.touchedJobs.add(plan.args[0] as bigint);
    m.touchedOffers.add(plan.args[2] as bigint);
  }
}

async function perform(w: World, m: Model, plan: Plan): Promise<Outcome> {
  const t = await mineAt(m);
  const pred = plan.predict(t);
  if (plan.actor === w.hostileIndex) m.hostileTouched = true;
  const outcome = await attempt(() => send(w, plan.actor, plan.fn, plan.args), w.interfaces);
  const accepted = !outcome.ok && outcome.error === plan.alsoAccept;
  if (!accepted) check(outcome, pred.expect, () => `[${plan.label}] ${plan.fn}(${plan.args.map(show).join(", ")}) by ${w.actors[plan.actor].name} at t=${t}`);
  if (outcome.ok) {
    if (m.phase === "step") for (const tag of boundariesOf(w, m, plan, t)) count(boundariesSeen, tag);
    pred.apply();
    touchArgs(m, plan);
  }
  if (m.phase === "step") record(plan.fn, plan.label, outcome);
  else drained.calls += 1;
  return outcome;
}

type Action = { intent: "honest" | "malicious" | "wait"; seed: number };

const actionArb: fc.Arbitrary<Action> = fc.record({
  intent: fc.oneof(
    { arbitrary: fc.constant("honest" as const), weight: 64 },
    { arbitrary: fc.constant("malicious" as const), weight: 24 },
    { arbitrary: fc.constant("wait" as const), weight: 12 },
  ),
  seed: fc.integer({ min: 0, max: 0xffffffff }),
});

async function step(w: World, m: Model, action: Action): Promise<void> {
  const r = new Rng(seededRandom(action.seed));
  const b = new Builder(w, m, r);
  if (action.intent === "wait") {
    waits += 1;
    const deadlines = [
      ...[...m.matches.values()].filter((mm) => mm.state !== MatchState.Closed).map((mm) => mm.deadline),
      ...b.openJobs().map(([, j]) => j.offer.expiry),
      ...b.openOffers().map(([, o]) => o.offer.expiry),
    ].filter((d) => d > m.time + BLOCK);
    const target = r.pick(deadlines);
    // The next block exactly at a deadline, or one second past it (off the 12-second grid: a
    // deadline is a block's time plus a window of any length); or some 12-second blocks pass.
    if (target !== undefined && r.chance(0.6)) m.time = (r.chance(0.5) ? target : target + 1n) - BLOCK;
    else m.time += BLOCK * BigInt(r.chance(0.6) ? r.int(1, 5) : r.int(8, 125));
    return;
  }
  // If the hostile actor acts in this step, it may first be armed with a new attack, in a block of
  // its own; that block's time is reserved before the plan is made, so that plans timed to the
  // second (at a deadline, one past it) stay exact.
  const armAt = r.chance(0.3) ? (m.time += BLOCK) : undefined;
  let plan: Plan | undefined;
  if (action.intent === "malicious") {
    // Variants are tried in random order until one applies (replays, the ones with most
    // sub-variants, more often); the two that need a rare state (an invalid pair of open offers,
    // a match under mediation) go first a third of the time.
    const weight = (l: Malicious) => (l === "replay" ? 2.5 : l === "outOfWindow" || l === "badTerms" ? 1.5 : l === "badOffer" ? 2 : 1);
    const first = r.weighted(MALICIOUS.map((l): [number, Malicious] => [weight(l), l]))!;
    const order = [first, ...r.shuffle(MALICIOUS.filter((l) => l !== first))];
    for (const rare of ["badMatch", "wrongResultCount"] as const) {
      if (r.chance(0.35)) order.unshift(rare);
    }
    for (const label of order) if ((plan = b.malicious(label))) break;
  } else plan = b.honest();
  if (!plan) return;
  if (plan.mint !== undefined) {
    const to = w.actors[plan.actor].address;
    await mineAt(m);
    await rawSend(w.driver.address, w.tokenAddress, w.tokenIface.encodeFunctionData("mint", [to, plan.mint]));
    m.minted += plan.mint;
    m.pay(to, plan.mint);
  }
  if (plan.actor === w.hostileIndex) {
    hostileActions += 1;
    if (armAt !== undefined) await arm(w, b, plan, armAt);
  }
  if (plan.first) await perform(w, m, plan.first);
  await perform(w, m, plan);
}

// ------------------------------------------------------------------ invariants

const nameOf = (w: World, a: string) => w.actors.find((x) => x.address === a)?.name ?? a;

async function checkCredit(w: World, m: Model, a: string): Promise<void> {
  const [credit] = await readMarket(w, "credits", [a]);
  expect(credit, `credits of ${nameOf(w, a)}`).to.equal(m.credits.get(a) ?? 0n);
}

async function checkWallet(w: World, m: Model, a: string): Promise<void> {
  const [balance] = await readToken(w, "balanceOf", [a]);
  expect(balance, `wallet of ${nameOf(w, a)}`).to.equal(m.bal(a));
}

async function checkMediator(w: World, m: Model, a: string): Promise<void> {
  const [rec] = await readMarket(w, "mediator", [a]);
  const name = nameOf(w, a);
  const med = m.med(a);
  expect(rec.active, `mediator ${name} active`).to.equal(med?.active ?? false);
  expect(rec.freeBond, `free bond of ${name}`).to.equal(med?.free ?? 0n);
  expect(rec.openJobs, `open jobs of mediator ${name}`).to.equal(BigInt(med?.open ?? 0));
  expect(rec.earnings, `earnings of mediator ${name}`).to.equal(med?.earnings ?? 0n);
  if (med?.active) {
    const t = rec.terms;
    expect([t.pr, t.ndpr, t.jcPrice, t.rpPrice, t.bond, t.n, t.mediationTime, t.maxJobTime].map(String), `terms of mediator ${name}`).to.deep.equal(
      [med.terms.pr, med.terms.ndpr, med.terms.jcPrice, med.terms.rpPrice, med.terms.bond, med.terms.n, med.terms.mediationTime, med.terms.maxJobTime].map(String),
    );
    const hash = keccak256(AbiCoder.defaultAbiCoder().encode([w.marketIface.getFunction("updateMediator")!.inputs[0]], [med.terms]));
    expect(rec.termsHash, `terms hash of mediator ${name} (what jobs and matches are checked against)`).to.equal(hash);
  }
}

/** The custom error a market view reverts with (`TermsMismatch(3)`), or undefined if it returns. */
async function viewError(w: World, fn: string, args: unknown[]): Promise<string | undefined> {
  try {
    await readMarket(w, fn, args);
    return undefined;
  } catch (error) {
    const data = revertData(error);
    const parsed = data === undefined ? null : w.marketIface.parseError(data);
    if (!parsed) throw error;
    return `${parsed.name}(${parsed.args.join(", ")})`;
  }
}

/**
 * The match read under its terms agrees with the model; under terms that differ in one field (or
 * another match's terms) it is not found: TermsMismatch, since the id was posted.
 */
async function checkMatch(w: World, m: Model, matchId: bigint): Promise<void> {
  const mm = m.matches.get(matchId)!;
  const [s, result] = await readMarket(w, "matchStatus", [matchId, mm.terms]);
  expect(Number(s.state), `state of match ${matchId}`).to.equal(mm.state);
  expect(Number(s.verdict), `verdict of match ${matchId}`).to.equal(mm.verdict);
  expect(s.deadline, `deadline of match ${matchId}`).to.equal(mm.deadline);
  expect(Number(s.claimed), `claimed shares of match ${matchId}`).to.equal(mm.claimed);
  expect(result, `result of match ${matchId}`).to.equal(mm.result);
  const t = mm.terms;
  const others: MatchTerms[] = [
    { ...t, price: t.price + 1n },
    { ...t, ndDeposit: t.ndDeposit ^ 1n },
    { ...t, bond: t.bond + 1n },
    { ...t, mediationTime: bump(t.mediationTime) },
    { ...t, reactionTime: bump(t.reactionTime) },
    { ...t, jc: t.rp === t.jc ? t.mediator : t.rp },
    m.matches.get(matchId === 1n ? m.nMatches : matchId - 1n)!.terms, // the same as t when it is the only match
  ].filter((o) => matchKey(matchId, o) !== mm.key);
  const other = others[(m.steps + Number(matchId)) % others.length];
  expect(await viewError(w, "matchStatus", [matchId, other]), `match ${matchId} read under other terms`).to.equal(`TermsMismatch(${matchId})`);
}

async function checkJob(w: World, m: Model, jobId: bigint): Promise<void> {
  const [open] = await readMarket(w, "isJobOfferOpen", [jobId]);
  expect(open, `job offer ${jobId} open`).to.equal(m.jobs.get(jobId)?.open ?? false);
}

async function checkOffer(w: World, m: Model, offerId: bigint): Promise<void> {
  const [open] = await readMarket(w, "isResourceOfferOpen", [offerId]);
  expect(open, `resource offer ${offerId} open`).to.equal(m.offers.get(offerId)?.open ?? false);
}

async function checkHostile(w: World, m: Model): Promise<void> {
  const [[attempts], [successes]] = await Promise.all([readHostile(w, "reentryAttempts"), readHostile(w, "reentrySuccesses")]);
  expect(successes, "reentries into the market that succeeded").to.equal(0n);
  if (attempts > m.reentryAttempts) {
    // The last reentry was refused by the reentrancy guard, not by some other check.
    const [last] = await readHostile(w, "lastRevert");
    expect(w.marketIface.parseError(last)?.name, "why the last reentry failed").to.equal("ReentrancyGuardReentrantCall");
    reentryAttempts += attempts - m.reentryAttempts;
    m.reentryAttempts = attempts;
  }
}

async function checkBalance(w: World, m: Model): Promise<void> {
  const [held] = await readToken(w, "balanceOf", [w.marketAddress]);
  expect(held, "market balance == what it owes (model)").to.equal(m.owed());
}

/** Everything at once: every actor, match and offer (and the next ids), the counters, the token supply. */
async function checkAll(w: World, m: Model): Promise<void> {
  await checkBalance(w, m);
  await checkHostile(w, m);
  for (const a of w.actors) {
    await checkCredit(w, m, a.address);
    await checkWallet(w, m, a.address);
    await checkMediator(w, m, a.address);
  }
  for (const matchId of m.matches.keys()) await checkMatch(w, m, matchId);
  for (let jobId = 0n; jobId <= m.nJobs + 1n; jobId++) await checkJob(w, m, jobId);
  for (let offerId = 0n; offerId <= m.nOffers + 1n; offerId++) await checkOffer(w, m, offerId);
  const c = await readMarket(w, "counts");
  expect([c.jobs, c.offers, c.matches], "counts").to.deep.equal([m.nJobs, m.nOffers, m.nMatches]);
  // Ids never posted are unknown, whatever the terms (a real match's, when there is one).
  const someTerms = m.matches.get(1n)?.terms ?? unpostedTerms(w);
  for (const matchId of [0n, m.nMatches + 1n]) {
    expect(await viewError(w, "matchStatus", [matchId, someTerms]), `match ${matchId}, never posted`).to.equal(`UnknownMatch(${matchId})`);
  }
  const [supply] = await readToken(w, "totalSupply");
  expect(supply, "token supply").to.equal(m.minted);
}

async function invariants(w: World, m: Model): Promise<void> {
  await checkBalance(w, m);
  for (const a of m.touchedCredits) await checkCredit(w, m, a);
  for (const a of m.touchedWallets) await checkWallet(w, m, a);
  for (const a of m.touchedMeds) await checkMediator(w, m, a);
  for (const matchId of m.touchedMatches) await checkMatch(w, m, matchId);
  for (const jobId of m.touchedJobs) await checkJob(w, m, jobId);
  for (const offerId of m.touchedOffers) await checkOffer(w, m, offerId);
  if (m.hostileTouched) await checkHostile(w, m);
  m.touchedCredits.clear();
  m.touchedWallets.clear();
  m.touchedMeds.clear();
  m.touchedMatches.clear();
  m.touchedJobs.clear();
  m.touchedOffers.clear();
  m.hostileTouched = false;
  m.steps += 1;
  if (m.steps === FUZZ_STEPS) {
    // Mediator terms cannot be read back once the drain has made every mediator exit.
    for (const a of w.actors) await checkMediator(w, m, a.address);
    await drain(w, m);
  }
}

/**
 * Nothing is unwithdrawable: past every deadline, the permissionless exits close every offer and
 * match, every party claims its shares, every mediator exits, every actor withdraws its credits,
 * and each of these must succeed; then the market holds nothing and every wallet is what the model
 * says (so every token the market owed reached its owner).
 */
async function drain(w: World, m: Model): Promise<void> {
  m.phase = "drain";
  drained.sequences += 1;
  const b = new Builder(w, m, new Rng(seededRandom(Number(m.nMatches * 7919n + m.nJobs))));
  const D = "drain";
  let latest = m.time;
  for (const j of m.jobs.values()) if (j.open && j.offer.expiry > latest) latest = j.offer.expiry;
  for (const o of m.offers.values()) if (o.open && o.offer.expiry > latest) latest = o.offer.expiry;
  for (const mm of m.matches.values()) if (mm.state !== MatchState.Closed && mm.deadline > latest) latest = mm.deadline;
  m.time = latest;
  for (const [jobId, j] of b.openJobs()) {
    const i = b.anyActor();
    await perform(w, m, b.plan("expireJobOffer", i, [jobId, j.offer], D, (t) => pCloseJob(m, b.addr(i), jobId, j.offer, t, true)));
  }
  for (const [offerId, o] of b.openOffers()) {
    const i = b.anyActor();
    await perform(w, m, b.plan("expireResourceOffer", i, [offerId, o.offer], D, (t) => pCloseOffer(m, b.addr(i), offerId, o.offer, t, true)));
  }
  for (const [matchId, mm] of m.matches) {
    if (mm.state === MatchState.Closed) continue;
    const fn = mm.state === MatchState.AwaitingResult ? "timeoutResult" : mm.state === MatchState.ResultPosted ? "timeoutReaction" : "timeoutMediation";
    const i = b.anyActor();
    await perform(w, m, b.plan(fn, i, [matchId, mm.terms], D, (t) => pTimeout(m, fn, matchId, mm.terms, t)));
  }
  for (const [matchId, mm, who] of b.claimables()) {
    await perform(w, m, b.plan("claimShare", b.idx(who), [matchId, mm.terms], D, () => pClaim(m, who, matchId, mm.terms)));
  }
  for (const a of b.activeMeds()) await perform(w, m, b.plan("exitMediator", b.idx(a), [], D, () => pExit(m, a)));
  for (const a of b.creditors()) await perform(w, m, b.plan("withdraw", b.idx(a), [], D, () => pWithdraw(m, a)));
  // Each call above was predicted to succeed by the model (perform checks it), so reaching here
  // means every exit worked; now nothing may be left.
  expect(m.owed(), "what the model says the market still owes after the drain").to.equal(0n);
  const [held] = await readToken(w, "balanceOf", [w.marketAddress]);
  expect(held, "tokens left in the market after the drain").to.equal(0n);
  await checkAll(w, m);
}

// ------------------------------------------------------------------ the test

describe("JobMarket invariants under fuzzing", function () {
  this.timeout(0);

  it(`keeps conservation, the model's credits and match states, refuses reentry and leaves nothing stuck over ${FUZZ_RUNS} seeded sequences of ${FUZZ_STEPS} steps`, async function () {
    const started = Date.now();
    const stats = await fuzz<World, Model, Action>({
      deploy,
      model: (w) => new Model(w),
      action: actionArb,
      step,
      invariants,
    });
    const seconds = (Date.now() - started) / 1000;

    const lines = [`JobMarket fuzz: seed ${FUZZ_SEED}, ${stats.sequences} sequences, ${stats.steps} steps, ${seconds.toFixed(1)} s`];
    for (const fn of ALL_FUNCTIONS) {
      const c = calls.get(fn);
      const reverts = c ? [...c.reverted.entries()].map(([e, k]) => `${e} ${k}`).join(", ") : "";
      lines.push(`  ${fn.padEnd(26)} ok ${String(c?.ok ?? 0).padStart(5)}  reverted ${reverts || "-"}`);
    }
    lines.push(`  errors: ${[...errorsSeen.entries()].sort((a, b) => a[1] - b[1]).map(([e, k]) => `${e} ${k}`).join(", ")}`);
    lines.push(`  refusals by kind: ${[...detailsSeen.entries()].map(([d, k]) => `${d} ${k}`).join(", ")}`);
    lines.push(`  accepted on a bound: ${[...boundariesSeen.entries()].map(([d, k]) => `${d} ${k}`).join(", ")}`);
    lines.push(
      `  mediator exits with jobs open ${exits.whileBusy}; their locked bonds credited on close ${exits.bondCreditedOnClose}, back to the free bond after registering again ${exits.bondBackAfterRejoin}`,
    );
    lines.push(`  verdicts: ${[...verdictCounts.entries()].map(([v, k]) => `${v} ${k}`).join(", ")}`);
    lines.push(`  by intent: ${[...labels.entries()].map(([l, c]) => `${l} ${c.ok} ok/${c.rejected} rejected`).join("; ")}`);
    lines.push(`  waits ${waits}; hostile actions ${hostileActions}, reentry attempts ${reentryAttempts} (all refused); drains ${drained.sequences} with ${drained.calls} calls`);
    console.log(lines.join("\n"));

    expect(stats.sequences).to.equal(FUZZ_RUNS);
    expect(stats.steps).to.equal(FUZZ_RUNS * FUZZ_STEPS);
    expect(drained.sequences, "sequences drained to zero").to.equal(FUZZ_RUNS);
    if (GENERATOR_CHECKS) {
      // The generator did not degenerate: every function went through, every verdict happened in
      // the random steps, every malicious variant was refused somewhere, every error was raised.
      for (const fn of ALL_FUNCTIONS) expect(calls.get(fn)?.ok ?? 0, `successful ${fn}`).to.be.greaterThan(0);
      for (const v of [Verdict.Accepted, Verdict.JobCreatorWrong, Verdict.ResourceProviderCheated, Verdict.NonDeterministic, Verdict.ResultTimeout, Verdict.MediationTimeout]) {
        expect(verdictCounts.get(Verdict[v]) ?? 0, `matches closed as ${Verdict[v]}`).to.be.greaterThan(0);
      }
      for (const label of MALICIOUS.filter((l) => l !== "bondToMax")) expect(labels.get(label)?.rejected ?? 0, `refused ${label} actions`).to.be.greaterThan(0);
      const topUps = labels.get("bondToMax");
      expect((topUps?.ok ?? 0) + (topUps?.rejected ?? 0), "bond top-ups to the uint96 limit").to.be.greaterThan(0);
      for (const error of EXPECTED_ERRORS) expect(errorsSeen.get(error) ?? 0, `reverts with ${error}`).to.be.greaterThan(0);
      for (const detail of EXPECTED_DETAILS) expect(detailsSeen.get(detail) ?? 0, `reverts with ${detail}`).to.be.greaterThan(0);
      for (const tag of EXPECTED_BOUNDARIES) expect(boundariesSeen.get(tag) ?? 0, `calls that went through with a ${tag}`).to.be.greaterThan(0);
      expect(exits.whileBusy, "mediators that left with jobs open").to.be.greaterThan(0);
      expect(exits.bondCreditedOnClose, "locked bonds credited to a mediator that left, as its match closed").to.be.greaterThan(0);
      expect(exits.bondBackAfterRejoin, "locked bonds back in the free bond of a mediator that left and registered again").to.be.greaterThan(0);
      const honest = labels.get("honest")!;
      expect(honest.ok / (honest.ok + honest.rejected), "share of honest actions that went through").to.be.greaterThan(0.9);
      expect(reentryAttempts, "reentry attempts by the hostile actor").to.be.greaterThan(0n);
    }
  });
});
