import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { deployRanking, expectConservation, setNextBlock, registerAndStake, TOKENS, WAD } from "../helpers";
import { DEFAULT_RANKING_CONFIG, RankingConfig } from "../../deploy/config";
import { RankingMarket__factory } from "../../typechain-types";

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
        const { token, admin } = await loadFixture(fixture);
        const factory = new RankingMarket__factory(admin);
        await expect(factory.deploy(await token.getAddress(), admin.address, { ...DEFAULT_RANKING_CONFIG, [field]: value }))
          .to.be.revertedWithCustomError(factory, "InvalidConfig")
          .withArgs(field, value);
      });
    }

    it("rejects an out-of-bounds economic parameter with ParameterOutOfBounds", async () => {
      const { token, admin } = await loadFixture(fixture);
      const factory = new RankingMarket__factory(admin);
      await expect(factory.deploy(await token.getAddress(), admin.address, { ...DEFAULT_RANKING_CONFIG, quorum: WAD / 2n - 1n }))
        .to.be.revertedWithCustomError(factory, "ParameterOutOfBounds")
        .withArgs(1, WAD / 2n - 1n, WAD / 2n, WAD - 1n);
    });

    it("rejects a zero token or admin address", async () => {
      const { token, admin } = await loadFixture(fixture);
      const factory = new RankingMarket__factory(admin);
      await expect(factory.deploy(hre.ethers.ZeroAddress, admin.address, DEFAULT_RANKING_CONFIG)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
      await expect(
        factory.deploy(await token.getAddress(), hre.ethers.ZeroAddress, DEFAULT_RANKING_CONFIG),
      ).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });
  });

  describe("register and registerFor", () => {
    it("gives uids in order and records the account", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await expect(ranking.connect(peers[0]).register())
        .to.emit(ranking, "PeerRegistered")
        .withArgs(0, peers[0].address, peers[0].address);
      await ranking.connect(peers[1]).register();
      expect(await ranking.peerCount()).to.equal(2n);
      expect(await ranking.uidOf(peers[1].address)).to.equal(1n);
      expect(await ranking.isRegistered(peers[1].address)).to.equal(true);
      expect(await ranking.isRegistered(peers[2].address)).to.equal(false);
      const [account, lastWeightsBlock, rowSet] = await ranking.peer(1);
      expect([account, lastWeightsBlock, rowSet]).to.deep.equal([peers[1].address, 0n, false]);
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

    it("refuses registrations past maxPeers", async () => {
      const { ranking, peers } = await deployRanking({ ranking: { maxPeers: 2n } });
      await ranking.connect(peers[0]).register();
      await ranking.connect(peers[1]).register();
      await expect(ranking.connect(peers[2]).register()).to.be.revertedWithCustomError(ranking, "MarketFull").withArgs(2);
      await expect(ranking.connect(peers[0]).registerFor(peers[3].address))
        .to.be.revertedWithCustomError(ranking, "MarketFull")
        .withArgs(2);
    });

    it("lets a registered peer subscribe a newcomer", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await ranking.connect(peers[0]).register();
      await expect(ranking.connect(peers[0]).registerFor(peers[5].address))
        .to.emit(ranking, "PeerRegistered")
        .withArgs(1, peers[5].address, peers[0].address);
      expect(await ranking.uidOf(peers[5].address)).to.equal(1n);
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
      await expect(ranking.connect(peers[0]).stake(0, TOKENS(1))).to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance");
    });

    it("moves unstaked tokens into unbonding and pays them out after unbondingBlocks", async () => {
      const { token, ranking, peers } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(100)]);
      const tx = await ranking.connect(peers[0]).unstake(TOKENS(40));
      const at = BigInt((await tx.wait())!.blockNumber);
      const release = at + DEFAULT_RANKING_CONFIG.unbondingBlocks;
      await expect(tx).to.emit(ranking, "Unstaked").withArgs(0, TOKENS(40), TOKENS(60), release);
      expect(await ranking.stakeOf(0)).to.equal(TOKENS(60));
      expect(await ranking.unbondingOf(0)).to.deep.equal([TOKENS(40), release]);
      expect(await ranking.totalUnbonding()).to.equal(TOKENS(40));
      await expectConservation(token, ranking);

      await expect(ranking.connect(peers[0]).withdraw())
        .to.be.revertedWithCustomError(ranking, "StillUnbonding")
        .withArgs(0, release, at + 1n);
      await setNextBlock(release - 1n); // the last block before release
      await expect(ranking.connect(peers[0]).withdraw())
        .to.be.revertedWithCustomError(ranking, "StillUnbonding")
        .withArgs(0, release, release - 1n);
      const withdrawal = ranking.connect(peers[0]).withdraw();
      await expect(withdrawal).to.changeTokenBalance(token, peers[0], TOKENS(40));
      await expect(withdrawal).to.emit(ranking, "Withdrawn").withArgs(0, peers[0].address, TOKENS(40));
      expect(await ranking.totalUnbonding()).to.equal(0n);
      await expectConservation(token, ranking);
      await expect(ranking.connect(peers[0]).withdraw()).to.be.revertedWithCustomError(ranking, "NothingToWithdraw").withArgs(0);
    });

    it("restarts the unbonding period on each unstake and adds the amounts", async () => {
      const { ranking, peers } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(100)]);
      await ranking.connect(peers[0]).unstake(TOKENS(10));
      await mine(5);
      const tx = await ranking.connect(peers[0]).unstake(TOKENS(5));
      const at = BigInt((await tx.wait())!.blockNumber);
      expect(await ranking.unbondingOf(0)).to.deep.equal([TOKENS(15), at + DEFAULT_RANKING_CONFIG.unbondingBlocks]);
    });

    it("refuses to unstake more than the stake, zero, or for an unregistered caller", async () => {
      const { ranking, peers, outsider } = await loadFixture(fixture);
      await registerAndStake(ranking, [peers[0]], [TOKENS(1)]);
      await expect(ranking.connect(peers[0]).unstake(TOKENS(2)))
        .to.be.revertedWithCustomError(ranking, "InsufficientStake")
        .withArgs(0, TOKENS(1), TOKENS(2));
      await expect(ranking.connect(peers[0]).unstake(0)).to.be.revertedWithCustomError(ranking, "ZeroAmount");
      await expect(ranking.connect(outsider).unstake(1)).to.be.revertedWithCustomError(ranking, "NotRegistered");
      await expect(ranking.connect(outsider).withdraw()).to.be.revertedWithCustomError(ranking, "NotRegistered");
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
      await expect(ranking.unbondingOf(3)).to.be.revertedWithCustomError(ranking, "UnknownUid");
    });
  });
});
