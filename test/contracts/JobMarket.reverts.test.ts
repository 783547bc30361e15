import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id } from "ethers";
import { BLOCK_TIME, TOKENS, WAD, in12sBlock, nextBlockIn12s } from "../helpers";
import {
  deadlineOf,
  deployJobs,
  jobRequest,
  matched,
  OfferLimit,
  pass12sBlocksUpTo,
  postBoth,
  resourceRequest,
  TERMS,
  Window,
} from "./jobHelpers";
import {
  mediatorTerms,
  postJobOffer,
  postMatch,
  postResourceOffer,
  readMatch,
  registerMediator,
  MatchState,
  MediatorTerms,
  ResourceRequest,
  Verdict,
  verdictPayouts,
  windowBounds,
  WindowBounds,
} from "../../sdk/src/chain/jobs";
import { DEFAULT_JOB_WINDOWS } from "../../deploy/config";
import { JobMarket__factory } from "../../typechain-types";

const RESULT = id("result");
const THREE_RESULTS = [RESULT, RESULT, RESULT];
/** The shortest job the default windows allow with TERMS' mediation time. */
const SHORTEST_JOB = DEFAULT_JOB_WINDOWS.minResultTime + DEFAULT_JOB_WINDOWS.minReactionTime + TERMS.mediationTime;

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

  const bad: [string, Partial<MediatorTerms>][] = [
    ["n must be at least 1", { n: 0 }],
    ["n must be at most 64", { n: 65 }],
    ["PR * n must be at least 1", { pr: WAD / 3n - 1n }],
    ["NDPR * n must be at least 1", { ndpr: WAD / 4n }],
    ["PR and NDPR must be at most 1000", { pr: 1001n * WAD }],
    ["PR and NDPR must be at most 1000", { ndpr: 1001n * WAD }],
    ["max job time is shorter than the shortest job", { maxJobTime: SHORTEST_JOB - 1 }],
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

  it("refuses a mediation time outside the protocol's bounds, and accepts one at the floor or the ceiling with a longest job just long enough", async () => {
    const f = await loadFixture(deployJobs);
    const { minMediationTime: min, maxMediationTime: max } = await windowBounds(f.market);
    for (const mediationTime of [0, min - 1, max + 1]) {
      const terms = { ...TERMS, mediationTime, maxJobTime: 2 ** 32 - 1 };
      await expect(f.market.connect(f.outsider).registerMediator(terms, 0))
        .to.be.revertedWithCustomError(f.market, "WindowOutOfBounds")
        .withArgs(Window.Mediation, mediationTime, min, max);
      await expect(f.market.connect(f.mediator).updateMediator(terms))
        .to.be.revertedWithCustomError(f.market, "WindowOutOfBounds")
        .withArgs(Window.Mediation, mediationTime, min, max);
    }
    const shortest = (mediationTime: number) => DEFAULT_JOB_WINDOWS.minResultTime + DEFAULT_JOB_WINDOWS.minReactionTime + mediationTime;
    const atCeiling = { ...TERMS, mediationTime: max, maxJobTime: shortest(max) };
    await expect(f.market.connect(f.outsider).registerMediator(atCeiling, 0)).to.emit(f.market, "MediatorRegistered");
    const atFloor = { ...TERMS, mediationTime: min, maxJobTime: shortest(min) };
    await expect(f.market.connect(f.mediator).updateMediator(atFloor)).to.emit(f.market, "MediatorUpdated");
    expect(await mediatorTerms(f.market, f.outsider.address)).to.deep.equal(atCeiling);
    expect(await mediatorTerms(f.market, f.mediator.address)).to.deep.equal(atFloor);
  });

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

  it("lets a mediator leave during a match: free bond and earnings at once, the locked bond when its ruling closes the match", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    await expect(f.market.connect(f.mediator).exitMediator()).to.emit(f.market, "MediatorExited").withArgs(f.mediator.address, TOKENS(450));
    // 450 of free bond (50 stay locked by the match) and the 2 + 3 tokens of availability prices.
    expect(await f.market.credits(f.mediator.address)).to.equal(TOKENS(455));
    const left = await f.market.mediator(f.mediator.address);
    expect([left.active, left.freeBond, left.earnings, left.openJobs]).to.deep.equal([false, 0n, 0n, 1n]);
    await expect(f.market.connect(f.mediator).exitMediator())
      .to.be.revertedWithCustomError(f.market, "UnknownMediator")
      .withArgs(f.mediator.address);
    await expect(f.market.connect(f.jc).postJobOffer({ ...(await jobRequest(f)), terms: TERMS }))
      .to.be.revertedWithCustomError(f.market, "UnknownMediator")
      .withArgs(f.mediator.address);

    // It still rules on the match it stood behind; closing the match credits it the locked bond.
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
    const before = await f.token.balanceOf(f.mediator.address);
    await expect(f.market.connect(f.mediator).mediate(m.matchId, m.terms, THREE_RESULTS))
      .to.emit(f.market, "Credited")
      .withArgs(f.mediator.address, m.terms.bond);
    expect((await f.token.balanceOf(f.mediator.address)) - before).to.equal(m.terms.deposit - m.terms.price, "its share D - P, paid at once");
    expect(await f.market.credits(f.mediator.address)).to.equal(TOKENS(505));
    const closed = await f.market.mediator(f.mediator.address);
    expect([closed.active, closed.freeBond, closed.openJobs]).to.deep.equal([false, 0n, 0n]);
    await expect(f.market.connect(f.mediator).withdraw()).to.changeTokenBalance(f.token, f.mediator, TOKENS(505));
  });

  it("credits a mediator that left the bond of each match that times out on the RP or the JC, and gives the parties the bond of one it left unruled", async () => {
    const f = await loadFixture(deployJobs);
    const a = await matched(f);
    const b = await matched(f);
    const c = await matched(f);
    await f.market.connect(f.mediator).exitMediator();
    const credited = TOKENS(500 - 3 * 50 + 3 * 5);
    expect(await f.market.credits(f.mediator.address)).to.equal(credited);
    await in12sBlock(() => f.market.connect(f.rp).postResult(b.matchId, b.terms, RESULT));
    await in12sBlock(() => f.market.connect(f.rp).postResult(c.matchId, c.terms, RESULT));
    await in12sBlock(() => f.market.connect(f.jc).rejectResult(c.matchId, c.terms));

    await pass12sBlocksUpTo((await deadlineOf(f, a.matchId)) + 1n);
    await nextBlockIn12s();
    await expect(f.market.connect(f.outsider).timeoutResult(a.matchId, a.terms))
      .to.emit(f.market, "Credited")
      .withArgs(f.mediator.address, a.terms.bond);
    await pass12sBlocksUpTo((await deadlineOf(f, b.matchId)) + 1n);
    await nextBlockIn12s();
    await expect(f.market.connect(f.outsider).timeoutReaction(b.matchId, b.terms))
      .to.emit(f.market, "Credited")
      .withArgs(f.mediator.address, b.terms.bond);
    expect(await f.market.credits(f.mediator.address)).to.equal(credited + a.terms.bond + b.terms.bond);

    await pass12sBlocksUpTo((await deadlineOf(f, c.matchId)) + 1n);
    await nextBlockIn12s();
    const half = c.terms.bond / 2n;
    await expect(f.market.connect(f.outsider).timeoutMediation(c.matchId, c.terms))
      .to.emit(f.market, "MatchClosed")
      .withArgs(c.matchId, Verdict.MediationTimeout, c.terms.price + c.terms.deposit + c.terms.ndDeposit + half, c.terms.deposit + c.terms.bond - half, 0n)
      .and.not.to.emit(f.market, "Credited");
    expect(await f.market.credits(f.mediator.address)).to.equal(credited + a.terms.bond + b.terms.bond);
    expect((await f.market.mediator(f.mediator.address)).openJobs).to.equal(0n);
  });

  it("returns the locked bond to the free bond of a mediator that registered again before its match closed", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    await f.market.connect(f.mediator).exitMediator();
    await registerMediator(f.market, f.mediator, TERMS, TOKENS(100));
    const back = await f.market.mediator(f.mediator.address);
    expect([back.active, back.freeBond, back.openJobs]).to.deep.equal([true, TOKENS(100), 1n]);
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await expect(f.market.connect(f.jc).acceptResult(m.matchId, m.terms)).not.to.emit(f.market, "Credited");
    const closed = await f.market.mediator(f.mediator.address);
    expect([closed.freeBond, closed.openJobs]).to.deep.equal([TOKENS(100) + m.terms.bond, 0n]);
    expect(await f.market.credits(f.mediator.address)).to.equal(TOKENS(455), "only what the exit credited");
  });

  it("lets a mediator withdraw free bond at any time, never the bond its matches lock", async () => {
    const f = await loadFixture(deployJobs);
    await matched(f);
    await expect(f.market.connect(f.mediator).withdrawMediatorBond(TOKENS(100)))
      .to.emit(f.market, "MediatorBondWithdrawn")
      .withArgs(f.mediator.address, TOKENS(100));
    expect(await f.market.credits(f.mediator.address)).to.equal(TOKENS(100));
    const free = TOKENS(500 - 50 - 100);
    expect((await f.market.mediator(f.mediator.address)).freeBond).to.equal(free);
    await expect(f.market.connect(f.mediator).withdrawMediatorBond(free + 1n))
      .to.be.revertedWithCustomError(f.market, "InsufficientFreeBond")
      .withArgs(f.mediator.address, free, free + 1n);
    await expect(f.market.connect(f.mediator).withdrawMediatorBond(0)).to.be.revertedWithCustomError(f.market, "ZeroAmount");
    await expect(f.market.connect(f.outsider).withdrawMediatorBond(1))
      .to.be.revertedWithCustomError(f.market, "InsufficientFreeBond")
      .withArgs(f.outsider.address, 0, 1);
    await f.market.connect(f.mediator).withdrawMediatorBond(free);
    const record = await f.market.mediator(f.mediator.address);
    expect([record.active, record.freeBond, record.openJobs]).to.deep.equal([true, 0n, 1n]);
    expect(await f.market.credits(f.mediator.address)).to.equal(TOKENS(450));
    // Still registered, but with no free bond it takes no new match.
    const next = await postBoth(f);
    await expect(postMatch(f.market, f.solver, next.job, next.resource))
      .to.be.revertedWithCustomError(f.market, "MediatorUnavailable")
      .withArgs(f.mediator.address, 0, TERMS.bond);
  });

  it("refuses a zero token address at deployment", async () => {
    const [admin] = await hre.ethers.getSigners();
    const factory = new JobMarket__factory(admin);
    await expect(factory.deploy(hre.ethers.ZeroAddress, DEFAULT_JOB_WINDOWS)).to.be.revertedWithCustomError(factory, "ZeroAddress");
  });

  it("refuses window bounds other than 1 <= floor <= ceiling at deployment, and keeps the bounds it was given", async () => {
    const f = await loadFixture(deployJobs);
    const factory = new JobMarket__factory((await hre.ethers.getSigners())[0]);
    const token = await f.token.getAddress();
    const windows: [Window, keyof WindowBounds, keyof WindowBounds][] = [
      [Window.Result, "minResultTime", "maxResultTime"],
      [Window.Reaction, "minReactionTime", "maxReactionTime"],
      [Window.Mediation, "minMediationTime", "maxMediationTime"],
    ];
    for (const [window, min, max] of windows) {
      const ceiling = DEFAULT_JOB_WINDOWS[max];
      await expect(factory.deploy(token, { ...DEFAULT_JOB_WINDOWS, [min]: 0 }))
        .to.be.revertedWithCustomError(factory, "InvalidWindowBounds")
        .withArgs(window, 0, ceiling);
      await expect(factory.deploy(token, { ...DEFAULT_JOB_WINDOWS, [min]: ceiling + 1 }))
        .to.be.revertedWithCustomError(factory, "InvalidWindowBounds")
        .withArgs(window, ceiling + 1, ceiling);
    }
    const tight: WindowBounds = { minResultTime: 1, maxResultTime: 1, minReactionTime: 2, maxReactionTime: 2, minMediationTime: 3, maxMediationTime: 3 };
    const market = await factory.deploy(token, tight);
    expect(await windowBounds(market)).to.deep.equal(tight);
    expect(await windowBounds(f.market)).to.deep.equal(DEFAULT_JOB_WINDOWS, "deployAgora's defaults");
  });
});

