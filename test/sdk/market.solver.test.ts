import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { id as hashOf } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { deployAgora } from "../../deploy/agora";
import { maxWeightMatching, Candidate } from "../../sdk/src/market/matching";
import { matchRefusal, planMatches, OpenJob, OpenResource } from "../../sdk/src/market/solver";
import { postJobOffer, postResourceOffer, registerMediator } from "../../sdk/src/chain/jobs";
import type { JobOffer, MediatorTerms, ResourceOffer, ResourceRequest } from "../../sdk/src/chain/jobs";
import { BLOCK_TIME, TOKENS } from "../helpers";

/** The best total weight by trying every assignment (small cases only). */
function bruteForce(jobs: number, offers: number, candidates: Candidate[], groupOfJob: number[], capacity: number[]): bigint {
  const weight = new Map(candidates.filter((c) => c.weight > 0n).map((c) => [`${c.job},${c.offer}`, c.weight]));
  let best = 0n;
  const used = new Set<number>();
  const load = capacity.map(() => 0);
  const go = (j: number, total: bigint) => {
    if (j === jobs) {
      if (total > best) best = total;
      return;
    }
    go(j + 1, total);
    for (let o = 0; o < offers; o++) {
      const w = weight.get(`${j},${o}`);
      const g = groupOfJob[j];
      if (w === undefined || used.has(o) || load[g] >= capacity[g]) continue;
      used.add(o);
      load[g]++;
      go(j + 1, total + w);
      used.delete(o);
      load[g]--;
    }
  };
  go(0, 0n);
  return best;
}

describe("SDK market: maximum-weight matching", () => {
  it("picks the best pairs, not the greedy ones", () => {
    // Greedy takes (0,0) worth 10 and leaves 1 alone; the optimum is (0,1) + (1,0) = 9 + 9.
    const pairs = maxWeightMatching(2, 2, [
      { job: 0, offer: 0, weight: 10n },
      { job: 0, offer: 1, weight: 9n },
      { job: 1, offer: 0, weight: 9n },
    ], [0, 0], [2]);
    expect(pairs).to.deep.equal([
      { job: 0, offer: 1 },
      { job: 1, offer: 0 },
    ]);
  });

  it("respects a mediator's capacity", () => {
    const pairs = maxWeightMatching(2, 2, [
      { job: 0, offer: 0, weight: 5n },
      { job: 1, offer: 1, weight: 7n },
    ], [0, 0], [1]);
    expect(pairs).to.deep.equal([{ job: 1, offer: 1 }]);
  });

  it("finds the optimum of every small random instance", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.tuple(fc.nat(4), fc.nat(4), fc.integer({ min: -3, max: 20 })), { maxLength: 25 }),
        fc.array(fc.nat(3), { minLength: 5, maxLength: 5 }),
        fc.array(fc.nat(1), { minLength: 5, maxLength: 5 }),
        (jobs, offers, raw, capacity2, groups) => {
          const candidates = raw.filter(([j, o]) => j < jobs && o < offers).map(([job, offer, w]) => ({ job, offer, weight: BigInt(w) }));
          const unique = [...new Map(candidates.map((c) => [`${c.job},${c.offer}`, c])).values()];
          const groupOfJob = groups.slice(0, jobs);
          const capacity = capacity2.slice(0, 2);
          const pairs = maxWeightMatching(jobs, offers, unique, groupOfJob, capacity);
          const w = new Map(unique.map((c) => [`${c.job},${c.offer}`, c.weight]));
          expect(new Set(pairs.map((p) => p.job)).size).to.equal(pairs.length);
          expect(new Set(pairs.map((p) => p.offer)).size).to.equal(pairs.length);
          capacity.forEach((cap, g) => expect(pairs.filter((p) => groupOfJob[p.job] === g).length).to.be.at.most(cap));
          const total = pairs.reduce((a, p) => a + w.get(`${p.job},${p.offer}`)!, 0n);
          expect(total).to.equal(bruteForce(jobs, offers, unique, groupOfJob, capacity));
        },
      ),
      { seed: 31, numRuns: 300 },
    );
  });
});

