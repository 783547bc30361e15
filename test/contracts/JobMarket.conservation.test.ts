import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { id } from "ethers";
import { deployAgora } from "../../deploy/agora";
import { seededRandom, TOKENS, WAD } from "../helpers";
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
 * bonds. After every transaction the market's token balance must equal it.
 */
class Model {
  jobs = new Map<bigint, JobOffer>();
  offers = new Map<bigint, ResourceOffer>();
  matches = new Map<bigint, ModelMatch>();
  credits = new Map<string, bigint>();
  mediators = new Map<string, { terms: MediatorTerms; free: bigint; earnings: bigint; active: boolean; open: number }>();

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
    if (verdict !== Verdict.MediationTimeout) med.free += m.terms.bond;
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
}

/** Succeeds or reverts as the model predicts; returns whether it succeeded. */
async function attempt(valid: boolean, send: () => Promise<{ wait(): Promise<unknown> }>, what: string): Promise<boolean> {
  if (valid) {
    await (await send()).wait();
    return true;
  }
  let reverted = false;
  try {
    await (await send()).wait();
  } catch {
    reverted = true;
  }
  expect(reverted, `${what} should have reverted`).to.equal(true);
  return false;
}

const signerOf = (w: World, address: string): HardhatEthersSigner => w.all.find((s) => s.address === address)!;

