import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { id } from "ethers";
import { deployAgora } from "../../deploy/agora";
import type { AgoraToken, JobMarket } from "../../typechain-types";
import {
  JobOffer,
  JobRequest,
  MediatorTerms,
  ResourceOffer,
  ResourceRequest,
  postJobOffer,
  postResourceOffer,
  postMatch,
  readMatch,
  registerMediator,
  MatchTerms,
} from "../../sdk/src/chain/jobs";
import { BLOCK_TIME, TOKENS, WAD, nextBlockIn12s, pass12sBlocks } from "../helpers";

export const TERMS: MediatorTerms = {
  pr: WAD / 2n, // PR * n = 1.5
  ndpr: WAD, // NDPR * n = 3
  jcPrice: TOKENS(2),
  rpPrice: TOKENS(3),
  bond: TOKENS(50),
  n: 3,
  mediationTime: 3600,
  maxJobTime: 86_400, // a day: the default job (600 + 600 + 3600 s) fits with room to spare
};

/** IJobMarket.Window, the windows the protocol bounds. */
export enum Window {
  Result = 0,
  Reaction = 1,
  Mediation = 2,
}

/** IJobMarket.OfferLimit, the limits of a resource offer. */
export enum OfferLimit {
  MinResultTime = 0,
  MaxReactionTime = 1,
  MaxMediationTime = 2,
  MaxMediatorPrice = 3,
}

export interface JobFixture {
  token: AgoraToken;
  market: JobMarket;
  jc: HardhatEthersSigner;
  rp: HardhatEthersSigner;
  mediator: HardhatEthersSigner;
  solver: HardhatEthersSigner;
  outsider: HardhatEthersSigner;
  others: HardhatEthersSigner[];
}

/** A job market with a funded JC, RP, solver and outsider, and a mediator registered with TERMS and a 500-token bond. */
export async function deployJobs(initialSupply?: bigint): Promise<JobFixture> {
  const [admin, jc, rp, mediator, solver, outsider, ...others] = await hre.ethers.getSigners();
  const { token, jobs: market } = await deployAgora(admin, { addressBookDir: false, initialSupply });
  for (const s of [jc, rp, mediator, solver, outsider, ...others.slice(0, 6)]) await token.transfer(s.address, TOKENS(100_000));
  await registerMediator(market, mediator, TERMS, TOKENS(500));
  return { token, market, jc, rp, mediator, solver, outsider, others: others.slice(0, 6) };
}

/**
 * The default job: 600 s to post a result, 600 s to react, P = 100. Without `terms` in the
 * overrides, postJobOffer agrees to the mediator's terms as they are when it posts.
 */
export async function jobRequest(f: JobFixture, overrides: Partial<JobRequest> = {}): Promise<JobRequest> {
  return {
    mediator: f.mediator.address,
    specHash: id("sha256 chain of input 42"),
    instructions: 1_000_000n,
    bandwidth: 1_000n,
    expiry: BigInt(await time.latest()) + 86_400n,
    resultTime: 600,
    reactionTime: 600,
    price: TOKENS(100),
    matchFee: TOKENS(5),
    ...overrides,
  };
}

/** The default resource offer: its limits accept the default job and TERMS, each with room to spare. */
export async function resourceRequest(f: JobFixture, overrides: Partial<ResourceRequest> = {}): Promise<ResourceRequest> {
  return {
    instructionCapacity: 10_000_000n,
    bandwidthCapacity: 10_000n,
    expiry: BigInt(await time.latest()) + 86_400n,
    requestedPrice: TOKENS(80),
    matchFee: TOKENS(4),
    deposit: TOKENS(200),
    minResultTime: 300,
    maxReactionTime: 1_200,
    maxMediationTime: 7_200,
    maxMediatorPrice: TOKENS(5),
    trustedMediators: [f.mediator.address],
    ...overrides,
  };
}

export interface Posted {
  job: { jobId: bigint; offer: JobOffer };
  resource: { offerId: bigint; offer: ResourceOffer };
}

export async function postBoth(f: JobFixture, job: Partial<JobRequest> = {}, resource: Partial<ResourceRequest> = {}): Promise<Posted> {
  return {
    job: await postJobOffer(f.market, f.jc, await jobRequest(f, job)),
    resource: await postResourceOffer(f.market, f.rp, await resourceRequest(f, resource)),
  };
}

/** Posts both offers and matches them (the solver); returns the match. */
export async function matched(f: JobFixture): Promise<Posted & { matchId: bigint; terms: MatchTerms }> {
  const posted = await postBoth(f);
  const m = await postMatch(f.market, f.solver, posted.job, posted.resource);
  return { ...posted, ...m };
}

/** The deadline of a match's current state (result, reaction or mediation). */
export async function deadlineOf(f: JobFixture, matchId: bigint): Promise<bigint> {
  return (await readMatch(f.market, matchId)).deadline;
}

/**
 * Mines 12-second blocks toward `timestamp` and stops at the last one before it (the latest block
 * is then 1 to 12 s before it): the next block can be set at `timestamp` exactly, and the next
 * 12-second block comes at or after it.
 */
export async function pass12sBlocksUpTo(timestamp: bigint): Promise<void> {
  const blocks = (timestamp - 1n - BigInt(await time.latest())) / BigInt(BLOCK_TIME);
  if (blocks <= 0n) return;
  // hardhat_mine puts its first block 1 s after the latest; the 12 s spacing applies from there.
  await nextBlockIn12s();
  await pass12sBlocks(blocks * BigInt(BLOCK_TIME));
}
