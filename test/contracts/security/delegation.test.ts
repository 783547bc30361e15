import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { parseEther } from "ethers";
import { onChainModel, openSession, registerModels, SessionPhase, toWei } from "../../../sdk/src/chain/delegation";
import { NOTEBOOK_MODELS, NOTEBOOK_OTHERS } from "../../../sdk/src/delegation/toy";
import { DEFAULT_SESSION_DURATION } from "../../../deploy/config";
import { nextBlockIn12s, pass12sBlocks } from "../../helpers";
import { deploySecurity, SecurityFixture } from "./fixtures";

const BUDGET = parseEther("100000");
const L = 1500;
const MODELS = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS];

interface DelegationWorld extends SecurityFixture {
  user: HardhatEthersSigner;
  providers: HardhatEthersSigner[];
}

async function deployDelegationWorld(): Promise<DelegationWorld> {
  const f = await deploySecurity();
  const [user, ...providers] = f.honest;
  for (const [i, p] of providers.slice(0, 3).entries()) await registerModels(f.delegation, p, MODELS[i]);
  return { ...f, user, providers: providers.slice(0, 3) };
}

/** A session of T queries over the three providers, explored honestly (each served its flagship). */
async function exploredSession(f: DelegationWorld, T: number): Promise<{ id: bigint; B: number }> {
  await nextBlockIn12s();
  const { id, B } = await openSession(f.delegation, f.user, {
    providers: f.providers.map((p) => p.address),
    T,
    eps: 0.3,
    L,
    rewardScale: 5,
    budget: BUDGET,
    duration: 86_400,
  });
  for (let i = 0; i < 3; i++) {
    const m = MODELS[i][0];
    await nextBlockIn12s();
    await f.delegation.connect(f.user).settle(id, i, B, B * m.outputTokens, BigInt(B) * toWei(m.score * 5), 0);
  }
  return { id, B };
}

/** What one owed query is worth to provider i: L tokens at its session flagship's price. */
async function owedValue(f: DelegationWorld, id: bigint, i: number): Promise<bigint> {
  return BigInt(L) * (await f.delegation.sessionModels(id, i))[0].tokenPrice;
}

