import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { id } from "ethers";
import { deployAgora } from "../../deploy/agora";
import { BLOCK_TIME, nextBlockIn12s, pass12sBlocks, seededRandom, TOKENS, WAD } from "../helpers";
import { DEFAULT_JOB_WINDOWS } from "../../deploy/config";
import {
  JobOffer,
  MatchState,
  MatchTerms,
  MediatorTerms,
  ResourceOffer,
  Verdict,
  deposits,
  jobEscrow,
  postJobOffer,
  postResourceOffer,
  registerMediator,
  toMatchTerms,
  verdictPayouts,
} from "../../sdk/src/chain/jobs";

const HASHES = [id("a1"), id("a2")];

interface ModelMatch {
  terms: MatchTerms;
  state: MatchState;
  verdict: Verdict;
  deadline: bigint;
  result?: string;
  claimed: { jc: boolean; rp: boolean; mediator: boolean };
}

/**
 * An independent model of what the job market owes: open offers, open matches (escrow and locked
 * bond), unclaimed shares of closed matches (from the SDK's own verdict table), credits and free
 * bonds. After every transaction the market's token balance must equal it, and every credit and
 * mediator record must equal the model's.
 */
class Model {
  jobs = new Map<bigint, JobOffer>();
  offers = new Map<bigint, ResourceOffer>();
  matches = new Map<bigint, ModelMatch>();
  credits = new Map<string, bigint>();
  mediators = new Map<string, { terms: MediatorTerms; free: bigint; earnings: bigint; active: boolean; open: number }>();
  /** Bonds that came back, on a match's close, to a mediator that had left: credited, not freed. */
  bondsCreditedAfterExit = 0;

  credit(account: string, amount: bigint) {
    this.credits.set(account, (this.credits.get(account) ?? 0n) + amount);
  }

  owed(): bigint {
    let total = 0n;
    for (const o of this.jobs.values()) total += jobEscrow(o.price, o.matchFee, o.terms);
    for (const o of this.offers.values()) total += o.deposit + o.matchFee;
    for (const m of this.matches.values()) {
      if (m.state !== MatchState.Closed) total += m.terms.price + 2n * m.terms.deposit + m.terms.ndDeposit + m.terms.bond;
      else {
        const s = verdictPayouts(m.terms, m.verdict);
        if (!m.claimed.jc) total += s.jc;
        if (!m.claimed.rp) total += s.rp;
        if (!m.claimed.mediator) total += s.mediator;
      }
    }
    for (const c of this.credits.values()) total += c;
    for (const m of this.mediators.values()) total += m.free + m.earnings;
    return total;
  }

  close(m: ModelMatch, verdict: Verdict) {
    m.state = MatchState.Closed;
    m.verdict = verdict;
    const med = this.mediators.get(m.terms.mediator)!;
    med.open--;
    // A silent mediator's bond is in the parties' shares; otherwise it comes back to the mediator,
    // as free bond while it is registered and as a credit once it has left.
    if (verdict === Verdict.MediationTimeout) return;
    if (med.active) med.free += m.terms.bond;
    else {
      this.credit(m.terms.mediator, m.terms.bond);
      this.bondsCreditedAfterExit++;
    }
  }
}

async function setup(seed: number) {
  const signers = await hre.ethers.getSigners();
  const [admin, ...rest] = signers;
  const { token, jobs: market } = await deployAgora(admin, { addressBookDir: false });
  const jcs = rest.slice(0, 2);
  const rps = rest.slice(2, 4);
  const meds = rest.slice(4, 6);
  const solver = rest[6];
  for (const s of rest.slice(0, 7)) {
    await token.transfer(s.address, TOKENS(1_000_000));
    await token.connect(s).approve(await market.getAddress(), hre.ethers.MaxUint256);
  }
  const model = new Model();
  const random = seededRandom(seed);
  const termsOf = (k: number): MediatorTerms => ({
    pr: [WAD / 2n, WAD][k],
    ndpr: [WAD, 2n * WAD][k],
    jcPrice: TOKENS(1 + k),
    rpPrice: TOKENS(2 + k),
    bond: TOKENS(20 + 10 * k),
    n: [2, 3][k],
    mediationTime: 500,
    // Mediator 0 refuses the longest of the random jobs (result + reaction above 800 s).
    maxJobTime: [1_300, 1_700][k],
  });
  for (const [k, m] of meds.entries()) {
    await registerMediator(market, m, termsOf(k), TOKENS(100));
    model.mediators.set(m.address, { terms: termsOf(k), free: TOKENS(100), earnings: 0n, active: true, open: 0 });
  }
  return { token, market, jcs, rps, meds, solver, model, random, all: rest.slice(0, 7) };
}

