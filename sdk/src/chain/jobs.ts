import type { ContractRunner, Signer, EventLog, Log } from "ethers";
import { JobMarket, JobMarket__factory } from "../../../typechain-types";
import { ensureAllowance } from "./allowance";
import { AgoraError } from "../errors";
import { AddressBook, contractAddress } from "./addressBook";

/** A mediator's terms (IJobMarket.MediatorTerms); rates are WAD. */
export interface MediatorTerms {
  pr: bigint;
  ndpr: bigint;
  jcPrice: bigint;
  rpPrice: bigint;
  bond: bigint;
  n: number;
  mediationTime: number;
  /** The longest a match may lock the mediator's bond: resultTime + reactionTime + mediationTime. */
  maxJobTime: number;
}

/** A job offer as the chain committed it (IJobMarket.JobOffer). */
export interface JobOffer {
  jc: string;
  mediator: string;
  specHash: string;
  instructions: bigint;
  bandwidth: bigint;
  expiry: bigint;
  resultTime: number;
  reactionTime: number;
  price: bigint;
  matchFee: bigint;
  terms: MediatorTerms;
}

/**
 * What a job creator chooses (JobMarket.JobRequest); the chain adds its address. `terms` are the
 * mediator's terms the JC agrees to (the chain refuses the job if they changed); `postJobOffer`
 * reads the current ones when they are left out.
 */
export type JobRequest = Omit<JobOffer, "jc" | "terms"> & { terms?: MediatorTerms };

/** A resource offer (IJobMarket.ResourceOffer): its limits are what the RP consents to. */
export interface ResourceOffer {
  rp: string;
  instructionCapacity: bigint;
  bandwidthCapacity: bigint;
  expiry: bigint;
  requestedPrice: bigint;
  matchFee: bigint;
  deposit: bigint;
  /** The shortest result window the RP accepts (seconds). */
  minResultTime: number;
  /** The longest reaction window the RP lets the JC take (seconds). */
  maxReactionTime: number;
  /** The longest mediation window the RP accepts (seconds). */
  maxMediationTime: number;
  /** The most availability price (rpPrice) the RP pays a mediator. */
  maxMediatorPrice: bigint;
  trustedMediators: string[];
}

/** The protocol's floor and ceiling of each window (JobMarket.windowBounds), seconds. */
export interface WindowBounds {
  minResultTime: number;
  maxResultTime: number;
  minReactionTime: number;
  maxReactionTime: number;
  minMediationTime: number;
  maxMediationTime: number;
}

export type ResourceRequest = Omit<ResourceOffer, "rp">;

/** The fixed terms of a match (IJobMarket.MatchTerms). */
export interface MatchTerms {
  jobId: bigint;
  offerId: bigint;
  jc: string;
  rp: string;
  mediator: string;
  price: bigint;
  deposit: bigint;
  ndDeposit: bigint;
  bond: bigint;
  n: number;
  reactionTime: number;
  mediationTime: number;
}

export enum MatchState {
  None = 0,
  AwaitingResult = 1,
  ResultPosted = 2,
  Mediating = 3,
  Closed = 4,
}

export enum Verdict {
  None = 0,
  Accepted = 1,
  JobCreatorWrong = 2,
  ResourceProviderCheated = 3,
  NonDeterministic = 4,
  ResultTimeout = 5,
  MediationTimeout = 6,
}

export interface MatchView {
  matchId: bigint;
  terms: MatchTerms;
  solver: string;
  state: MatchState;
  verdict: Verdict;
  /** The deadline of the current state (result, reaction or mediation), unix seconds. */
  deadline: bigint;
  resultHash: string;
  claimed: { jc: boolean; rp: boolean; mediator: boolean };
}

const WAD = 10n ** 18n;

/** D = P * PR * n and N = P * NDPR * n, floored, as the contract computes them. */
export function deposits(price: bigint, terms: MediatorTerms): { deposit: bigint; ndDeposit: bigint } {
  return { deposit: (price * terms.pr * BigInt(terms.n)) / WAD, ndDeposit: (price * terms.ndpr * BigInt(terms.n)) / WAD };
}

