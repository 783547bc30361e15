/**
 * Bots for every role of the job market (SPEC §2.3). Each looks at the chain and does what its
 * strategy says is due, one `step()` at a time: a JC verifies results with probability p, an RP
 * computes honestly with probability q (junk otherwise), a solver posts the best matches, a
 * mediator re-executes disputed jobs n times. Job specs travel off-chain, in a shared registry
 * keyed by spec hash (as a storage network would carry them).
 */
import type { Signer } from "ethers";
import { id } from "ethers";
import type { JobMarket } from "../../../typechain-types";
import { disputesJunk } from "../market/economics";
import { answerClasses, JobSpec, resultHash, runProgram, specHash } from "../market/programs";
import { MediatorState, OpenJob, OpenResource, planMatches } from "../market/solver";
import {
  JobRequest,
  MatchState,
  MatchTerms,
  ResourceRequest,
  Verdict,
  postJobOffer,
  postResourceOffer,
  toJobOffer,
  toMatchTerms,
  toResourceOffer,
  verdictPayouts,
} from "./jobs";

export type SpecRegistry = Map<string, JobSpec>;
type Random = () => number;
const WAD = 1e18;

interface KnownMatch {
  matchId: bigint;
  terms: MatchTerms;
  specHash: string;
}

/**
 * What a bot knows of the market, read from events incrementally (each refresh scans only the
 * blocks since the last one): every match with its terms and the spec its job runs.
 */
export class MarketIndex {
  readonly matches = new Map<bigint, KnownMatch>();
  private readonly specOfJob = new Map<bigint, string>();
  private scanned = -1;

  constructor(readonly market: JobMarket) {}

  async refresh(): Promise<void> {
    const latest = await this.market.runner!.provider!.getBlockNumber();
    if (latest <= this.scanned) return;
    const from = this.scanned + 1;
    const [jobs, matches] = await Promise.all([
      this.market.queryFilter(this.market.filters.JobOfferPosted(), from, latest),
      this.market.queryFilter(this.market.filters.MatchPosted(), from, latest),
    ]);
    for (const e of jobs) this.specOfJob.set(e.args.jobId, e.args.offer.specHash);
    for (const e of matches) {
      const terms = toMatchTerms(e.args.terms as never);
      this.matches.set(e.args.matchId, { matchId: e.args.matchId, terms, specHash: this.specOfJob.get(terms.jobId)! });
    }
    this.scanned = latest;
  }

  /** The matches in which `account` plays `role`. */
  async matchesOf(role: "jc" | "rp" | "mediator", account: string): Promise<KnownMatch[]> {
    await this.refresh();
    return [...this.matches.values()].filter((m) => m.terms[role].toLowerCase() === account.toLowerCase());
  }
}

async function status(market: JobMarket, m: KnownMatch): Promise<{ state: MatchState; verdict: Verdict; claimed: number; resultHash: string }> {
  const [s, result] = await market.matchStatus(m.matchId, m.terms);
  return { state: Number(s.state), verdict: Number(s.verdict), claimed: Number(s.claimed), resultHash: result };
}

/**
 * Claims every share `signer` holds in closed matches and withdraws its credits; returns the
 * amount. Matches it has fully collected go into `settled` and are not looked at again.
 */
async function collect(market: JobMarket, signer: Signer, mine: KnownMatch[], roleBit: (t: MatchTerms) => number, settled: Set<bigint>): Promise<bigint> {
  const me = await signer.getAddress();
  let total = 0n;
  for (const m of mine) {
    if (settled.has(m.matchId)) continue;
    const s = await status(market, m);
    if (s.state !== MatchState.Closed) continue;
    const bits = roleBit(m.terms);
    const shares = verdictPayouts(m.terms, s.verdict);
    const due =
      (bits & 1 && !(s.claimed & 1) ? shares.jc : 0n) + (bits & 2 && !(s.claimed & 2) ? shares.rp : 0n) + (bits & 4 && !(s.claimed & 4) ? shares.mediator : 0n);
    if (due > 0n) {
      await (await market.connect(signer).claimShare(m.matchId, m.terms)).wait();
      total += due;
    }
    settled.add(m.matchId);
  }
  const credit = await market.credits(me);
  if (credit > 0n) {
    await (await market.connect(signer).withdraw()).wait();
    total += credit;
  }
  const earnings = (await market.mediator(me)).earnings;
  if (earnings > 0n) {
    await (await market.connect(signer).withdrawMediatorEarnings()).wait();
    total += earnings;
  }
  return total;
}

