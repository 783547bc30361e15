import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { id } from "ethers";
import { deployRanking, expectConservation, setNextBlock, registerAndStake, TOKENS, WAD } from "../helpers";
import { deployRankingMarket } from "../../deploy/agora";
import { DEFAULT_RANKING_CONFIG, RankingConfig } from "../../deploy/config";
import { buildEmissionTree } from "../../sdk/src/ranking/merkle";

const Parameter = { UnbondingBlocks: 7, RegistrationBurn: 8 } as const;
const BURN = DEFAULT_RANKING_CONFIG.registrationBurn;
const SALT = id("salt");

describe("RankingMarket: deployment, registration and stake", () => {
  const fixture = () => deployRanking();

  describe("deployment", () => {
    it("stores every parameter of the config and the deployment block as genesis", async () => {
      const { ranking } = await loadFixture(fixture);
      const p = await ranking.parameters();
      for (const [key, value] of Object.entries(DEFAULT_RANKING_CONFIG)) {
        expect(p[key as keyof typeof p]).to.equal(value, key);
      }
      const deployTx = ranking.deploymentTransaction()!;
      const receipt = await deployTx.wait();
      expect(await ranking.genesisBlock()).to.equal(BigInt(receipt!.blockNumber));
      expect(await ranking.snapshotBlock(0)).to.equal(BigInt(receipt!.blockNumber) + DEFAULT_RANKING_CONFIG.epochLength);
      expect(await ranking.registrationBurn()).to.equal(BURN);
      expect(await ranking.maxTau()).to.equal(DEFAULT_RANKING_CONFIG.maxTau);
    });

    const badConfigs: [keyof RankingConfig, bigint][] = [
      ["maxPeers", 0n],
      ["maxPeers", 4097n],
      ["epochLength", 0n],
      ["commitBlocks", 0n],
      ["revealBlocks", 0n],
      ["revealBlocks", 1_000_001n],
    ];
    for (const [field, value] of badConfigs) {
      it(`rejects ${field} = ${value} with InvalidConfig`, async () => {
        const { token, ranking, admin } = await loadFixture(fixture);
        await expect(deployRankingMarket(admin, await token.getAddress(), admin.address, { ...DEFAULT_RANKING_CONFIG, [field]: value }))
          .to.be.revertedWithCustomError(ranking, "InvalidConfig")
          .withArgs(field, value);
      });
    }

    it("rejects an out-of-bounds economic parameter with ParameterOutOfBounds", async () => {
      const { token, ranking, admin } = await loadFixture(fixture);
      await expect(deployRankingMarket(admin, await token.getAddress(), admin.address, { ...DEFAULT_RANKING_CONFIG, quorum: WAD / 2n - 1n }))
        .to.be.revertedWithCustomError(ranking, "ParameterOutOfBounds")
        .withArgs(1, WAD / 2n - 1n, WAD / 2n, WAD - 1n);
    });

    it("rejects a zero token or admin address", async () => {
      const { token, ranking, admin } = await loadFixture(fixture);
      await expect(deployRankingMarket(admin, hre.ethers.ZeroAddress, admin.address, DEFAULT_RANKING_CONFIG)).to.be.revertedWithCustomError(
        ranking,
        "ZeroAddress",
      );
      // OpenZeppelin's AccessControlDefaultAdminRules refuses a zero admin before the market's own checks.
      await expect(deployRankingMarket(admin, await token.getAddress(), hre.ethers.ZeroAddress, DEFAULT_RANKING_CONFIG))
        .to.be.revertedWithCustomError(ranking, "AccessControlInvalidDefaultAdmin")
        .withArgs(hre.ethers.ZeroAddress);
    });
  });

  describe("register and registerFor", () => {
    it("gives uids in order and records the account and its registration block", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await expect(ranking.connect(peers[0]).register())
        .to.emit(ranking, "PeerRegistered")
        .withArgs(0, peers[0].address, peers[0].address, BURN);
      const receipt = await (await ranking.connect(peers[1]).register()).wait();
      expect(await ranking.peerCount()).to.equal(2n);
      expect(await ranking.uidOf(peers[1].address)).to.equal(1n);
      expect(await ranking.isRegistered(peers[1].address)).to.equal(true);
      expect(await ranking.isRegistered(peers[2].address)).to.equal(false);
      expect(await ranking.peer(1)).to.deep.equal([peers[1].address, 0n, false, BigInt(receipt!.blockNumber)]);
      expect(await ranking.formerHolder(1)).to.deep.equal([hre.ethers.ZeroAddress, 0n, 0n]);
    });

    it("burns the registration cost from the caller's tokens", async () => {
      const { token, ranking, peers } = await loadFixture(fixture);
      const supply = await token.totalSupply();
      const registration = ranking.connect(peers[0]).register();
      await expect(registration).to.changeTokenBalances(token, [peers[0], ranking], [-BURN, 0n]);
      expect(await token.totalSupply()).to.equal(supply - BURN, "the cost is burnt, not kept");
      await expectConservation(token, ranking);
    });

    it("burns the cost of registerFor from the sponsor, not the newcomer", async () => {
      const { token, ranking, peers } = await loadFixture(fixture);
      await ranking.connect(peers[0]).register();
      const supply = await token.totalSupply();
      const registration = ranking.connect(peers[0]).registerFor(peers[5].address);
      await expect(registration).to.emit(ranking, "PeerRegistered").withArgs(1, peers[5].address, peers[0].address, BURN);
      await expect(registration).to.changeTokenBalances(token, [peers[0], peers[5]], [-BURN, 0n]);
      expect(await token.totalSupply()).to.equal(supply - BURN);
      expect(await ranking.uidOf(peers[5].address)).to.equal(1n);
    });

    it("refuses a registration the caller has not approved or cannot pay, and registers nobody", async () => {
      const { token, ranking, peers } = await loadFixture(fixture);
      const market = await ranking.getAddress();
      await ranking.connect(peers[0]).register();
      for (const p of [peers[0], peers[1]]) await token.connect(p).approve(market, BURN - 1n);
      await expect(ranking.connect(peers[1]).register())
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(market, BURN - 1n, BURN);
      await expect(ranking.connect(peers[0]).registerFor(peers[2].address))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(market, BURN - 1n, BURN);
      const penniless = (await hre.ethers.getSigners())[12]; // funded by nobody
      await token.connect(penniless).approve(market, BURN);
      await expect(ranking.connect(penniless).register())
        .to.be.revertedWithCustomError(token, "ERC20InsufficientBalance")
        .withArgs(penniless.address, 0n, BURN);
      for (const p of [peers[1], peers[2], penniless]) expect(await ranking.isRegistered(p.address)).to.equal(false);
      expect(await ranking.peerCount()).to.equal(1n);
    });

    it("registers without any allowance once the admin sets the registration cost to zero", async () => {
      const { token, ranking, admin, peers } = await loadFixture(fixture);
      await ranking.connect(admin).setParameter(Parameter.RegistrationBurn, 0n);
      await token.connect(peers[0]).approve(await ranking.getAddress(), 0);
      await expect(ranking.connect(peers[0]).register()).to.emit(ranking, "PeerRegistered").withArgs(0, peers[0].address, peers[0].address, 0n);
    });

    it("refuses a second registration of one account", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await ranking.connect(peers[0]).register();
      await ranking.connect(peers[1]).register();
      await expect(ranking.connect(peers[1]).register())
        .to.be.revertedWithCustomError(ranking, "AlreadyRegistered")
        .withArgs(peers[1].address, 1);
      await expect(ranking.connect(peers[0]).registerFor(peers[1].address))
        .to.be.revertedWithCustomError(ranking, "AlreadyRegistered")
        .withArgs(peers[1].address, 1);
    });

    it("refuses registerFor from an unregistered caller or for the zero address", async () => {
      const { ranking, peers, outsider } = await loadFixture(fixture);
      await expect(ranking.connect(outsider).registerFor(peers[0].address))
        .to.be.revertedWithCustomError(ranking, "NotRegistered")
        .withArgs(outsider.address);
      await ranking.connect(peers[0]).register();
      await expect(ranking.connect(peers[0]).registerFor(hre.ethers.ZeroAddress)).to.be.revertedWithCustomError(
        ranking,
        "ZeroAddress",
      );
    });

    it("answers uidOf and peer for unknown accounts and uids with clear errors", async () => {
      const { ranking, outsider } = await loadFixture(fixture);
      await expect(ranking.uidOf(outsider.address)).to.be.revertedWithCustomError(ranking, "NotRegistered").withArgs(outsider.address);
      await expect(ranking.peer(0)).to.be.revertedWithCustomError(ranking, "UnknownUid").withArgs(0, 0);
    });
  });

  describe("a full market", () => {
    it("refuses a newcomer while every peer is within its immunity period, and admits it the block one is past", async () => {
      const immunity = 30n;
      const { ranking, peers } = await deployRanking({ ranking: { maxPeers: 2n, immunityBlocks: immunity } });
      await ranking.connect(peers[0]).register();
      await ranking.connect(peers[1]).register();
      await expect(ranking.connect(peers[2]).register()).to.be.revertedWithCustomError(ranking, "MarketFull").withArgs(2);
      await expect(ranking.connect(peers[0]).registerFor(peers[3].address))
        .to.be.revertedWithCustomError(ranking, "MarketFull")
        .withArgs(2);
      const [, , , since0] = await ranking.peer(0);
      await setNextBlock(since0 + immunity - 1n); // uid 0's last immune block
      await expect(ranking.connect(peers[2]).register()).to.be.revertedWithCustomError(ranking, "MarketFull").withArgs(2);
      await expect(ranking.connect(peers[2]).register()).to.emit(ranking, "PeerReplaced").withArgs(0, peers[0].address, 0n);
      expect(await ranking.uidOf(peers[2].address)).to.equal(0n);
    });

    it("replaces the weakest peer past immunity, ties to the lowest uid, and unbonds its stake for it", async () => {
      const { token, ranking, peers } = await deployRanking({ ranking: { maxPeers: 4n, immunityBlocks: 20n } });
      await registerAndStake(ranking, peers.slice(0, 3), [5, 2, 2].map((t) => TOKENS(t)));
      const [, , , since1] = await ranking.peer(1);
      const [, , , since2] = await ranking.peer(2);
      await ranking.connect(peers[3]).register(); // uid 3, no stake, but immune when the newcomer comes
      await setNextBlock(since2 + 20n);
      const supply = await token.totalSupply();

      const tx = await ranking.connect(peers[4]).register();
      const at = BigInt((await tx.wait())!.blockNumber);
      await expect(tx).to.emit(ranking, "PeerReplaced").withArgs(1, peers[1].address, TOKENS(2));
      await expect(tx).to.emit(ranking, "PeerRegistered").withArgs(1, peers[4].address, peers[4].address, BURN);
      expect(await token.totalSupply()).to.equal(supply - BURN, "the newcomer pays the cost");
      expect(await ranking.peerCount()).to.equal(4n);
      expect(await ranking.uidOf(peers[4].address)).to.equal(1n);
      expect(await ranking.peer(1)).to.deep.equal([peers[4].address, 0n, false, at]);
      expect(await ranking.formerHolder(1)).to.deep.equal([peers[1].address, since1, at]);
      expect(await ranking.isRegistered(peers[1].address)).to.equal(false);
      await expect(ranking.uidOf(peers[1].address)).to.be.revertedWithCustomError(ranking, "NotRegistered").withArgs(peers[1].address);
      await expect(ranking.connect(peers[1]).unstake(1n)).to.be.revertedWithCustomError(ranking, "NotRegistered").withArgs(peers[1].address);

      // Its stake left the uid for the former holder's unbonding; the newcomer starts from zero.
      expect(await ranking.getStakes()).to.deep.equal([TOKENS(5), 0n, TOKENS(2), 0n]);
      expect(await ranking.totalStake()).to.equal(TOKENS(7));
      const release = at + DEFAULT_RANKING_CONFIG.unbondingBlocks;
      expect(await ranking.replacedUnbondingOf(peers[1].address)).to.deep.equal([TOKENS(2), release]);
      expect(await ranking.unbondingOf(peers[1].address)).to.deep.equal([0n, 0n], "apart from what it unstaked itself");
      expect(await ranking.totalUnbonding()).to.equal(TOKENS(2));
      await expectConservation(token, ranking);

      await setNextBlock(release);
      const withdrawal = ranking.connect(peers[1]).withdraw();
      await expect(withdrawal).to.emit(ranking, "Withdrawn").withArgs(peers[1].address, TOKENS(2));
      await expect(withdrawal).to.changeTokenBalance(token, peers[1], TOKENS(2));
      await expectConservation(token, ranking);
    });

    /**
     * Epoch 1 finalized, by peers 0 and 1, on a root paying uids 0..3 (uid 3 not registered yet);
     * uids 0, 1, 2 stake 30, 20, 10 and nobody is immune, so a newcomer takes the weakest, uid 2.
     */
    async function finalizedBeforeChange(maxPeers: bigint) {
      const f = await deployRanking({ ranking: { maxPeers, immunityBlocks: 0n, epochLength: 100n } });
      const { ranking, peers } = f;
      await registerAndStake(ranking, peers.slice(0, 3), [30, 20, 10].map((t) => TOKENS(t)));
      const epoch = 1;
      expect(BigInt(await hre.ethers.provider.getBlockNumber())).to.be.lessThan(await ranking.epochStartBlock(epoch));
      const tree = buildEmissionTree([TOKENS("0.1"), TOKENS("0.1"), TOKENS("0.2"), TOKENS("0.1")]);
      const total = TOKENS("0.5");
      const snapshot = await ranking.snapshotBlock(epoch);
      await setNextBlock(snapshot + 1n);
      for (const p of peers.slice(0, 2)) {
        await ranking.connect(p).commitResult(epoch, await ranking.resultCommitment(epoch, tree.root, total, SALT, p.address));
      }
      await setNextBlock(snapshot + (await ranking.commitBlocks()) + 1n);
      for (const p of peers.slice(0, 2)) await ranking.connect(p).revealResult(epoch, tree.root, total, SALT);
      expect((await ranking.epochInfo(epoch))[1]).to.equal(tree.root);
      return { ...f, epoch, tree };
    }
    const fullAfterFinal = () => finalizedBeforeChange(3n);
    const roomAfterFinal = () => finalizedBeforeChange(10n);

    it("pays the emission a replaced peer earned before its replacement into its unbonding, with no extra delay", async () => {
      const { token, ranking, peers, epoch, tree } = await loadFixture(fullAfterFinal);
      const replacement = await ranking.connect(peers[3]).register();
      await expect(replacement).to.emit(ranking, "PeerReplaced").withArgs(2, peers[2].address, TOKENS(10));
      const [, release] = await ranking.replacedUnbondingOf(peers[2].address);

      const claim = ranking.claim(epoch, 2, TOKENS("0.2"), tree.proof(2));
      await expect(claim).to.emit(ranking, "EmissionClaimed").withArgs(epoch, 2, peers[2].address, TOKENS("0.2"));
      await expect(claim).not.to.emit(ranking, "Staked");
      expect(await ranking.replacedUnbondingOf(peers[2].address)).to.deep.equal([TOKENS("10.2"), release]);
      expect(await ranking.stakeOf(2)).to.equal(0n, "the newcomer gets none of it");
      await expectConservation(token, ranking);
      await setNextBlock(release);
      await expect(ranking.connect(peers[2]).withdraw()).to.changeTokenBalance(token, peers[2], TOKENS("10.2"));
    });

    it("refuses a claim for a uid that nobody the market can pay held at the snapshot", async () => {
      const full = await loadFixture(fullAfterFinal);
      // uid 2 replaced twice after the snapshot: its holder then is no longer on record.
      await full.ranking.connect(full.peers[3]).register();
      await expect(full.ranking.connect(full.peers[4]).register()).to.emit(full.ranking, "PeerReplaced").withArgs(2, full.peers[3].address, 0n);
      await expect(full.ranking.claim(full.epoch, 2, TOKENS("0.2"), full.tree.proof(2)))
        .to.be.revertedWithCustomError(full.ranking, "NotHolderAtSnapshot")
        .withArgs(full.epoch, 2);

      // uid 3 registered after the snapshot: the root pays it, but it held nothing then.
      const room = await loadFixture(roomAfterFinal);
      await room.ranking.connect(room.peers[3]).register();
      await expect(room.ranking.claim(room.epoch, 3, TOKENS("0.1"), room.tree.proof(3)))
        .to.be.revertedWithCustomError(room.ranking, "NotHolderAtSnapshot")
        .withArgs(room.epoch, 3);
      expect(await room.ranking.isClaimed(room.epoch, 3)).to.equal(false);
    });
  });

  describe("stake, unstake and withdraw", () => {
    it("adds stake from any account to the named peer and checkpoints it", async () => {
      const { token, ranking, peers, outsider } = await loadFixture(fixture);
      await registerAndStake(ranking, peers.slice(0, 2), [0n, 0n]);
      await expect(ranking.connect(outsider).stake(1, TOKENS(10)))
        .to.emit(ranking, "Staked")
        .withArgs(1, outsider.address, TOKENS(10), TOKENS(10));
      await ranking.connect(peers[0]).stake(0, TOKENS(3));
      expect(await ranking.stakeOf(1)).to.equal(TOKENS(10));
      expect(await ranking.totalStake()).to.equal(TOKENS(13));
      expect(await ranking.getStakes()).to.deep.equal([TOKENS(3), TOKENS(10)]);
      await expectConservation(token, ranking);
    });

    it("refuses stake for an unknown uid or of zero", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await ranking.connect(peers[0]).register();
      await expect(ranking.connect(peers[0]).stake(1, TOKENS(1))).to.be.revertedWithCustomError(ranking, "UnknownUid").withArgs(1, 1);
      await expect(ranking.connect(peers[0]).stake(0, 0)).to.be.revertedWithCustomError(ranking, "ZeroAmount");
    });

    it("refuses stake the caller has not approved", async () => {
      const { token, ranking, peers } = await loadFixture(fixture);
      await ranking.connect(peers[0]).register();
      await token.connect(peers[0]).approve(await ranking.getAddress(), 0);
      await expect(ranking.connect(peers[0]).stake(0, TOKENS(1)))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(await ranking.getAddress(), 0n, TOKENS(1));
    });

    it("moves unstaked tokens into unbonding and pays them out after unbondingBlocks", async () => {
      const { token, ranking, peers } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(100)]);
      const tx = await ranking.connect(peers[0]).unstake(TOKENS(40));
      const at = BigInt((await tx.wait())!.blockNumber);
      // With 20-block epochs and 10 + 10 block windows, unbondingBlocks (20) always outlasts the
      // reveal window of the epoch the stake last counted in.
      const release = at + DEFAULT_RANKING_CONFIG.unbondingBlocks;
      await expect(tx).to.emit(ranking, "Unstaked").withArgs(0, TOKENS(40), TOKENS(60), release);
      expect(await ranking.stakeOf(0)).to.equal(TOKENS(60));
      expect(await ranking.unbondingOf(peers[0].address)).to.deep.equal([TOKENS(40), release]);
      expect(await ranking.totalUnbonding()).to.equal(TOKENS(40));
      await expectConservation(token, ranking);

      await expect(ranking.connect(peers[0]).withdraw())
        .to.be.revertedWithCustomError(ranking, "StillUnbonding")
        .withArgs(peers[0].address, release, at + 1n);
      await setNextBlock(release - 1n); // the last block before release
      await expect(ranking.connect(peers[0]).withdraw())
        .to.be.revertedWithCustomError(ranking, "StillUnbonding")
        .withArgs(peers[0].address, release, release - 1n);
      const withdrawal = ranking.connect(peers[0]).withdraw();
      await expect(withdrawal).to.changeTokenBalance(token, peers[0], TOKENS(40));
      await expect(withdrawal).to.emit(ranking, "Withdrawn").withArgs(peers[0].address, TOKENS(40));
      expect(await ranking.totalUnbonding()).to.equal(0n);
      await expectConservation(token, ranking);
      await expect(ranking.connect(peers[0]).withdraw())
        .to.be.revertedWithCustomError(ranking, "NothingToWithdraw")
        .withArgs(peers[0].address);
    });

    it("restarts the unbonding period on each unstake and adds the amounts", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(100)]);
      await ranking.connect(peers[0]).unstake(TOKENS(10));
      await mine(5);
      const tx = await ranking.connect(peers[0]).unstake(TOKENS(5));
      const at = BigInt((await tx.wait())!.blockNumber);
      expect(await ranking.unbondingOf(peers[0].address)).to.deep.equal([TOKENS(15), at + DEFAULT_RANKING_CONFIG.unbondingBlocks]);
    });

    it("never brings a release block forward: a later unstake under a shorter period keeps the earlier, later release", async () => {
      const { ranking, admin, peers } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(100)]);
      await ranking.connect(admin).setParameter(Parameter.UnbondingBlocks, 50n);
      const first = await (await ranking.connect(peers[0]).unstake(TOKENS(10))).wait();
      const release = BigInt(first!.blockNumber) + 50n;
      await ranking.connect(admin).setParameter(Parameter.UnbondingBlocks, 0n);
      await expect(ranking.connect(peers[0]).unstake(TOKENS(5)))
        .to.emit(ranking, "Unstaked")
        .withArgs(0, TOKENS(5), TOKENS(85), release);
      expect(await ranking.unbondingOf(peers[0].address)).to.deep.equal([TOKENS(15), release]);
    });

    it("refuses to unstake more than the stake, zero, or for an unregistered caller, and has nothing to pay an account that never unbonded", async () => {
      const { ranking, peers, outsider } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(1)]);
      await expect(ranking.connect(peers[0]).unstake(TOKENS(2)))
        .to.be.revertedWithCustomError(ranking, "InsufficientStake")
        .withArgs(0, TOKENS(1), TOKENS(2));
      await expect(ranking.connect(peers[0]).unstake(0)).to.be.revertedWithCustomError(ranking, "ZeroAmount");
      await expect(ranking.connect(outsider).unstake(1)).to.be.revertedWithCustomError(ranking, "NotRegistered").withArgs(outsider.address);
      expect(await ranking.unbondingOf(outsider.address)).to.deep.equal([0n, 0n]);
      await expect(ranking.connect(outsider).withdraw()).to.be.revertedWithCustomError(ranking, "NothingToWithdraw").withArgs(outsider.address);
    });

    it("reads stake and total stake exactly at past blocks", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await registerAndStake(ranking, peers.slice(0, 2), [TOKENS(5), 0n]);
      const b1 = BigInt(await hre.ethers.provider.getBlockNumber());
      await ranking.connect(peers[1]).stake(1, TOKENS(7));
      const b2 = BigInt(await hre.ethers.provider.getBlockNumber());
      await mine(3);
      await ranking.connect(peers[0]).unstake(TOKENS(2));
      expect(await ranking.stakeAt(0, b1)).to.equal(TOKENS(5));
      expect(await ranking.stakeAt(1, b1)).to.equal(0n);
      expect(await ranking.totalStakeAt(b1)).to.equal(TOKENS(5));
      expect(await ranking.stakeAt(1, b2)).to.equal(TOKENS(7));
      expect(await ranking.totalStakeAt(b2)).to.equal(TOKENS(12));
      expect(await ranking.totalStakeAt(b2 + 2n)).to.equal(TOKENS(12));
      expect(await ranking.totalStake()).to.equal(TOKENS(10));
      // The bulk view answers for a past block when called at that blockTag.
      expect(await ranking.getStakes({ blockTag: Number(b2) })).to.deep.equal([TOKENS(5), TOKENS(7)]);
      expect(await ranking.getStakes({ blockTag: Number(b1) })).to.deep.equal([TOKENS(5), 0n]);
    });

    it("refuses historical lookups of future blocks and unknown uids", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await ranking.connect(peers[0]).register();
      const now = BigInt(await hre.ethers.provider.getBlockNumber());
      await expect(ranking.stakeAt(0, now + 10n)).to.be.revertedWithCustomError(ranking, "FutureBlock").withArgs(now + 10n, now);
      await expect(ranking.totalStakeAt(now + 10n)).to.be.revertedWithCustomError(ranking, "FutureBlock");
      await expect(ranking.stakeAt(3, now)).to.be.revertedWithCustomError(ranking, "UnknownUid").withArgs(3, 1);
      await expect(ranking.stakeOf(3)).to.be.revertedWithCustomError(ranking, "UnknownUid");
      await expect(ranking.countingStakeOf(3, 0)).to.be.revertedWithCustomError(ranking, "UnknownUid").withArgs(3, 1);
    });
  });
});