type World = Awaited<ReturnType<typeof setup>>;

async function checkConservation(w: World, step: string) {
  const held = await w.token.balanceOf(await w.market.getAddress());
  expect(held).to.equal(w.model.owed(), `after ${step}`);
  for (const s of w.all) expect(await w.market.credits(s.address)).to.equal(w.model.credits.get(s.address) ?? 0n, `credits after ${step}`);
  for (const [address, med] of w.model.mediators) {
    const record = await w.market.mediator(address);
    expect([record.active, record.freeBond, record.earnings, record.openJobs]).to.deep.equal(
      [med.active, med.free, med.earnings, BigInt(med.open)],
      `mediator record after ${step}`,
    );
  }
}

/**
 * Sends the transaction; it must succeed if the model expects no error (`refusal` undefined), and
 * otherwise revert with the custom error the model names. Returns whether it succeeded.
 */
async function attempt(w: World, refusal: string | undefined, send: () => Promise<{ wait(): Promise<unknown> }>, what: string): Promise<boolean> {
  if (refusal === undefined) {
    await (await send()).wait();
    return true;
  }
  let error: string | undefined;
  try {
    await (await send()).wait();
  } catch (e) {
    const data = (e as { data?: string }).data;
    error = data ? w.market.interface.parseError(data)?.name : undefined;
  }
  expect(error, `${what} should have reverted with ${refusal}`).to.equal(refusal);
  return false;
}

const signerOf = (w: World, address: string): HardhatEthersSigner => w.all.find((s) => s.address === address)!;
const inBounds = (seconds: number, min: number, max: number) => seconds >= min && seconds <= max;
const sameTerms = (a: MediatorTerms, b: MediatorTerms) => (Object.keys(a) as (keyof MediatorTerms)[]).every((key) => a[key] === b[key]);

/** Why postJobOffer refuses this job at the model's state, in the contract's order; undefined if it posts. */
function jobRefusal(model: Model, mediator: string, resultTime: number, reactionTime: number): string | undefined {
  const b = DEFAULT_JOB_WINDOWS;
  if (!inBounds(resultTime, b.minResultTime, b.maxResultTime) || !inBounds(reactionTime, b.minReactionTime, b.maxReactionTime)) {
    return "WindowOutOfBounds";
  }
  const med = model.mediators.get(mediator)!;
  if (!med.active) return "UnknownMediator";
  if (resultTime + reactionTime + med.terms.mediationTime > med.terms.maxJobTime) return "JobTooLongForMediator";
  return undefined;
}

/** Why postMatch refuses this pair at time `at`, in the contract's order; undefined if it matches. */
function matchRefusal(model: Model, job: JobOffer, offer: ResourceOffer, at: bigint): string | undefined {
  const med = model.mediators.get(job.mediator)!;
  if (at > job.expiry || at > offer.expiry) return "OfferExpired";
  if (job.price < offer.requestedPrice) return "PriceBelowRequested";
  if (!offer.trustedMediators.includes(job.mediator)) return "UntrustedMediator";
  if (job.instructions > offer.instructionCapacity || job.bandwidth > offer.bandwidthCapacity) return "CapacityExceeded";
  if (
    job.resultTime < offer.minResultTime ||
    job.reactionTime > offer.maxReactionTime ||
    job.terms.mediationTime > offer.maxMediationTime ||
    job.terms.rpPrice > offer.maxMediatorPrice
  ) {
    return "OfferLimitExceeded";
  }
  if (!med.active || med.free < job.terms.bond) return "MediatorUnavailable";
  if (!sameTerms(job.terms, med.terms)) return "MediatorTermsChanged";
  if (offer.deposit < deposits(job.price, job.terms).deposit + job.terms.rpPrice) return "DepositTooLow";
  return undefined;
}

