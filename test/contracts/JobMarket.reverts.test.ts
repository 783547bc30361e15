import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id } from "ethers";
import { TOKENS, WAD } from "../helpers";
import { deployJobs, jobRequest, matched, postBoth, resourceRequest, TERMS } from "./jobHelpers";
import { postJobOffer, postMatch, postResourceOffer, readMatch, MatchState } from "../../sdk/src/chain/jobs";
import { JobMarket__factory } from "../../typechain-types";

const RESULT = id("result");

describe("JobMarket: mediators", () => {
  it("registers, updates, tops up and lets a mediator leave with its deposit", async () => {
    const f = await loadFixture(deployJobs);
    const record = await f.market.mediator(f.mediator.address);
    expect(record.active).to.equal(true);
    expect(record.freeBond).to.equal(TOKENS(500));
    const updated = { ...TERMS, n: 5 };
    await expect(f.market.connect(f.mediator).updateMediator(updated)).to.emit(f.market, "MediatorUpdated");
    expect((await f.market.mediator(f.mediator.address)).terms.n).to.equal(5n);
    await f.token.connect(f.mediator).approve(await f.market.getAddress(), TOKENS(10));
    await expect(f.market.connect(f.mediator).addMediatorBond(TOKENS(10)))
      .to.emit(f.market, "MediatorBondAdded")
      .withArgs(f.mediator.address, TOKENS(10));
    await expect(f.market.connect(f.mediator).exitMediator()).to.emit(f.market, "MediatorExited").withArgs(f.mediator.address, TOKENS(510));
    expect(await f.market.credits(f.mediator.address)).to.equal(TOKENS(510));
    expect((await f.market.mediator(f.mediator.address)).active).to.equal(false);
  });

  const bad: [string, Partial<typeof TERMS>][] = [
    ["n must be at least 1", { n: 0 }],
    ["n must be at most 64", { n: 65 }],
    ["PR * n must be at least 1", { pr: WAD / 3n - 1n }],
    ["NDPR * n must be at least 1", { ndpr: WAD / 4n }],
    ["PR and NDPR must be at most 1000", { pr: 1001n * WAD }],
    ["PR and NDPR must be at most 1000", { ndpr: 1001n * WAD }],
    ["mediation time must be positive", { mediationTime: 0 }],
  ];
  for (const [reason, change] of bad) {
    it(`refuses terms where ${reason} (${Object.keys(change).join(", ")} = ${Object.values(change).join(", ")})`, async () => {
      const f = await loadFixture(deployJobs);
      await expect(f.market.connect(f.outsider).registerMediator({ ...TERMS, ...change }, 0))
        .to.be.revertedWithCustomError(f.market, "InvalidMediatorTerms")
        .withArgs(reason);
      await expect(f.market.connect(f.mediator).updateMediator({ ...TERMS, ...change }))
        .to.be.revertedWithCustomError(f.market, "InvalidMediatorTerms")
        .withArgs(reason);
    });
  }

  it("refuses a second registration, and actions of accounts that are not mediators", async () => {
    const f = await loadFixture(deployJobs);
    await expect(f.market.connect(f.mediator).registerMediator(TERMS, 0))
      .to.be.revertedWithCustomError(f.market, "MediatorAlreadyRegistered")
      .withArgs(f.mediator.address);
    const outsider = f.market.connect(f.outsider);
    for (const call of [() => outsider.updateMediator(TERMS), () => outsider.addMediatorBond(1), () => outsider.exitMediator()]) {
      await expect(call()).to.be.revertedWithCustomError(f.market, "UnknownMediator").withArgs(f.outsider.address);
    }
    await expect(f.market.connect(f.mediator).addMediatorBond(0)).to.be.revertedWithCustomError(f.market, "ZeroAmount");
    await expect(f.market.connect(f.outsider).registerMediator(TERMS, 2n ** 96n))
      .to.be.revertedWithCustomError(f.market, "AmountTooLarge")
      .withArgs(2n ** 96n, 2n ** 96n - 1n);
  });

  it("keeps the deposit of a mediator with an open job", async () => {
    const f = await loadFixture(deployJobs);
    await matched(f);
    await expect(f.market.connect(f.mediator).exitMediator())
      .to.be.revertedWithCustomError(f.market, "MediatorBusy")
      .withArgs(f.mediator.address, 1);
  });

  it("refuses a zero token address at deployment", async () => {
    const [admin] = await hre.ethers.getSigners();
    const factory = new JobMarket__factory(admin);
    await expect(factory.deploy(hre.ethers.ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroAddress");
  });
});

describe("JobMarket: offers", () => {
  it("refuses job offers without a price, with past expiry, zero times, an unknown mediator or oversized deposits", async () => {
    const f = await loadFixture(deployJobs);
    const base = await jobRequest(f);
    const cases: [Partial<typeof base>, string][] = [
      [{ price: 0n }, "price is zero"],
      [{ expiry: BigInt(await time.latest()) }, "expiry is not in the future"],
      [{ resultTime: 0 }, "result and reaction times must be positive"],
      [{ reactionTime: 0 }, "result and reaction times must be positive"],
    ];
    for (const [change, reason] of cases) {
      await expect(f.market.connect(f.jc).postJobOffer({ ...base, ...change }))
        .to.be.revertedWithCustomError(f.market, "InvalidOffer")
        .withArgs(reason);
    }
    // D = P * 0.5 * 3 overflows 96 bits before P does.
    await expect(f.market.connect(f.jc).postJobOffer({ ...base, price: 2n ** 96n - 1n }))
      .to.be.revertedWithCustomError(f.market, "AmountTooLarge")
      .withArgs(((2n ** 96n - 1n) * 3n) / 2n, 2n ** 96n - 1n);
    // N = P * 1 * 3 overflows 96 bits where D = 1.5 P does not.
    await expect(f.market.connect(f.jc).postJobOffer({ ...base, price: 2n ** 95n }))
      .to.be.revertedWithCustomError(f.market, "AmountTooLarge")
      .withArgs(3n * 2n ** 95n, 2n ** 96n - 1n);
    await expect(f.market.connect(f.jc).postJobOffer({ ...base, mediator: f.outsider.address }))
      .to.be.revertedWithCustomError(f.market, "UnknownMediator")
      .withArgs(f.outsider.address);
  });

  it("refuses resource offers with past expiry or more than 16 trusted mediators", async () => {
    const f = await loadFixture(deployJobs);
    const base = { ...(await resourceRequest(f)), rp: f.rp.address };
    await expect(f.market.connect(f.rp).postResourceOffer({ ...base, expiry: 1n }))
      .to.be.revertedWithCustomError(f.market, "InvalidOffer")
      .withArgs("expiry is not in the future");
    await expect(f.market.connect(f.rp).postResourceOffer({ ...base, trustedMediators: Array(17).fill(f.mediator.address) }))
      .to.be.revertedWithCustomError(f.market, "TooManyTrustedMediators")
      .withArgs(17, 16);
  });

  it("escrows exactly P + D_J + N_J + fee + JC price, and deposit + fee", async () => {
    const f = await loadFixture(deployJobs);
    const market = await f.market.getAddress();
    const before = await f.token.balanceOf(market);
    await postBoth(f);
    expect((await f.token.balanceOf(market)) - before).to.equal(TOKENS(557) + TOKENS(204));
  });

  it("cancels open offers for their owner only, once, refunding the escrow", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f);
    await expect(f.market.connect(f.rp).cancelJobOffer(job.jobId, job.offer))
      .to.be.revertedWithCustomError(f.market, "NotOfferOwner")
      .withArgs(f.jc.address, f.rp.address);
    await expect(f.market.connect(f.jc).cancelJobOffer(job.jobId, job.offer)).to.emit(f.market, "JobOfferClosed").withArgs(job.jobId, false);
    expect(await f.market.credits(f.jc.address)).to.equal(TOKENS(557));
    await expect(f.market.connect(f.jc).cancelJobOffer(job.jobId, job.offer))
      .to.be.revertedWithCustomError(f.market, "OfferNotOpen")
      .withArgs(job.jobId);
    await expect(f.market.connect(f.jc).cancelResourceOffer(resource.offerId, resource.offer))
      .to.be.revertedWithCustomError(f.market, "NotOfferOwner")
      .withArgs(f.rp.address, f.jc.address);
    await f.market.connect(f.rp).cancelResourceOffer(resource.offerId, resource.offer);
    expect(await f.market.credits(f.rp.address)).to.equal(TOKENS(204));
    expect(await f.market.isResourceOfferOpen(resource.offerId)).to.equal(false);
    await expect(f.market.connect(f.jc).withdraw()).to.changeTokenBalance(f.token, f.jc, TOKENS(557));
    await expect(f.market.connect(f.jc).withdraw()).to.be.revertedWithCustomError(f.market, "NothingToWithdraw").withArgs(f.jc.address);
  });

  it("refuses an offer that does not match what was posted", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f);
    await expect(f.market.connect(f.jc).cancelJobOffer(job.jobId, { ...job.offer, price: 1n }))
      .to.be.revertedWithCustomError(f.market, "OfferMismatch")
      .withArgs(job.jobId);
    await expect(f.market.connect(f.rp).cancelResourceOffer(resource.offerId, { ...resource.offer, deposit: 1n }))
      .to.be.revertedWithCustomError(f.market, "OfferMismatch")
      .withArgs(resource.offerId);
  });

  it("lets anyone close expired offers, not before expiry", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f);
    await expect(f.market.connect(f.outsider).expireJobOffer(job.jobId, job.offer))
      .to.be.revertedWithCustomError(f.market, "NotExpiredYet")
      .withArgs(job.jobId, job.offer.expiry, (await time.latest()) + 1);
    await expect(f.market.connect(f.outsider).expireResourceOffer(resource.offerId, resource.offer)).to.be.revertedWithCustomError(
      f.market,
      "NotExpiredYet",
    );
    // The resource offer was posted later, so it may expire later (by the seconds a slow run took).
    const bothExpired = (job.offer.expiry > resource.offer.expiry ? job.offer.expiry : resource.offer.expiry) + 1n;
    await time.increaseTo(bothExpired);
    await expect(f.market.connect(f.outsider).expireJobOffer(job.jobId, job.offer)).to.emit(f.market, "JobOfferClosed").withArgs(job.jobId, true);
    await expect(f.market.connect(f.outsider).expireResourceOffer(resource.offerId, resource.offer))
      .to.emit(f.market, "ResourceOfferClosed")
      .withArgs(resource.offerId, true);
    expect(await f.market.credits(f.jc.address)).to.equal(TOKENS(557));
    expect(await f.market.credits(f.rp.address)).to.equal(TOKENS(204));
  });
});

