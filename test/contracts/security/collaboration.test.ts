import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { id } from "ethers";
import { createRound, joinRound, RoundState } from "../../../sdk/src/chain/collaboration";
import { DEFAULT_ROUND_WINDOW } from "../../../deploy/config";
import { TOKENS, nextBlockIn12s, pass12sBlocks } from "../../helpers";
import { deploySecurity, SecurityFixture } from "./fixtures";

const ITEMS = [
  { contribution: TOKENS(10), reward: TOKENS(20), collateral: TOKENS(5) },
  { contribution: TOKENS(30), reward: TOKENS(50), collateral: TOKENS(8) },
];
const BOND = TOKENS(100);
const HOUR = 3600n;
const { Join, Contribution, Delivery } = { Join: 0, Contribution: 1, Delivery: 2 };

interface RoundWorld extends SecurityFixture {
  coordinator: HardhatEthersSigner;
  parties: HardhatEthersSigner[];
}

async function deployRoundWorld(): Promise<RoundWorld> {
  const f = await deploySecurity();
  const [coordinator, ...parties] = f.honest;
  return { ...f, coordinator, parties: parties.slice(0, 4) };
}

async function openRound(f: RoundWorld): Promise<{ id: bigint; deadlines: { join: bigint; contribution: bigint; delivery: bigint } }> {
  const now = BigInt(await time.latest());
  const deadlines = { join: now + HOUR, contribution: now + 2n * HOUR, delivery: now + 3n * HOUR };
  await nextBlockIn12s();
  return { id: await createRound(f.collaboration, f.coordinator, ITEMS, BOND, deadlines), deadlines };
}

type PartyDoes = "contributes" | "joins only" | "stays out";

/** Plays a round in 12-second blocks; returns every party's net and the coordinator's. */
async function play(f: RoundWorld, does: PartyDoes[], coordinatorDelivers: boolean) {
  const before = await Promise.all([f.coordinator, ...f.parties].map((s) => f.token.balanceOf(s.address)));
  const { id: round, deadlines } = await openRound(f);
  for (const [i, what] of does.entries()) {
    if (what === "stays out") continue;
    await nextBlockIn12s();
    await joinRound(f.collaboration, f.parties[i], round, i % 2);
  }
  for (const [i, what] of does.entries()) {
    if (what !== "contributes") continue;
    await nextBlockIn12s();
    await f.collaboration.connect(f.parties[i]).contribute(round, id(`data ${i}`), ITEMS[i % 2].contribution);
  }
  await time.increaseTo(deadlines.contribution);
  if (coordinatorDelivers) {
    const shares = does.filter((w) => w !== "stays out").map((w) => (w === "contributes" ? TOKENS("0.5") : 0n));
    await pass12sBlocks(120);
    await nextBlockIn12s();
    await f.collaboration.connect(f.coordinator).deliver(round, id("model"), shares);
  } else {
    await time.increaseTo(deadlines.delivery);
    await nextBlockIn12s();
    await f.collaboration.connect(f.anyone).claimDefault(round);
  }
  const state = Number((await f.collaboration.roundOf(round)).state);
  for (const s of [f.coordinator, ...f.parties]) if ((await f.collaboration.credits(s.address)) > 0n) await f.collaboration.connect(s).withdraw();
  const after = await Promise.all([f.coordinator, ...f.parties].map((s) => f.token.balanceOf(s.address)));
  const net = after.map((a, i) => a - before[i]);
  return { state, coordinator: net[0], parties: net.slice(1) };
}