async function step(w: World, k: number): Promise<string> {
  const { market, model, random } = w;
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(random() * xs.length)] : undefined);
  // Every transaction goes in a block 12 s after the latest, as on a real chain.
  const next = BigInt(await time.latest()) + BigInt(BLOCK_TIME);
  await nextBlockIn12s();
  // Choose among the actions the state allows, weighted toward progress through a job's life.
  const matchesIn = (state: MatchState, beforeDeadline: boolean) =>
    [...model.matches.values()].some((m) => m.state === state && (beforeDeadline ? next <= m.deadline : next > m.deadline));
  const weights: [number, number][] = [
    [0, 3],
    [1, 3],
    [2, model.jobs.size && model.offers.size ? 8 : 0],
    [4, matchesIn(MatchState.AwaitingResult, true) ? 5 : 0],
    [5, matchesIn(MatchState.ResultPosted, true) ? 5 : 0],
    [6, matchesIn(MatchState.Mediating, true) ? 5 : 0],
    [7, 2],
    [8, [...model.matches.values()].some((m) => m.state !== MatchState.Closed && next > m.deadline) ? 4 : 0],
    [9, model.jobs.size ? 1 : 0],
    [10, [...model.matches.values()].some((m) => m.state === MatchState.Closed) ? 3 : 0],
    [11, 2],
    [12, 1],
    [13, [...model.mediators.values()].some((m) => !m.active) ? 2 : 0],
    [14, 1],
    [15, 1],
  ];
  let r = random() * weights.reduce((a, [, x]) => a + x, 0);
  const action = weights.find(([, x]) => (r -= x) < 0)![0];
  switch (action) {
    case 0: {
      const jc = pick(w.jcs)!;
      const med = pick(w.meds)!;
      // Mostly windows the protocol allows, sometimes one below its floor.
      const window = (floor: number) => (random() < 0.95 ? 100 + Math.floor(random() * 400) : Math.floor(random() * floor));
      const request = {
        mediator: med.address,
        specHash: id(`job ${k}`),
        instructions: BigInt(1 + Math.floor(random() * 100)),
        bandwidth: BigInt(1 + Math.floor(random() * 100)),
        expiry: next + BigInt(1000 + Math.floor(random() * 4000)),
        resultTime: window(DEFAULT_JOB_WINDOWS.minResultTime),
        reactionTime: window(DEFAULT_JOB_WINDOWS.minReactionTime),
        price: TOKENS(10 + Math.floor(random() * 90)),
        matchFee: TOKENS(Math.floor(random() * 3)),
        terms: model.mediators.get(med.address)!.terms,
      };
      const refusal = jobRefusal(model, med.address, request.resultTime, request.reactionTime);
      if (refusal) {
        await attempt(w, refusal, () => market.connect(jc).postJobOffer(request), "postJobOffer");
        return `postJobOffer (${refusal})`;
      }
      const { jobId, offer } = await postJobOffer(market, jc, request);
      model.jobs.set(jobId, offer);
      return "postJobOffer";
    }
    case 1: {
      const rp = pick(w.rps)!;
      // Each limit mostly accepts every random job and mediator, sometimes only some of them.
      const request = {
        instructionCapacity: BigInt(random() < 0.85 ? 100 + Math.floor(random() * 100) : Math.floor(random() * 100)),
        bandwidthCapacity: BigInt(random() < 0.85 ? 100 + Math.floor(random() * 100) : Math.floor(random() * 100)),
        expiry: next + BigInt(1000 + Math.floor(random() * 4000)),
        requestedPrice: TOKENS(random() < 0.85 ? Math.floor(random() * 10) : Math.floor(random() * 100)),
        matchFee: TOKENS(Math.floor(random() * 3)),
        deposit: TOKENS(random() < 0.85 ? 320 + Math.floor(random() * 300) : Math.floor(random() * 300)),
        minResultTime: random() < 0.9 ? 60 + Math.floor(random() * 41) : 100 + Math.floor(random() * 400),
        maxReactionTime: random() < 0.9 ? 500 + Math.floor(random() * 500) : 100 + Math.floor(random() * 400),
        maxMediationTime: random() < 0.9 ? 500 + Math.floor(random() * 500) : Math.floor(random() * 500),
        maxMediatorPrice: TOKENS(random() < 0.9 ? 3 + Math.floor(random() * 3) : 2),
        trustedMediators: w.meds.filter(() => random() < 0.85).map((m) => m.address),
      };
      const { offerId, offer } = await postResourceOffer(market, rp, request);
      model.offers.set(offerId, offer);
      return "postResourceOffer";
    }
    case 2:
    case 3: {
      const refusalOf = (jobId: bigint, offerId: bigint) => matchRefusal(model, model.jobs.get(jobId)!, model.offers.get(offerId)!, next);
      const pairs = [...model.jobs.keys()].flatMap((j) => [...model.offers.keys()].map((o) => [j, o] as const));
      // Mostly a pair the model says is valid, sometimes any pair (which may be refused).
      const candidates = random() < 0.75 ? pairs.filter(([j, o]) => refusalOf(j, o) === undefined) : pairs;
      const pair = pick(candidates.length ? candidates : pairs);
      if (!pair) return "skip";
      const [jobId, offerId] = pair;
      const job = model.jobs.get(jobId)!;
      const offer = model.offers.get(offerId)!;
      const med = model.mediators.get(job.mediator)!;
      const { deposit } = deposits(job.price, job.terms);
      const refusal = refusalOf(jobId, offerId);
      if (refusal) {
        await attempt(w, refusal, () => market.connect(w.solver).postMatch(jobId, job, offerId, offer), "postMatch");
        return `postMatch (${refusal})`;
      }
      const receipt = await (await market.connect(w.solver).postMatch(jobId, job, offerId, offer)).wait();
      const posted = receipt!.logs.map((log) => market.interface.parseLog(log)).find((e) => e?.name === "MatchPosted")!;
      const matchId: bigint = posted.args.matchId;
      const terms = toMatchTerms(posted.args.terms);
      model.jobs.delete(jobId);
      model.offers.delete(offerId);
      med.free -= job.terms.bond;
      med.open++;
      med.earnings += job.terms.jcPrice + job.terms.rpPrice; // the solver is paid at once
      model.credit(offer.rp, offer.deposit - deposit - job.terms.rpPrice);
      const latest = BigInt(await time.latest());
      model.matches.set(matchId, { terms, state: MatchState.AwaitingResult, verdict: Verdict.None, deadline: latest + BigInt(job.resultTime), claimed: { jc: false, rp: false, mediator: false } });
      return "postMatch";
    }
    case 4: {
      const entry = pick([...model.matches.entries()].filter(([, m]) => m.state === MatchState.AwaitingResult && next <= m.deadline));
      if (!entry) return "skip";
      const [matchId, m] = entry;
      const result = pick(HASHES)!;
      await (await market.connect(signerOf(w, m.terms.rp)).postResult(matchId, m.terms, result)).wait();
      m.state = MatchState.ResultPosted;
      m.result = result;
      m.deadline = BigInt(await time.latest()) + BigInt(m.terms.reactionTime);
      return "postResult";
    }
    case 5: {
      const entry = pick([...model.matches.entries()].filter(([, m]) => m.state === MatchState.ResultPosted && next <= m.deadline));
      if (!entry) return "skip";
      const [matchId, m] = entry;
      const jc = signerOf(w, m.terms.jc);
      if (random() < 0.5) {
        const before = await w.token.balanceOf(jc.address);
        await (await market.connect(jc).acceptResult(matchId, m.terms)).wait();
        model.close(m, Verdict.Accepted);
        m.claimed.jc = true;
        expect((await w.token.balanceOf(jc.address)) - before).to.equal(verdictPayouts(m.terms, Verdict.Accepted).jc);
        return "acceptResult";
      }
      await (await market.connect(jc).rejectResult(matchId, m.terms)).wait();
      m.state = MatchState.Mediating;
      m.deadline = BigInt(await time.latest()) + BigInt(m.terms.mediationTime);
      return "rejectResult";
    }
    case 6: {
      // The mediator rules whether or not it has left the registry since the match.
      const entry = pick([...model.matches.entries()].filter(([, m]) => m.state === MatchState.Mediating && next <= m.deadline));
      if (!entry) return "skip";
      const [matchId, m] = entry;
      const hashes = Array.from({ length: m.terms.n }, () => (random() < 0.8 ? HASHES[0] : HASHES[1]));
      const expected = hashes.some((h) => h !== hashes[0])
        ? Verdict.NonDeterministic
        : hashes[0] === m.result
          ? Verdict.JobCreatorWrong
          : Verdict.ResourceProviderCheated;
      const left = !model.mediators.get(m.terms.mediator)!.active;
      await (await market.connect(signerOf(w, m.terms.mediator)).mediate(matchId, m.terms, hashes)).wait();
      model.close(m, expected);
      m.claimed.mediator = true;
      const [status] = await market.matchStatus(matchId, m.terms);
      expect(Number(status.verdict)).to.equal(expected);
      return left ? "mediate (mediator left)" : "mediate";
    }
    case 7: {
      await pass12sBlocks(Math.floor(random() * 700));
      return "time passes";
    }
    case 8: {
      const entry = pick([...model.matches.entries()].filter(([, m]) => m.state !== MatchState.Closed && next > m.deadline));
      if (!entry) return "skip";
      const [matchId, m] = entry;
      const caller = pick(w.all)!;
      if (m.state === MatchState.AwaitingResult) {
        await (await market.connect(caller).timeoutResult(matchId, m.terms)).wait();
        model.close(m, Verdict.ResultTimeout);
      } else if (m.state === MatchState.ResultPosted) {
        await (await market.connect(caller).timeoutReaction(matchId, m.terms)).wait();
        model.close(m, Verdict.Accepted);
      } else {
        await (await market.connect(caller).timeoutMediation(matchId, m.terms)).wait();
        model.close(m, Verdict.MediationTimeout);
      }
      return "timeout";
    }
    case 9: {
      const jobId = pick([...model.jobs.keys()]);
      if (jobId === undefined) return "skip";
      const job = model.jobs.get(jobId)!;
      if (next > job.expiry) await (await market.connect(pick(w.all)!).expireJobOffer(jobId, job)).wait();
      else await (await market.connect(signerOf(w, job.jc)).cancelJobOffer(jobId, job)).wait();
      model.jobs.delete(jobId);
      model.credit(job.jc, jobEscrow(job.price, job.matchFee, job.terms));
      return "close job offer";
    }
    case 10: {
      const entry = pick([...model.matches.entries()].filter(([, m]) => m.state === MatchState.Closed));
      if (!entry) return "skip";
      const [matchId, m] = entry;
      const shares = verdictPayouts(m.terms, m.verdict);
      const role = pick(["jc", "rp", "mediator"] as const)!;
      const who = signerOf(w, m.terms[role]);
      const due = !m.claimed[role] && shares[role] > 0n;
      if (!(await attempt(w, due ? undefined : "NothingToClaim", () => market.connect(who).claimShare(matchId, m.terms), "claimShare"))) {
        return "claimShare (nothing)";
      }
      m.claimed[role] = true;
      return "claimShare";
    }
    case 11: {
      const who = pick(w.all)!;
      const credit = model.credits.get(who.address) ?? 0n;
      if (!(await attempt(w, credit > 0n ? undefined : "NothingToWithdraw", () => market.connect(who).withdraw(), "withdraw"))) {
        return "withdraw (nothing)";
      }
      model.credits.set(who.address, 0n);
      return "withdraw";
    }
    case 12: {
      // A mediator may leave at any time, its matches open or not.
      const med = pick(w.meds)!;
      const record = model.mediators.get(med.address)!;
      if (!(await attempt(w, record.active ? undefined : "UnknownMediator", () => market.connect(med).exitMediator(), "exitMediator"))) {
        return "exitMediator (not registered)";
      }
      model.credit(med.address, record.free + record.earnings);
      record.free = 0n;
      record.earnings = 0n;
      record.active = false;
      return record.open > 0 ? "exitMediator (matches open)" : "exitMediator";
    }
    case 13: {
      const med = pick(w.meds.filter((m) => !model.mediators.get(m.address)!.active));
      if (!med) return "skip";
      const record = model.mediators.get(med.address)!;
      await registerMediator(market, med, record.terms, TOKENS(100));
      record.free += TOKENS(100);
      record.active = true;
      return record.open > 0 ? "registerMediator again (matches open)" : "registerMediator again";
    }
    case 14: {
      // New terms apply to jobs posted from now on; the mediator's unmatched jobs can no longer be matched.
      const med = pick(w.meds)!;
      const record = model.mediators.get(med.address)!;
      const terms = { ...record.terms, jcPrice: TOKENS(1 + Math.floor(random() * 3)), mediationTime: 400 + 100 * Math.floor(random() * 3) };
      if (!(await attempt(w, record.active ? undefined : "UnknownMediator", () => market.connect(med).updateMediator(terms), "updateMediator"))) {
        return "updateMediator (not registered)";
      }
      record.terms = terms;
      return "updateMediator";
    }
    default: {
      // Mostly part of the free bond, sometimes more than it or nothing.
      const med = pick(w.meds)!;
      const record = model.mediators.get(med.address)!;
      const choice = random();
      const amount = choice < 0.8 ? (record.free * BigInt(1 + Math.floor(random() * 25))) / 100n : choice < 0.9 ? record.free + 1n : 0n;
      const refusal = amount === 0n ? "ZeroAmount" : amount > record.free ? "InsufficientFreeBond" : undefined;
      if (!(await attempt(w, refusal, () => market.connect(med).withdrawMediatorBond(amount), "withdrawMediatorBond"))) {
        return `withdrawMediatorBond (${refusal})`;
      }
      record.free -= amount;
      model.credit(med.address, amount);
      return "withdrawMediatorBond";
    }
  }
}