describe("JobMarket: postMatch", () => {
  it("matches, pays the solver both fees and the mediator both prices, refunds the RP's excess deposit", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f);
    const solverBefore = await f.token.balanceOf(f.solver.address);
    const m = await postMatch(f.market, f.solver, job, resource);
    const matchedAt = BigInt(await time.latest());
    expect((await f.token.balanceOf(f.solver.address)) - solverBefore).to.equal(TOKENS(9));
    expect((await f.market.mediator(f.mediator.address)).earnings).to.equal(TOKENS(5));
    expect(await f.market.credits(f.rp.address)).to.equal(TOKENS(47));
    await expect(f.market.connect(f.mediator).withdrawMediatorEarnings()).to.changeTokenBalance(f.token, f.mediator, TOKENS(5));
    await expect(f.market.connect(f.mediator).withdrawMediatorEarnings())
      .to.be.revertedWithCustomError(f.market, "NothingToWithdraw")
      .withArgs(f.mediator.address);
    const view = await readMatch(f.market, m.matchId);
    expect(view.state).to.equal(MatchState.AwaitingResult);
    expect(view.deadline).to.equal(matchedAt + 600n);
    expect(view.solver).to.equal(f.solver.address);
    expect(m.terms).to.deep.include({ price: TOKENS(100), deposit: TOKENS(150), ndDeposit: TOKENS(300), bond: TOKENS(50), n: 3 });
    const record = await f.market.mediator(f.mediator.address);
    expect([record.freeBond, record.openJobs, record.earnings]).to.deep.equal([TOKENS(450), 1n, 0n]);
    expect(await f.market.counts()).to.deep.equal([1n, 1n, 1n]);
    await expect(postMatch(f.market, f.solver, job, resource)).to.be.revertedWithCustomError(f.market, "OfferNotOpen");
  });

  it("refuses a price below the requested price", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f, {}, { requestedPrice: TOKENS(101) });
    await expect(postMatch(f.market, f.solver, job, resource))
      .to.be.revertedWithCustomError(f.market, "PriceBelowRequested")
      .withArgs(TOKENS(100), TOKENS(101));
  });

  it("refuses a mediator the RP does not trust", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f, {}, { trustedMediators: [f.outsider.address] });
    await expect(postMatch(f.market, f.solver, job, resource))
      .to.be.revertedWithCustomError(f.market, "UntrustedMediator")
      .withArgs(resource.offerId, f.mediator.address);
  });

  it("refuses a job beyond the offer's instruction or bandwidth capacity", async () => {
    const f = await loadFixture(deployJobs);
    const a = await postBoth(f, { instructions: 20_000_000n });
    await expect(postMatch(f.market, f.solver, a.job, a.resource))
      .to.be.revertedWithCustomError(f.market, "CapacityExceeded")
      .withArgs(20_000_000n, 10_000_000n, 1_000n, 10_000n);
    const b = await postBoth(f, { bandwidth: 20_000n });
    await expect(postMatch(f.market, f.solver, b.job, b.resource)).to.be.revertedWithCustomError(f.market, "CapacityExceeded");
  });

  it("refuses an RP deposit below D_R plus the mediator's RP price", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f, {}, { deposit: TOKENS(152) });
    await expect(postMatch(f.market, f.solver, job, resource))
      .to.be.revertedWithCustomError(f.market, "DepositTooLow")
      .withArgs(TOKENS(153), TOKENS(152));
  });

  it("refuses expired offers", async () => {
    const f = await loadFixture(deployJobs);
    const now = BigInt(await time.latest());
    const a = await postBoth(f, { expiry: now + 100n }, { expiry: now + 1000n });
    await time.increase(200);
    await expect(postMatch(f.market, f.solver, a.job, a.resource))
      .to.be.revertedWithCustomError(f.market, "OfferExpired")
      .withArgs(a.job.jobId, now + 100n, (await time.latest()) + 1);
    const later = BigInt(await time.latest());
    const b = await postBoth(f, { expiry: later + 1000n }, { expiry: later + 100n });
    await time.increase(200);
    await expect(postMatch(f.market, f.solver, b.job, b.resource))
      .to.be.revertedWithCustomError(f.market, "OfferExpired")
      .withArgs(b.resource.offerId, later + 100n, (await time.latest()) + 1);
  });

  it("refuses a mediator that left or has no free bond", async () => {
    const f = await loadFixture(deployJobs);
    const a = await postBoth(f);
    await f.market.connect(f.mediator).exitMediator();
    await expect(postMatch(f.market, f.solver, a.job, a.resource))
      .to.be.revertedWithCustomError(f.market, "MediatorUnavailable")
      .withArgs(f.mediator.address, 0, TOKENS(50));
    const g = await loadFixture(deployJobs);
    // Ten jobs lock the whole 500-token deposit: the eleventh finds no bond.
    for (let i = 0; i < 10; i++) await matched(g);
    const c = await postBoth(g);
    await expect(postMatch(g.market, g.solver, c.job, c.resource))
      .to.be.revertedWithCustomError(g.market, "MediatorUnavailable")
      .withArgs(g.mediator.address, 0, TOKENS(50));
  });

  it("keeps the terms of an offer when the mediator updates its terms later", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f);
    await f.market.connect(f.mediator).updateMediator({ ...TERMS, pr: 10n * WAD });
    const m = await postMatch(f.market, f.solver, job, resource);
    expect(m.terms.deposit).to.equal(TOKENS(150));
  });
});

