import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet } from "ethers";
import { deployRanking, expectConservation, setNextBlock, registerAndStake, TOKENS } from "../helpers";
import { advanceValidator, computeEpochOnChain, readEpochSnapshot, statusForNextBlock, EpochStatus, thetaFromWad, ValidatorError } from "../../sdk/src/chain/ranking";
import { computeEpoch } from "../../sdk/src/ranking/epoch";
import { packRow, normalizeRow } from "../../sdk/src/ranking/weights";

describe("SDK chain: validator and epoch runner", () => {
  /** Four staked peers with weights; epochs of 60 blocks with windows of 10. */
  async function network() {
    const f = await deployRanking({ ranking: { epochLength: 60n, commitBlocks: 10n, revealBlocks: 10n } });
    const validators = f.peers.slice(0, 4);
    await registerAndStake(f.ranking, validators, [40, 30, 20, 10].map((t) => TOKENS(t)));
    await f.ranking.connect(validators[0]).setWeights([1, 2], [1, 1]);
    await f.ranking.connect(validators[1]).setWeights([0, 3], [2, 1]);
    await f.ranking.connect(validators[2]).setWeights([0, 1], [1, 1]);
    return { ...f, validators };
  }

  it("reads the snapshot exactly as it was at the snapshot block, even after later changes", async () => {
    const { ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(0);
    await setNextBlock(snapshot + 1n);
    await ranking.connect(validators[3]).setWeights([0], [1]);
    await ranking.connect(validators[3]).stake(3, TOKENS(5));
    const read = await readEpochSnapshot(ranking, 0);
    expect(read.snapshotBlock).to.equal(Number(snapshot));
    expect(read.stake).to.deep.equal([40, 30, 20, 10].map((t) => TOKENS(t)));
    expect(Array.from(read.weights[3])).to.deep.equal([0, 0, 0, 65535]); // never set then
    expect(Array.from(read.weights[1])).to.deep.equal(normalizeRow([2, 0, 0, 1]));
    expect(read.params).to.deep.equal({ rho: 10n ** 18n, theta: 0.5, tau: 10n ** 16n });
  });

  it("reads a large market in pages that match a direct read", async () => {
    const f = await deployRanking({ ranking: { epochLength: 400n, maxPeers: 300n } });
    await registerAndStake(f.ranking, [f.peers[0]], [TOKENS(10)]);
    for (let i = 1; i < 300; i++) await f.ranking.connect(f.peers[0]).registerFor(Wallet.createRandom().address);
    const dense = normalizeRow(Array.from({ length: 300 }, (_, j) => (j % 7) + 1));
    await f.ranking.connect(f.peers[0]).setWeightsPacked(packRow(dense));
    await setNextBlock((await f.ranking.snapshotBlock(0)) + 1n);
    const read = await readEpochSnapshot(f.ranking, 0);
    expect(read.weights).to.have.length(300);
    expect(Array.from(read.weights[0])).to.deep.equal(dense);
    expect(Array.from(read.weights[299])[299]).to.equal(65535);
  });

  it("refuses to read an epoch whose snapshot is still ahead", async () => {
    const { ranking } = await loadFixture(network);
    await expect(readEpochSnapshot(ranking, 3)).to.be.rejectedWith(/epoch 3 ends at block \d+; the chain is at \d+/);
  });

  it("commits, reveals and claims an epoch, doing nothing twice", async () => {
    const { token, ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(0);
    expect((await advanceValidator(ranking, validators[0], 0)).kind).to.equal("wait");
    await setNextBlock(snapshot + 1n);
    expect(await statusForNextBlock(ranking, 0)).to.equal(EpochStatus.Committing);
    const expected = computeEpoch({ ...(await readEpochSnapshot(ranking, 0)) });
    for (const v of validators.slice(0, 3)) {
      const action = await advanceValidator(ranking, v, 0);
      expect(action).to.deep.equal({ kind: "committed", root: expected.root, totalEmission: expected.totalEmission });
    }
    expect(await advanceValidator(ranking, validators[0], 0)).to.deep.include({ kind: "wait" });
    await setNextBlock(snapshot + 11n);
    const first = await advanceValidator(ranking, validators[0], 0);
    expect(first).to.deep.include({ kind: "revealed", finalized: false }); // 40 of 100
    expect(await advanceValidator(ranking, validators[0], 0)).to.deep.include({ kind: "wait" });
    expect(await advanceValidator(ranking, validators[1], 0)).to.deep.include({ kind: "revealed", finalized: true }); // 70
    // Each validator claims its own leaf (a fresh cache recomputes the tree) ...
    expect(await advanceValidator(ranking, validators[2], 0)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[2] });
    expect(await advanceValidator(ranking, validators[2], 0)).to.deep.include({ kind: "wait" });
    expect(await advanceValidator(ranking, validators[0], 0)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[0] });
    // ... and after the reveal window, the leaves of peers that do not validate (uid 3 here).
    await setNextBlock(snapshot + 21n);
    expect(await advanceValidator(ranking, validators[1], 0)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[1] });
    expect(await advanceValidator(ranking, validators[1], 0)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[3] });
    expect(await advanceValidator(ranking, validators[0], 0)).to.deep.include({ kind: "done", reason: "all emission claimed" });
    expect(await ranking.getStakes()).to.deep.equal([40, 30, 20, 10].map((t, i) => TOKENS(t) + expected.emission[i]));
    await expectConservation(token, ranking);
  });

  it("picks up after a restart in the reveal window and reports a missed commit", async () => {
    const { ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(0);
    await setNextBlock(snapshot + 1n);
    await advanceValidator(ranking, validators[0], 0);
    await setNextBlock(snapshot + 11n);
    // A new process: no cache, salt derived again from the validator's signature.
    expect(await advanceValidator(ranking, validators[0], 0, new Map())).to.deep.include({ kind: "revealed" });
    expect(await advanceValidator(ranking, validators[1], 0)).to.deep.equal({
      kind: "done",
      status: EpochStatus.Revealing,
      reason: "missed the commit window",
    });
    await setNextBlock(snapshot + 21n);
    expect(await advanceValidator(ranking, validators[0], 0)).to.deep.equal({
      kind: "done",
      status: EpochStatus.Lapsed,
      reason: "epoch lapsed without quorum",
    });
  });

  it("tells a wallet that is not a peer, or had no stake at the snapshot, why it cannot validate", async () => {
    const { ranking, peers } = await loadFixture(network);
    await ranking.connect(peers[5]).register();
    await setNextBlock((await ranking.snapshotBlock(0)) + 1n);
    await expect(advanceValidator(ranking, peers[6], 0)).to.be.rejectedWith(ValidatorError, "is not a registered peer");
    expect(await advanceValidator(ranking, peers[5], 0)).to.deep.include({ kind: "done", reason: "uid 4 had no stake at the snapshot" });
  });

  it("computes on chain what computeEpoch computes on the snapshot", async () => {
    const { ranking } = await loadFixture(network);
    await setNextBlock((await ranking.snapshotBlock(0)) + 1n);
    const onChain = await computeEpochOnChain(ranking, 0);
    const s = onChain.snapshot;
    expect(onChain.root).to.equal(computeEpoch({ weights: s.weights, stake: s.stake, params: s.params }).root);
    expect(hre.network.name).to.equal("hardhat");
  });
});

describe("theta from the chain", () => {
  it("keeps every theta the contract allows strictly below 1 for the epoch function", () => {
    const WAD = 10n ** 18n;
    expect(thetaFromWad(WAD / 2n)).to.equal(0.5);
    expect(thetaFromWad(1n)).to.equal(1e-18);
    for (const theta of [WAD - 1n, WAD - 55n, WAD - 64n]) {
      const t = thetaFromWad(theta);
      expect(t, String(theta)).to.be.lessThan(1);
      expect(t).to.be.greaterThan(0.9999999999999998);
    }
  });
});
