import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { id, parseEther, TransactionResponse } from "ethers";
import { deployAgora } from "../deploy/agora";
import type { JobMarket } from "../typechain-types";
import { MediatorTerms, MatchTerms, toJobOffer, toMatchTerms, toResourceOffer } from "../sdk/src/chain/jobs";

const WAD = 10n ** 18n;

async function gas(tx: Promise<TransactionResponse>): Promise<bigint> {
  return (await (await tx).wait())!.gasUsed;
}

export interface JobGasReport {
  rows: { operation: string; first: bigint; steady: bigint }[];
  happyPath: { first: bigint; steady: bigint };
  paths: { path: string; gas: bigint }[];
}

/**
 * Gas of the job market (SPEC §2, issue 4's benchmark): every call of the happy path for a first
 * job (accounts and counters untouched) and a second one (steady state), the mediation path, and
 * each timeout path. Approvals are left out: one unlimited approval per account serves every job.
 */
export async function jobMarketGas(): Promise<JobGasReport> {
  const [admin, jc, rp, mediator, solver, anyone] = await hre.ethers.getSigners();
  const { token, jobs: market } = await deployAgora(admin, { addressBookDir: false });
  const address = await market.getAddress();
  for (const s of [jc, rp, mediator]) {
    await token.transfer(s.address, parseEther("100000"));
    await token.connect(s).approve(address, hre.ethers.MaxUint256);
  }
  const terms: MediatorTerms = { pr: WAD / 2n, ndpr: WAD, jcPrice: parseEther("2"), rpPrice: parseEther("3"), bond: parseEther("50"), n: 3, mediationTime: 3600, maxJobTime: 86_400 };
  const register = await gas(market.connect(mediator).registerMediator(terms, parseEther("5000")));
  const price = parseEther("100");
  const deposit = parseEther("150") + terms.rpPrice; // exactly D_R + the RP price: no refund to withdraw

  const offers = async () => {
    const now = BigInt(await time.latest());
    const jobRequest = { mediator: mediator.address, specHash: id("job"), instructions: 1000n, bandwidth: 10n, expiry: now + 3600n, resultTime: 600, reactionTime: 600, price, matchFee: parseEther("5"), terms };
    const resourceRequest = { rp: rp.address, instructionCapacity: 10_000n, bandwidthCapacity: 100n, expiry: now + 3600n, requestedPrice: parseEther("80"), matchFee: parseEther("4"), deposit, minResultTime: 600, maxReactionTime: 600, maxMediationTime: 3600, maxMediatorPrice: terms.rpPrice, trustedMediators: [mediator.address] };
    const jobGas = await gas(market.connect(jc).postJobOffer(jobRequest));
    const offerGas = await gas(market.connect(rp).postResourceOffer(resourceRequest));
    const [j] = (await market.queryFilter(market.filters.JobOfferPosted())).slice(-1);
    const [o] = (await market.queryFilter(market.filters.ResourceOfferPosted())).slice(-1);
    return {
      jobGas,
      offerGas,
      job: { jobId: j.args.jobId, offer: toJobOffer(j.args.offer as never) },
      resource: { offerId: o.args.offerId, offer: toResourceOffer(o.args.offer as never) },
    };
  };
  const matchOf = async (m: JobMarket) => {
    const [e] = (await m.queryFilter(m.filters.MatchPosted())).slice(-1);
    return { matchId: e.args.matchId, terms: toMatchTerms(e.args.terms as never) as MatchTerms };
  };

  const happy = async () => {
    const { jobGas, offerGas, job, resource } = await offers();
    const matchGas = await gas(market.connect(solver).postMatch(job.jobId, job.offer, resource.offerId, resource.offer));
    const { matchId, terms: t } = await matchOf(market);
    const resultGas = await gas(market.connect(rp).postResult(matchId, t, id("result")));
    const acceptGas = await gas(market.connect(jc).acceptResult(matchId, t));
    const rpClaim = await gas(market.connect(rp).claimShare(matchId, t));
    const mediatorWithdraw = await gas(market.connect(mediator).withdrawMediatorEarnings());
    return [
      ["postJobOffer", jobGas],
      ["postResourceOffer", offerGas],
      ["postMatch (pays the solver its fees)", matchGas],
      ["postResult", resultGas],
      ["acceptResult (pays the JC its share)", acceptGas],
      ["claimShare (RP)", rpClaim],
      ["withdrawMediatorEarnings (its two prices)", mediatorWithdraw],
    ] as [string, bigint][];
  };
  const first = await happy();
  const steady = await happy();
  const rows = first.map(([operation, g], i) => ({ operation, first: g, steady: steady[i][1] }));
  const sum = (xs: [string, bigint][]) => xs.reduce((a, [, g]) => a + g, 0n);

  const paths: { path: string; gas: bigint }[] = [{ path: "registerMediator", gas: register }];
  const matched = async () => {
    const { job, resource } = await offers();
    await market.connect(solver).postMatch(job.jobId, job.offer, resource.offerId, resource.offer);
    return matchOf(market);
  };
  {
    const { matchId, terms: t } = await matched();
    await market.connect(rp).postResult(matchId, t, id("result"));
    const reject = await gas(market.connect(jc).rejectResult(matchId, t));
    const rule = await gas(market.connect(mediator).mediate(matchId, t, [id("other"), id("other"), id("other")]));
    const claim = await gas(market.connect(jc).claimShare(matchId, t));
    paths.push({ path: "rejectResult", gas: reject }, { path: "mediate, n = 3 (pays the mediator its share)", gas: rule }, { path: "claimShare (JC after mediation)", gas: claim });
  }
  {
    const { matchId, terms: t } = await matched();
    await time.increase(601);
    paths.push({ path: "timeoutResult (RP silent)", gas: await gas(market.connect(anyone).timeoutResult(matchId, t)) });
  }
  {
    const { matchId, terms: t } = await matched();
    await market.connect(rp).postResult(matchId, t, id("result"));
    await time.increase(601);
    paths.push({ path: "timeoutReaction (JC silent)", gas: await gas(market.connect(anyone).timeoutReaction(matchId, t)) });
  }
  {
    const { matchId, terms: t } = await matched();
    await market.connect(rp).postResult(matchId, t, id("result"));
    await market.connect(jc).rejectResult(matchId, t);
    await time.increase(3601);
    paths.push({ path: "timeoutMediation (mediator silent)", gas: await gas(market.connect(anyone).timeoutMediation(matchId, t)) });
  }
  {
    const { job, resource } = await offers();
    paths.push({ path: "cancelJobOffer", gas: await gas(market.connect(jc).cancelJobOffer(job.jobId, job.offer)) });
    await time.increase(3601);
    paths.push({ path: "expireResourceOffer", gas: await gas(market.connect(anyone).expireResourceOffer(resource.offerId, resource.offer)) });
  }
  return { rows, happyPath: { first: sum(first), steady: sum(steady) }, paths };
}
