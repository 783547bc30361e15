/**
 * The solver's decision (SPEC §2, "Solver"): which open job offers to match with which resource
 * offers. Pure: it is given the offers, the mediators' free bonds and the time, and returns the
 * pairs to post. A pair is valid exactly when `JobMarket.postMatch` would accept it; among valid
 * pairs it maximizes the total surplus (price - requested price), then the number of matches.
 */
import type { JobOffer, ResourceOffer } from "../chain/jobs";
import { deposits } from "../chain/jobs";
import { maxWeightMatching } from "./matching";

export interface OpenJob {
  jobId: bigint;
  offer: JobOffer;
}

export interface OpenResource {
  offerId: bigint;
  offer: ResourceOffer;
}

export interface MediatorState {
  active: boolean;
  freeBond: bigint;
}

/** Why `postMatch` would refuse a pair, or undefined if it would accept it. */
export function matchRefusal(job: JobOffer, offer: ResourceOffer, mediator: MediatorState | undefined, at: bigint): string | undefined {
  if (at > job.expiry) return "job offer expired";
  if (at > offer.expiry) return "resource offer expired";
  if (job.price < offer.requestedPrice) return "price below the requested price";
  if (!offer.trustedMediators.some((m) => m.toLowerCase() === job.mediator.toLowerCase())) return "mediator not trusted by the RP";
  if (job.instructions > offer.instructionCapacity || job.bandwidth > offer.bandwidthCapacity) return "capacity exceeded";
  if (job.resultTime < offer.minResultTime) return "result window shorter than the RP accepts";
  if (job.reactionTime > offer.maxReactionTime) return "reaction window longer than the RP accepts";
  if (job.terms.mediationTime > offer.maxMediationTime) return "mediation window longer than the RP accepts";
  if (job.terms.rpPrice > offer.maxMediatorPrice) return "mediator's RP price above what the RP pays";
  if (!mediator?.active || mediator.freeBond < job.terms.bond) return "mediator unavailable";
  if (offer.deposit < deposits(job.price, job.terms).deposit + job.terms.rpPrice) return "RP deposit too low";
  return undefined;
}

/**
 * The matches to post at time `at` (the timestamp the transactions will carry): a maximum-surplus
 * matching of valid pairs in which no mediator takes more jobs than its free bond covers.
 */
export function planMatches(
  jobs: readonly OpenJob[],
  resources: readonly OpenResource[],
  mediators: ReadonlyMap<string, MediatorState>,
  at: bigint,
): { job: OpenJob; resource: OpenResource; surplus: bigint }[] {
  const mediatorIds = [...new Set(jobs.map((j) => j.offer.mediator.toLowerCase()))];
  const groupOfJob = jobs.map((j) => mediatorIds.indexOf(j.offer.mediator.toLowerCase()));
  const capacity = mediatorIds.map((id, g) => {
    const m = mediators.get(id);
    if (!m?.active) return 0;
    const bonds = jobs.filter((_, j) => groupOfJob[j] === g).map((j) => j.offer.terms.bond);
    const bond = bonds.reduce((a, b) => (b > a ? b : a), 0n);
    return bond === 0n ? bonds.length : Number(m.freeBond / bond);
  });
  const scale = BigInt(jobs.length + 1);
  const candidates = jobs.flatMap((j, jobIndex) =>
    resources.flatMap((r, offerIndex) =>
      matchRefusal(j.offer, r.offer, mediators.get(j.offer.mediator.toLowerCase()), at) === undefined
        ? [{ job: jobIndex, offer: offerIndex, weight: (j.offer.price - r.offer.requestedPrice) * scale + 1n }]
        : [],
    ),
  );
  return maxWeightMatching(jobs.length, resources.length, candidates, groupOfJob, capacity).map(({ job, offer }) => ({
    job: jobs[job],
    resource: resources[offer],
    surplus: jobs[job].offer.price - resources[offer].offer.requestedPrice,
  }));
}
