import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { id } from "ethers";
import { deployRanking, expectConservation, setNextBlock, registerAndStake, seededRandom, TOKENS, WAD } from "../helpers";
import { buildEmissionTree } from "../../sdk/src/ranking/merkle";
import { resultCommitment } from "../../sdk/src/ranking/commitment";
import type { RankingMarket } from "../../typechain-types";

const EpochStatus = { Accumulating: 0n, Committing: 1n, Revealing: 2n, Finalized: 3n, Lapsed: 4n };
const SALT = id("salt");

describe("RankingMarket: epochs, consensus and claims", () => {
  /**
   * Peers 0..4 staking 30, 25, 20, 15, 10 tokens (100 in all); peers[5] registered without stake.
   * Epochs of 100 blocks, so the setup ends well before the first snapshot; windows of 10 blocks.
   * (Views answer for the latest mined block; `setNextBlock(b)` makes b the next block to be mined.)
   */
  async function staked() {
    const f = await deployRanking({ ranking: { epochLength: 100n, commitBlocks: 10n, revealBlocks: 10n } });
    await registerAndStake(f.ranking, f.peers.slice(0, 6), [30, 25, 20, 15, 10, 0].map((t) => TOKENS(t)));
    const snapshot = await f.ranking.snapshotBlock(0);
    return { ...f, snapshot };
  }

  const commit = (ranking: RankingMarket, who: HardhatEthersSigner, epoch: number, root: string, total: bigint, salt = SALT) =>
    ranking.connect(who).commitResult(epoch, resultCommitment(root, total, salt, who.address));

  const reveal = (ranking: RankingMarket, who: HardhatEthersSigner, epoch: number, root: string, total: bigint, salt = SALT) =>
    ranking.connect(who).revealResult(epoch, root, total, salt);

  /** The honest result of the fixture: 0.6 token split 1:2:3 over uids 0, 1, 2. */
  const honest = buildEmissionTree([TOKENS("0.1"), TOKENS("0.2"), TOKENS("0.3")]);
  const honestTotal = TOKENS("0.6");
  const selfish = buildEmissionTree([0n, 0n, 0n, TOKENS("0.5"), TOKENS("0.5")]);
  const selfishTotal = TOKENS(1);

  async function revealPhase(f: Awaited<ReturnType<typeof staked>>) {
    await setNextBlock(f.snapshot + 1n);
    return f.snapshot + (await f.ranking.commitBlocks()) + 1n; // first reveal block
  }

  describe("commit", () => {
    it("opens only during the commitBlocks after the snapshot", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, snapshot } = f;
      const closes = snapshot + (await ranking.commitBlocks());
      await setNextBlock(snapshot);
      await expect(commit(ranking, peers[0], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInCommitWindow")
        .withArgs(0, snapshot, snapshot, closes);
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Accumulating);
      await expect(commit(ranking, peers[0], 0, honest.root, honestTotal)).to.emit(ranking, "ResultCommitted");
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Committing);
      await setNextBlock(closes);
      await expect(commit(ranking, peers[1], 0, honest.root, honestTotal)).to.emit(ranking, "ResultCommitted");
      await expect(commit(ranking, peers[2], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInCommitWindow")
        .withArgs(0, closes + 1n, snapshot, closes);
    });

    it("refuses unregistered callers, peers without stake at the snapshot, and second commits", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, outsider } = f;
      await setNextBlock(f.snapshot - 1n);
      await ranking.connect(peers[5]).stake(5, TOKENS(1)); // at the snapshot block: counts
      await ranking.connect(peers[6]).register();
      await ranking.connect(peers[6]).stake(6, TOKENS(1)); // after the snapshot: does not
      await expect(commit(ranking, outsider, 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotRegistered")
        .withArgs(outsider.address);
      await expect(commit(ranking, peers[6], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NoStakeAtSnapshot")
        .withArgs(0, 6);
      await expect(ranking.connect(peers[5]).commitResult(0, hre.ethers.ZeroHash))
        .to.be.revertedWithCustomError(ranking, "ZeroCommitment")
        .withArgs(0, 5);
      await expect(commit(ranking, peers[5], 0, honest.root, honestTotal)).to.emit(ranking, "ResultCommitted");
      await expect(commit(ranking, peers[5], 0, selfish.root, selfishTotal))
        .to.be.revertedWithCustomError(ranking, "AlreadyCommitted")
        .withArgs(0, 5);
      expect(await ranking.commitmentOf(0, 5)).to.equal(resultCommitment(honest.root, honestTotal, SALT, peers[5].address));
    });
  });

  describe("reveal and quorum", () => {
    it("finalizes when more than half of the snapshot stake reveals one result", async () => {
      const f = await loadFixture(staked);
      const { token, ranking, peers } = f;
      const opens = await revealPhase(f);
      for (const p of peers.slice(0, 3)) await commit(ranking, p, 0, honest.root, honestTotal);
      await setNextBlock(opens);
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Committing);
      await expect(reveal(ranking, peers[0], 0, honest.root, honestTotal))
        .to.emit(ranking, "ResultRevealed")
        .withArgs(0, 0, honest.root, honestTotal, TOKENS(30));
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Revealing);
      // 30 + 25 = 55 of 100 > 50%.
      await expect(reveal(ranking, peers[1], 0, honest.root, honestTotal))
        .to.emit(ranking, "EpochFinalized")
        .withArgs(0, honest.root, honestTotal, TOKENS(55));
      expect(await ranking.epochInfo(0)).to.deep.equal([EpochStatus.Finalized, honest.root, honestTotal, 0n]);
      // A later reveal still counts toward its result but changes nothing final.
      await expect(reveal(ranking, peers[2], 0, honest.root, honestTotal)).not.to.emit(ranking, "EpochFinalized");
      expect(await ranking.resultStake(0, honest.root, honestTotal)).to.equal(TOKENS(75));
      await expectConservation(token, ranking);
    });

    it("does not finalize a minority root, nor a result with exactly half the stake", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      // Peers 3 and 4 (25 of 100) push a self-serving root; peers 0 and 3... 30 + 20 = 50 for honest.
      await commit(ranking, peers[3], 0, selfish.root, selfishTotal);
      await commit(ranking, peers[4], 0, selfish.root, selfishTotal);
      await commit(ranking, peers[0], 0, honest.root, honestTotal);
      await commit(ranking, peers[2], 0, honest.root, honestTotal);
      await setNextBlock(opens);
      await reveal(ranking, peers[3], 0, selfish.root, selfishTotal);
      await reveal(ranking, peers[4], 0, selfish.root, selfishTotal);
      await reveal(ranking, peers[0], 0, honest.root, honestTotal);
      await expect(reveal(ranking, peers[2], 0, honest.root, honestTotal)).not.to.emit(ranking, "EpochFinalized");
      expect(await ranking.resultStake(0, honest.root, honestTotal)).to.equal(TOKENS(50));
      expect(await ranking.resultStake(0, selfish.root, selfishTotal)).to.equal(TOKENS(25));
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Revealing);
    });

    it("opens only during the revealBlocks after the commit window", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const closes = opens - 1n + (await ranking.revealBlocks());
      await commit(ranking, peers[0], 0, honest.root, honestTotal);
      await commit(ranking, peers[4], 0, honest.root, honestTotal);
      await setNextBlock(opens - 1n);
      await expect(reveal(ranking, peers[0], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInRevealWindow")
        .withArgs(0, opens - 1n, opens - 1n, closes);
      await setNextBlock(closes);
      await expect(reveal(ranking, peers[0], 0, honest.root, honestTotal)).to.emit(ranking, "ResultRevealed");
      await expect(reveal(ranking, peers[4], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NotInRevealWindow")
        .withArgs(0, closes + 1n, opens - 1n, closes);
    });

    it("refuses a wrong salt, a reveal without commit, a second reveal and an unregistered caller", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers, outsider } = f;
      const opens = await revealPhase(f);
      await commit(ranking, peers[0], 0, honest.root, honestTotal);
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[0], 0, honest.root, honestTotal, id("other salt")))
        .to.be.revertedWithCustomError(ranking, "CommitmentMismatch")
        .withArgs(0, 0);
      await expect(reveal(ranking, peers[0], 0, honest.root, honestTotal + 1n)).to.be.revertedWithCustomError(
        ranking,
        "CommitmentMismatch",
      );
      await expect(reveal(ranking, peers[1], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "NoCommitment")
        .withArgs(0, 1);
      await reveal(ranking, peers[0], 0, honest.root, honestTotal);
      await expect(reveal(ranking, peers[0], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "AlreadyRevealed")
        .withArgs(0, 0);
      await expect(reveal(ranking, outsider, 0, honest.root, honestTotal)).to.be.revertedWithCustomError(ranking, "NotRegistered");
    });

    it("gives a copied commitment no vote: the hash binds the committer", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const original = resultCommitment(honest.root, honestTotal, SALT, peers[0].address);
      await ranking.connect(peers[0]).commitResult(0, original);
      await ranking.connect(peers[1]).commitResult(0, original); // copied from the mempool
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[1], 0, honest.root, honestTotal))
        .to.be.revertedWithCustomError(ranking, "CommitmentMismatch")
        .withArgs(0, 1);
      expect(await ranking.hasRevealed(0, 1)).to.equal(false);
    });

    it("rejects a totalEmission above tau times the snapshot stake", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const cap = TOKENS(100) / 100n; // tau = 1%
      const tooMuch = buildEmissionTree([cap + 1n]);
      await commit(ranking, peers[0], 0, tooMuch.root, cap + 1n);
      const atCap = buildEmissionTree([cap]);
      await commit(ranking, peers[1], 0, atCap.root, cap);
      await setNextBlock(opens);
      await expect(reveal(ranking, peers[0], 0, tooMuch.root, cap + 1n))
        .to.be.revertedWithCustomError(ranking, "EmissionAboveCap")
        .withArgs(0, cap + 1n, cap);
      await expect(reveal(ranking, peers[1], 0, atCap.root, cap)).to.emit(ranking, "ResultRevealed");
    });

    it("uses the tau and quorum in force at the snapshot, whatever changes later", async () => {
      const f = await loadFixture(staked);
      const { ranking, admin, peers, snapshot } = f;
      await revealPhase(f);
      await ranking.connect(admin).setParameter(1, (9n * WAD) / 10n); // quorum 90%
      await ranking.connect(admin).setParameter(4, 0n); // tau 0
      expect(await ranking.quorumAt(snapshot)).to.equal(WAD / 2n);
      expect(await ranking.tauAt(snapshot)).to.equal(WAD / 100n);
      await commit(ranking, peers[0], 0, honest.root, honestTotal);
      await commit(ranking, peers[1], 0, honest.root, honestTotal);
      await setNextBlock(snapshot + (await ranking.commitBlocks()) + 1n);
      await reveal(ranking, peers[0], 0, honest.root, honestTotal);
      await expect(reveal(ranking, peers[1], 0, honest.root, honestTotal)).to.emit(ranking, "EpochFinalized");
    });
  });

  describe("lapse", () => {
    it("lapses an epoch without quorum when the reveal window ends", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      const closes = opens - 1n + (await ranking.revealBlocks());
      await commit(ranking, peers[0], 0, honest.root, honestTotal);
      await setNextBlock(opens);
      await reveal(ranking, peers[0], 0, honest.root, honestTotal);
      await setNextBlock(closes);
      await expect(ranking.closeEpoch(0)).to.be.revertedWithCustomError(ranking, "EpochNotOver").withArgs(0, closes);
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Revealing); // the last reveal block
      await hre.network.provider.send("hardhat_mine", ["0x1"]);
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Lapsed);
      await expect(ranking.connect(peers[9]).closeEpoch(0)).to.emit(ranking, "EpochLapsed").withArgs(0);
      expect(await ranking.epochStatus(0)).to.equal(EpochStatus.Lapsed);
      await expect(ranking.closeEpoch(0))
        .to.be.revertedWithCustomError(ranking, "EpochAlreadyClosed")
        .withArgs(0, EpochStatus.Lapsed);
      await expect(ranking.claim(0, 0, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "EpochNotFinalized")
        .withArgs(0);
    });

    it("refuses to close a finalized epoch", async () => {
      const f = await loadFixture(staked);
      const { ranking, peers } = f;
      const opens = await revealPhase(f);
      for (const p of peers.slice(0, 2)) await commit(ranking, p, 0, honest.root, honestTotal);
      await setNextBlock(opens);
      for (const p of peers.slice(0, 2)) await reveal(ranking, p, 0, honest.root, honestTotal);
      await setNextBlock(opens + (await ranking.revealBlocks()));
      await expect(ranking.closeEpoch(0))
        .to.be.revertedWithCustomError(ranking, "EpochAlreadyClosed")
        .withArgs(0, EpochStatus.Finalized);
    });
  });

  describe("claims", () => {
    /** Epoch 0 finalized on `tree` with `total`, revealed by peers 0 and 1 (55%). */
    async function finalizedOn(tree: ReturnType<typeof buildEmissionTree>, total: bigint) {
      const f = await staked();
      const opens = await revealPhase(f);
      for (const p of f.peers.slice(0, 2)) await commit(f.ranking, p, 0, tree.root, total);
      await setNextBlock(opens);
      for (const p of f.peers.slice(0, 2)) await reveal(f.ranking, p, 0, tree.root, total);
      expect(await f.ranking.epochStatus(0)).to.equal(EpochStatus.Finalized);
      return f;
    }
    const honestFinal = () => finalizedOn(honest, honestTotal);

    it("mints a valid claim into the peer's stake, once, whoever sends it", async () => {
      const { token, ranking, outsider } = await loadFixture(honestFinal);
      const supply = await token.totalSupply();
      await expect(ranking.connect(outsider).claim(0, 2, TOKENS("0.3"), honest.proof(2)))
        .to.emit(ranking, "EmissionClaimed")
        .withArgs(0, 2, TOKENS("0.3"));
      expect(await ranking.stakeOf(2)).to.equal(TOKENS("20.3"));
      expect(await ranking.totalStake()).to.equal(TOKENS("100.3"));
      expect(await token.totalSupply()).to.equal(supply + TOKENS("0.3"));
      expect(await ranking.isClaimed(0, 2)).to.equal(true);
      expect(await ranking.isClaimed(0, 1)).to.equal(false);
      expect(await ranking.claimedBitmap(0)).to.deep.equal([1n << 2n]);
      expect((await ranking.epochInfo(0))[3]).to.equal(TOKENS("0.3"));
      await expectConservation(token, ranking);
      await expect(ranking.claim(0, 2, TOKENS("0.3"), honest.proof(2)))
        .to.be.revertedWithCustomError(ranking, "AlreadyClaimed")
        .withArgs(0, 2);
    });

    it("refuses a claim whose proof, amount or uid does not match the root", async () => {
      const { ranking } = await loadFixture(honestFinal);
      await expect(ranking.claim(0, 1, TOKENS("0.3"), honest.proof(1)))
        .to.be.revertedWithCustomError(ranking, "InvalidProof")
        .withArgs(0, 1, TOKENS("0.3"));
      await expect(ranking.claim(0, 0, TOKENS("0.1"), honest.proof(1))).to.be.revertedWithCustomError(ranking, "InvalidProof");
      await expect(ranking.claim(0, 3, TOKENS("0.1"), honest.proof(0))).to.be.revertedWithCustomError(ranking, "InvalidProof");
      await expect(ranking.claim(0, 40, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "UnknownUid")
        .withArgs(40, 6);
      await expect(ranking.claim(1, 0, TOKENS("0.1"), honest.proof(0)))
        .to.be.revertedWithCustomError(ranking, "EpochNotFinalized")
        .withArgs(1);
    });

    it("claims many leaves with one transaction and one mint", async () => {
      const { token, ranking } = await loadFixture(honestFinal);
      const claims = [0, 1, 2].map((uid) => ({ epoch: 0, uid, amount: honest.leaves[uid].amount, proof: honest.proof(uid) }));
      const tx = ranking.claimMany(claims);
      await expect(tx).to.changeTokenBalance(token, ranking, honestTotal);
      expect(await ranking.getStakes()).to.deep.equal([30.1, 25.2, 20.3, 15, 10, 0].map((t) => TOKENS(t)));
      await expectConservation(token, ranking);
      await expect(ranking.claimMany(claims.slice(1, 2)))
        .to.be.revertedWithCustomError(ranking, "AlreadyClaimed")
        .withArgs(0, 1);
    });

    it("never pays an epoch more than its revealed totalEmission", async () => {
      // Colluding validators reveal a total of 0.6 over leaves that add up to 0.8.
      const padded = buildEmissionTree([TOKENS("0.4"), TOKENS("0.4")]);
      const { ranking } = await finalizedOn(padded, TOKENS("0.6"));
      await ranking.claim(0, 0, TOKENS("0.4"), padded.proof(0));
      await expect(ranking.claim(0, 1, TOKENS("0.4"), padded.proof(1)))
        .to.be.revertedWithCustomError(ranking, "ClaimExceedsEmission")
        .withArgs(0, TOKENS("0.4"), TOKENS("0.4"), TOKENS("0.6"));
    });
  });

  it("reports each epoch's status and the current epoch as blocks pass", async () => {
    const f = await loadFixture(staked);
    const { ranking, snapshot } = f;
    const L = await ranking.epochLength();
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
  });

  it("keeps every token accounted for through a random sequence of stakes, exits, weights, epochs and claims", async () => {
    const f = await loadFixture(staked);
    const { token, ranking, peers } = f;
    const random = seededRandom(2024);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
    let epoch = 0;
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
        const [amount, release] = await ranking.unbondingOf(uid);
        if (amount > 0n && BigInt(await hre.ethers.provider.getBlockNumber()) + 1n >= release) await ranking.connect(who).withdraw();
      } else if (action === "weights") {
        if ((await ranking.stakeOf(uid)) >= TOKENS(1)) await ranking.connect(who).setWeights([0, 2], [1 + step, 3]);
      } else {
        // Every staked peer runs one epoch honestly and everyone claims.
        const snapshot = await ranking.snapshotBlock(epoch);
        await setNextBlock(snapshot + 1n);
        const stakes = await ranking.getStakes({ blockTag: Number(snapshot) });
        const total = stakes.reduce((a, b) => a + b, 0n);
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
        }
        epoch = Number(await ranking.currentEpoch());
      }
      await expectConservation(token, ranking);
    }
    expect(epoch).to.be.greaterThan(2);
  });
});