describe("JobMarket: results, rulings and timeouts", () => {
  it("refuses an unknown match and terms that do not match the match", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    await expect(f.market.connect(f.rp).postResult(99, m.terms, RESULT)).to.be.revertedWithCustomError(f.market, "UnknownMatch").withArgs(99);
    await expect(f.market.matchStatus(99)).to.be.revertedWithCustomError(f.market, "UnknownMatch").withArgs(99);
    await expect(f.market.connect(f.rp).postResult(m.matchId, { ...m.terms, price: 1n }, RESULT))
      .to.be.revertedWithCustomError(f.market, "TermsMismatch")
      .withArgs(m.matchId);
  });

  it("lets only the right party act at each step", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    await expect(f.market.connect(f.jc).postResult(m.matchId, m.terms, RESULT))
      .to.be.revertedWithCustomError(f.market, "NotParty")
      .withArgs(m.matchId, f.jc.address);
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await expect(f.market.connect(f.rp).acceptResult(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "NotParty");
    await expect(f.market.connect(f.rp).rejectResult(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "NotParty");
    await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
    await expect(f.market.connect(f.jc).mediate(m.matchId, m.terms, [RESULT, RESULT, RESULT])).to.be.revertedWithCustomError(
      f.market,
      "NotParty",
    );
    await f.market.connect(f.mediator).mediate(m.matchId, m.terms, [RESULT, RESULT, RESULT]);
    await expect(f.market.connect(f.outsider).claimShare(m.matchId, m.terms))
      .to.be.revertedWithCustomError(f.market, "NotParty")
      .withArgs(m.matchId, f.outsider.address);
  });

  it("refuses every action out of order or twice", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    const wrong = (state: MatchState) => [m.matchId, state] as const;
    await expect(f.market.connect(f.jc).acceptResult(m.matchId, m.terms))
      .to.be.revertedWithCustomError(f.market, "WrongMatchState")
      .withArgs(...wrong(MatchState.AwaitingResult));
    await expect(f.market.connect(f.mediator).mediate(m.matchId, m.terms, [])).to.be.revertedWithCustomError(f.market, "WrongMatchState");
    await expect(f.market.connect(f.jc).claimShare(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "WrongMatchState");
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await expect(f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT))
      .to.be.revertedWithCustomError(f.market, "WrongMatchState")
      .withArgs(...wrong(MatchState.ResultPosted));
    await expect(f.market.timeoutResult(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "WrongMatchState");
    await f.market.connect(f.jc).acceptResult(m.matchId, m.terms);
    await expect(f.market.connect(f.jc).acceptResult(m.matchId, m.terms))
      .to.be.revertedWithCustomError(f.market, "WrongMatchState")
      .withArgs(...wrong(MatchState.Closed));
    await expect(f.market.connect(f.jc).rejectResult(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "WrongMatchState");
    await expect(f.market.timeoutReaction(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "WrongMatchState");
    await expect(f.market.timeoutMediation(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "WrongMatchState");
  });

  it("refuses a ruling with other than n hashes", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
    await expect(f.market.connect(f.mediator).mediate(m.matchId, m.terms, [RESULT, RESULT]))
      .to.be.revertedWithCustomError(f.market, "WrongResultCount")
      .withArgs(m.matchId, 2, 3);
  });

  it("refuses results, reactions and rulings after their deadlines", async () => {
    const f = await loadFixture(deployJobs);
    const a = await matched(f);
    await time.increase(601);
    await expect(f.market.connect(f.rp).postResult(a.matchId, a.terms, RESULT)).to.be.revertedWithCustomError(f.market, "TooLate");
    const b = await matched(f);
    await f.market.connect(f.rp).postResult(b.matchId, b.terms, RESULT);
    await time.increase(601);
    await expect(f.market.connect(f.jc).acceptResult(b.matchId, b.terms)).to.be.revertedWithCustomError(f.market, "TooLate");
    await expect(f.market.connect(f.jc).rejectResult(b.matchId, b.terms)).to.be.revertedWithCustomError(f.market, "TooLate");
    const c = await matched(f);
    await f.market.connect(f.rp).postResult(c.matchId, c.terms, RESULT);
    await f.market.connect(f.jc).rejectResult(c.matchId, c.terms);
    const deadline = (await readMatch(f.market, c.matchId)).deadline;
    await time.increaseTo(deadline + 1n);
    await expect(f.market.connect(f.mediator).mediate(c.matchId, c.terms, [RESULT, RESULT, RESULT]))
      .to.be.revertedWithCustomError(f.market, "TooLate")
      .withArgs(c.matchId, deadline, deadline + 2n);
  });

  it("refuses every timeout before its deadline", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    const d1 = (await readMatch(f.market, m.matchId)).deadline;
    await expect(f.market.timeoutResult(m.matchId, m.terms))
      .to.be.revertedWithCustomError(f.market, "TooEarly")
      .withArgs(m.matchId, d1, (await time.latest()) + 1);
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await expect(f.market.timeoutReaction(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "TooEarly");
    await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
    await expect(f.market.timeoutMediation(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "TooEarly");
  });

  it("accepts actions exactly at their deadline", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    const d1 = (await readMatch(f.market, m.matchId)).deadline;
    await time.setNextBlockTimestamp(d1);
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    const d2 = (await readMatch(f.market, m.matchId)).deadline;
    await time.setNextBlockTimestamp(d2);
    await expect(f.market.connect(f.jc).acceptResult(m.matchId, m.terms)).to.emit(f.market, "MatchClosed");
    const job = await postJobOffer(f.market, f.jc, await jobRequest(f));
    const resource = await postResourceOffer(f.market, f.rp, await resourceRequest(f));
    await time.setNextBlockTimestamp(job.offer.expiry);
    await expect(f.market.connect(f.solver).postMatch(job.jobId, job.offer, resource.offerId, resource.offer)).to.emit(f.market, "MatchPosted");
  });
});
