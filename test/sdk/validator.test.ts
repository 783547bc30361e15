import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet } from "ethers";
import { deployRanking, expectConservation, setNextBlock, registerAndStake, TOKENS } from "../helpers";
import {
  advanceValidator,
  computeEpochOnChain,
  readEpochSnapshot,
  statusForNextBlock,
  unrevealedCommitments,
  voteStake,
  EpochStatus,
  thetaFromWad,
  ValidatorError,
} from "../../sdk/src/chain/ranking";
import { computeEpoch } from "../../sdk/src/ranking/epoch";
import { packRow, normalizeRow } from "../../sdk/src/ranking/weights";

describe("SDK chain: validator and epoch runner", () => {
  /** The first epoch in which the fixture's stakes count: epoch 0 starts at deployment, before any stake. */
  const EPOCH = 1;

  /** Four staked peers with weights; epochs of 60 blocks with windows of 10; the setup ends before epoch 1 starts. */
  async function network() {
    const f = await deployRanking({ ranking: { epochLength: 60n, commitBlocks: 10n, revealBlocks: 10n } });
    const validators = f.peers.slice(0, 4);
    await registerAndStake(f.ranking, validators, [40, 30, 20, 10].map((t) => TOKENS(t)));
    await f.ranking.connect(validators[0]).setWeights([1, 2], [1, 1]);
    await f.ranking.connect(validators[1]).setWeights([0, 3], [2, 1]);
    await f.ranking.connect(validators[2]).setWeights([0, 1], [1, 1]);
    expect(BigInt(await hre.ethers.provider.getBlockNumber())).to.be.lessThan(await f.ranking.epochStartBlock(EPOCH));
    return { ...f, validators };
  }

  it("reads the snapshot exactly as it was at the snapshot block, even after later changes", async () => {
    const { ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(EPOCH);
    await setNextBlock(snapshot + 1n);
    await ranking.connect(validators[3]).setWeights([0], [1]);
    await ranking.connect(validators[3]).stake(3, TOKENS(5));
    const read = await readEpochSnapshot(ranking, EPOCH);
    expect(read.epoch).to.equal(EPOCH);
    expect(read.snapshotBlock).to.equal(Number(snapshot));
    expect(read.stake).to.deep.equal([40, 30, 20, 10].map((t) => TOKENS(t)));
    expect(Array.from(read.weights[3])).to.deep.equal([0, 0, 0, 65535]); // never set then
    expect(Array.from(read.weights[1])).to.deep.equal(normalizeRow([2, 0, 0, 1]));
    expect(read.params).to.deep.equal({ rho: 10n ** 18n, theta: 0.5, tau: 10n ** 16n });
  });

  it("reads the stake that counts, not the stake at the snapshot: stake added within the epoch is left out, an unstake within it lowers it", async () => {
    const { ranking, validators } = await loadFixture(network);
    await setNextBlock((await ranking.epochStartBlock(EPOCH)) + 1n);
    await ranking.connect(validators[3]).stake(3, TOKENS(5));
    await ranking.connect(validators[2]).unstake(TOKENS(5));
    const snapshot = await ranking.snapshotBlock(EPOCH);
    await setNextBlock(snapshot + 1n);
    expect(await ranking.getStakes({ blockTag: Number(snapshot) })).to.deep.equal([40, 30, 15, 15].map((t) => TOKENS(t)));
    const read = await readEpochSnapshot(ranking, EPOCH);
    expect(read.stake).to.deep.equal([40, 30, 15, 10].map((t) => TOKENS(t)));
    // The validator's result follows: computed on the snapshot block's stakes, it would be another root.
    const atSnapshot = await ranking.getStakes({ blockTag: Number(snapshot) });
    const onChain = await computeEpochOnChain(ranking, EPOCH);
    expect(onChain.root).not.to.equal(computeEpoch({ weights: read.weights, stake: atSnapshot, params: read.params }).root);
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
    expect(read.stake).to.have.length(300);
    expect(Array.from(read.weights[0])).to.deep.equal(dense);
    expect(Array.from(read.weights[299])[299]).to.equal(65535);
  });

  it("refuses to read an epoch whose snapshot is still ahead", async () => {
    const { ranking } = await loadFixture(network);
    await expect(readEpochSnapshot(ranking, 3)).to.be.rejectedWith(/epoch 3 ends at block \d+; the chain is at \d+/);
  });

  it("commits, reveals (even after finality) and claims an epoch, doing nothing twice", async () => {
    const { token, ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(EPOCH);
    expect((await advanceValidator(ranking, validators[0], EPOCH)).kind).to.equal("wait");
    await setNextBlock(snapshot + 1n);
    expect(await statusForNextBlock(ranking, EPOCH)).to.equal(EpochStatus.Committing);
    const expected = computeEpoch({ ...(await readEpochSnapshot(ranking, EPOCH)) });
    for (const v of validators.slice(0, 3)) {
      const action = await advanceValidator(ranking, v, EPOCH);
      expect(action).to.deep.equal({ kind: "committed", root: expected.root, totalEmission: expected.totalEmission });
    }
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.include({ kind: "wait" });
    await setNextBlock(snapshot + 11n);
    const first = await advanceValidator(ranking, validators[0], EPOCH);
    expect(first).to.deep.include({ kind: "revealed", finalized: false }); // 40 of 100
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.include({ kind: "wait" });
    expect(await advanceValidator(ranking, validators[1], EPOCH)).to.deep.include({ kind: "revealed", finalized: true }); // 70
    // The epoch is final, but validator 2 committed: it reveals first, or its leaf would be forfeit ...
    expect(await advanceValidator(ranking, validators[2], EPOCH)).to.deep.include({ kind: "revealed", finalized: true });
    expect(await ranking.hasRevealed(EPOCH, 2)).to.equal(true);
    // ... then each validator claims its own leaf (a fresh cache recomputes the tree) ...
    expect(await advanceValidator(ranking, validators[2], EPOCH)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[2] });
    expect(await advanceValidator(ranking, validators[2], EPOCH)).to.deep.include({ kind: "wait" });
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[0] });
    // ... and after the reveal window, the leaves of peers that do not validate (uid 3 here).
    await setNextBlock(snapshot + 21n);
    expect(await advanceValidator(ranking, validators[1], EPOCH)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[1] });
    expect(await advanceValidator(ranking, validators[1], EPOCH)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[3] });
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.include({ kind: "done", reason: "all emission claimed" });
    expect(await ranking.getStakes()).to.deep.equal([40, 30, 20, 10].map((t, i) => TOKENS(t) + expected.emission[i]));
    await expectConservation(token, ranking);
  });

  it("skips the leaf of a validator that committed and never revealed, and claims every other", async () => {
    const { ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(EPOCH);
    await setNextBlock(snapshot + 1n);
    for (const v of validators.slice(0, 3)) await advanceValidator(ranking, v, EPOCH);
    await setNextBlock(snapshot + 11n);
    for (const v of validators.slice(0, 2)) await advanceValidator(ranking, v, EPOCH); // 70 of 100: final
    expect(await ranking.epochStatus(EPOCH)).to.equal(BigInt(EpochStatus.Finalized));
    expect(await unrevealedCommitments(ranking, EPOCH)).to.deep.equal(new Set([2]));
    const expected = await computeEpochOnChain(ranking, EPOCH);
    expect(expected.emission[2] > 0n).to.equal(true, "the withheld leaf has emission to lose");

    await setNextBlock(snapshot + 21n); // validator 2 never revealed, and now cannot
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.equal({ kind: "claimed", leaves: 1, amount: expected.emission[0] });
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.equal({
      kind: "claimed",
      leaves: 2,
      amount: expected.emission[1] + expected.emission[3],
    });
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.include({ kind: "done", reason: "all emission claimed" });
    expect(await advanceValidator(ranking, validators[2], EPOCH)).to.deep.include({ kind: "done" });
    expect(await ranking.isClaimed(EPOCH, 2)).to.equal(false);
    await expect(ranking.claim(EPOCH, 2, expected.emission[2], expected.proof(2)))
      .to.be.revertedWithCustomError(ranking, "UnrevealedCommitment")
      .withArgs(EPOCH, 2);
  });

  it("picks up after a restart in the reveal window and reports a missed commit", async () => {
    const { ranking, validators } = await loadFixture(network);
    const snapshot = await ranking.snapshotBlock(EPOCH);
    await setNextBlock(snapshot + 1n);
    await advanceValidator(ranking, validators[0], EPOCH);
    await setNextBlock(snapshot + 11n);
    // A new process: no cache, salt derived again from the validator's signature.
    expect(await advanceValidator(ranking, validators[0], EPOCH, new Map())).to.deep.include({ kind: "revealed" });
    expect(await advanceValidator(ranking, validators[1], EPOCH)).to.deep.equal({
      kind: "done",
      status: EpochStatus.Revealing,
      reason: "missed the commit window",
    });
    await setNextBlock(snapshot + 21n);
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.equal({
      kind: "done",
      status: EpochStatus.Lapsed,
      reason: "epoch lapsed without quorum",
    });
  });

  it("tells a wallet that is not a peer, or has no stake that counts, why it cannot validate", async () => {
    const { ranking, peers, validators } = await loadFixture(network);
    await ranking.connect(peers[5]).register(); // uid 4, no stake at all
    await setNextBlock((await ranking.epochStartBlock(EPOCH)) + 1n);
    await registerAndStake(ranking, [peers[6]], [TOKENS(50)]); // uid 5: its stake arrives within the epoch
    await setNextBlock((await ranking.snapshotBlock(EPOCH)) + 1n);
    await expect(advanceValidator(ranking, peers[7], EPOCH)).to.be.rejectedWith(ValidatorError, "is not a registered peer");
    for (const [uid, peer] of [[4, peers[5]], [5, peers[6]]] as const) {
      expect(await voteStake(ranking, BigInt(uid), EPOCH)).to.equal(0n);
      expect(await advanceValidator(ranking, peer, EPOCH)).to.deep.include({
        kind: "done",
        reason: `uid ${uid} has no stake that counts in epoch ${EPOCH} (stake counts once held through a whole epoch)`,
      });
    }
    expect(await voteStake(ranking, 0n, EPOCH)).to.equal(TOKENS(40));
    expect(await advanceValidator(ranking, validators[0], EPOCH)).to.deep.include({ kind: "committed" });
  });

  it("computes on chain what computeEpoch computes on the snapshot", async () => {
    const { ranking } = await loadFixture(network);
    await setNextBlock((await ranking.snapshotBlock(EPOCH)) + 1n);
    const onChain = await computeEpochOnChain(ranking, EPOCH);
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