describe("JobMarket: offers", () => {
  it("refuses job offers without a price, with past expiry, an unknown mediator or oversized deposits", async () => {
    const f = await loadFixture(deployJobs);
    const base = { ...(await jobRequest(f)), terms: TERMS };
    const cases: [Partial<typeof base>, string][] = [
      [{ price: 0n }, "price is zero"],
      [{ expiry: BigInt(await time.latest()) }, "expiry is not in the future"],
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

  it("refuses result and reaction windows outside the protocol's bounds, zero included, and accepts them at the floor and the ceiling", async () => {
    const f = await loadFixture(deployJobs);
    const bounds = await windowBounds(f.market);
    // A mediator that stands behind the longest job the windows allow, so only the windows are in question.
    const terms = { ...TERMS, maxJobTime: bounds.maxResultTime + bounds.maxReactionTime + TERMS.mediationTime };
    await f.market.connect(f.mediator).updateMediator(terms);
    const base = { ...(await jobRequest(f)), terms };
    const windows: [Window, "resultTime" | "reactionTime", number, number][] = [
      [Window.Result, "resultTime", bounds.minResultTime, bounds.maxResultTime],
      [Window.Reaction, "reactionTime", bounds.minReactionTime, bounds.maxReactionTime],
    ];
    for (const [window, field, min, max] of windows) {
      for (const seconds of [0, min - 1, max + 1]) {
        await expect(f.market.connect(f.jc).postJobOffer({ ...base, [field]: seconds }))
          .to.be.revertedWithCustomError(f.market, "WindowOutOfBounds")
          .withArgs(window, seconds, min, max);
      }
      for (const seconds of [min, max]) {
        const { offer } = await postJobOffer(f.market, f.jc, { ...base, [field]: seconds });
        expect(offer[field]).to.equal(seconds);
      }
    }
  });

  it("refuses a job under terms its mediator no longer has (it updated them after the JC read them)", async () => {
    const f = await loadFixture(deployJobs);
    const read = await mediatorTerms(f.market, f.mediator.address);
    const raised = { ...TERMS, jcPrice: TOKENS(20) };
    await f.market.connect(f.mediator).updateMediator(raised);
    await expect(f.market.connect(f.jc).postJobOffer({ ...(await jobRequest(f)), terms: read }))
      .to.be.revertedWithCustomError(f.market, "MediatorTermsChanged")
      .withArgs(f.mediator.address);
    // Terms the mediator never set are refused the same way, whatever field differs.
    await expect(f.market.connect(f.jc).postJobOffer({ ...(await jobRequest(f)), terms: { ...raised, maxJobTime: raised.maxJobTime + 1 } }))
      .to.be.revertedWithCustomError(f.market, "MediatorTermsChanged")
      .withArgs(f.mediator.address);
    const { offer } = await postJobOffer(f.market, f.jc, await jobRequest(f, { terms: raised }));
    expect(offer.terms).to.deep.equal(raised);
  });

  it("refuses a job longer than its mediator's longest job, and accepts one exactly as long", async () => {
    const f = await loadFixture(deployJobs);
    const base = await jobRequest(f);
    const jobTime = base.resultTime + base.reactionTime + TERMS.mediationTime;
    const terms = { ...TERMS, maxJobTime: jobTime };
    await f.market.connect(f.mediator).updateMediator(terms);
    for (const longer of [{ resultTime: base.resultTime + 1 }, { reactionTime: base.reactionTime + 1 }]) {
      await expect(f.market.connect(f.jc).postJobOffer({ ...base, ...longer, terms }))
        .to.be.revertedWithCustomError(f.market, "JobTooLongForMediator")
        .withArgs(f.mediator.address, jobTime + 1, jobTime);
    }
    const { offer } = await postJobOffer(f.market, f.jc, { ...base, terms });
    expect(offer.resultTime + offer.reactionTime + offer.terms.mediationTime).to.equal(offer.terms.maxJobTime);
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

  it("refuses an offer that does not match what was posted, its limits included", async () => {
    const f = await loadFixture(deployJobs);
    const { job, resource } = await postBoth(f);
    await expect(f.market.connect(f.jc).cancelJobOffer(job.jobId, { ...job.offer, price: 1n }))
      .to.be.revertedWithCustomError(f.market, "OfferMismatch")
      .withArgs(job.jobId);
    await expect(f.market.connect(f.rp).cancelResourceOffer(resource.offerId, { ...resource.offer, deposit: 1n }))
      .to.be.revertedWithCustomError(f.market, "OfferMismatch")
      .withArgs(resource.offerId);
    // A solver cannot loosen what the RP consented to.
    await expect(postMatch(f.market, f.solver, job, { ...resource, offer: { ...resource.offer, minResultTime: 1 } }))
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

  // The default job: result window 600 s, reaction window 600 s, TERMS' mediation time and RP price.
  const limits: [string, OfferLimit, keyof ResourceRequest, bigint, bigint][] = [
    ["a result window shorter than the offer's minimum", OfferLimit.MinResultTime, "minResultTime", 600n, 601n],
    ["a reaction window longer than the offer's maximum", OfferLimit.MaxReactionTime, "maxReactionTime", 600n, 599n],
    ["a mediation window longer than the offer's maximum", OfferLimit.MaxMediationTime, "maxMediationTime", BigInt(TERMS.mediationTime), BigInt(TERMS.mediationTime - 1)],
    ["a mediator's RP price above the offer's maximum", OfferLimit.MaxMediatorPrice, "maxMediatorPrice", TERMS.rpPrice, TERMS.rpPrice - 1n],
  ];
  for (const [what, limit, field, value, beyond] of limits) {
    it(`refuses ${what}, and matches a job exactly at the limit`, async () => {
      const f = await loadFixture(deployJobs);
      const asLimit = (x: bigint) => (field === "maxMediatorPrice" ? x : Number(x));
      const refused = await postBoth(f, {}, { [field]: asLimit(beyond) });
      await expect(postMatch(f.market, f.solver, refused.job, refused.resource))
        .to.be.revertedWithCustomError(f.market, "OfferLimitExceeded")
        .withArgs(refused.resource.offerId, limit, value, beyond);
      const exact = await postBoth(f, {}, { [field]: asLimit(value) });
      await expect(f.market.connect(f.solver).postMatch(exact.job.jobId, exact.job.offer, exact.resource.offerId, exact.resource.offer)).to.emit(
        f.market,
        "MatchPosted",
      );
    });
  }

  it("checks the offer's limits after its capacity and before the mediator's free bond, the result window first", async () => {
    const f = await loadFixture(deployJobs);
    const strict = { minResultTime: 601, maxReactionTime: 599, maxMediationTime: 1, maxMediatorPrice: 0n };
    const a = await postBoth(f, { instructions: 20_000_000n }, strict);
    await expect(postMatch(f.market, f.solver, a.job, a.resource)).to.be.revertedWithCustomError(f.market, "CapacityExceeded");
    const b = await postBoth(f, {}, strict);
    await f.market.connect(f.mediator).withdrawMediatorBond(TOKENS(500));
    await expect(postMatch(f.market, f.solver, b.job, b.resource))
      .to.be.revertedWithCustomError(f.market, "OfferLimitExceeded")
      .withArgs(b.resource.offerId, OfferLimit.MinResultTime, 600, 601);
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

  it("voids unmatched job offers when their mediator changes its terms, and keeps the terms of a match already made", async () => {
    const f = await loadFixture(deployJobs);
    const made = await matched(f);
    const { job, resource } = await postBoth(f);
    await f.market.connect(f.mediator).updateMediator({ ...TERMS, pr: 10n * WAD });
    await expect(f.market.connect(f.solver).postMatch(job.jobId, job.offer, resource.offerId, resource.offer))
      .to.be.revertedWithCustomError(f.market, "MediatorTermsChanged")
      .withArgs(f.mediator.address);
    // The JC takes its escrow back; the match made before the update keeps its deposits.
    await expect(f.market.connect(f.jc).cancelJobOffer(job.jobId, job.offer)).to.emit(f.market, "JobOfferClosed");
    expect(made.terms.deposit).to.equal(TOKENS(150));
    await f.market.connect(f.rp).postResult(made.matchId, made.terms, RESULT);
    await expect(f.market.connect(f.jc).acceptResult(made.matchId, made.terms)).to.emit(f.market, "MatchClosed");
  });
});

describe("JobMarket: results, rulings and timeouts", () => {
  it("tells a match never posted from a posted one looked up with other terms", async () => {
    const f = await loadFixture(deployJobs);
    const first = await matched(f);
    const second = await matched(f);
    for (const never of [0n, second.matchId + 1n]) {
      await expect(f.market.connect(f.rp).postResult(never, first.terms, RESULT))
        .to.be.revertedWithCustomError(f.market, "UnknownMatch")
        .withArgs(never);
      await expect(f.market.matchStatus(never, first.terms)).to.be.revertedWithCustomError(f.market, "UnknownMatch").withArgs(never);
    }
    // The state is stored under the hash of the id and the whole terms: one wei or another match's
    // terms finds nothing.
    const others: [bigint, typeof first.terms][] = [
      [first.matchId, { ...first.terms, price: 1n }],
      [first.matchId, { ...first.terms, bond: first.terms.bond + 1n }],
      [first.matchId, second.terms],
      [second.matchId, first.terms],
    ];
    for (const [matchId, terms] of others) {
      await expect(f.market.connect(f.rp).postResult(matchId, terms, RESULT))
        .to.be.revertedWithCustomError(f.market, "TermsMismatch")
        .withArgs(matchId);
      await expect(f.market.matchStatus(matchId, terms)).to.be.revertedWithCustomError(f.market, "TermsMismatch").withArgs(matchId);
    }
    for (const m of [first, second]) {
      const [status] = await f.market.matchStatus(m.matchId, m.terms);
      expect(status.state).to.equal(MatchState.AwaitingResult);
    }
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
    await expect(f.market.connect(f.jc).mediate(m.matchId, m.terms, THREE_RESULTS)).to.be.revertedWithCustomError(f.market, "NotParty");
    await f.market.connect(f.mediator).mediate(m.matchId, m.terms, THREE_RESULTS);
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

  // Time below advances in 12-second blocks; where a deadline is the point, the block is set at it.
  it("refuses results, reactions and rulings after their deadlines", async () => {
    const f = await loadFixture(deployJobs);
    const a = await matched(f);
    const resultDeadline = await deadlineOf(f, a.matchId);
    await pass12sBlocksUpTo(resultDeadline);
    await time.setNextBlockTimestamp(resultDeadline + 1n);
    await expect(f.market.connect(f.rp).postResult(a.matchId, a.terms, RESULT))
      .to.be.revertedWithCustomError(f.market, "TooLate")
      .withArgs(a.matchId, resultDeadline, resultDeadline + 1n);

    // A refused transaction is still mined, so the reactions are tried on two matches, each one second late.
    for (const react of ["acceptResult", "rejectResult"] as const) {
      const b = await matched(f);
      await in12sBlock(() => f.market.connect(f.rp).postResult(b.matchId, b.terms, RESULT));
      const reactionDeadline = await deadlineOf(f, b.matchId);
      await pass12sBlocksUpTo(reactionDeadline);
      await time.setNextBlockTimestamp(reactionDeadline + 1n);
      await expect(f.market.connect(f.jc)[react](b.matchId, b.terms))
        .to.be.revertedWithCustomError(f.market, "TooLate")
        .withArgs(b.matchId, reactionDeadline, reactionDeadline + 1n);
    }

    const c = await matched(f);
    await in12sBlock(() => f.market.connect(f.rp).postResult(c.matchId, c.terms, RESULT));
    await in12sBlock(() => f.market.connect(f.jc).rejectResult(c.matchId, c.terms));
    const mediationDeadline = await deadlineOf(f, c.matchId);
    await pass12sBlocksUpTo(mediationDeadline);
    await time.setNextBlockTimestamp(mediationDeadline + 1n);
    await expect(f.market.connect(f.mediator).mediate(c.matchId, c.terms, THREE_RESULTS))
      .to.be.revertedWithCustomError(f.market, "TooLate")
      .withArgs(c.matchId, mediationDeadline, mediationDeadline + 1n);
  });

  it("refuses every timeout before its deadline and at it, and closes the match one second later", async () => {
    const f = await loadFixture(deployJobs);
    const a = await matched(f);
    const b = await matched(f);
    await in12sBlock(() => f.market.connect(f.rp).postResult(b.matchId, b.terms, RESULT));
    const c = await matched(f);
    await in12sBlock(() => f.market.connect(f.rp).postResult(c.matchId, c.terms, RESULT));
    await in12sBlock(() => f.market.connect(f.jc).rejectResult(c.matchId, c.terms));
    const market = f.market.connect(f.outsider);
    // In deadline order: a's result, b's reaction, then c's mediation deadline.
    const timeouts = [
      { m: a, verdict: Verdict.ResultTimeout, timeout: () => market.timeoutResult(a.matchId, a.terms) },
      { m: b, verdict: Verdict.Accepted, timeout: () => market.timeoutReaction(b.matchId, b.terms) },
      { m: c, verdict: Verdict.MediationTimeout, timeout: () => market.timeoutMediation(c.matchId, c.terms) },
    ];
    const deadlines = await Promise.all(timeouts.map(({ m }) => deadlineOf(f, m.matchId)));
    for (const [i, { m, timeout }] of timeouts.entries()) {
      await nextBlockIn12s();
      const nextBlock = BigInt(await time.latest()) + BigInt(BLOCK_TIME);
      await expect(timeout()).to.be.revertedWithCustomError(f.market, "TooEarly").withArgs(m.matchId, deadlines[i], nextBlock);
    }
    // A refused transaction is still mined: the refusal at the deadline takes its second, the timeout the next.
    for (const [i, { m, verdict, timeout }] of timeouts.entries()) {
      await pass12sBlocksUpTo(deadlines[i]);
      await time.setNextBlockTimestamp(deadlines[i]);
      await expect(timeout()).to.be.revertedWithCustomError(f.market, "TooEarly").withArgs(m.matchId, deadlines[i], deadlines[i]);
      await time.setNextBlockTimestamp(deadlines[i] + 1n);
      const shares = verdictPayouts(m.terms, verdict);
      await expect(timeout()).to.emit(f.market, "MatchClosed").withArgs(m.matchId, verdict, shares.jc, shares.rp, shares.mediator);
    }
  });

  it("accepts actions exactly at their deadline", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    const resultDeadline = await deadlineOf(f, m.matchId);
    await pass12sBlocksUpTo(resultDeadline);
    await time.setNextBlockTimestamp(resultDeadline);
    await expect(f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT))
      .to.emit(f.market, "ResultPosted")
      .withArgs(m.matchId, RESULT, resultDeadline + BigInt(m.terms.reactionTime));
    const reactionDeadline = await deadlineOf(f, m.matchId);
    await pass12sBlocksUpTo(reactionDeadline);
    await time.setNextBlockTimestamp(reactionDeadline);
    await expect(f.market.connect(f.jc).rejectResult(m.matchId, m.terms))
      .to.emit(f.market, "ResultRejected")
      .withArgs(m.matchId, reactionDeadline + BigInt(m.terms.mediationTime));
    const mediationDeadline = await deadlineOf(f, m.matchId);
    await pass12sBlocksUpTo(mediationDeadline);
    await time.setNextBlockTimestamp(mediationDeadline);
    const ruled = verdictPayouts(m.terms, Verdict.JobCreatorWrong);
    await expect(f.market.connect(f.mediator).mediate(m.matchId, m.terms, THREE_RESULTS))
      .to.emit(f.market, "MatchClosed")
      .withArgs(m.matchId, Verdict.JobCreatorWrong, ruled.jc, ruled.rp, ruled.mediator);

    const n = await matched(f);
    await in12sBlock(() => f.market.connect(f.rp).postResult(n.matchId, n.terms, RESULT));
    const acceptDeadline = await deadlineOf(f, n.matchId);
    await pass12sBlocksUpTo(acceptDeadline);
    await time.setNextBlockTimestamp(acceptDeadline);
    const accepted = verdictPayouts(n.terms, Verdict.Accepted);
    await expect(f.market.connect(f.jc).acceptResult(n.matchId, n.terms))
      .to.emit(f.market, "MatchClosed")
      .withArgs(n.matchId, Verdict.Accepted, accepted.jc, accepted.rp, accepted.mediator);

    // Both offers can still be matched in the second they expire.
    const expiry = BigInt(await time.latest()) + 120n;
    const job = await postJobOffer(f.market, f.jc, await jobRequest(f, { expiry }));
    const resource = await postResourceOffer(f.market, f.rp, await resourceRequest(f, { expiry }));
    await pass12sBlocksUpTo(expiry);
    await time.setNextBlockTimestamp(expiry);
    await expect(f.market.connect(f.solver).postMatch(job.jobId, job.offer, resource.offerId, resource.offer)).to.emit(f.market, "MatchPosted");
  });
});