/** What a job offer escrows: P + D_J + N_J + match fee + the mediator's JC price. */
export function jobEscrow(price: bigint, matchFee: bigint, terms: MediatorTerms): bigint {
  const { deposit, ndDeposit } = deposits(price, terms);
  return price + deposit + ndDeposit + matchFee + terms.jcPrice;
}

/**
 * The verdict table of SPEC §2.1: what JC, RP and mediator get from a match. Written here on its
 * own (not read from the contract) so tests and simulations check the contract against it.
 */
export function verdictPayouts(t: Pick<MatchTerms, "price" | "deposit" | "ndDeposit" | "bond">, verdict: Verdict): { jc: bigint; rp: bigint; mediator: bigint } {
  const { price: p, deposit: d, ndDeposit: nd, bond } = t;
  switch (verdict) {
    case Verdict.Accepted:
      return { jc: d + nd, rp: p + d, mediator: 0n };
    case Verdict.JobCreatorWrong:
      return { jc: nd, rp: 2n * p + d, mediator: d - p };
    case Verdict.ResourceProviderCheated:
      return { jc: 2n * p + d + nd, rp: 0n, mediator: d - p };
    case Verdict.NonDeterministic:
      return { jc: p + d, rp: p + d, mediator: nd - p };
    case Verdict.ResultTimeout:
      return { jc: p + 2n * d + nd, rp: 0n, mediator: 0n };
    case Verdict.MediationTimeout:
      return { jc: p + d + nd + bond / 2n, rp: d + (bond - bond / 2n), mediator: 0n };
    default:
      return { jc: 0n, rp: 0n, mediator: 0n };
  }
}

/** The JobMarket of an address book, connected to `runner`. */
export function jobMarket(book: AddressBook, runner: ContractRunner): JobMarket {
  return JobMarket__factory.connect(contractAddress(book, "JobMarket"), runner);
}

// ------------------------------------------------------------------ conversions

type Tuple = readonly unknown[] & Record<string, unknown>;

export function toTerms(t: Tuple): MediatorTerms {
  return {
    pr: t.pr as bigint,
    ndpr: t.ndpr as bigint,
    jcPrice: t.jcPrice as bigint,
    rpPrice: t.rpPrice as bigint,
    bond: t.bond as bigint,
    n: Number(t.n),
    mediationTime: Number(t.mediationTime),
    maxJobTime: Number(t.maxJobTime),
  };
}

export function toJobOffer(t: Tuple): JobOffer {
  return {
    jc: t.jc as string,
    mediator: t.mediator as string,
    specHash: t.specHash as string,
    instructions: t.instructions as bigint,
    bandwidth: t.bandwidth as bigint,
    expiry: t.expiry as bigint,
    resultTime: Number(t.resultTime),
    reactionTime: Number(t.reactionTime),
    price: t.price as bigint,
    matchFee: t.matchFee as bigint,
    terms: toTerms(t.terms as Tuple),
  };
}

export function toResourceOffer(t: Tuple): ResourceOffer {
  return {
    rp: t.rp as string,
    instructionCapacity: t.instructionCapacity as bigint,
    bandwidthCapacity: t.bandwidthCapacity as bigint,
    expiry: t.expiry as bigint,
    requestedPrice: t.requestedPrice as bigint,
    matchFee: t.matchFee as bigint,
    deposit: t.deposit as bigint,
    minResultTime: Number(t.minResultTime),
    maxReactionTime: Number(t.maxReactionTime),
    maxMediationTime: Number(t.maxMediationTime),
    maxMediatorPrice: t.maxMediatorPrice as bigint,
    trustedMediators: [...(t.trustedMediators as string[])],
  };
}

/** The market's window bounds. */
export async function windowBounds(market: JobMarket): Promise<WindowBounds> {
  const b = await market.windowBounds();
  return {
    minResultTime: Number(b.minResultTime),
    maxResultTime: Number(b.maxResultTime),
    minReactionTime: Number(b.minReactionTime),
    maxReactionTime: Number(b.maxReactionTime),
    minMediationTime: Number(b.minMediationTime),
    maxMediationTime: Number(b.maxMediationTime),
  };
}

