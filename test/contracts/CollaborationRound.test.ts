import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashOf, parseEther } from "ethers";
import { deployAgora } from "../../deploy/agora";
import { DEFAULT_ROUND_WINDOW } from "../../deploy/config";
import { createRound, joinRound, RoundState } from "../../sdk/src/chain/collaboration";
import { CollaborationRound__factory } from "../../typechain-types";
import { BLOCK_TIME, nextBlockIn12s, pass12sBlocks } from "../helpers";

const T = (x: number | string) => parseEther(String(x));
/** CollaborationRound.Window */
const Window = { Join: 0, Contribution: 1, Delivery: 2 } as const;
const ITEMS = [
  { contribution: T(10), reward: T(20), collateral: T(5) },
  { contribution: T(30), reward: T(40), collateral: T(8) },
];

describe("CollaborationRound (SPEC §4)", () => {
  async function deployed() {
    const [admin, coordinator, a, b, c, outsider] = await hre.ethers.getSigners();
    const { token, collaboration: round } = await deployAgora(admin, { addressBookDir: false });
    for (const s of [coordinator, a, b, c]) await token.transfer(s.address, T(10_000));
    const now = BigInt(await time.latest());
    const deadlines = { join: now + 120n, contribution: now + 240n, delivery: now + 360n };
    const id = await createRound(round, coordinator, ITEMS, T(90), deadlines);
    await joinRound(round, a, id, 0);
    await joinRound(round, b, id, 1);
    await joinRound(round, c, id, 0);
    return { token, round, coordinator, parties: [a, b, c], outsider, id, deadlines };
  }

  /** Mines 12-second blocks up to the last one before `deadline`, and makes the next block fall on the deadline itself, the last second of its window. */
  async function nextBlockAtDeadline(deadline: bigint) {
    const gap = Number(deadline) - (await time.latest());
    await pass12sBlocks(BLOCK_TIME * (Math.ceil(gap / BLOCK_TIME) - 1));
    expect(Number(deadline) - (await time.latest())).to.be.within(1, BLOCK_TIME);
    await time.setNextBlockTimestamp(deadline);
  }

  /** Mines 12-second blocks up to `deadline`, and makes the next block come 12 s after it: the first past its window. */
  async function nextBlockAfter(deadline: bigint) {
    await nextBlockAtDeadline(deadline);
    await mine();
    await nextBlockIn12s();
  }

  async function expectConserved(f: Awaited<ReturnType<typeof deployed>>) {
    let owed = 0n;
    for (let id = 1n; id <= (await f.round.roundCount()); id++) {
      const r = await f.round.roundOf(id);
      if (Number(r.state) === RoundState.Open) owed += r.bond + r.collateral;
    }
    for (const s of [f.coordinator, ...f.parties]) owed += await f.round.credits(s.address);
    expect(await f.token.balanceOf(await f.round.getAddress())).to.equal(owed);
  }

  it("commits the menu's hash and items with the bond before anyone joins", async () => {
    const f = await loadFixture(deployed);
    const r = await f.round.roundOf(f.id);
    expect(r.menuHash).to.equal(hre.ethers.keccak256(hre.ethers.AbiCoder.defaultAbiCoder().encode(["tuple(uint128,uint128,uint128)[]"], [ITEMS.map((i) => [i.contribution, i.reward, i.collateral])])));
    expect(r.bond).to.equal(T(90));
    expect(r.collateral).to.equal(T(18));
    expect((await f.round.itemsOf(f.id)).map((i) => i.reward)).to.deep.equal([T(20), T(40)]);
    expect(await f.round.partiesOf(f.id)).to.deep.equal(f.parties.map((p) => p.address));
    await expectConserved(f);
  });

  it("returns contributors' collateral on delivery, records rewards, and gives the pool of a non-contributor to the contributors", async () => {
    const f = await loadFixture(deployed);
    const [a, b, c] = f.parties;
    await f.round.connect(a).contribute(f.id, hashOf("data a"), T(10));
    await f.round.connect(b).contribute(f.id, hashOf("data b"), T(31));
    await nextBlockAfter(f.deadlines.contribution);
    const model = hashOf("model");
    const tx = f.round.connect(f.coordinator).deliver(f.id, model, [T("0.5"), T("0.9"), 0]);
    await expect(tx).to.emit(f.round, "Delivered").withArgs(f.id, model, 2, T(5));
    await expect(tx).to.emit(f.round, "Rewarded").withArgs(f.id, b.address, model, T("0.9"));
    expect((await f.round.partyOf(f.id, a.address)).qualityShare).to.equal(T("0.5"));
    // a: collateral 5 + half of c's 5; b: collateral 8 + the other half; c: nothing; coordinator: its bond.
    expect(await f.round.credits(a.address)).to.equal(T("7.5"));
    expect(await f.round.credits(b.address)).to.equal(T("10.5"));
    expect(await f.round.credits(c.address)).to.equal(0n);
    expect(await f.round.credits(f.coordinator.address)).to.equal(T(90));
    expect(Number((await f.round.roundOf(f.id)).state)).to.equal(RoundState.Delivered);
    await expectConserved(f);
    for (const s of [a, b, f.coordinator]) await f.round.connect(s).withdraw();
    expect(await f.token.balanceOf(await f.round.getAddress())).to.equal(0n);
  });

  it("forfeits the coordinator's bond to the contributors when it misses its delivery deadline", async () => {
    const f = await loadFixture(deployed);
    const [a, b] = f.parties;
    await f.round.connect(a).contribute(f.id, hashOf("data a"), T(10));
    await f.round.connect(b).contribute(f.id, hashOf("data b"), T(30));
    const { delivery } = f.deadlines;
    // At the delivery deadline the coordinator may still deliver: nobody can claim its bond yet.
    await nextBlockAtDeadline(delivery);
    await expect(f.round.connect(f.outsider).claimDefault(f.id)).to.be.revertedWithCustomError(f.round, "TooEarly").withArgs(f.id, delivery, delivery);
    await nextBlockIn12s();
    await expect(f.round.connect(f.coordinator).deliver(f.id, hashOf("late"), [0, 0, 0]))
      .to.be.revertedWithCustomError(f.round, "TooLate")
      .withArgs(f.id, delivery, delivery + BigInt(BLOCK_TIME));
    await expect(f.round.connect(f.outsider).claimDefault(f.id)).to.emit(f.round, "CoordinatorDefaulted").withArgs(f.id, T(90), 2);
    // pot = bond 90 + c's 5 = 95, split 47.5 each, plus own collateral.
    expect(await f.round.credits(a.address)).to.equal(T("52.5"));
    expect(await f.round.credits(b.address)).to.equal(T("55.5"));
    expect(await f.round.credits(f.coordinator.address)).to.equal(0n);
    await expectConserved(f);
    await expect(f.round.claimDefault(f.id)).to.be.revertedWithCustomError(f.round, "WrongState").withArgs(f.id, RoundState.Failed);
  });

  it("shares the bond and every collateral among all parties when nobody contributed", async () => {
    const f = await loadFixture(deployed);
    await nextBlockAfter(f.deadlines.delivery);
    await f.round.claimDefault(f.id);
    // pot = 90 + 18 = 108 over three parties.
    for (const p of f.parties) expect(await f.round.credits(p.address)).to.equal(T(36));
    await expectConserved(f);
  });

  it("refuses joins, contributions and deliveries out of their windows or from the wrong account", async () => {
    const f = await loadFixture(deployed);
    const [a, b, c] = f.parties;
    await expect(f.round.connect(a).join(f.id, 0)).to.be.revertedWithCustomError(f.round, "AlreadyJoined").withArgs(f.id, a.address);
    await expect(f.round.connect(f.outsider).join(f.id, 2)).to.be.revertedWithCustomError(f.round, "UnknownItem").withArgs(f.id, 2, 2);
    await expect(f.round.connect(f.outsider).contribute(f.id, hashOf("x"), T(10))).to.be.revertedWithCustomError(f.round, "NotJoined").withArgs(f.id, f.outsider.address);
    await expect(f.round.connect(b).contribute(f.id, hashOf("x"), T(29))).to.be.revertedWithCustomError(f.round, "ContributionTooSmall").withArgs(f.id, T(30), T(29));
    await f.round.connect(a).contribute(f.id, hashOf("x"), T(10));
    await expect(f.round.connect(a).contribute(f.id, hashOf("x"), T(10))).to.be.revertedWithCustomError(f.round, "AlreadyContributed");
    await expect(f.round.connect(f.coordinator).deliver(f.id, hashOf("m"), [0, 0, 0])).to.be.revertedWithCustomError(f.round, "TooEarly");
    const { join, contribution } = f.deadlines;
    await nextBlockAfter(join);
    await expect(f.round.connect(f.outsider).join(f.id, 0)).to.be.revertedWithCustomError(f.round, "TooLate").withArgs(f.id, join, join + BigInt(BLOCK_TIME));
    // The contribution deadline is the last second to contribute.
    await nextBlockAtDeadline(contribution);
    await expect(f.round.connect(c).contribute(f.id, hashOf("c"), T(10))).to.emit(f.round, "Contributed");
    await nextBlockIn12s();
    await expect(f.round.connect(b).contribute(f.id, hashOf("x"), T(30)))
      .to.be.revertedWithCustomError(f.round, "TooLate")
      .withArgs(f.id, contribution, contribution + BigInt(BLOCK_TIME));
    await expect(f.round.connect(a).deliver(f.id, hashOf("m"), [0, 0, 0])).to.be.revertedWithCustomError(f.round, "NotCoordinator").withArgs(f.id, a.address);
    await expect(f.round.connect(f.coordinator).deliver(f.id, hashOf("m"), [0, 0])).to.be.revertedWithCustomError(f.round, "WrongShareCount").withArgs(f.id, 2, 3);
    await expect(f.round.connect(f.coordinator).deliver(f.id, hashOf("m"), [T(2), 0, 0])).to.be.revertedWithCustomError(f.round, "ShareTooLarge").withArgs(f.id, a.address, T(2));
    await f.round.connect(f.coordinator).deliver(f.id, hashOf("m"), [T(1), 0, 0]);
    await expect(f.round.connect(f.coordinator).deliver(f.id, hashOf("m"), [T(1), 0, 0])).to.be.revertedWithCustomError(f.round, "WrongState").withArgs(f.id, RoundState.Delivered);
    await expect(f.round.join(f.id, 0)).to.be.revertedWithCustomError(f.round, "WrongState");
  });

  it("refuses bad menus, unknown rounds, and empty withdrawals", async () => {
    const f = await loadFixture(deployed);
    const now = BigInt(await time.latest());
    const ok = [now + 100n, now + 200n, now + 300n] as const;
    await expect(f.round.createRound([], 0, ...ok)).to.be.revertedWithCustomError(f.round, "InvalidMenu").withArgs("between 1 and 16 items");
    await expect(f.round.createRound([ITEMS[1], ITEMS[0]], 0, ...ok)).to.be.revertedWithCustomError(f.round, "InvalidMenu").withArgs("contributions must not decrease");
    await expect(f.round.roundOf(9)).to.be.revertedWithCustomError(f.round, "UnknownRound").withArgs(9);
    await expect(f.round.connect(f.outsider).withdraw()).to.be.revertedWithCustomError(f.round, "NothingToWithdraw").withArgs(f.outsider.address);
    const factory = new CollaborationRound__factory(f.coordinator);
    await expect(factory.deploy(hre.ethers.ZeroAddress, DEFAULT_ROUND_WINDOW.min, DEFAULT_ROUND_WINDOW.max)).to.be.revertedWithCustomError(factory, "ZeroAddress");
  });

  describe("window bounds", () => {
    const { min, max } = DEFAULT_ROUND_WINDOW;

    /** Creates a round (no bond) in a block 12 s after the latest, whose windows last `join`, `contribution` and `delivery` seconds. */
    async function createWithWindows(f: Awaited<ReturnType<typeof deployed>>, join: number, contribution: number, delivery: number) {
      const now = (await time.latest()) + BLOCK_TIME;
      await time.setNextBlockTimestamp(now);
      const joinDeadline = now + join;
      const contributionDeadline = joinDeadline + contribution;
      return f.round.connect(f.coordinator).createRound(ITEMS, 0, joinDeadline, contributionDeadline, contributionDeadline + delivery);
    }

    it("deploys with the default floor and ceiling of a round's windows", async () => {
      const f = await loadFixture(deployed);
      expect(await f.round.minWindow()).to.equal(BigInt(min));
      expect(await f.round.maxWindow()).to.equal(BigInt(max));
    });

    for (const [name, window] of Object.entries(Window)) {
      const windows = (length: number) => [0, 1, 2].map((i) => (i === window ? length : min)) as [number, number, number];

      it(`refuses a ${name.toLowerCase()} window below the floor or above the ceiling`, async () => {
        const f = await loadFixture(deployed);
        await expect(createWithWindows(f, ...windows(min - 1))).to.be.revertedWithCustomError(f.round, "WindowOutOfBounds").withArgs(window, min - 1, min, max);
        await expect(createWithWindows(f, ...windows(max + 1))).to.be.revertedWithCustomError(f.round, "WindowOutOfBounds").withArgs(window, max + 1, min, max);
      });

      it(`refuses a ${name.toLowerCase()} window that ends before it starts, or when it starts, as a window of no length`, async () => {
        const f = await loadFixture(deployed);
        await expect(createWithWindows(f, ...windows(-BLOCK_TIME))).to.be.revertedWithCustomError(f.round, "WindowOutOfBounds").withArgs(window, 0, min, max);
        await expect(createWithWindows(f, ...windows(0))).to.be.revertedWithCustomError(f.round, "WindowOutOfBounds").withArgs(window, 0, min, max);
      });

      it(`accepts a ${name.toLowerCase()} window of exactly the floor or exactly the ceiling`, async () => {
        const f = await loadFixture(deployed);
        for (const length of [min, max]) {
          await expect(createWithWindows(f, ...windows(length))).to.emit(f.round, "RoundCreated");
          const created = await f.round.roundOf(await f.round.roundCount());
          const lengths = [
            created.joinDeadline - BigInt(await time.latest()),
            created.contributionDeadline - created.joinDeadline,
            created.deliveryDeadline - created.contributionDeadline,
          ];
          expect(lengths).to.deep.equal(windows(length).map(BigInt));
        }
      });
    }

    it("gives a party its collateral back at most three ceilings after the round was created", async () => {
      const f = await loadFixture(deployed);
      await (await createWithWindows(f, max, max, max)).wait();
      const id = await f.round.roundCount();
      const created = await time.latest();
      await joinRound(f.round, f.parties[0], id, 0);
      const { deliveryDeadline } = await f.round.roundOf(id);
      expect(deliveryDeadline).to.equal(BigInt(created + 3 * max));
      await nextBlockAfter(deliveryDeadline);
      await expect(f.round.connect(f.outsider).claimDefault(id)).to.emit(f.round, "CoordinatorDefaulted").withArgs(id, 0, 1);
      expect(await f.round.credits(f.parties[0].address)).to.equal(ITEMS[0].collateral);
    });

    it("refuses to deploy with a zero floor or a floor above the ceiling, and deploys with both equal", async () => {
      const f = await loadFixture(deployed);
      const factory = new CollaborationRound__factory(f.coordinator);
      const token = await f.token.getAddress();
      await expect(factory.deploy(token, 0, 60)).to.be.revertedWithCustomError(factory, "InvalidWindowBounds").withArgs(0, 60);
      await expect(factory.deploy(token, 61, 60)).to.be.revertedWithCustomError(factory, "InvalidWindowBounds").withArgs(61, 60);
      const fixed = await factory.deploy(token, 60, 60);
      expect([await fixed.minWindow(), await fixed.maxWindow()]).to.deep.equal([60n, 60n]);
    });
  });

  it("caps a round at 64 parties", async () => {
    const f = await loadFixture(deployed);
    const cheap = [{ contribution: 1n, reward: 1n, collateral: 0n }];
    const now = BigInt(await time.latest());
    const id = await createRound(f.round, f.coordinator, cheap, 0n, { join: now + 10_000n, contribution: now + 20_000n, delivery: now + 30_000n });
    const signers = await hre.ethers.getSigners();
    for (let i = 0; i < 64; i++) {
      const w = hre.ethers.Wallet.createRandom().connect(hre.ethers.provider);
      await signers[0].sendTransaction({ to: w.address, value: parseEther("1") });
      await (await f.round.connect(w).join(id, 0)).wait();
    }
    await expect(f.round.connect(f.outsider).join(id, 0)).to.be.revertedWithCustomError(f.round, "RoundFull").withArgs(id, 64);
  });
});