const bitFor = (me: string) => (t: MatchTerms) =>
  (t.jc.toLowerCase() === me ? 1 : 0) | (t.rp.toLowerCase() === me ? 2 : 0) | (t.mediator.toLowerCase() === me ? 4 : 0);

/** What a JC saw and did with one result. */
export interface Reaction {
  matchId: bigint;
  terms: MatchTerms;
  verified: boolean;
  /** The class of the RP's answer, as the JC's verification found it. */
  answer?: "a1" | "a2" | "junk";
  disputed: boolean;
}

export class JobCreatorBot {
  readonly reactions: Reaction[] = [];
  private readonly index: MarketIndex;
  private readonly settled = new Set<bigint>();

  constructor(
    readonly market: JobMarket,
    readonly signer: Signer,
    readonly strategy: { verifyProbability: number; disputeSecondClass: boolean },
    readonly specs: SpecRegistry,
    readonly random: Random,
  ) {
    this.index = new MarketIndex(market);
  }

  /** Posts a job running `spec`; publishes the spec in the registry. */
  async post(spec: JobSpec, request: Omit<JobRequest, "specHash">) {
    const hash = specHash(spec);
    this.specs.set(hash, spec);
    return postJobOffer(this.market, this.signer, { ...request, specHash: hash });
  }

  /** Reacts to every posted result (verify with probability p, then accept or dispute), collects what is owed. */
  async step(): Promise<bigint> {
    const me = (await this.signer.getAddress()).toLowerCase();
    const mine = await this.index.matchesOf("jc", me);
    for (const m of mine) {
      if (this.settled.has(m.matchId)) continue;
      const s = await status(this.market, m);
      if (s.state !== MatchState.ResultPosted) continue;
      const reaction = this.react(m, s.resultHash);
      this.reactions.push(reaction);
      const tx = reaction.disputed ? this.market.connect(this.signer).rejectResult(m.matchId, m.terms) : this.market.connect(this.signer).acceptResult(m.matchId, m.terms);
      await (await tx).wait();
    }
    return collect(this.market, this.signer, mine, bitFor(me), this.settled);
  }

  private react(m: KnownMatch, posted: string): Reaction {
    if (this.random() >= this.strategy.verifyProbability) return { matchId: m.matchId, terms: m.terms, verified: false, disputed: false };
    const spec = this.specs.get(m.specHash)!;
    const classes = answerClasses(spec).map(resultHash);
    const answer = posted === classes[0] ? "a1" : posted === classes[1] ? "a2" : "junk";
    const junkWorthDisputing = disputesJunk({ n: m.terms.n, ndpr: Number(m.terms.ndDeposit) / Number(m.terms.price) / m.terms.n, price: Number(m.terms.price) / WAD, p1: spec.p1 ?? 1 });
    const disputed = answer === "a2" ? this.strategy.disputeSecondClass : answer === "junk" ? junkWorthDisputing : false;
    return { matchId: m.matchId, terms: m.terms, verified: true, answer, disputed };
  }
}

export class ResourceProviderBot {
  /** Whether each result it posted was computed honestly, by match. */
  readonly honest = new Map<bigint, boolean>();
  private readonly index: MarketIndex;
  private readonly settled = new Set<bigint>();

  constructor(
    readonly market: JobMarket,
    readonly signer: Signer,
    readonly strategy: { honesty: number },
    readonly specs: SpecRegistry,
    readonly random: Random,
  ) {
    this.index = new MarketIndex(market);
  }

  async offer(request: ResourceRequest) {
    return postResourceOffer(this.market, this.signer, request);
  }