export function toMatchTerms(t: Tuple): MatchTerms {
  return {
    jobId: t.jobId as bigint,
    offerId: t.offerId as bigint,
    jc: t.jc as string,
    rp: t.rp as string,
    mediator: t.mediator as string,
    price: t.price as bigint,
    deposit: t.deposit as bigint,
    ndDeposit: t.ndDeposit as bigint,
    bond: t.bond as bigint,
    n: Number(t.n),
    reactionTime: Number(t.reactionTime),
    mediationTime: Number(t.mediationTime),
  };
}

function eventArgs(market: JobMarket, logs: readonly (Log | EventLog)[], name: string): Tuple {
  for (const log of logs) {
    try {
      const parsed = market.interface.parseLog(log);
      if (parsed?.name === name) return parsed.args as unknown as Tuple;
    } catch {
      // a log of another contract
    }
  }
  throw new AgoraError(`the transaction emitted no ${name} event`);
}

async function approve(market: JobMarket, signer: Signer, amount: bigint): Promise<void> {
  await ensureAllowance(await market.token(), signer, await market.getAddress(), amount);
}

// ------------------------------------------------------------------ mediators

/** Registers `signer` as a mediator with `terms`, approving and depositing `bond`. */
export async function registerMediator(market: JobMarket, signer: Signer, terms: MediatorTerms, bondDeposit: bigint): Promise<void> {
  await approve(market, signer, bondDeposit);
  await (await market.connect(signer).registerMediator(terms, bondDeposit)).wait();
}

/** A registered mediator's current terms; throws if it is not registered. */
export async function mediatorTerms(market: JobMarket, mediator: string): Promise<MediatorTerms> {
  const record = await market.mediator(mediator);
  if (!record.active) throw new AgoraError(`${mediator} is not a registered mediator`);
  return toTerms(record.terms as unknown as Tuple);
}

// ------------------------------------------------------------------ offers

/**
 * Posts a job offer, approving exactly its escrow; returns its id and the offer as committed. The
 * JC agrees to `request.terms`, or to the mediator's terms as read now.
 */
export async function postJobOffer(market: JobMarket, jc: Signer, request: JobRequest): Promise<{ jobId: bigint; offer: JobOffer }> {
  const terms = request.terms ?? (await mediatorTerms(market, request.mediator));
  await approve(market, jc, jobEscrow(request.price, request.matchFee, terms));
  const receipt = await (await market.connect(jc).postJobOffer({ ...request, terms })).wait();
  const args = eventArgs(market, receipt!.logs, "JobOfferPosted");
  return { jobId: args.jobId as bigint, offer: toJobOffer(args.offer as Tuple) };
}

/** Posts a resource offer, approving deposit + match fee; returns its id and the offer as committed. */
export async function postResourceOffer(
  market: JobMarket,
  rp: Signer,
  request: ResourceRequest,
): Promise<{ offerId: bigint; offer: ResourceOffer }> {
  await approve(market, rp, request.deposit + request.matchFee);
  const receipt = await (await market.connect(rp).postResourceOffer({ ...request, rp: await rp.getAddress() })).wait();
  const args = eventArgs(market, receipt!.logs, "ResourceOfferPosted");
  return { offerId: args.offerId as bigint, offer: toResourceOffer(args.offer as Tuple) };
}

/** Every job offer still open, with the offer as committed (read from the events). */
export async function openJobOffers(market: JobMarket, fromBlock = 0): Promise<{ jobId: bigint; offer: JobOffer }[]> {
  const events = await market.queryFilter(market.filters.JobOfferPosted(), fromBlock);
  const all = events.map((e) => ({ jobId: e.args.jobId, offer: toJobOffer(e.args.offer as unknown as Tuple) }));
  const open = await Promise.all(all.map((o) => market.isJobOfferOpen(o.jobId)));
  return all.filter((_, i) => open[i]);
}

/** Every resource offer still open, with the offer as committed. */
export async function openResourceOffers(market: JobMarket, fromBlock = 0): Promise<{ offerId: bigint; offer: ResourceOffer }[]> {
  const events = await market.queryFilter(market.filters.ResourceOfferPosted(), fromBlock);
  const all = events.map((e) => ({ offerId: e.args.offerId, offer: toResourceOffer(e.args.offer as unknown as Tuple) }));
  const open = await Promise.all(all.map((o) => market.isResourceOfferOpen(o.offerId)));
  return all.filter((_, i) => open[i]);
}