describe("SDK market: the solver's plan", () => {
  const terms: MediatorTerms = { pr: 10n ** 18n, ndpr: 10n ** 18n, jcPrice: 1n, rpPrice: 2n, bond: 10n, n: 1, mediationTime: 60, maxJobTime: 180 };
  const M = "0x00000000000000000000000000000000000000aa";
  const job = (price: bigint, overrides: Partial<JobOffer> = {}): JobOffer => ({
    jc: "0x01",
    mediator: M,
    specHash: "0x",
    instructions: 10n,
    bandwidth: 10n,
    expiry: 1000n,
    resultTime: 60,
    reactionTime: 60,
    price,
    matchFee: 0n,
    terms,
    ...overrides,
  });
  const offer = (requestedPrice: bigint, overrides: Partial<ResourceOffer> = {}): ResourceOffer => ({
    rp: "0x02",
    instructionCapacity: 100n,
    bandwidthCapacity: 100n,
    expiry: 1000n,
    requestedPrice,
    matchFee: 0n,
    deposit: 1000n,
    // The job's windows and mediator price exactly at the offer's limits.
    minResultTime: 60,
    maxReactionTime: 60,
    maxMediationTime: 60,
    maxMediatorPrice: 2n,
    trustedMediators: [M],
    ...overrides,
  });

  it("refuses exactly what the contract refuses", () => {
    const m = { active: true, freeBond: 100n };
    expect(matchRefusal(job(50n), offer(40n), m, 500n)).to.equal(undefined);
    expect(matchRefusal(job(50n, { expiry: 10n }), offer(40n), m, 500n)).to.equal("job offer expired");
    expect(matchRefusal(job(50n), offer(40n, { expiry: 10n }), m, 500n)).to.equal("resource offer expired");
    expect(matchRefusal(job(30n), offer(40n), m, 500n)).to.equal("price below the requested price");
    expect(matchRefusal(job(50n), offer(40n, { trustedMediators: [] }), m, 500n)).to.equal("mediator not trusted by the RP");
    expect(matchRefusal(job(50n, { bandwidth: 101n }), offer(40n), m, 500n)).to.equal("capacity exceeded");
    expect(matchRefusal(job(50n), offer(40n), { active: true, freeBond: 9n }, 500n)).to.equal("mediator unavailable");
    expect(matchRefusal(job(50n), offer(40n, { deposit: 51n }), m, 500n)).to.equal("RP deposit too low");
    // The RP's limits, one unit past each.
    expect(matchRefusal(job(50n, { resultTime: 59 }), offer(40n), m, 500n)).to.equal("result window shorter than the RP accepts");
    expect(matchRefusal(job(50n, { reactionTime: 61 }), offer(40n), m, 500n)).to.equal("reaction window longer than the RP accepts");
    expect(matchRefusal(job(50n, { terms: { ...terms, mediationTime: 61 } }), offer(40n), m, 500n)).to.equal("mediation window longer than the RP accepts");
    expect(matchRefusal(job(50n, { terms: { ...terms, rpPrice: 3n } }), offer(40n), m, 500n)).to.equal("mediator's RP price above what the RP pays");
  });

  it("checks the RP's limits in the contract's order: after the capacity, in the order of the offer's fields, before the mediator", () => {
    const m = { active: true, freeBond: 100n };
    const beyondAll = job(50n, { resultTime: 59, reactionTime: 61, terms: { ...terms, mediationTime: 61, rpPrice: 3n } });
    expect(matchRefusal({ ...beyondAll, bandwidth: 101n }, offer(40n), m, 500n)).to.equal("capacity exceeded");
    expect(matchRefusal(beyondAll, offer(40n), { active: false, freeBond: 0n }, 500n)).to.equal("result window shorter than the RP accepts");
    expect(matchRefusal({ ...beyondAll, resultTime: 60 }, offer(40n), m, 500n)).to.equal("reaction window longer than the RP accepts");
    expect(matchRefusal({ ...beyondAll, resultTime: 60, reactionTime: 60 }, offer(40n), m, 500n)).to.equal("mediation window longer than the RP accepts");
    expect(matchRefusal({ ...beyondAll, resultTime: 60, reactionTime: 60, terms: { ...beyondAll.terms, mediationTime: 60 } }, offer(40n), m, 500n)).to.equal(
      "mediator's RP price above what the RP pays",
    );
    expect(matchRefusal(job(50n, { terms: { ...terms, rpPrice: 3n } }), offer(40n), { active: false, freeBond: 0n }, 500n)).to.equal("mediator's RP price above what the RP pays");
  });

  it("refuses exactly the pairs postMatch refuses for each of the RP's limits, at the limit and one unit past it", async () => {
    const [admin, jc, rp, mediator, solver] = await hre.ethers.getSigners();
    const { token, jobs: market } = await deployAgora(admin, { addressBookDir: false });
    for (const s of [jc, rp, mediator]) await token.transfer(s.address, TOKENS(10_000));
    const mediatorTerms: MediatorTerms = { pr: 10n ** 18n / 2n, ndpr: 10n ** 18n, jcPrice: TOKENS(2), rpPrice: TOKENS(3), bond: TOKENS(50), n: 3, mediationTime: 3600, maxJobTime: 86_400 };
    await registerMediator(market, mediator, mediatorTerms, TOKENS(500));
    const now = BigInt(await time.latest());
    const posted = await postJobOffer(market, jc, {
      mediator: mediator.address,
      specHash: hashOf("a job"),
      instructions: 1_000n,
      bandwidth: 100n,
      expiry: now + 86_400n,
      resultTime: 1200,
      reactionTime: 900,
      price: TOKENS(10),
      matchFee: 0n,
    });
    const atLimits: ResourceRequest = {
      instructionCapacity: 1_000n,
      bandwidthCapacity: 100n,
      expiry: now + 86_400n,
      requestedPrice: TOKENS(10),
      matchFee: 0n,
      deposit: TOKENS(100),
      minResultTime: 1200,
      maxReactionTime: 900,
      maxMediationTime: 3600,
      maxMediatorPrice: TOKENS(3),
      trustedMediators: [mediator.address],
    };
    // IJobMarket.OfferLimit, the offer one unit past each limit, the job's value it meets, and the solver's reason.
    const limits = [
      { limit: 0, past: { minResultTime: 1201 }, value: 1200, bound: 1201, reason: "result window shorter than the RP accepts" },
      { limit: 1, past: { maxReactionTime: 899 }, value: 900, bound: 899, reason: "reaction window longer than the RP accepts" },
      { limit: 2, past: { maxMediationTime: 3599 }, value: 3600, bound: 3599, reason: "mediation window longer than the RP accepts" },
      { limit: 3, past: { maxMediatorPrice: TOKENS(3) - 1n }, value: TOKENS(3), bound: TOKENS(3) - 1n, reason: "mediator's RP price above what the RP pays" },
    ];
    const record = await market.mediator(mediator.address);
    const state = { active: record.active, freeBond: record.freeBond };
    const at = BigInt(await time.latest()) + BigInt(BLOCK_TIME);
    const accepted = await postResourceOffer(market, rp, atLimits);
    expect(matchRefusal(posted.offer, accepted.offer, state, at)).to.equal(undefined);
    await expect(market.connect(solver).postMatch.staticCall(posted.jobId, posted.offer, accepted.offerId, accepted.offer)).to.not.be.reverted;
    for (const { limit, past, value, bound, reason } of limits) {
      const resource = await postResourceOffer(market, rp, { ...atLimits, ...past });
      expect(matchRefusal(posted.offer, resource.offer, state, at)).to.equal(reason);
      await expect(market.connect(solver).postMatch(posted.jobId, posted.offer, resource.offerId, resource.offer))
        .to.be.revertedWithCustomError(market, "OfferLimitExceeded")
        .withArgs(resource.offerId, limit, value, bound);
    }
  });

  it("maximizes surplus within each mediator's free bond", () => {
    const jobs: OpenJob[] = [job(100n), job(60n), job(80n)].map((offer, i) => ({ jobId: BigInt(i + 1), offer }));
    const resources: OpenResource[] = [offer(50n), offer(10n)].map((o, i) => ({ offerId: BigInt(i + 1), offer: o }));
    const plan = planMatches(jobs, resources, new Map([[M.toLowerCase(), { active: true, freeBond: 25n }]]), 500n);
    // Two jobs fit the bond; the two largest prices (100, 80) over requests 50 and 10: surplus 120 either way.
    expect(plan.map((p) => p.job.jobId).sort()).to.deep.equal([1n, 3n]);
    expect(plan.reduce((a, p) => a + p.surplus, 0n)).to.equal(120n);
  });
});