  /** Posts a result for every match awaiting one (computed with probability q, junk otherwise), collects what is owed. */
  async step(): Promise<bigint> {
    const me = (await this.signer.getAddress()).toLowerCase();
    const mine = await this.index.matchesOf("rp", me);
    for (const m of mine) {
      if (this.settled.has(m.matchId) || this.honest.has(m.matchId)) continue;
      if ((await status(this.market, m)).state !== MatchState.AwaitingResult) continue;
      const honest = this.random() < this.strategy.honesty;
      const result = honest ? runProgram(this.specs.get(m.specHash)!, this.random) : `junk:${this.random()}`;
      this.honest.set(m.matchId, honest);
      await (await this.market.connect(this.signer).postResult(m.matchId, m.terms, resultHash(result))).wait();
    }
    return collect(this.market, this.signer, mine, bitFor(me), this.settled);
  }
}

export class MediatorBot {
  private readonly index: MarketIndex;
  private readonly settled = new Set<bigint>();

  constructor(
    readonly market: JobMarket,
    readonly signer: Signer,
    readonly specs: SpecRegistry,
    readonly random: Random,
  ) {
    this.index = new MarketIndex(market);
  }

  /** Re-executes every job it must rule on n times and rules; collects what is owed. */
  async step(): Promise<bigint> {
    const me = (await this.signer.getAddress()).toLowerCase();
    const mine = await this.index.matchesOf("mediator", me);
    for (const m of mine) {
      if (this.settled.has(m.matchId)) continue;
      if ((await status(this.market, m)).state !== MatchState.Mediating) continue;
      const spec = this.specs.get(m.specHash)!;
      const hashes = Array.from({ length: m.terms.n }, () => resultHash(runProgram(spec, this.random)));
      await (await this.market.connect(this.signer).mediate(m.matchId, m.terms, hashes)).wait();
    }
    return collect(this.market, this.signer, mine, bitFor(me), this.settled);
  }
}

export class SolverBot {
  private readonly jobs = new Map<bigint, OpenJob>();
  private readonly resources = new Map<bigint, OpenResource>();
  private scanned = -1;

  constructor(
    readonly market: JobMarket,
    readonly signer: Signer,
  ) {}

  /** Keeps the open offers current from the events since the last look. */
  private async refresh(): Promise<void> {
    const latest = await this.signer.provider!.getBlockNumber();
    if (latest <= this.scanned) return;
    const from = this.scanned + 1;
    const f = this.market.filters;
    const [posted, offered, jobClosed, offerClosed, matched] = await Promise.all([
      this.market.queryFilter(f.JobOfferPosted(), from, latest),
      this.market.queryFilter(f.ResourceOfferPosted(), from, latest),
      this.market.queryFilter(f.JobOfferClosed(), from, latest),
      this.market.queryFilter(f.ResourceOfferClosed(), from, latest),
      this.market.queryFilter(f.MatchPosted(), from, latest),
    ]);
    for (const e of posted) this.jobs.set(e.args.jobId, { jobId: e.args.jobId, offer: toJobOffer(e.args.offer as never) });
    for (const e of offered) this.resources.set(e.args.offerId, { offerId: e.args.offerId, offer: toResourceOffer(e.args.offer as never) });
    for (const e of jobClosed) this.jobs.delete(e.args.jobId);
    for (const e of offerClosed) this.resources.delete(e.args.offerId);
    for (const e of matched) {
      this.jobs.delete(e.args.terms.jobId);
      this.resources.delete(e.args.terms.offerId);
    }
    this.scanned = latest;
  }

  /** Posts the best matches of the open offers (each pays its fees at once). Returns the number of matches. */
  async step(): Promise<number> {
    await this.refresh();
    const jobs = [...this.jobs.values()];
    const mediators = new Map<string, MediatorState>();
    for (const address of new Set(jobs.map((j) => j.offer.mediator.toLowerCase()))) {
      const r = await this.market.mediator(address);
      mediators.set(address, { active: r.active, freeBond: r.freeBond });
    }
    const block = await this.signer.provider!.getBlock("latest");
    const plan = planMatches(jobs, [...this.resources.values()], mediators, BigInt(block!.timestamp) + 1n);
    for (const p of plan) {
      await (await this.market.connect(this.signer).postMatch(p.job.jobId, p.job.offer, p.resource.offerId, p.resource.offer)).wait();
    }
    return plan.length;
  }
}

/** A fresh input for a job (distinct spec hashes for repeated jobs). */
export function jobInput(k: number): string {
  return id(`agora job input ${k}`);
}
