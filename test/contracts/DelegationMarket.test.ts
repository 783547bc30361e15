import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { parseEther } from "ethers";
import { deployAgora } from "../../deploy/agora";
import { DEFAULT_SESSION_DURATION } from "../../deploy/config";
import { onChainModel, openSession, registerModels, SessionPhase, toWei } from "../../sdk/src/chain/delegation";
import { NOTEBOOK_MODELS, NOTEBOOK_OTHERS } from "../../sdk/src/delegation/toy";
import { delegationParameters, providerDelta } from "../../sdk/src/delegation/parameters";
import { DelegationMarket__factory } from "../../typechain-types";
import { revertData } from "../../sdk/src/chain/revert";
import { BLOCK_TIME, in12sBlock, nextBlockIn12s, pass12sBlocks } from "../helpers";

const BUDGET = parseEther("1000000");

describe("DelegationMarket (SPEC §3.2)", () => {
  async function deployed() {
    const [admin, user, p0, p1, p2, outsider] = await hre.ethers.getSigners();
    const { token, delegation: market } = await deployAgora(admin, { addressBookDir: false });
    await token.transfer(user.address, parseEther("2000000"));
    await registerModels(market, p0, NOTEBOOK_MODELS);
    await registerModels(market, p1, NOTEBOOK_OTHERS);
    await registerModels(market, p2, NOTEBOOK_OTHERS);
    return { token, market, user, providers: [p0, p1, p2], outsider };
  }

  /** A session of the notebook's toy game with T queries, explored honestly. */
  async function explored(T: number) {
    const f = await deployed();
    const { id, B } = await openSession(f.market, f.user, {
      providers: f.providers.map((p) => p.address),
      T,
      eps: 0.3,
      L: 1500,
      rewardScale: 5,
      budget: BUDGET,
      duration: 86_400,
    });
    const models = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS];
    for (let i = 0; i < 3; i++) {
      const m = models[i][0];
      await f.market.connect(f.user).settle(id, i, B, B * m.outputTokens, BigInt(B) * toWei(m.score * 5), 0);
    }
    return { ...f, id, B };
  }
  const explored1e6 = () => explored(1_000_000);

  /** Mines 12-second blocks up to the last one before `deadline`, and makes the next block fall on the deadline itself. */
  async function nextBlockAtDeadline(deadline: bigint) {
    const gap = Number(deadline) - (await time.latest());
    await pass12sBlocks(BLOCK_TIME * (Math.ceil(gap / BLOCK_TIME) - 1));
    expect(Number(deadline) - (await time.latest())).to.be.within(1, BLOCK_TIME);
    await time.setNextBlockTimestamp(deadline);
  }

  /** Every token the market holds is owed: open sessions' budget - spent and uncollected earnings, and credits. */
  async function expectConservation(f: Awaited<ReturnType<typeof deployed>>, accounts: string[]) {
    let owed = 0n;
    for (let id = 1n; id <= (await f.market.sessionCount()); id++) {
      const s = await f.market.sessionOf(id);
      if (Number(s.phase) === SessionPhase.Closed) continue;
      owed += s.budget - s.spent;
      for (let i = 0; i < Number(s.k); i++) owed += (await f.market.stats(id, i)).earned;
    }
    for (const a of accounts) owed += await f.market.credits(a);
    expect(await f.token.balanceOf(await f.market.getAddress())).to.equal(owed);
  }

  it("computes on chain the plan of the notebook's toy game: best, R, threshold, deltas, owed queries", async () => {
    const f = await loadFixture(explored1e6);
    expect(f.B).to.equal(3981);
    expect(await f.market.providersOf(f.id)).to.deep.equal(f.providers.map((p) => p.address));
    expect((await f.market.modelsOf(f.providers[0].address)).map((m) => m.tokenPrice)).to.deep.equal(NOTEBOOK_MODELS.map((m) => toWei(m.tokenPrice)));
    const tx = await f.market.commitPlan(f.id);
    const plan = await f.market.planOf(f.id);
    const expected = delegationParameters({
      T: 1_000_000,
      eps: 0.3,
      K: 3,
      L: 1500,
      rewardScale: 5,
      models: [...NOTEBOOK_MODELS, ...NOTEBOOK_OTHERS],
      secondBestUtility: 3.5,
      best: { tokenPrice: 5e-4, outputTokens: 1000 },
      others: [
        { avgReward: 4, avgTokens: 1000 },
        { avgReward: 4, avgTokens: 1000 },
      ],
    });
    const close = (onChain: bigint, value: number) => expect(Math.abs(Number(onChain) / 1e18 - value)).to.be.at.most(Math.abs(value) * 1e-12);
    expect(plan.best).to.equal(0n);
    expect(plan.r).to.equal(BigInt(expected.R)); // 920415
    close(plan.secondBestUtility, 3.5);
    close(plan.delta1, expected.delta1);
    close(plan.delta2, expected.delta2);
    close(plan.delta3, expected.delta3);
    close(plan.m, expected.M);
    close(plan.threshold, expected.threshold);
    const s0 = await f.market.stats(f.id, 0);
    expect(s0.incentiveDue).to.equal(BigInt(Math.floor(3981 * providerDelta(expected.delta1, 4.5, 1000, 1500)))); // 4706
    expect(s0.bonusDue).to.equal(3981n);
    await expect(tx).to.emit(f.market, "PlanCommitted");
    expect(Number((await f.market.sessionOf(f.id)).phase)).to.equal(SessionPhase.Exploitation);
  });

  it("runs exploitation in blocks of B, then the bonus and incentive phases, and pays at reported prices capped at L", async () => {
    const f = await deployed();
    const T = 20_000;
    const { id, B } = await openSession(f.market, f.user, { providers: f.providers.map((p) => p.address), T, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 86_400 });
    expect(B).to.equal(380); // floor(20000^0.6)
    for (let i = 0; i < 3; i++) {
      const m = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS][i][0];
      await f.market.connect(f.user).settle(id, i, B, B * m.outputTokens, BigInt(B) * toWei(m.score * 5), 0);
    }
    await f.market.commitPlan(id);
    const s = await f.market.sessionOf(id);
    let left = Number(s.r);
    // A settlement may not cross a block end.
    await expect(f.market.connect(f.user).settle(id, 0, B + 1, (B + 1) * 900, 0, 0))
      .to.be.revertedWithCustomError(f.market, "CountExceedsPhase")
      .withArgs(id, 0, B + 1, B);
    await expect(f.market.connect(f.user).settle(id, 1, 1, 900, 0, 0)).to.be.revertedWithCustomError(f.market, "NotBestProvider").withArgs(id, 1, 0);
    while (left > 0) {
      const n = Math.min(B, left);
      // Model 2 billed as model 0 with 2000 tokens each: paid for 1500 each (L) at model 0's price.
      const tx = f.market.connect(f.user).settle(id, 0, n, n * 2000, BigInt(n) * toWei(4), 0);
      await expect(tx).to.emit(f.market, "Settled").withArgs(id, 0, SessionPhase.Exploitation, n, n * 1500, BigInt(n) * toWei(4), BigInt(n * 1500) * toWei(5e-4));
      left -= n;
    }
    expect(Number((await f.market.sessionOf(id)).phase)).to.equal(SessionPhase.Bonus);
    for (let i = 0; i < 3; i++) await f.market.connect(f.user).settle(id, i, B, B * 1000, 0, 0);
    expect(Number((await f.market.sessionOf(id)).phase)).to.equal(SessionPhase.Incentive);
    for (let i = 0; i < 3; i++) {
      const p = await f.market.stats(id, i);
      const allowed = Number(p.incentiveDue + p.extraAllowed);
      await expect(f.market.connect(f.user).settle(id, i, allowed + 1, 0, 0, 0)).to.be.revertedWithCustomError(f.market, "CountExceedsPhase");
      await f.market.connect(f.user).settle(id, i, allowed, allowed * 1000, 0, 0);
    }
    expect((await f.market.sessionOf(id)).reserved).to.equal(0n);
    await f.market.connect(f.user).closeSession(id);
    await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
  });

  it("stops exploitation exactly at the first block end whose running average falls below the threshold", async () => {
    const f = await loadFixture(explored1e6);
    await f.market.commitPlan(f.id);
    const threshold = (await f.market.planOf(f.id)).threshold;
    // Three blocks at 3.55 per query, then a block at 0.05: the average after block 4 is 2.675 < 2.85.
    for (let k = 0; k < 3; k++) await f.market.connect(f.user).settle(f.id, 0, 3981, 3981 * 900, 3981n * toWei(4), 0);
    expect((await f.market.sessionOf(f.id)).stoppedEarly).to.equal(false);
    const tx = f.market.connect(f.user).settle(f.id, 0, 3981, 3981 * 900, 3981n * toWei(0.5), 0);
    await expect(tx).to.emit(f.market, "StoppedEarly");
    const s = await f.market.sessionOf(f.id);
    expect(s.stoppedEarly).to.equal(true);
    expect(s.exploitUtility < threshold * 4n * 3981n).to.equal(true);
    expect((s.exploitUtility - 3981n * toWei(0.05)) >= threshold * 3n * 3981n).to.equal(true); // after block 3 it was above
    expect(Number(s.phase)).to.equal(SessionPhase.Incentive);
    expect((await f.market.stats(f.id, 0)).bonusDue).to.equal(0n); // the bonus is owed only without an early stop
    // An owed incentive query billed below L is paid what was reserved for it: L tokens at the flagship's price.
    await expect(f.market.connect(f.user).settle(f.id, 0, 1, 900, 0, 0)).to.emit(f.market, "Settled").withArgs(f.id, 0, SessionPhase.Incentive, 1, 900, 0, toWei(1500 * 5e-4));
  });

  it("pays providers the owed bonus and incentive queries at L tokens when the user closes early, and refunds the rest", async () => {
    const f = await loadFixture(explored1e6);
    await f.market.commitPlan(f.id);
    const owed = [0, 1, 2].map(async (i) => {
      const p = await f.market.stats(f.id, i);
      const price = i === 0 ? 5e-4 : 5e-4;
      return (p.bonusDue + p.incentiveDue) * 1500n * toWei(price);
    });
    const expected = await Promise.all(owed);
    const s = await f.market.sessionOf(f.id);
    expect(s.reserved).to.equal(expected.reduce((a, b) => a + b, 0n));
    const userBefore = await f.market.credits(f.user.address);
    const earned = await Promise.all([0, 1, 2].map(async (i) => (await f.market.stats(f.id, i)).earned));
    await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
    await expect(f.market.connect(f.user).closeSession(f.id)).to.emit(f.market, "SessionClosed");
    for (let i = 0; i < 3; i++) expect(await f.market.credits(f.providers[i].address)).to.equal(expected[i] + earned[i]);
    expect((await f.market.credits(f.user.address)) - userBefore).to.equal(s.budget - s.spent - s.reserved);
    await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
    for (const a of [f.user, ...f.providers]) await f.market.connect(a).withdraw();
    expect(await f.token.balanceOf(await f.market.getAddress())).to.equal(0n);
  });

  it("lets a provider collect its earnings once the plan is committed, and the plan still sees its exploration payment", async () => {
    const f = await loadFixture(explored1e6);
    const earned = (await f.market.stats(f.id, 0)).earned;
    expect(earned).to.equal(BigInt(f.B * 1000) * toWei(5e-4));
    await f.market.commitPlan(f.id);
    await expect(f.market.connect(f.providers[0]).collectEarnings(f.id, 0)).to.emit(f.market, "Credited").withArgs(f.providers[0].address, earned);
    expect((await f.market.stats(f.id, 0)).earned).to.equal(0n);
    await expect(f.market.connect(f.providers[0]).withdraw()).to.changeTokenBalance(f.token, f.providers[0], earned);
    await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
  });

  it("commits a plan when a provider earned no reward or reported no tokens in exploration", async () => {
    const f = await loadFixture(deployed);
    const { id, B } = await openSession(f.market, f.user, { providers: f.providers.map((p) => p.address), T: 1_000_000, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 86_400 });
    await f.market.connect(f.user).settle(id, 0, B, B * 1000, BigInt(B) * toWei(4.5), 0);
    await f.market.connect(f.user).settle(id, 1, B, B * 1000, 0, 0); // useless answers: no reward
    await f.market.connect(f.user).settle(id, 2, B, 0, BigInt(B) * toWei(4.2), 0); // reported no tokens
    await expect(f.market.commitPlan(id)).to.emit(f.market, "PlanCommitted");
    const plan = await f.market.planOf(id);
    expect(plan.best).to.equal(2n); // free answers with reward 4.2 beat reward 4.5 at 0.5 a query
    expect(plan.r).to.be.greaterThan(0n);
    await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
  });

  it("goes straight to the owed queries when T leaves nothing to exploit (R = 0)", async () => {
    const f = await explored(300); // B = 30: the reserved (delta1 + 3) K B alone exceeds T
    await expect(f.market.commitPlan(f.id)).to.emit(f.market, "PlanCommitted");
    expect((await f.market.planOf(f.id)).r).to.equal(0n);
    expect((await f.market.sessionOf(f.id)).phase).to.equal(BigInt(SessionPhase.Bonus));
    // A bonus query is owed: billed 1000 tokens, it is paid the L = 1500 reserved for it.
    await expect(f.market.connect(f.user).settle(f.id, 0, 1, 1000, toWei(4.5), 0)).to.emit(f.market, "Settled").withArgs(f.id, 0, SessionPhase.Bonus, 1, 1000, toWei(4.5), toWei(1500 * 5e-4));
  });

  it("refuses a plan whose threshold does not fit its slot instead of storing it wrapped", async () => {
    const f = await loadFixture(deployed);
    const [, , , , , , a, b] = await hre.ethers.getSigners();
    const model = { score: toWei(0.9), outputTokens: 40n, tokenPrice: 10n ** 13n };
    await f.market.connect(a).registerModels([model]);
    await f.market.connect(b).registerModels([model]);
    const rewardScale = 2n ** 128n - 1n; // the user's choice: nothing is escrowed against it
    await f.token.connect(f.user).approve(await f.market.getAddress(), parseEther("1"));
    await f.market.connect(f.user).openSession([a.address, b.address], 300, toWei(0.25), 100, rewardScale, parseEther("1"), 3600);
    const id = await f.market.sessionCount();
    for (const i of [0, 1]) await f.market.connect(f.user).settle(id, i, 17, 17 * 40, 17n * toWei(4), 0);
    await expect(f.market.commitPlan(id)).to.be.revertedWithCustomError(f.market, "SafeCastOverflowedIntDowncast");
    await expect(f.market.connect(f.user).closeSession(id)).to.emit(f.market, "SessionClosed");
  });

  it("lets anyone close a session after its deadline, and only the user before", async () => {
    const f = await loadFixture(explored1e6);
    const deadline = (await f.market.sessionOf(f.id)).deadline;
    await nextBlockAtDeadline(deadline);
    await expect(f.market.connect(f.outsider).closeSession(f.id)).to.be.revertedWithCustomError(f.market, "SessionOpen").withArgs(f.id, deadline);
    expect(await time.latest()).to.equal(Number(deadline), "the refused close was mined at the deadline itself");
    // Before the plan nothing is owed: the whole unspent budget returns to the user.
    await in12sBlock(() => f.market.connect(f.outsider).closeSession(f.id));
    const s = await f.market.sessionOf(f.id);
    expect(await f.market.credits(f.user.address)).to.equal(s.budget - s.spent);
    await expect(f.market.connect(f.user).closeSession(f.id)).to.be.revertedWithCustomError(f.market, "WrongPhase").withArgs(f.id, SessionPhase.Closed);
  });

  it("lets a provider register new models during an open session, which keeps paying the models it opened with, while a later session uses the new ones", async () => {
    const f = await loadFixture(deployed);
    const [p0] = f.providers;
    const providers = f.providers.map((p) => p.address);
    const first = await openSession(f.market, f.user, { providers, T: 20_000, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 86_400 });
    const prices = (models: { tokenPrice: bigint }[]) => models.map((m) => m.tokenPrice);
    const NEW = [
      { score: 0.95, outputTokens: 1000, tokenPrice: 1e-3 },
      { score: 0.9, outputTokens: 900, tokenPrice: 8e-4 },
    ];
    await expect(f.market.connect(p0).registerModels(NEW.map(onChainModel))).to.emit(f.market, "ModelsRegistered").withArgs(p0.address, 2, anyValue);
    expect(await f.market.modelVersionOf(p0.address)).to.equal(2n);
    expect(prices(await f.market.modelsOf(p0.address))).to.deep.equal(NEW.map((m) => toWei(m.tokenPrice)));
    expect(prices(await f.market.modelsAt(p0.address, 1))).to.deep.equal(NOTEBOOK_MODELS.map((m) => toWei(m.tokenPrice)));
    expect(prices(await f.market.sessionModels(first.id, 0))).to.deep.equal(NOTEBOOK_MODELS.map((m) => toWei(m.tokenPrice)));

    // The open session still bills p0's first version: its third model at 3e-4, which version 2 does not have.
    const B = first.B;
    await expect(f.market.connect(f.user).settle(first.id, 0, B, B * 800, BigInt(B) * toWei(3.5), 2))
      .to.emit(f.market, "Settled")
      .withArgs(first.id, 0, SessionPhase.Exploration, B, B * 800, BigInt(B) * toWei(3.5), BigInt(B * 800) * toWei(3e-4));
    for (const i of [1, 2]) await f.market.connect(f.user).settle(first.id, i, B, B * 1000, BigInt(B) * toWei(4), 0);
    // Its plan reserves every owed query at the flagship price of the version it opened with (5e-4, not 1e-3).
    await f.market.commitPlan(first.id);
    let reserved = 0n;
    for (let i = 0; i < 3; i++) {
      const p = await f.market.stats(first.id, i);
      reserved += (p.bonusDue + p.incentiveDue) * 1500n * toWei(5e-4);
    }
    expect((await f.market.sessionOf(first.id)).reserved).to.equal(reserved);

    // A session opened now uses version 2: its flagship's price, and no third model.
    const second = await openSession(f.market, f.user, { providers, T: 20_000, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 86_400 });
    expect(prices(await f.market.sessionModels(second.id, 0))).to.deep.equal(NEW.map((m) => toWei(m.tokenPrice)));
    expect(prices(await f.market.sessionModels(second.id, 1))).to.deep.equal(NOTEBOOK_OTHERS.map((m) => toWei(m.tokenPrice)));
    await expect(f.market.connect(f.user).settle(second.id, 0, 1, 800, 0, 2)).to.be.revertedWithCustomError(f.market, "ModelOutOfRange").withArgs(2, 2);
    await expect(f.market.connect(f.user).settle(second.id, 0, 1, 1000, toWei(4.75), 0))
      .to.emit(f.market, "Settled")
      .withArgs(second.id, 0, SessionPhase.Exploration, 1, 1000, toWei(4.75), toWei(1000 * 1e-3));
    await expectConservation(f, [f.user.address, ...providers]);
  });

  it("refuses a session shorter than the protocol's floor or longer than its ceiling, and opens one of exactly either", async () => {
    const f = await loadFixture(deployed);
    const { min, max } = DEFAULT_SESSION_DURATION;
    expect(await f.market.minDuration()).to.equal(BigInt(min));
    expect(await f.market.maxDuration()).to.equal(BigInt(max));
    const providers = f.providers.map((p) => p.address);
    await f.token.connect(f.user).approve(await f.market.getAddress(), BUDGET);
    const open = (duration: number) => f.market.connect(f.user).openSession(providers, 20_000, toWei(0.3), 1500, toWei(5), 0, duration);
    await expect(open(min - 1)).to.be.revertedWithCustomError(f.market, "DurationOutOfBounds").withArgs(min - 1, min, max);
    await expect(open(max + 1)).to.be.revertedWithCustomError(f.market, "DurationOutOfBounds").withArgs(max + 1, min, max);
    for (const duration of [min, max]) {
      const receipt = await in12sBlock(() => open(duration));
      const opened = (await hre.ethers.provider.getBlock(receipt!.blockNumber))!.timestamp;
      expect((await f.market.sessionOf(await f.market.sessionCount())).deadline).to.equal(BigInt(opened + duration));
    }
  });

  it("refuses to deploy with a zero shortest duration or a shortest above the longest, and deploys with both equal", async () => {
    const f = await loadFixture(deployed);
    const factory = new DelegationMarket__factory(f.user);
    const token = await f.token.getAddress();
    await expect(factory.deploy(token, 0, 60)).to.be.revertedWithCustomError(factory, "InvalidDurationBounds").withArgs(0, 60);
    await expect(factory.deploy(token, 61, 60)).to.be.revertedWithCustomError(factory, "InvalidDurationBounds").withArgs(61, 60);
    const fixed = await factory.deploy(token, 60, 60);
    expect([await fixed.minDuration(), await fixed.maxDuration()]).to.deep.equal([60n, 60n]);
  });

  it("lets anyone close a session once its deadline has passed, at most maxDuration after it opened, and pays the user back", async () => {
    const f = await loadFixture(deployed);
    const maxDuration = await f.market.maxDuration();
    await f.token.connect(f.user).approve(await f.market.getAddress(), BUDGET);
    const receipt = await in12sBlock(() => f.market.connect(f.user).openSession(f.providers.map((p) => p.address), 20_000, toWei(0.3), 1500, toWei(5), BUDGET, maxDuration));
    const id = await f.market.sessionCount();
    const opened = (await hre.ethers.provider.getBlock(receipt!.blockNumber))!.timestamp;
    const deadline = (await f.market.sessionOf(id)).deadline;
    expect(deadline).to.equal(BigInt(opened) + maxDuration);
    await nextBlockAtDeadline(deadline);
    await expect(f.market.connect(f.outsider).closeSession(id)).to.be.revertedWithCustomError(f.market, "SessionOpen").withArgs(id, deadline);
    await nextBlockIn12s();
    await expect(f.market.connect(f.outsider).closeSession(id)).to.emit(f.market, "SessionClosed").withArgs(id, 0, BUDGET);
    expect(await f.market.credits(f.user.address)).to.equal(BUDGET);
  });

  describe("owed queries", () => {
    /** p1 bills a model dearer than its flagship; a session of T = 300 explored at the flagships goes straight to the bonus phase. */
    async function owedPhases() {
      const f = await deployed();
      await registerModels(f.market, f.providers[1], [...NOTEBOOK_OTHERS, DEAR_MODEL]);
      const { id, B } = await openSession(f.market, f.user, { providers: f.providers.map((p) => p.address), T: 300, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 86_400 });
      const models = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS];
      for (let i = 0; i < 3; i++) {
        const m = models[i][0];
        await f.market.connect(f.user).settle(id, i, B, B * m.outputTokens, BigInt(B) * toWei(m.score * 5), 0);
      }
      await f.market.commitPlan(id);
      expect(Number((await f.market.sessionOf(id)).phase)).to.equal(SessionPhase.Bonus);
      return { ...f, id, B };
    }
    const DEAR_MODEL = { score: 0.85, outputTokens: 1000, tokenPrice: 1e-3 };
    const OWED = toWei(1500 * 5e-4); // L tokens at every flagship's price

    it("pays each owed bonus and incentive query L tokens at the flagship's price when settled with no tokens, and the provider collects it", async () => {
      const f = await loadFixture(owedPhases);
      const { id, B } = f;
      const reserved = (await f.market.sessionOf(id)).reserved;
      await expect(f.market.connect(f.user).settle(id, 0, 10, 0, 0, 0))
        .to.emit(f.market, "Settled")
        .withArgs(id, 0, SessionPhase.Bonus, 10, 0, 0, 10n * OWED);
      expect((await f.market.sessionOf(id)).reserved).to.equal(reserved - 10n * OWED);
      for (let i = 0; i < 3; i++) await f.market.connect(f.user).settle(id, i, i === 0 ? B - 10 : B, 0, 0, 0);
      expect(Number((await f.market.sessionOf(id)).phase)).to.equal(SessionPhase.Incentive);
      const due = (await f.market.stats(id, 0)).incentiveDue;
      expect(due).to.be.greaterThan(0n);
      await expect(f.market.connect(f.user).settle(id, 0, due, 0, 0, 0))
        .to.emit(f.market, "Settled")
        .withArgs(id, 0, SessionPhase.Incentive, due, 0, 0, due * OWED);
      const earned = (await f.market.stats(id, 0)).earned;
      const exploration = BigInt(B * 1000) * toWei(5e-4);
      expect(earned).to.equal(exploration + (BigInt(B) + due) * OWED);
      await expect(f.market.connect(f.providers[0]).collectEarnings(id, 0)).to.emit(f.market, "Credited").withArgs(f.providers[0].address, earned);
      await expect(f.market.connect(f.providers[0]).withdraw()).to.changeTokenBalance(f.token, f.providers[0], earned);
      await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
    });

    it("pays an owed query billed above L tokens at the flagship's price as billed, and releases only its reservation", async () => {
      const f = await loadFixture(owedPhases);
      const { id } = f;
      const reserved = (await f.market.sessionOf(id)).reserved;
      // 10 bonus queries of p1's dear model at L tokens: 10 * 1500 * 1e-3, twice what was reserved.
      await expect(f.market.connect(f.user).settle(id, 1, 10, 10 * 1500, 0, 3))
        .to.emit(f.market, "Settled")
        .withArgs(id, 1, SessionPhase.Bonus, 10, 10 * 1500, 0, toWei(10 * 1500 * 1e-3));
      const s = await f.market.sessionOf(id);
      expect(s.reserved).to.equal(reserved - 10n * OWED);
      await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
    });

    it("pays at the close what is still owed after some owed queries were settled at no tokens", async () => {
      const f = await loadFixture(owedPhases);
      const { id, B } = f;
      await f.market.connect(f.user).settle(id, 2, 10, 0, 0, 0);
      const dues = await Promise.all([0, 1, 2].map(async (i) => (await f.market.stats(id, i)).bonusDue + (await f.market.stats(id, i)).incentiveDue));
      expect(dues[2]).to.equal(dues[1] - 10n, "p2 and p1 explored alike: p2 is owed 10 queries fewer");
      const exploration = BigInt(B * 1000) * toWei(5e-4);
      const s = await f.market.sessionOf(id);
      expect(s.reserved).to.equal((dues[0] + dues[1] + dues[2]) * OWED);
      await expect(f.market.connect(f.user).closeSession(id))
        .to.emit(f.market, "SessionClosed")
        .withArgs(id, s.reserved, s.budget - s.spent - s.reserved);
      expect(await f.market.credits(f.providers[0].address)).to.equal(exploration + dues[0] * OWED);
      expect(await f.market.credits(f.providers[2].address)).to.equal(exploration + 10n * OWED + dues[2] * OWED);
      await expectConservation(f, [f.user.address, ...f.providers.map((p) => p.address)]);
    });
  });

  it("refuses a plan before every provider is explored, and a second plan", async () => {
    const f = await deployed();
    const { id, B } = await openSession(f.market, f.user, { providers: f.providers.map((p) => p.address), T: 20_000, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 60 });
    await f.market.connect(f.user).settle(id, 0, B, B * 1000, BigInt(B) * toWei(4.5), 0);
    await expect(f.market.commitPlan(id)).to.be.revertedWithCustomError(f.market, "ExplorationIncomplete").withArgs(id, 1, 0, B);
    await f.market.connect(f.user).settle(id, 1, B, B * 1000, BigInt(B) * toWei(4), 0);
    await f.market.connect(f.user).settle(id, 2, B, B * 1000, BigInt(B) * toWei(4), 0);
    await expect(f.market.connect(f.user).settle(id, 2, 1, 1000, 0, 0)).to.be.revertedWithCustomError(f.market, "CountExceedsPhase").withArgs(id, 2, 1, 0);
    await f.market.commitPlan(id);
    await expect(f.market.commitPlan(id)).to.be.revertedWithCustomError(f.market, "WrongPhase").withArgs(id, SessionPhase.Exploitation);
  });

  it("refuses a plan the budget cannot cover, and settlements that would eat into what is owed", async () => {
    const f = await deployed();
    const small = parseEther("2000");
    const { id, B } = await openSession(f.market, f.user, { providers: f.providers.map((p) => p.address), T: 20_000, eps: 0.3, L: 1500, rewardScale: 5, budget: small, duration: 60 });
    for (let i = 0; i < 3; i++) await f.market.connect(f.user).settle(id, i, B, B * 1000, BigInt(B) * toWei(4), 0);
    // The plan reserves every owed query at L tokens; the budget does not cover it yet.
    let need = 0n;
    try {
      await f.market.commitPlan.staticCall(id);
      expect.fail("commitPlan should have reverted");
    } catch (error) {
      const parsed = f.market.interface.parseError(revertData(error)!)!;
      expect(parsed.name).to.equal("BudgetTooLow");
      need = parsed.args[1];
    }
    await expect(f.market.commitPlan(id)).to.be.revertedWithCustomError(f.market, "BudgetTooLow").withArgs(id, need, small);
    // Top up to 100 tokens above what the plan needs: an exploitation block billed at L (285 tokens) no longer fits.
    await f.token.connect(f.user).approve(await f.market.getAddress(), need - small + parseEther("100"));
    await f.market.connect(f.user).topUp(id, need - small + parseEther("100"));
    await f.market.commitPlan(id);
    // (A good block: an early stop would release the bonus reservation.)
    await expect(f.market.connect(f.user).settle(id, 0, B, B * 1500, BigInt(B) * toWei(5), 0))
      .to.be.revertedWithCustomError(f.market, "BudgetTooLow")
      .withArgs(id, need + BigInt(B * 1500) * toWei(5e-4), need + parseEther("100"));
    await expect(f.market.connect(f.user).settle(id, 0, 100, 100 * 1500, BigInt(100) * toWei(5), 0)).to.emit(f.market, "Settled");
  });

  it("refuses bad models, sessions and settlements with clear errors", async () => {
    const f = await loadFixture(deployed);
    const m = { score: toWei(0.9), outputTokens: 1000n, tokenPrice: toWei(5e-4) };
    await expect(f.market.connect(f.outsider).registerModels([])).to.be.revertedWithCustomError(f.market, "InvalidModels").withArgs("between 1 and 8 models");
    await expect(f.market.connect(f.outsider).registerModels([{ ...m, score: 0n }])).to.be.revertedWithCustomError(f.market, "InvalidModels").withArgs("score must be in (0, 1]");
    await expect(f.market.connect(f.outsider).registerModels([{ ...m, outputTokens: 0n }])).to.be.revertedWithCustomError(f.market, "InvalidModels").withArgs("output tokens must be positive");
    await expect(f.market.connect(f.outsider).registerModels([{ ...m, tokenPrice: 0n }])).to.be.revertedWithCustomError(f.market, "InvalidModels").withArgs("token price must be positive");
    const providers = f.providers.map((p) => p.address);
    const open = (over: Partial<{ providers: string[]; T: number; eps: bigint; L: number; rs: bigint; duration: number }>) =>
      f.market
        .connect(f.user)
        .openSession(over.providers ?? providers, over.T ?? 20_000, over.eps ?? toWei(0.3), over.L ?? 1500, over.rs ?? toWei(5), 0, over.duration ?? 60);
    await expect(open({ providers: [providers[0]] })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("between 2 and 8 providers");
    await expect(open({ eps: toWei(0.5) })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("eps must be in (0, 1/2)");
    await expect(open({ L: 0 })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("L and rewardScale must be positive");
    await expect(open({ rs: 0n })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("L and rewardScale must be positive");
    await expect(open({ duration: 0 }))
      .to.be.revertedWithCustomError(f.market, "DurationOutOfBounds")
      .withArgs(0, DEFAULT_SESSION_DURATION.min, DEFAULT_SESSION_DURATION.max);
    await expect(open({ eps: 0n })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("eps must be in (0, 1/2)");
    await expect(open({ T: 0 })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("T too small to explore every provider");
    const nine = Array.from({ length: 9 }, (_, i) => hre.ethers.getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`));
    await expect(open({ providers: nine })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("between 2 and 8 providers");
    const tooMuch = 2n ** 128n;
    await expect(f.market.connect(f.user).openSession(providers, 20_000, toWei(0.3), 1500, toWei(5), tooMuch, 60)).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("budget exceeds 2^128");
    await expect(f.market.connect(f.outsider).registerModels(Array(9).fill(m))).to.be.revertedWithCustomError(f.market, "InvalidModels").withArgs("between 1 and 8 models");
    await expect(f.market.connect(f.outsider).registerModels([{ ...m, score: toWei(1) + 1n }])).to.be.revertedWithCustomError(f.market, "InvalidModels").withArgs("score must be in (0, 1]");
    await expect(open({ providers: [providers[0], providers[0]] })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("a provider appears twice");
    await expect(open({ T: 2 })).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("T too small to explore every provider");
    await expect(open({ providers: [providers[0], f.outsider.address] })).to.be.revertedWithCustomError(f.market, "UnknownProvider").withArgs(f.outsider.address);
    const { id } = await openSession(f.market, f.user, { providers, T: 20_000, eps: 0.3, L: 1500, rewardScale: 5, budget: BUDGET, duration: 60 });
    await expect(f.market.connect(f.outsider).settle(id, 0, 1, 1, 1, 0)).to.be.revertedWithCustomError(f.market, "NotUser").withArgs(id, f.outsider.address);
    await expect(f.market.connect(f.user).settle(id, 0, 0, 1, 1, 0)).to.be.revertedWithCustomError(f.market, "ZeroCount");
    await expect(f.market.connect(f.user).settle(id, 0, 2n ** 200n, 1, 1, 0)).to.be.revertedWithCustomError(f.market, "CountExceedsPhase").withArgs(id, 0, 2n ** 200n, 20_000);
    await expect(f.market.connect(f.user).settle(id, 3, 1, 1, 1, 0)).to.be.revertedWithCustomError(f.market, "ProviderIndexOutOfRange").withArgs(3, 3);
    await expect(f.market.connect(f.user).settle(id, 0, 1, 1, 1, 3)).to.be.revertedWithCustomError(f.market, "ModelOutOfRange").withArgs(3, 3);
    await expect(f.market.connect(f.user).settle(99, 0, 1, 1, 1, 0)).to.be.revertedWithCustomError(f.market, "UnknownSession").withArgs(99);
    await expect(f.market.connect(f.outsider).withdraw()).to.be.revertedWithCustomError(f.market, "NothingToWithdraw").withArgs(f.outsider.address);
    await f.market.connect(f.user).settle(id, 1, 10, 10_000, toWei(40), 0);
    await expect(f.market.connect(f.outsider).collectEarnings(id, 1)).to.be.revertedWithCustomError(f.market, "NotProvider").withArgs(id, 1, f.outsider.address);
    await expect(f.market.connect(f.providers[1]).collectEarnings(id, 5)).to.be.revertedWithCustomError(f.market, "ProviderIndexOutOfRange");
    // Exploration earnings stay in the session: the plan reads them as the exploration payment.
    await expect(f.market.connect(f.providers[1]).collectEarnings(id, 1)).to.be.revertedWithCustomError(f.market, "WrongPhase").withArgs(id, SessionPhase.Exploration);
    expect((await f.market.stats(id, 1)).earned).to.equal(10_000n * toWei(5e-4));
    const factory = new DelegationMarket__factory(f.user);
    await expect(factory.deploy(hre.ethers.ZeroAddress, DEFAULT_SESSION_DURATION.min, DEFAULT_SESSION_DURATION.max)).to.be.revertedWithCustomError(factory, "ZeroAddress");
    await expect(f.market.connect(f.user).topUp(id, 2n ** 128n)).to.be.revertedWithCustomError(f.market, "InvalidSession").withArgs("budget exceeds 2^128");
    await f.market.connect(f.user).closeSession(id);
    expect(await f.market.credits(f.providers[1].address)).to.equal(10_000n * toWei(5e-4));
    expect((await f.market.stats(id, 1)).earned).to.equal(0n);
    await expect(f.market.connect(f.providers[1]).collectEarnings(id, 1)).to.be.revertedWithCustomError(f.market, "WrongPhase").withArgs(id, SessionPhase.Closed);
    await expect(f.market.connect(f.user).settle(id, 0, 1, 1, 1, 0)).to.be.revertedWithCustomError(f.market, "WrongPhase").withArgs(id, SessionPhase.Closed);
    await expect(f.market.connect(f.user).topUp(id, 1)).to.be.revertedWithCustomError(f.market, "WrongPhase");
  });
});