async function step(w: World, k: number): Promise<string> {
  const { market, model, random } = w;
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(random() * xs.length)] : undefined);
  const now = BigInt(await time.latest());
  const next = now + 1n;
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
  ];
  let r = random() * weights.reduce((a, [, x]) => a + x, 0);
  const action = weights.find(([, x]) => (r -= x) < 0)![0];
  switch (action) {
    case 0: {
      const jc = pick(w.jcs)!;
      const med = pick(w.meds)!;
      if (!model.mediators.get(med.address)!.active) return "skip";
      const request = {
        mediator: med.address,
        specHash: id(`job ${k}`),
        instructions: BigInt(1 + Math.floor(random() * 100)),
        bandwidth: BigInt(1 + Math.floor(random() * 100)),
        expiry: next + BigInt(1000 + Math.floor(random() * 4000)),
        resultTime: 100 + Math.floor(random() * 400),
        reactionTime: 100 + Math.floor(random() * 400),
        price: TOKENS(10 + Math.floor(random() * 90)),
        matchFee: TOKENS(Math.floor(random() * 3)),
      };
      const { jobId, offer } = await postJobOffer(market, jc, request);
      model.jobs.set(jobId, offer);
      return "postJobOffer";
    }
    case 1: {
      const rp = pick(w.rps)!;
      const request = {
        instructionCapacity: BigInt(random() < 0.85 ? 100 + Math.floor(random() * 100) : Math.floor(random() * 100)),
        bandwidthCapacity: BigInt(random() < 0.85 ? 100 + Math.floor(random() * 100) : Math.floor(random() * 100)),
        expiry: next + BigInt(1000 + Math.floor(random() * 4000)),
        requestedPrice: TOKENS(random() < 0.85 ? Math.floor(random() * 10) : Math.floor(random() * 100)),
        matchFee: TOKENS(Math.floor(random() * 3)),
        deposit: TOKENS(random() < 0.85 ? 320 + Math.floor(random() * 300) : Math.floor(random() * 300)),
        trustedMediators: w.meds.filter(() => random() < 0.85).map((m) => m.address),
      };
      const { offerId, offer } = await postResourceOffer(market, rp, request);
      model.offers.set(offerId, offer);
      return "postResourceOffer";
    }
    case 2:
    case 3: {
      const validPair = (jobId: bigint, offerId: bigint) => {
        const job = model.jobs.get(jobId)!;
        const offer = model.offers.get(offerId)!;
        const med = model.mediators.get(job.mediator)!;
        return (
          next <= job.expiry &&
          next <= offer.expiry &&
          job.price >= offer.requestedPrice &&
          offer.trustedMediators.includes(job.mediator) &&
          job.instructions <= offer.instructionCapacity &&
          job.bandwidth <= offer.bandwidthCapacity &&
          med.active &&
          med.free >= job.terms.bond &&
          offer.deposit >= deposits(job.price, job.terms).deposit + job.terms.rpPrice
        );
      };
      const pairs = [...model.jobs.keys()].flatMap((j) => [...model.offers.keys()].map((o) => [j, o] as const));
      // Mostly a pair the model says is valid, sometimes any pair (which may be refused).
      const candidates = random() < 0.75 ? pairs.filter(([j, o]) => validPair(j, o)) : pairs;
      const pair = pick(candidates.length ? candidates : pairs);
      if (!pair) return "skip";
      const [jobId, offerId] = pair;
      const job = model.jobs.get(jobId)!;
      const offer = model.offers.get(offerId)!;
      const med = model.mediators.get(job.mediator)!;
      const { deposit } = deposits(job.price, job.terms);
      const valid = validPair(jobId, offerId);
      if (!valid) {
        await attempt(false, () => market.connect(w.solver).postMatch(jobId, job, offerId, offer), "postMatch");
        return "postMatch (refused)";
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
      const entry = pick([...model.matches.entries()].filter(([, m]) => m.state === MatchState.Mediating && next <= m.deadline));
      if (!entry) return "skip";
      const [matchId, m] = entry;
      const hashes = Array.from({ length: m.terms.n }, () => (random() < 0.8 ? HASHES[0] : HASHES[1]));
      const expected = hashes.some((h) => h !== hashes[0])
        ? Verdict.NonDeterministic
        : hashes[0] === m.result
          ? Verdict.JobCreatorWrong
          : Verdict.ResourceProviderCheated;
      await (await market.connect(signerOf(w, m.terms.mediator)).mediate(matchId, m.terms, hashes)).wait();
      model.close(m, expected);
      m.claimed.mediator = true;
      const [status] = await market.matchStatus(matchId);
      expect(Number(status.verdict)).to.equal(expected);
      return "mediate";
    }
    case 7: {
      await time.increase(Math.floor(random() * 700));
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
      if (!(await attempt(due, () => market.connect(who).claimShare(matchId, m.terms), "claimShare"))) return "claimShare (nothing)";
      m.claimed[role] = true;
      return "claimShare";
    }
    default: {
      const who = pick(w.all)!;
      const credit = model.credits.get(who.address) ?? 0n;
      if (!(await attempt(credit > 0n, () => market.connect(who).withdraw(), "withdraw"))) return "withdraw (nothing)";
      model.credits.set(who.address, 0n);
      return "withdraw";
    }
  }
}

/** Closes everything that can be closed and takes every token out; nothing may remain. */
async function drain(w: World) {
  const { market, model } = w;
  await time.increase(10_000);
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
    await (await market.connect(med).exitMediator()).wait();
    model.credit(med.address, record.free + record.earnings);
    record.free = 0n;
    record.earnings = 0n;
  }
  for (const s of w.all) {
    if ((await market.credits(s.address)) === 0n) continue;
    await (await market.connect(s).withdraw()).wait();
    model.credits.set(s.address, 0n);
  }
  await checkConservation(w, "drain");
  expect(await w.token.balanceOf(await market.getAddress())).to.equal(0n, "no funds stuck");
}

describe("JobMarket: token conservation in random sequences", function () {
  this.timeout(300_000);
  const total: Record<string, number> = {};
  after(() => {
    // Every kind of action ran somewhere in the sequences.
    for (const what of ["postMatch", "postMatch (refused)", "postResult", "acceptResult", "rejectResult", "mediate", "timeout", "claimShare", "withdraw"]) {
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
      await drain(w);
      for (const [what, count] of Object.entries(done)) total[what] = (total[what] ?? 0) + count;
      expect(done.postMatch ?? 0, "matches made").to.be.greaterThan(0);
    });
  }
});