/** Closes everything that can be closed and takes every token out; nothing may remain. */
async function drain(w: World) {
  const { market, model } = w;
  await nextBlockIn12s();
  await pass12sBlocks(10_000);
  for (const [jobId, job] of [...model.jobs]) {
    await (await market.expireJobOffer(jobId, job)).wait();
    model.jobs.delete(jobId);
    model.credit(job.jc, jobEscrow(job.price, job.matchFee, job.terms));
  }
  for (const [offerId, offer] of [...model.offers]) {
    await (await market.expireResourceOffer(offerId, offer)).wait();
    model.offers.delete(offerId);
    model.credit(offer.rp, offer.deposit + offer.matchFee);
  }
  for (const [matchId, m] of model.matches) {
    if (m.state === MatchState.AwaitingResult) {
      await (await market.timeoutResult(matchId, m.terms)).wait();
      model.close(m, Verdict.ResultTimeout);
    } else if (m.state === MatchState.ResultPosted) {
      await (await market.timeoutReaction(matchId, m.terms)).wait();
      model.close(m, Verdict.Accepted);
    } else if (m.state === MatchState.Mediating) {
      await (await market.timeoutMediation(matchId, m.terms)).wait();
      model.close(m, Verdict.MediationTimeout);
    }
    const shares = verdictPayouts(m.terms, m.verdict);
    for (const role of ["jc", "rp", "mediator"] as const) {
      if (!m.claimed[role] && shares[role] > 0n) {
        await (await market.connect(signerOf(w, m.terms[role])).claimShare(matchId, m.terms)).wait();
        m.claimed[role] = true;
      }
    }
  }
  for (const med of w.meds) {
    const record = model.mediators.get(med.address)!;
    if (!record.active) continue; // it left: its bonds were credited as its matches closed
    await (await market.connect(med).exitMediator()).wait();
    model.credit(med.address, record.free + record.earnings);
    record.free = 0n;
    record.earnings = 0n;
    record.active = false;
  }
  await checkConservation(w, "closing everything");
  for (const s of w.all) {
    if ((await market.credits(s.address)) === 0n) continue;
    await (await market.connect(s).withdraw()).wait();
    model.credits.set(s.address, 0n);
  }
  await checkConservation(w, "drain");
  expect(await w.token.balanceOf(await market.getAddress())).to.equal(0n, "no funds stuck");
}