export async function cancelJobOffer(market: JobMarket, jc: Signer, jobId: bigint, offer: JobOffer): Promise<void> {
  await (await market.connect(jc).cancelJobOffer(jobId, offer)).wait();
}

export async function cancelResourceOffer(market: JobMarket, rp: Signer, offerId: bigint, offer: ResourceOffer): Promise<void> {
  await (await market.connect(rp).cancelResourceOffer(offerId, offer)).wait();
}

// ------------------------------------------------------------------ matches

/** A solver matches a job with a resource offer; returns the match id and its terms. */
export async function postMatch(
  market: JobMarket,
  solver: Signer,
  job: { jobId: bigint; offer: JobOffer },
  resource: { offerId: bigint; offer: ResourceOffer },
): Promise<{ matchId: bigint; terms: MatchTerms }> {
  const receipt = await (await market.connect(solver).postMatch(job.jobId, job.offer, resource.offerId, resource.offer)).wait();
  const args = eventArgs(market, receipt!.logs, "MatchPosted");
  return { matchId: args.matchId as bigint, terms: toMatchTerms(args.terms as Tuple) };
}

/** A match's terms (from its MatchPosted event) and its current state (from the contract). */
export async function readMatch(market: JobMarket, matchId: bigint): Promise<MatchView> {
  const [event] = await market.queryFilter(market.filters.MatchPosted(matchId));
  if (!event) throw new AgoraError(`no match ${matchId}`);
  const terms = toMatchTerms(event.args.terms as unknown as Tuple);
  const [status, resultHash] = await market.matchStatus(matchId, terms);
  const claimed = Number(status.claimed);
  return {
    matchId,
    terms,
    solver: event.args.solver,
    state: Number(status.state) as MatchState,
    verdict: Number(status.verdict) as Verdict,
    deadline: status.deadline,
    resultHash,
    claimed: { jc: (claimed & 1) !== 0, rp: (claimed & 2) !== 0, mediator: (claimed & 4) !== 0 },
  };
}

export async function postResult(market: JobMarket, rp: Signer, matchId: bigint, terms: MatchTerms, resultHash: string): Promise<void> {
  await (await market.connect(rp).postResult(matchId, terms, resultHash)).wait();
}

export async function acceptResult(market: JobMarket, jc: Signer, matchId: bigint, terms: MatchTerms): Promise<void> {
  await (await market.connect(jc).acceptResult(matchId, terms)).wait();
}

export async function rejectResult(market: JobMarket, jc: Signer, matchId: bigint, terms: MatchTerms): Promise<void> {
  await (await market.connect(jc).rejectResult(matchId, terms)).wait();
}

export async function mediate(market: JobMarket, mediator: Signer, matchId: bigint, terms: MatchTerms, resultHashes: string[]): Promise<Verdict> {
  const receipt = await (await market.connect(mediator).mediate(matchId, terms, resultHashes)).wait();
  return Number(eventArgs(market, receipt!.logs, "MatchClosed").verdict) as Verdict;
}

/** Closes a match whose current deadline passed (result, reaction or mediation timeout), as anyone. */
export async function timeout(market: JobMarket, caller: Signer, matchId: bigint, terms: MatchTerms, state: MatchState): Promise<void> {
  const m = market.connect(caller);
  const tx =
    state === MatchState.AwaitingResult
      ? await m.timeoutResult(matchId, terms)
      : state === MatchState.ResultPosted
        ? await m.timeoutReaction(matchId, terms)
        : state === MatchState.Mediating
          ? await m.timeoutMediation(matchId, terms)
          : undefined;
  if (!tx) throw new AgoraError(`match ${matchId} is ${MatchState[state]}: nothing times out`);
  await tx.wait();
}

export async function claimShare(market: JobMarket, party: Signer, matchId: bigint, terms: MatchTerms): Promise<void> {
  await (await market.connect(party).claimShare(matchId, terms)).wait();
}

/** Withdraws the caller's credits if it has any; returns the amount. */
export async function withdrawCredits(market: JobMarket, account: Signer): Promise<bigint> {
  const amount = await market.credits(await account.getAddress());
  if (amount > 0n) await (await market.connect(account).withdraw()).wait();
  return amount;
}