describe("Security: the delegation market pays what it owes and holds no provider hostage (issue 12)", () => {
  describe("attack 3: owed queries settled at zero tokens", () => {
    it("pays every bonus and incentive query the plan owes at L tokens of the flagship, whatever the user reports", async () => {
      const f = await loadFixture(deployDelegationWorld);
      const { id } = await exploredSession(f, 300); // R = 0: straight to the owed queries
      await f.delegation.commitPlan(id);
      expect((await f.delegation.sessionOf(id)).phase).to.equal(BigInt(SessionPhase.Bonus));
      const earnedBefore = await Promise.all([0, 1, 2].map(async (i) => (await f.delegation.stats(id, i)).earned));
      const owed: bigint[] = [0n, 0n, 0n];
      for (let i = 0; i < 3; i++) {
        const due = (await f.delegation.stats(id, i)).bonusDue;
        owed[i] += due * (await owedValue(f, id, i));
        await nextBlockIn12s();
        await expect(f.delegation.connect(f.user).settle(id, i, due, 0, 0, 0))
          .to.emit(f.delegation, "Settled")
          .withArgs(id, i, SessionPhase.Bonus, due, 0, 0, due * (await owedValue(f, id, i)));
      }
      expect((await f.delegation.sessionOf(id)).phase).to.equal(BigInt(SessionPhase.Incentive));
      for (let i = 0; i < 3; i++) {
        const due = (await f.delegation.stats(id, i)).incentiveDue;
        if (due === 0n) continue;
        owed[i] += due * (await owedValue(f, id, i));
        await nextBlockIn12s();
        await f.delegation.connect(f.user).settle(id, i, due, 0, 0, 0);
      }
      expect(owed.some((o) => o > 0n)).to.equal(true);
      for (let i = 0; i < 3; i++) {
        const earned = (await f.delegation.stats(id, i)).earned - earnedBefore[i];
        expect(earned, `provider ${i}`).to.equal(owed[i]);
      }
      expect((await f.delegation.sessionOf(id)).reserved).to.equal(0n, "every reservation was paid out, none released unpaid");
    });

    it("pays a billed amount above the reservation as billed", async () => {
      const f = await loadFixture(deployDelegationWorld);
      // Provider 0 also serves a model pricier than its flagship.
      const withPremium = [NOTEBOOK_MODELS[0], { score: 0.95, outputTokens: 1000, tokenPrice: 1e-3 }];
      await registerModels(f.delegation, f.providers[0], withPremium);
      const { id } = await exploredSession(f, 300);
      await f.delegation.commitPlan(id);
      // One bonus query billed at L tokens of the premium model: its price, above the reserved floor.
      const premium = BigInt(L) * onChainModel(withPremium[1]).tokenPrice;
      expect(premium).to.be.greaterThan(await owedValue(f, id, 0));
      await nextBlockIn12s();
      await expect(f.delegation.connect(f.user).settle(id, 0, 1, L, 0, 1))
        .to.emit(f.delegation, "Settled")
        .withArgs(id, 0, SessionPhase.Bonus, 1, L, 0, premium);
    });
  });

  describe("attack 6: a session that would hold its providers for ever", () => {
    it("refuses a duration near 2^64 seconds, and any above the protocol's ceiling", async () => {
      const f = await loadFixture(deployDelegationWorld);
      const providers = f.providers.map((p) => p.address);
      const huge = 2n ** 64n - 2n;
      for (const duration of [huge, BigInt(DEFAULT_SESSION_DURATION.max) + 1n]) {
        await expect(f.delegation.connect(f.attacker).openSession(providers, 1000, toWei(0.3), L, toWei(5), 0, duration))
          .to.be.revertedWithCustomError(f.delegation, "DurationOutOfBounds")
          .withArgs(duration, DEFAULT_SESSION_DURATION.min, DEFAULT_SESSION_DURATION.max);
      }
    });

    it("lets a named provider change its models at once and anyone close the session at its bounded deadline", async () => {
      const f = await loadFixture(deployDelegationWorld);
      const providers = f.providers.map((p) => p.address);
      await nextBlockIn12s();
      await f.delegation.connect(f.attacker).openSession(providers, 1000, toWei(0.3), L, toWei(5), 0, DEFAULT_SESSION_DURATION.max);
      const id = await f.delegation.sessionCount();
      const opened = (await f.delegation.sessionModels(id, 0)).map((m) => m.tokenPrice);
      // The provider re-prices while the attacker's zero-budget session is open.
      const repriced = NOTEBOOK_MODELS.map((m) => ({ ...m, tokenPrice: m.tokenPrice * 2 }));
      await nextBlockIn12s();
      await registerModels(f.delegation, f.providers[0], repriced);
      expect((await f.delegation.modelsOf(f.providers[0].address))[0].tokenPrice).to.equal(onChainModel(repriced[0]).tokenPrice);
      expect((await f.delegation.sessionModels(id, 0)).map((m) => m.tokenPrice)).to.deep.equal(opened, "the open session keeps the terms it opened with");
      const deadline = (await f.delegation.sessionOf(id)).deadline;
      expect(deadline - BigInt(await time.latest())).to.be.at.most(BigInt(DEFAULT_SESSION_DURATION.max));
      await time.increaseTo(deadline + 1n);
      await f.delegation.connect(f.anyone).closeSession(id);
      expect((await f.delegation.sessionOf(id)).phase).to.equal(BigInt(SessionPhase.Closed));
    });
  });

  describe("honest users and providers", () => {
    it("a provider whose session closes right after the plan is paid every query the plan owed it", async () => {
      const f = await loadFixture(deployDelegationWorld);
      const { id } = await exploredSession(f, 300);
      await f.delegation.commitPlan(id);
      const expected: bigint[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await f.delegation.stats(id, i);
        expected.push(s.earned + (s.bonusDue + s.incentiveDue) * (await owedValue(f, id, i)));
      }
      await nextBlockIn12s();
      await f.delegation.connect(f.user).closeSession(id);
      for (let i = 0; i < 3; i++) {
        await expect(f.delegation.connect(f.providers[i]).withdraw()).to.changeTokenBalance(f.token, f.providers[i], expected[i]);
      }
    });

    it("a user pays only what it settled and the plan owes, at the prices it opened with, and can always leave", async () => {
      const f = await loadFixture(deployDelegationWorld);
      const before = await f.token.balanceOf(f.user.address);
      const { id, B } = await exploredSession(f, 1_000_000);
      // A provider raises its prices mid-session: the session still pays the prices it opened with.
      await registerModels(f.delegation, f.providers[0], NOTEBOOK_MODELS.map((m) => ({ ...m, tokenPrice: m.tokenPrice * 10 })));
      await f.delegation.commitPlan(id);
      // Reporting far more tokens than L per query bills L per query.
      await nextBlockIn12s();
      await expect(f.delegation.connect(f.user).settle(id, 0, B, 10n ** 30n, BigInt(B) * toWei(4), 0))
        .to.emit(f.delegation, "Settled")
        .withArgs(id, 0, SessionPhase.Exploitation, B, B * L, BigInt(B) * toWei(4), BigInt(B * L) * onChainModel(NOTEBOOK_MODELS[0]).tokenPrice);
      await pass12sBlocks(60);
      await nextBlockIn12s();
      await f.delegation.connect(f.user).closeSession(id);
      const s = await f.delegation.sessionOf(id);
      await f.delegation.connect(f.user).withdraw();
      expect(before - (await f.token.balanceOf(f.user.address))).to.equal(s.spent, "what it paid is exactly what the session spent");
      const paid = await Promise.all(f.providers.map(async (p) => f.delegation.credits(p.address)));
      expect(paid.reduce((a, b) => a + b, 0n)).to.equal(s.spent, "and all of it went to the providers");
      expect(await f.token.balanceOf(await f.delegation.getAddress())).to.equal(s.spent, "held for the providers until they withdraw");
    });
  });
});