const BOND_CREDITED_AFTER_EXIT = "bond credited on close to a mediator that left";

describe("JobMarket: token conservation in random sequences", function () {
  this.timeout(300_000);
  const total: Record<string, number> = {};
  after(() => {
    // Every kind of action, refusal and exit ran somewhere in the sequences.
    for (const what of [
      "postJobOffer (WindowOutOfBounds)",
      "postJobOffer (JobTooLongForMediator)",
      "postJobOffer (UnknownMediator)",
      "postMatch",
      "postMatch (OfferLimitExceeded)",
      "postMatch (MediatorUnavailable)",
      "postMatch (MediatorTermsChanged)",
      "postResult",
      "acceptResult",
      "rejectResult",
      "mediate",
      "mediate (mediator left)",
      "timeout",
      "claimShare",
      "withdraw",
      "exitMediator (matches open)",
      "registerMediator again",
      "updateMediator",
      "withdrawMediatorBond",
      "withdrawMediatorBond (InsufficientFreeBond)",
      BOND_CREDITED_AFTER_EXIT,
    ]) {
      expect(total[what] ?? 0, what).to.be.greaterThan(0);
    }
  });
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`holds exactly what it owes after every one of 60 random actions, and ends empty (seed ${seed})`, async () => {
      const w = await setup(seed);
      const done: Record<string, number> = {};
      for (let k = 0; k < 60; k++) {
        const what = await step(w, k);
        done[what] = (done[what] ?? 0) + 1;
        await checkConservation(w, `${what} (step ${k})`);
      }
      done[BOND_CREDITED_AFTER_EXIT] = w.model.bondsCreditedAfterExit;
      await drain(w);
      for (const [what, count] of Object.entries(done)) total[what] = (total[what] ?? 0) + count;
      expect(done.postMatch ?? 0, "matches made").to.be.greaterThan(0);
    });
  }
});