describe("Security: collaboration rounds hold bonds and collateral only within bounded windows (issue 12)", () => {
  it("refuses any window of a round above the protocol's ceiling or below its floor", async () => {
    const f = await loadFixture(deployRoundWorld);
    await f.token.connect(f.attacker).approve(await f.collaboration.getAddress(), BOND);
    const { min, max } = DEFAULT_ROUND_WINDOW;
    // Each case: the window refused, and the three deadlines as offsets from the block's time.
    const cases: [number, bigint, bigint, bigint, bigint][] = [
      [Join, BigInt(max) + 1n, BigInt(max) + 2n * HOUR, BigInt(max) + 3n * HOUR, BigInt(max) + 1n],
      [Contribution, HOUR, HOUR + BigInt(max) + 1n, HOUR + BigInt(max) + 2n * HOUR, BigInt(max) + 1n],
      [Delivery, HOUR, 2n * HOUR, 2n * HOUR + BigInt(max) + 1n, BigInt(max) + 1n],
      [Delivery, HOUR, 2n * HOUR, 2n * HOUR + BigInt(min) - 1n, BigInt(min) - 1n],
      [Contribution, HOUR, HOUR - 1n, 2n * HOUR, 0n], // a deadline before the previous one: no window at all
    ];
    for (const [window, join, contribution, delivery, length] of cases) {
      const at = BigInt(await time.latest()) + 12n;
      await time.setNextBlockTimestamp(at);
      await expect(f.collaboration.connect(f.attacker).createRound(ITEMS, BOND, at + join, at + contribution, at + delivery))
        .to.be.revertedWithCustomError(f.collaboration, "WindowOutOfBounds")
        .withArgs(window, length, min, max);
    }
    // A delivery deadline at 2^64 - 1 seconds: far above the ceiling.
    const at = BigInt(await time.latest()) + 12n;
    await time.setNextBlockTimestamp(at);
    await expect(f.collaboration.connect(f.attacker).createRound(ITEMS, BOND, at + HOUR, at + 2n * HOUR, 2n ** 64n - 1n))
      .to.be.revertedWithCustomError(f.collaboration, "WindowOutOfBounds")
      .withArgs(Delivery, 2n ** 64n - 1n - (at + 2n * HOUR), min, max);
  });

  it("a coordinator that delivers in time gets its whole bond back, whatever the parties do", async () => {
    const behaviours: PartyDoes[][] = [
      ["contributes", "contributes", "contributes", "contributes"],
      ["contributes", "joins only", "stays out", "joins only"],
      ["joins only", "joins only", "stays out", "stays out"],
      ["stays out", "stays out", "stays out", "stays out"],
    ];
    for (const does of behaviours) {
      const f = await loadFixture(deployRoundWorld);
      const { state, coordinator } = await play(f, does, true);
      expect(state).to.equal(RoundState.Delivered);
      expect(coordinator, does.join(", ")).to.equal(0n, "the bond comes back whole");
    }
  });

  it("a party that joins and contributes in time gets its collateral back and never less, whether the coordinator delivers or defaults", async () => {
    for (const delivers of [true, false]) {
      for (const does of [
        ["contributes", "joins only", "contributes", "stays out"],
        ["contributes", "contributes", "contributes", "contributes"],
      ] as PartyDoes[][]) {
        const f = await loadFixture(deployRoundWorld);
        const { state, coordinator, parties } = await play(f, does, delivers);
        expect(state).to.equal(delivers ? RoundState.Delivered : RoundState.Failed);
        const forfeited = does.reduce((a, w, i) => a + (w === "joins only" ? ITEMS[i % 2].collateral : 0n), 0n);
        const contributors = BigInt(does.filter((w) => w === "contributes").length);
        const pot = forfeited + (delivers ? 0n : BOND);
        for (const [i, w] of does.entries()) {
          if (w === "contributes") expect(parties[i], `party ${i}`).to.be.at.least(pot / contributors, "its collateral back and its share of the pot");
          if (w === "joins only") expect(parties[i]).to.equal(-ITEMS[i % 2].collateral, "a party that never contributes loses its collateral");
          if (w === "stays out") expect(parties[i]).to.equal(0n);
        }
        expect(coordinator).to.equal(delivers ? 0n : -BOND);
      }
    }
  });

  it("releases every party's collateral and the bond within three window ceilings of the round's creation", async () => {
    const f = await loadFixture(deployRoundWorld);
    const created = BigInt(await time.latest()) + 1n;
    const { max } = DEFAULT_ROUND_WINDOW;
    const deadlines = { join: created + BigInt(max), contribution: created + 2n * BigInt(max), delivery: created + 3n * BigInt(max) };
    await time.setNextBlockTimestamp(created);
    const round = await createRound(f.collaboration, f.coordinator, ITEMS, BOND, deadlines);
    await joinRound(f.collaboration, f.parties[0], round, 0);
    // The coordinator disappears: anyone settles the round right after its last deadline.
    await time.increaseTo(deadlines.delivery);
    await expect(f.collaboration.connect(f.anyone).claimDefault(round)).to.emit(f.collaboration, "CoordinatorDefaulted");
    expect(BigInt(await time.latest()) - created).to.be.at.most(3n * BigInt(max) + 1n);
    await expect(f.collaboration.connect(f.parties[0]).withdraw()).to.changeTokenBalance(f.token, f.parties[0], BOND + ITEMS[0].collateral);
  });
});
