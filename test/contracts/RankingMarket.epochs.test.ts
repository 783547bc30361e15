import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { id } from "ethers";
import { deployRanking, expectConservation, setNextBlock, registerAndStake, seededRandom, TOKENS, WAD } from "../helpers";
import { deployRankingMarket } from "../../deploy/agora";
import { DEFAULT_RANKING_CONFIG } from "../../deploy/config";
import { buildEmissionTree } from "../../sdk/src/ranking/merkle";
import { CommitmentContext, resultCommitment } from "../../sdk/src/ranking/commitment";
import type { RankingMarket } from "../../typechain-types";

const EpochStatus = { Accumulating: 0n, Committing: 1n, Revealing: 2n, Finalized: 3n, Lapsed: 4n };
const Parameter = { Quorum: 1, Tau: 4, UnbondingBlocks: 7 } as const; // IRankingMarket.Parameter
const SALT = id("salt");
/**
 * The epoch the tests validate: the first one whose start block comes after the fixture's stakes.
 * Epoch 0 starts at the deployment block, when nobody had stake yet, so nothing counts in it.
 */
const EPOCH = 1;

describe("RankingMarket: epochs, consensus and claims", () => {
  /**
   * Peers 0..4 staking 30, 25, 20, 15, 10 tokens (100 in all); peers[5] registered without stake.
   * Epochs of 100 blocks, so the setup ends well before epoch 1 starts (at the end of block
   * `start`) and all of that stake counts in epoch 1; windows of 10 blocks after its `snapshot`.
   * (Views answer for the latest mined block; `setNextBlock(b)` makes b the next block to be mined.)
   */
  async function staked() {
    const f = await deployRanking({ ranking: { epochLength: 100n, commitBlocks: 10n, revealBlocks: 10n } });
    await registerAndStake(f.ranking, f.peers.slice(0, 6), [30, 25, 20, 15, 10, 0].map((t) => TOKENS(t)));
    const start = await f.ranking.epochStartBlock(EPOCH);
    expect(BigInt(await hre.ethers.provider.getBlockNumber())).to.be.lessThan(start, "the fixture's stakes precede epoch 1");
    const snapshot = await f.ranking.snapshotBlock(EPOCH);
    return { ...f, start, snapshot };
  }

  const contextOf = async (ranking: RankingMarket, epoch: number): Promise<CommitmentContext> => ({
    chainId: (await hre.ethers.provider.getNetwork()).chainId,
    market: await ranking.getAddress(),
    epoch,
  });

  const commitmentFor = async (ranking: RankingMarket, who: HardhatEthersSigner, epoch: number, root: string, total: bigint, salt = SALT) =>
    resultCommitment(await contextOf(ranking, epoch), root, total, salt, who.address);

  const commit = async (ranking: RankingMarket, who: HardhatEthersSigner, epoch: number, root: string, total: bigint, salt = SALT) =>
    ranking.connect(who).commitResult(epoch, await commitmentFor(ranking, who, epoch, root, total, salt));

  const reveal = (ranking: RankingMarket, who: HardhatEthersSigner, epoch: number, root: string, total: bigint, salt = SALT) =>
    ranking.connect(who).revealResult(epoch, root, total, salt);

  /** The honest result of the fixture: 0.6 token split 1:2:3 over uids 0, 1, 2. */
  const honest = buildEmissionTree([TOKENS("0.1"), TOKENS("0.2"), TOKENS("0.3")]);
  const honestTotal = TOKENS("0.6");
  const selfish = buildEmissionTree([0n, 0n, 0n, TOKENS("0.5"), TOKENS("0.5")]);
  const selfishTotal = TOKENS(1);

  /** Moves to the first block of epoch 1's commit window; returns the first block of its reveal window. */
  async function revealPhase(f: Awaited<ReturnType<typeof staked>>) {
    await setNextBlock(f.snapshot + 1n);
    return f.snapshot + (await f.ranking.commitBlocks()) + 1n;
  }

  describe("commit", () => {
    it("opens only during the commitBlocks after the snapshot", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, snapshot } = f;
      const closes = snapshot + (await ranking.commitBlocks());
      await setNextBlock(snapshot);
      await expect(commit(ranking, peers[0], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInCommitWindow")
        .withArgs(EPOCH, snapshot, snapshot, closes);
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Accumulating);
      await expect(commit(ranking, peers[0], EPOCH, honest.root, honestTotal)).to.emit(ranking, "ResultCommitted");
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Committing);
      await setNextBlock(closes);
      await expect(commit(ranking, peers[1], EPOCH, honest.root, honestTotal)).to.emit(ranking, "ResultCommitted");
      await expect(commit(ranking, peers[2], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInCommitWindow")
        .withArgs(EPOCH, closes + 1n, snapshot, closes);
    });

    it("refuses unregistered callers, peers without stake that counts, and second commits", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, outsider, start, snapshot } = f;
      await setNextBlock(start);
      await ranking.connect(peers[5]).stake(5, TOKENS(1)); // in the block that starts the epoch: counts
      await ranking.connect(peers[6]).register();
      await ranking.connect(peers[6]).stake(6, TOKENS(1)); // within the epoch: does not
      await setNextBlock(snapshot + 1n);
      await expect(commit(ranking, outsider, EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotRegistered")
        .withArgs(outsider.address);
      await expect(commit(ranking, peers[6], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NoStakeThatCounts")
        .withArgs(EPOCH, 6);
      await expect(ranking.connect(peers[5]).commitResult(EPOCH, hre.ethers.ZeroHash))
        .to.be.revertedWithCustomError(ranking, "ZeroCommitment")
        .withArgs(EPOCH, 5);
      await expect(commit(ranking, peers[5], EPOCH, honest.root, honestTotal)).to.emit(ranking, "ResultCommitted");
      await expect(commit(ranking, peers[5], EPOCH, selfish.root, selfishTotal))
        .to.be.revertedWithCustomError(ranking, "AlreadyCommitted")
        .withArgs(EPOCH, 5);
      expect(await ranking.commitmentOf(EPOCH, 5)).to.equal(await commitmentFor(ranking, peers[5], EPOCH, honest.root, honestTotal));
    });

    it("lets nobody commit in epoch 0, whose stake was not held through any whole epoch", async () => {
      const { ranking, peers } = await loadFixture(staked);
      const snapshot0 = await ranking.snapshotBlock(0);
      expect(await ranking.epochStartBlock(0)).to.equal(await ranking.genesisBlock());
      await setNextBlock(snapshot0 + 1n);
      expect(await ranking.stakeAt(0, snapshot0)).to.equal(TOKENS(30), "peer 0 holds its stake at the snapshot");
      expect(await ranking.countingStakeOf(0, 0)).to.equal(0n, "but none of it counts in epoch 0");
      expect(await ranking.countingTotalStake(0)).to.equal(0n);
      await expect(commit(ranking, peers[0], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NoStakeThatCounts")
        .withArgs(0, 0);
    });
  });

  describe("stake that counts", () => {
    it("gives stake added inside an epoch no vote in it, and counts it from the next epoch", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, start, snapshot } = f;
      await setNextBlock(start + 1n);
      await ranking.connect(peers[5]).stake(5, TOKENS(10));
      await setNextBlock(snapshot + 1n);
      expect(await ranking.stakeAt(5, snapshot)).to.equal(TOKENS(10), "held at the snapshot");
      expect(await ranking.countingStakeOf(5, EPOCH)).to.equal(0n, "not through the whole epoch");
      expect(await ranking.countingTotalStake(EPOCH)).to.equal(TOKENS(100));
      expect(await ranking.getCountingStakes(EPOCH)).to.deep.equal([30, 25, 20, 15, 10, 0].map((t) => TOKENS(t)));
      await expect(commit(ranking, peers[5], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NoStakeThatCounts")
        .withArgs(EPOCH, 5);

      const next = EPOCH + 1;
      const nextSnapshot = await ranking.snapshotBlock(next);
      expect(await ranking.countingStakeOf(5, next)).to.equal(TOKENS(10));
      expect(await ranking.countingTotalStake(next)).to.equal(TOKENS(110));
      await setNextBlock(nextSnapshot + 1n);
      await commit(ranking, peers[5], next, honest.root, honestTotal);
      await setNextBlock(nextSnapshot + (await ranking.commitBlocks()) + 1n);
      await expect(reveal(ranking, peers[5], next, honest.root, honestTotal))
        .to.emit(ranking, "ResultRevealed")
        .withArgs(next, 5, honest.root, honestTotal, TOKENS(10));
    });

    it("lowers an epoch's stake that counts to its low-water mark on an unstake, and the quorum's base and the cap with it", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, start } = f;
      await setNextBlock(start + 5n);
      await ranking.connect(peers[0]).unstake(TOKENS(20)); // 30 -> 10
      await ranking.connect(peers[0]).stake(0, TOKENS(20)); // back to 30, which counts from the next epoch only
      const opens = await revealPhase(f);
      expect(await ranking.stakeOf(0)).to.equal(TOKENS(30));
      expect(await ranking.countingStakeOf(0, EPOCH)).to.equal(TOKENS(10));
      expect(await ranking.countingTotalStake(EPOCH)).to.equal(TOKENS(80));
      expect(await ranking.countingStakeOf(0, EPOCH + 1)).to.equal(TOKENS(30));
      expect(await ranking.countingTotalStake(EPOCH + 1)).to.equal(TOKENS(100));

      const cap = TOKENS(80) / 100n; // tau = 1% of the 80 that count
      const tooMuch = buildEmissionTree([cap + 1n]);
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[1], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[2], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[3], EPOCH, tooMuch.root, cap + 1n);
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[3], EPOCH, tooMuch.root, cap + 1n))
        .to.be.revertedWithCustomError(ranking, "EmissionAboveCap")
        .withArgs(EPOCH, cap + 1n, cap);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "ResultRevealed")
        .withArgs(EPOCH, 0, honest.root, honestTotal, TOKENS(10));
      await expect(reveal(ranking, peers[1], EPOCH, honest.root, honestTotal)).not.to.emit(ranking, "EpochFinalized"); // 35 of 80
      // 10 + 25 + 20 = 55 of the 80 that count.
      await expect(reveal(ranking, peers[2], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "EpochFinalized")
        .withArgs(EPOCH, honest.root, honestTotal, TOKENS(55));
    });

    it("finalizes on more than half of the lowered base: 45 of 80 that count", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, start } = f;
      await setNextBlock(start + 5n);
      await ranking.connect(peers[0]).unstake(TOKENS(20));
      const opens = await revealPhase(f);
      for (const p of peers.slice(1, 3)) await commit(ranking, p, EPOCH, honest.root, honestTotal);
      await setNextBlock(opens);
      await reveal(ranking, peers[1], EPOCH, honest.root, honestTotal);
      // 45 would not be more than half of the 100 staked at the start; it is of the 80 that count.
      await expect(reveal(ranking, peers[2], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "EpochFinalized")
        .withArgs(EPOCH, honest.root, honestTotal, TOKENS(45));
    });

    it("keeps unstaked stake that voted until the epoch's reveal window is over, even with no unbonding period", async () => {
      const f = await loadFixture(staked);
      const { token, ranking, admin, peers, snapshot } = f;
      await ranking.connect(admin).setParameter(Parameter.UnbondingBlocks, 0);
      const opens = await revealPhase(f);
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[1], EPOCH, honest.root, honestTotal);
      const tx = await ranking.connect(peers[0]).unstake(TOKENS(30)); // after the snapshot: epoch 2 is accumulating
      const release = snapshot + (await ranking.commitBlocks()) + (await ranking.revealBlocks()) + 1n;
      expect(BigInt((await tx.wait())!.blockNumber)).to.be.lessThan(release);
      await expect(tx).to.emit(ranking, "Unstaked").withArgs(0, TOKENS(30), 0n, release);
      expect(await ranking.unbondingOf(peers[0].address)).to.deep.equal([TOKENS(30), release]);
      expect(await ranking.countingStakeOf(0, EPOCH)).to.equal(TOKENS(30), "the epoch's snapshot is past: its stake that counts is final");
      expect(await ranking.countingStakeOf(0, EPOCH + 1)).to.equal(0n);

      await setNextBlock(opens);
      await reveal(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await expect(reveal(ranking, peers[1], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "EpochFinalized")
        .withArgs(EPOCH, honest.root, honestTotal, TOKENS(55));
      await setNextBlock(release - 1n); // the reveal window's last block
      await expect(ranking.connect(peers[0]).withdraw())
        .to.be.revertedWithCustomError(ranking, "StillUnbonding")
        .withArgs(peers[0].address, release, release - 1n);
      await expect(ranking.connect(peers[0]).withdraw()).to.changeTokenBalance(token, peers[0], TOKENS(30));
      await expectConservation(token, ranking);
    });
  });

  describe("reveal and quorum", () => {
    it("finalizes when more than half of the stake that counts reveals one result", async () => {
      const f = await loadFixture(staked);
      const { token, ranking, peers } = f;
      const opens = await revealPhase(f);
      for (const p of peers.slice(0, 3)) await commit(ranking, p, EPOCH, honest.root, honestTotal);
      await setNextBlock(opens);
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Committing);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "ResultRevealed")
        .withArgs(EPOCH, 0, honest.root, honestTotal, TOKENS(30));
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Revealing);
      // 30 + 25 = 55 of 100 > 50%.
      await expect(reveal(ranking, peers[1], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "EpochFinalized")
        .withArgs(EPOCH, honest.root, honestTotal, TOKENS(55));
      expect(await ranking.epochInfo(EPOCH)).to.deep.equal([EpochStatus.Finalized, honest.root, honestTotal, 0n]);
      // A later reveal still counts toward its result but changes nothing final.
      await expect(reveal(ranking, peers[2], EPOCH, honest.root, honestTotal)).not.to.emit(ranking, "EpochFinalized");
      expect(await ranking.resultStake(EPOCH, honest.root, honestTotal)).to.equal(TOKENS(75));
      await expectConservation(token, ranking);
    });

    it("does not finalize a minority root, nor a result with exactly half the stake", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      // Peers 3 and 4 (25 of 100) push a self-serving root; peers 0 and 2 (30 + 20 = 50) the honest one.
      await commit(ranking, peers[3], EPOCH, selfish.root, selfishTotal);
      await commit(ranking, peers[4], EPOCH, selfish.root, selfishTotal);
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[2], EPOCH, honest.root, honestTotal);
      await setNextBlock(opens);
      await reveal(ranking, peers[3], EPOCH, selfish.root, selfishTotal);
      await reveal(ranking, peers[4], EPOCH, selfish.root, selfishTotal);
      await reveal(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await expect(reveal(ranking, peers[2], EPOCH, honest.root, honestTotal)).not.to.emit(ranking, "EpochFinalized");
      expect(await ranking.resultStake(EPOCH, honest.root, honestTotal)).to.equal(TOKENS(50));
      expect(await ranking.resultStake(EPOCH, selfish.root, selfishTotal)).to.equal(TOKENS(25));
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Revealing);
    });

    it("opens only during the revealBlocks after the commit window", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const closes = opens - 1n + (await ranking.revealBlocks());
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[4], EPOCH, honest.root, honestTotal);
      await setNextBlock(opens - 1n);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInRevealWindow")
        .withArgs(EPOCH, opens - 1n, opens - 1n, closes);
      await setNextBlock(closes);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal)).to.emit(ranking, "ResultRevealed");
      await expect(reveal(ranking, peers[4], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInRevealWindow")
        .withArgs(EPOCH, closes + 1n, opens - 1n, closes);
    });

    it("refuses a wrong salt, a reveal without commit, a second reveal and an unregistered caller", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, outsider } = f;
      const opens = await revealPhase(f);
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal, id("other salt")))
        .to.be.revertedWithCustomError(ranking, "CommitmentMismatch")
        .withArgs(EPOCH, 0);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal + 1n))
        .to.be.revertedWithCustomError(ranking, "CommitmentMismatch")
        .withArgs(EPOCH, 0);
      await expect(reveal(ranking, peers[1], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NoCommitment")
        .withArgs(EPOCH, 1);
      await reveal(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "AlreadyRevealed")
        .withArgs(EPOCH, 0);
      await expect(reveal(ranking, outsider, EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotRegistered")
        .withArgs(outsider.address);
    });

    it("gives a copied commitment no vote: the hash binds the committer", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const original = await commitmentFor(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await ranking.connect(peers[0]).commitResult(EPOCH, original);
      await ranking.connect(peers[1]).commitResult(EPOCH, original); // copied from the mempool
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[1], EPOCH, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "CommitmentMismatch")
        .withArgs(EPOCH, 1);
      expect(await ranking.hasRevealed(EPOCH, 1)).to.equal(false);
    });

    it("opens no commitment made for another epoch, another market or another chain, and computes the SDK's commitment", async () => {
      const f = await loadFixture(staked);
      const { token, ranking, admin, peers } = f;
      const elsewhere = await deployRankingMarket(admin, await token.getAddress(), admin.address, DEFAULT_RANKING_CONFIG);
      const here = await contextOf(ranking, EPOCH);
      const made = (who: HardhatEthersSigner, context: Partial<CommitmentContext>) =>
        resultCommitment({ ...here, ...context }, honest.root, honestTotal, SALT, who.address);
      expect(await ranking.resultCommitment(EPOCH, honest.root, honestTotal, SALT, peers[0].address)).to.equal(made(peers[0], {}));
      const forElsewhere = await elsewhere.resultCommitment(EPOCH, honest.root, honestTotal, SALT, peers[1].address);
      expect(forElsewhere).to.equal(made(peers[1], { market: await elsewhere.getAddress() }));

      const opens = await revealPhase(f);
      await ranking.connect(peers[0]).commitResult(EPOCH, made(peers[0], {}));
      await ranking.connect(peers[1]).commitResult(EPOCH, forElsewhere);
      await ranking.connect(peers[2]).commitResult(EPOCH, made(peers[2], { epoch: EPOCH + 1 }));
      await ranking.connect(peers[3]).commitResult(EPOCH, made(peers[3], { chainId: here.chainId + 1n }));
      await setNextBlock(opens);
      for (const uid of [1, 2, 3]) {
        await expect(reveal(ranking, peers[uid], EPOCH, honest.root, honestTotal))
          .to.be.revertedWithCustomError(ranking, "CommitmentMismatch")
          .withArgs(EPOCH, uid);
      }
      await expect(reveal(ranking, peers[0], EPOCH, honest.root, honestTotal))
        .to.emit(ranking, "ResultRevealed")
        .withArgs(EPOCH, 0, honest.root, honestTotal, TOKENS(30));
    });

    it("rejects a totalEmission above tau times the stake that counts", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const cap = TOKENS(100) / 100n; // tau = 1%
      const tooMuch = buildEmissionTree([cap + 1n]);
      await commit(ranking, peers[0], EPOCH, tooMuch.root, cap + 1n);
      const atCap = buildEmissionTree([cap]);
      await commit(ranking, peers[1], EPOCH, atCap.root, cap);
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[0], EPOCH, tooMuch.root, cap + 1n))
        .to.be.revertedWithCustomError(ranking, "EmissionAboveCap")
        .withArgs(EPOCH, cap + 1n, cap);
      await expect(reveal(ranking, peers[1], EPOCH, atCap.root, cap)).to.emit(ranking, "ResultRevealed");
    });

    it("uses the tau and quorum in force at the snapshot, whatever changes later", async () => {
      const f = await loadFixture(staked);
      const { ranking, admin, peers, snapshot } = f;
      await revealPhase(f);
      await ranking.connect(admin).setParameter(Parameter.Quorum, (9n * WAD) / 10n);
      await ranking.connect(admin).setParameter(Parameter.Tau, 0n);
      expect(await ranking.quorumAt(snapshot)).to.equal(WAD / 2n);
      expect(await ranking.tauAt(snapshot)).to.equal(WAD / 100n);
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await commit(ranking, peers[1], EPOCH, honest.root, honestTotal);
      await setNextBlock(snapshot + (await ranking.commitBlocks()) + 1n);
      await reveal(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await expect(reveal(ranking, peers[1], EPOCH, honest.root, honestTotal)).to.emit(ranking, "EpochFinalized");
    });
  });

  describe("lapse", () => {
    it("lapses an epoch without quorum when the reveal window ends", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const closes = opens - 1n + (await ranking.revealBlocks());
      await commit(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await setNextBlock(opens);
      await reveal(ranking, peers[0], EPOCH, honest.root, honestTotal);
      await setNextBlock(closes);
      await expect(ranking.closeEpoch(EPOCH)).to.be.revertedWithCustomError(ranking, "EpochNotOver").withArgs(EPOCH, closes);
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Revealing); // the last reveal block
      await hre.network.provider.send("hardhat_mine", ["0x1"]);
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Lapsed);
      await expect(ranking.connect(peers[9]).closeEpoch(EPOCH)).to.emit(ranking, "EpochLapsed").withArgs(EPOCH);
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Lapsed);
      await expect(ranking.closeEpoch(EPOCH))
        .to.be.revertedWithCustomError(ranking, "EpochAlreadyClosed")
        .withArgs(EPOCH, EpochStatus.Lapsed);
      await expect(ranking.claim(EPOCH, 0, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "EpochNotFinalized")
        .withArgs(EPOCH);
    });

    it("refuses to close a finalized epoch", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      for (const p of peers.slice(0, 2)) await commit(ranking, p, EPOCH, honest.root, honestTotal);
      await setNextBlock(opens);
      for (const p of peers.slice(0, 2)) await reveal(ranking, p, EPOCH, honest.root, honestTotal);
      await setNextBlock(opens + (await ranking.revealBlocks()));
      await expect(ranking.closeEpoch(EPOCH))
        .to.be.revertedWithCustomError(ranking, "EpochAlreadyClosed")
        .withArgs(EPOCH, EpochStatus.Finalized);
    });
  });

  describe("claims", () => {
    /** Epoch 1 finalized on `tree` with `total`, revealed by peers 0 and 1 (55%). */
    async function finalizedOn(tree: ReturnType<typeof buildEmissionTree>, total: bigint) {
      const f = await staked();
      const opens = await revealPhase(f);
      for (const p of f.peers.slice(0, 2)) await commit(f.ranking, p, EPOCH, tree.root, total);
      await setNextBlock(opens);
      for (const p of f.peers.slice(0, 2)) await reveal(f.ranking, p, EPOCH, tree.root, total);
      expect(await f.ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Finalized);
      return f;
    }
    const honestFinal = () => finalizedOn(honest, honestTotal);

    it("mints a valid claim into the peer's stake, once, whoever sends it", async () => {
      const { token, ranking, peers, outsider } = await loadFixture(honestFinal);
      const supply = await token.totalSupply();
      const claim = ranking.connect(outsider).claim(EPOCH, 2, TOKENS("0.3"), honest.proof(2));
      await expect(claim).to.emit(ranking, "EmissionClaimed").withArgs(EPOCH, 2, peers[2].address, TOKENS("0.3"));
      await expect(claim).to.emit(ranking, "Staked").withArgs(2, hre.ethers.ZeroAddress, TOKENS("0.3"), TOKENS("20.3"));
      expect(await ranking.stakeOf(2)).to.equal(TOKENS("20.3"));
      expect(await ranking.totalStake()).to.equal(TOKENS("100.3"));
      expect(await token.totalSupply()).to.equal(supply + TOKENS("0.3"));
      expect(await ranking.isClaimed(EPOCH, 2)).to.equal(true);
      expect(await ranking.isClaimed(EPOCH, 1)).to.equal(false);
      expect(await ranking.claimedBitmap(EPOCH)).to.deep.equal([1n << 2n]);
      expect((await ranking.epochInfo(EPOCH))[3]).to.equal(TOKENS("0.3"));
      await expectConservation(token, ranking);
      await expect(ranking.claim(EPOCH, 2, TOKENS("0.3"), honest.proof(2)))
        .to.be.revertedWithCustomError(ranking, "AlreadyClaimed")
        .withArgs(EPOCH, 2);
    });

    it("counts claimed emission from the epoch after the one it is claimed in", async () => {
      const { ranking } = await loadFixture(honestFinal);
      const claimedIn = Number(await ranking.currentEpoch()); // epoch 2 is accumulating
      await ranking.claim(EPOCH, 2, TOKENS("0.3"), honest.proof(2));
      await setNextBlock((await ranking.epochStartBlock(claimedIn + 1)) + 1n);
      expect(await ranking.countingStakeOf(2, claimedIn)).to.equal(TOKENS(20));
      expect(await ranking.countingStakeOf(2, claimedIn + 1)).to.equal(TOKENS("20.3"));
    });

    it("refuses a claim whose proof, amount or uid does not match the root", async () => {
      const { ranking } = await loadFixture(honestFinal);
      await expect(ranking.claim(EPOCH, 1, TOKENS("0.3"), honest.proof(1)))
        .to.be.revertedWithCustomError(ranking, "InvalidProof")
        .withArgs(EPOCH, 1, TOKENS("0.3"));
      await expect(ranking.claim(EPOCH, 0, TOKENS("0.1"), honest.proof(1)))
        .to.be.revertedWithCustomError(ranking, "InvalidProof")
        .withArgs(EPOCH, 0, TOKENS("0.1"));
      await expect(ranking.claim(EPOCH, 3, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "InvalidProof")
        .withArgs(EPOCH, 3, TOKENS("0.1"));
      await expect(ranking.claim(EPOCH, 40, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "UnknownUid")
        .withArgs(40, 6);
      await expect(ranking.claim(EPOCH + 1, 0, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "EpochNotFinalized")
        .withArgs(EPOCH + 1);
    });

    it("pays nothing to a uid that committed and did not reveal, whatever it claims, until it reveals", async () => {
      const f = await loadFixture(staked);
      const { token, ranking, peers } = f;
      const tree = buildEmissionTree([TOKENS("0.1"), TOKENS("0.2"), TOKENS("0.3"), TOKENS("0.15")]);
      const total = TOKENS("0.75");
      const opens = await revealPhase(f);
      for (const p of peers.slice(0, 4)) await commit(ranking, p, EPOCH, tree.root, total);
      await setNextBlock(opens);
      for (const p of peers.slice(0, 2)) await reveal(ranking, p, EPOCH, tree.root, total);
      expect(await ranking.epochStatus(EPOCH)).to.equal(EpochStatus.Finalized);
      await expect(ranking.claim(EPOCH, 2, TOKENS("0.3"), tree.proof(2)))
        .to.be.revertedWithCustomError(ranking, "UnrevealedCommitment")
        .withArgs(EPOCH, 2);
      // Refused before the proof is looked at: a wrong leaf gets the same answer.
      await expect(ranking.claim(EPOCH, 2, 1n, [])).to.be.revertedWithCustomError(ranking, "UnrevealedCommitment").withArgs(EPOCH, 2);
      // Revealing late, within the window, still earns the leaf.
      await reveal(ranking, peers[2], EPOCH, tree.root, total);
      await expect(ranking.claim(EPOCH, 2, TOKENS("0.3"), tree.proof(2)))
        .to.emit(ranking, "EmissionClaimed")
        .withArgs(EPOCH, 2, peers[2].address, TOKENS("0.3"));
      // Once the window is over, a commitment left unrevealed loses the leaf for good.
      await setNextBlock(opens + (await ranking.revealBlocks()));
      await expect(reveal(ranking, peers[3], EPOCH, tree.root, total)).to.be.revertedWithCustomError(ranking, "NotInRevealWindow");
      await expect(ranking.claim(EPOCH, 3, TOKENS("0.15"), tree.proof(3)))
        .to.be.revertedWithCustomError(ranking, "UnrevealedCommitment")
        .withArgs(EPOCH, 3);
      expect(await ranking.isClaimed(EPOCH, 3)).to.equal(false);
      await expectConservation(token, ranking);
    });

    it("claims many leaves with one transaction and one mint", async () => {
      const { token, ranking } = await loadFixture(honestFinal);
      const claims = [0, 1, 2].map((uid) => ({ epoch: EPOCH, uid, amount: honest.leaves[uid].amount, proof: honest.proof(uid) }));
      const tx = ranking.claimMany(claims);
      await expect(tx).to.changeTokenBalance(token, ranking, honestTotal);
      expect(await ranking.getStakes()).to.deep.equal([30.1, 25.2, 20.3, 15, 10, 0].map((t) => TOKENS(t)));
      await expectConservation(token, ranking);
      await expect(ranking.claimMany(claims.slice(1, 2)))
        .to.be.revertedWithCustomError(ranking, "AlreadyClaimed")
        .withArgs(EPOCH, 1);
    });

    it("never pays an epoch more than its revealed totalEmission", async () => {
      // Colluding validators reveal a total of 0.6 over leaves that add up to 0.8.
      const padded = buildEmissionTree([TOKENS("0.4"), TOKENS("0.4")]);
      const { ranking } = await finalizedOn(padded, TOKENS("0.6"));
      await ranking.claim(EPOCH, 0, TOKENS("0.4"), padded.proof(0));
      await expect(ranking.claim(EPOCH, 1, TOKENS("0.4"), padded.proof(1)))
        .to.be.revertedWithCustomError(ranking, "ClaimExceedsEmission")
        .withArgs(EPOCH, TOKENS("0.4"), TOKENS("0.4"), TOKENS("0.6"));
    });
  });

  it("reports each epoch's status, start and the current epoch as blocks pass", async () => {
    const f = await loadFixture(staked);
    const { ranking } = f;
    const L = await ranking.epochLength();
    const snapshot = await ranking.snapshotBlock(0);
    expect(await ranking.epochStartBlock(1)).to.equal(snapshot, "an epoch starts where the previous one's snapshot is");
    expect(await ranking.currentEpoch()).to.equal(0n);
    expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Accumulating);
    await setNextBlock(snapshot + 1n); // the latest block is now the snapshot: it still belongs to epoch 0
    expect(await ranking.currentEpoch()).to.equal(0n);
    expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Accumulating);
    await hre.network.provider.send("hardhat_mine", ["0x1"]);
    expect(await ranking.currentEpoch()).to.equal(1n);
    expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Committing);
    expect(await ranking.epochStatus(1)).to.equal(EpochStatus.Accumulating);
    expect(await ranking.snapshotBlock(1)).to.equal(snapshot + L);
    expect(await ranking.epochStartBlock(2)).to.equal(snapshot + L);
  });

  it("keeps every token accounted for through a random sequence of stakes, exits, weights, epochs and claims", async () => {
    const f = await loadFixture(staked);
    const { token, ranking, peers } = f;
    const random = seededRandom(2024);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
    let epoch = EPOCH;
    let finalized = 0;
    for (let step = 0; step < 60; step++) {
      const who = pick(peers.slice(0, 6));
      const uid = Number(await ranking.uidOf(who.address));
      const action = pick(["stake", "unstake", "withdraw", "weights", "epoch"]);
      if (action === "stake") {
        await ranking.connect(who).stake(pick([0, 1, 2, 3, 4, 5]), TOKENS(1 + Math.floor(random() * 5)));
      } else if (action === "unstake") {
        const s = await ranking.stakeOf(uid);
        if (s > 0n) await ranking.connect(who).unstake(s / 3n + 1n);
      } else if (action === "withdraw") {
        const [amount, release] = await ranking.unbondingOf(who.address);
        if (amount > 0n && BigInt(await hre.ethers.provider.getBlockNumber()) + 1n >= release) await ranking.connect(who).withdraw();
      } else if (action === "weights") {
        if ((await ranking.stakeOf(uid)) >= TOKENS(1)) await ranking.connect(who).setWeights([0, 2], [1 + step, 3]);
      } else {
        // Every peer with stake that counts runs one epoch honestly and everyone claims.
        const snapshot = await ranking.snapshotBlock(epoch);
        await setNextBlock(snapshot + 1n);
        const stakes = await ranking.getCountingStakes(epoch, { blockTag: Number(snapshot) });
        const total = stakes.reduce((a, b) => a + b, 0n);
        expect(await ranking.countingTotalStake(epoch)).to.equal(total);
        const emission = stakes.map((s) => s / 200n); // any split within the cap
        const tree = buildEmissionTree(emission);
        const sumE = emission.reduce((a, b) => a + b, 0n);
        const voters = peers.slice(0, 6).filter((_, i) => stakes[i] > 0n);
        for (const p of voters) await commit(ranking, p, epoch, tree.root, sumE);
        await setNextBlock(snapshot + (await ranking.commitBlocks()) + 1n);
        for (const p of voters) await reveal(ranking, p, epoch, tree.root, sumE);
        if (total > 0n) {
          expect(await ranking.epochStatus(epoch)).to.equal(EpochStatus.Finalized);
          await ranking.claimMany(tree.leaves.map(({ uid: u, amount }) => ({ epoch, uid: u, amount, proof: tree.proof(u) })));
          finalized++;
        }
        epoch = Number(await ranking.currentEpoch());
      }
      await expectConservation(token, ranking);
    }
    expect(epoch).to.be.greaterThan(2);
    expect(finalized).to.be.greaterThan(1);
  });
});
