import { expect } from "chai";
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Wallet, id } from "ethers";
import { anyValue as anyAccount } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { deployAgora, AgoraDeployment, DeployOptions } from "../../../deploy/agora";
import { advanceValidator, EpochCache, EpochStatus, registerPeer, stakeOn } from "../../../sdk/src/chain/ranking";
import { resultCommitment } from "../../../sdk/src/ranking/commitment";
import { buildEmissionTree } from "../../../sdk/src/ranking/merkle";
import { normalizeRow, packRow } from "../../../sdk/src/ranking/weights";
import { TOKENS, WAD, expectConservation, setNextBlock } from "../../helpers";

interface RankingWorld extends AgoraDeployment {
  admin: HardhatEthersSigner;
  honest: HardhatEthersSigner[];
  attacker: HardhatEthersSigner;
  anyone: HardhatEthersSigner;
}

async function world(options: DeployOptions["ranking"] = {}): Promise<RankingWorld> {
  const [admin, attacker, anyone, ...rest] = await hre.ethers.getSigners();
  const deployment = await deployAgora(admin, { addressBookDir: false, ranking: options });
  const honest = rest.slice(0, 6);
  for (const s of [attacker, anyone, ...honest]) {
    await deployment.token.transfer(s.address, TOKENS(100_000));
    await deployment.token.connect(s).approve(await deployment.ranking.getAddress(), hre.ethers.MaxUint256);
  }
  return { ...deployment, admin, honest, attacker, anyone };
}

/** Every honest peer registers, stakes and trusts the group (itself included) equally; returns their uids. */
async function honestGroup(w: RankingWorld, stakes: bigint[]): Promise<bigint[]> {
  const uids: bigint[] = [];
  for (const [i, amount] of stakes.entries()) {
    uids.push(await registerPeer(w.ranking, w.honest[i]));
    await stakeOn(w.ranking, w.honest[i], uids[i], amount);
  }
  const n = Number(await w.ranking.peerCount());
  for (const [i] of stakes.entries()) {
    const row = Array.from({ length: n }, (_, j) => (j < stakes.length ? 1 : 0));
    await w.ranking.connect(w.honest[i]).setWeightsPacked(packRow(normalizeRow(row)));
  }
  return uids;
}

/** Runs every honest validator through the epoch's windows to its end; returns the final root. */
async function validateHonestly(w: RankingWorld, epoch: number, validators: HardhatEthersSigner[], cache: EpochCache = new Map()): Promise<string> {
  const snapshot = await w.ranking.snapshotBlock(epoch);
  await setNextBlock(snapshot + 1n);
  for (const v of validators) await advanceValidator(w.ranking, v, epoch, cache);
  await setNextBlock(snapshot + (await w.ranking.commitBlocks()) + 1n);
  for (const v of validators) await advanceValidator(w.ranking, v, epoch, cache);
  return (await w.ranking.epochInfo(epoch))[1];
}

/** The first epoch in which the stake added so far counts: the one after the current. */
async function firstEpochAfterSetup(w: RankingWorld): Promise<number> {
  return Number(await w.ranking.currentEpoch()) + 1;
}

const context = async (w: RankingWorld, epoch: number) => ({
  chainId: (await hre.ethers.provider.getNetwork()).chainId,
  market: await w.ranking.getAddress(),
  epoch,
});

describe("Security: the ranking market counts only stake at risk and cannot be squatted (issue 12)", () => {
  describe("attack 4: a majority rented for the snapshot block", () => {
    it("gives stake added in the snapshot block no vote, no quorum weight and no emission, and keeps it until the epoch is over", async () => {
      const w = await world();
      const [honestUid] = await honestGroup(w, [TOKENS(100)]);
      const epoch = await firstEpochAfterSetup(w);
      const snapshot = await w.ranking.snapshotBlock(epoch);
      const attackerUid = await registerPeer(w.ranking, w.attacker);
      await setNextBlock(snapshot);
      await w.ranking.connect(w.attacker).stake(attackerUid, TOKENS(101)); // lands in the snapshot block
      expect(await w.ranking.stakeAt(attackerUid, snapshot)).to.equal(TOKENS(101), "it holds the stake at the snapshot");
      expect(await w.ranking.countingStakeOf(attackerUid, epoch)).to.equal(0n, "but none of it counts");
      expect(await w.ranking.countingTotalStake(epoch)).to.equal(TOKENS(100), "nor in the quorum's base");

      // Its self-serving root: the whole cap to itself.
      const cap = ((await w.ranking.tauAt(snapshot)) * TOKENS(201)) / WAD;
      const selfish = buildEmissionTree([0n, cap]);
      const salt = id("attacker salt");
      await expect(w.ranking.connect(w.attacker).commitResult(epoch, resultCommitment(await context(w, epoch), selfish.root, cap, salt, w.attacker.address)))
        .to.be.revertedWithCustomError(w.ranking, "NoStakeThatCounts")
        .withArgs(epoch, attackerUid);
      // It unstakes at once: its tokens stay in the market until the epoch's reveal window is over.
      await w.ranking.connect(w.attacker).unstake(TOKENS(101));
      const [, release] = await w.ranking.unbondingOf(w.attacker.address);
      const closes = snapshot + (await w.ranking.commitBlocks()) + (await w.ranking.revealBlocks());
      expect(release).to.be.greaterThan(closes);

      // The honest validator alone finalizes the honest root, in which the attacker earns nothing.
      const cache: EpochCache = new Map();
      const root = await validateHonestly(w, epoch, [w.honest[0]], cache);
      const honest = cache.get(epoch)!;
      expect(root).to.equal(honest.root);
      expect(Number((await w.ranking.epochInfo(epoch))[0])).to.equal(EpochStatus.Finalized);
      expect(honest.emission[Number(attackerUid)]).to.equal(0n, "no emission on stake that bore no risk");
      expect(honest.totalEmission).to.be.at.most((await w.ranking.tauAt(snapshot)) * TOKENS(100) / WAD, "the cap is on the stake that counts");
      expect(honest.emission[Number(honestUid)]).to.equal(honest.totalEmission);
      await setNextBlock(release - 1n);
      await expect(w.ranking.connect(w.attacker).withdraw())
        .to.be.revertedWithCustomError(w.ranking, "StillUnbonding")
        .withArgs(w.attacker.address, release, release - 1n);
      await w.ranking.connect(w.attacker).withdraw();
      await expectConservation(w.token, w.ranking);
    });

    it("keeps unstaked stake until the end of the epoch it voted in even when unbondingBlocks is zero", async () => {
      const w = await world({ unbondingBlocks: 0n });
      await honestGroup(w, [TOKENS(100), TOKENS(50)]);
      const epoch = await firstEpochAfterSetup(w);
      await validateHonestly(w, epoch, [w.honest[0], w.honest[1]]);
      // Unstaking in epoch 2: the stake voted in epoch 1, whose windows may still be open.
      const snapshot = await w.ranking.snapshotBlock(epoch);
      await setNextBlock(snapshot + 2n);
      await w.ranking.connect(w.honest[1]).unstake(TOKENS(50));
      const [, release] = await w.ranking.unbondingOf(w.honest[1].address);
      expect(release).to.equal(snapshot + (await w.ranking.commitBlocks()) + (await w.ranking.revealBlocks()) + 1n);
    });
  });

  describe("attack 5: filling the market with peers nobody controls", () => {
    it("burns the registration cost of every squatted uid and lets a newcomer replace a squatter once its immunity is over", async () => {
      const w = await world({ maxPeers: 8n, immunityBlocks: 30n });
      const burn = await w.ranking.registrationBurn();
      const supplyBefore = await w.token.totalSupply();
      const attackerBefore = await w.token.balanceOf(w.attacker.address);
      const own = await registerPeer(w.ranking, w.attacker);
      await stakeOn(w.ranking, w.attacker, own, TOKENS(10));
      for (let i = 1; i < 8; i++) await registerPeer(w.ranking, w.attacker, Wallet.createRandom().address);
      expect(await w.ranking.peerCount()).to.equal(8n);
      expect(attackerBefore - (await w.token.balanceOf(w.attacker.address))).to.equal(8n * burn + TOKENS(10), "the squatter paid the cost of every uid");
      expect(supplyBefore - (await w.token.totalSupply())).to.equal(8n * burn, "and got none of it back: it is burnt");

      const newcomer = w.honest[0];
      await expect(w.ranking.connect(newcomer).register()).to.be.revertedWithCustomError(w.ranking, "MarketFull").withArgs(8n);
      const [, , , registered] = await w.ranking.peer(7);
      await setNextBlock(registered + 30n);
      const formerAccount = (await w.ranking.peer(1))[0];
      await expect(w.ranking.connect(newcomer).register())
        .to.emit(w.ranking, "PeerReplaced")
        .withArgs(1n, formerAccount, 0n);
      expect(await w.ranking.uidOf(newcomer.address)).to.equal(1n, "the weakest peer past immunity: no stake, lowest uid");
      expect(await w.ranking.isRegistered(formerAccount)).to.equal(false);
      // Squatting again costs the burn again, for every uid, for every immunity period.
      const before = await w.token.balanceOf(w.attacker.address);
      await registerPeer(w.ranking, w.attacker, Wallet.createRandom().address);
      expect(before - (await w.token.balanceOf(w.attacker.address))).to.equal(burn);
      await expectConservation(w.token, w.ranking);
    });

    it("never delays the release of what a peer already unbonds when it is replaced just before it", async () => {
      const w = await world({ maxPeers: 2n, immunityBlocks: 0n });
      const uids = await honestGroup(w, [TOKENS(100), TOKENS(60)]);
      await w.ranking.connect(w.honest[1]).unstake(TOKENS(50));
      const [, release] = await w.ranking.unbondingOf(w.honest[1].address);
      // One block before that release, a newcomer replaces the weaker peer (10 left staked).
      await setNextBlock(release - 1n);
      await expect(w.ranking.connect(w.attacker).register()).to.emit(w.ranking, "PeerReplaced").withArgs(uids[1], w.honest[1].address, TOKENS(10));
      const [replaced, replacedRelease] = await w.ranking.replacedUnbondingOf(w.honest[1].address);
      expect(replaced).to.equal(TOKENS(10));
      expect((await w.ranking.unbondingOf(w.honest[1].address))[1]).to.equal(release, "the unstaked tokens keep their release block");
      await setNextBlock(release);
      await expect(w.ranking.connect(w.honest[1]).withdraw()).to.changeTokenBalance(w.token, w.honest[1], TOKENS(50));
      if (replacedRelease > release) {
        await expect(w.ranking.connect(w.honest[1]).withdraw())
          .to.be.revertedWithCustomError(w.ranking, "StillUnbonding")
          .withArgs(w.honest[1].address, replacedRelease, release + 1n);
      }
      await setNextBlock(replacedRelease > release + 1n ? replacedRelease : release + 2n);
      await expect(w.ranking.connect(w.honest[1]).withdraw()).to.changeTokenBalance(w.token, w.honest[1], TOKENS(10));
      await expectConservation(w.token, w.ranking);
    });

    it("never replaces a peer within its immunity period, nor one with more stake than another peer past immunity", async () => {
      const w = await world({ maxPeers: 4n, immunityBlocks: 50n });
      const uids = await honestGroup(w, [TOKENS(40), TOKENS(30), TOKENS(20), TOKENS(10)]);
      await expect(w.ranking.connect(w.attacker).register()).to.be.revertedWithCustomError(w.ranking, "MarketFull");
      const [, , , last] = await w.ranking.peer(uids[3]);
      await setNextBlock(last + 50n);
      // Peers are replaced weakest first: each newcomer takes the uid of the least stake left.
      const order: bigint[] = [];
      for (const newcomer of [w.attacker, w.anyone]) {
        await w.ranking.connect(newcomer).register();
        order.push(await w.ranking.uidOf(newcomer.address));
        await stakeOn(w.ranking, newcomer, order.at(-1)!, TOKENS(1000));
      }
      expect(order).to.deep.equal([uids[3], uids[2]]);
      for (const i of [0, 1]) expect(await w.ranking.uidOf(w.honest[i].address)).to.equal(uids[i], "stronger peers keep their uid");
      // A replaced peer's stake is in its unbonding, withdrawable by it though it is no peer any more.
      const [amount, release] = await w.ranking.replacedUnbondingOf(w.honest[3].address);
      expect(amount).to.equal(TOKENS(10));
      await setNextBlock(release);
      await expect(w.ranking.connect(w.honest[3]).withdraw()).to.changeTokenBalance(w.token, w.honest[3], TOKENS(10));
      await expectConservation(w.token, w.ranking);
    });

    it("never locks again what a replaced peer may already withdraw when the same account is replaced a second time", async () => {
      const w = await world({ maxPeers: 2n, immunityBlocks: 100n });
      const [a, b] = w.honest;
      const ua = await registerPeer(w.ranking, a);
      await stakeOn(w.ranking, a, ua, TOKENS(100));
      const ub = await registerPeer(w.ranking, b);
      await stakeOn(w.ranking, b, ub, TOKENS(60));
      await setNextBlock((await w.ranking.peer(ub))[3] + 100n);
      await expect(w.ranking.connect(w.attacker).register()).to.emit(w.ranking, "PeerReplaced").withArgs(ub, b.address, TOKENS(60));
      const [, firstRelease] = await w.ranking.replacedUnbondingOf(b.address);
      // B comes back (replacing the attacker's uid once it is past immunity) with 1 token, and is replaced again
      // after its first 60 tokens are released but before it withdrew them.
      await setNextBlock((await w.ranking.peer(ub))[3] + 100n);
      const again = await registerPeer(w.ranking, b);
      await stakeOn(w.ranking, b, again, TOKENS(1));
      await setNextBlock((await w.ranking.peer(again))[3] + 100n);
      expect(BigInt(await hre.ethers.provider.getBlockNumber())).to.be.greaterThan(firstRelease);
      await expect(w.ranking.connect(w.anyone).register()).to.emit(w.ranking, "PeerReplaced").withArgs(again, b.address, TOKENS(1));
      expect(await w.ranking.released(b.address)).to.equal(TOKENS(60), "the released 60 stay free");
      const [locked, secondRelease] = await w.ranking.replacedUnbondingOf(b.address);
      expect(locked).to.equal(TOKENS(1), "only the stake of the second replacement unbonds");
      await expect(w.ranking.connect(b).withdraw()).to.changeTokenBalance(w.token, b, TOKENS(60));
      expect(await w.ranking.released(b.address)).to.equal(0n);
      await setNextBlock(secondRelease);
      await expect(w.ranking.connect(b).withdraw()).to.changeTokenBalance(w.token, b, TOKENS(1));
      await expectConservation(w.token, w.ranking);
    });

    it("adds to the validator's read of a full market of dense rows the check of one word a row per replacement, and the epoch is final", async function () {
      this.timeout(300_000);
      const maxPeers = 64;
      const w = await world({ maxPeers: BigInt(maxPeers), immunityBlocks: 10n });
      const [h0, h1] = w.honest;
      for (const h of [h0, h1]) await stakeOn(w.ranking, h, await registerPeer(w.ranking, h), TOKENS(20_000));
      // The attacker fills every other uid with a sybil of 1 token of stake and a dense row (all 64 lanes set).
      const dense = packRow(normalizeRow(Array.from({ length: maxPeers }, () => 1)));
      const market = await w.ranking.getAddress();
      const sybils: Wallet[] = [];
      for (let i = 2; i < maxPeers; i++) {
        const s = new Wallet(Wallet.createRandom().privateKey, hre.ethers.provider);
        await hre.network.provider.send("hardhat_setBalance", [s.address, "0x56BC75E2D63100000"]);
        await w.token.connect(w.attacker).transfer(s.address, TOKENS(3));
        await w.token.connect(s).approve(market, hre.ethers.MaxUint256);
        await w.ranking.connect(s).register();
        await w.ranking.connect(s).stake(i, TOKENS(1) + BigInt(i));
        sybils.push(s);
      }
      for (const s of [h0, h1, ...sybils]) await w.ranking.connect(s).setWeightsPacked(dense);
      const data = w.ranking.interface.encodeFunctionData("getWeightRows", [0, maxPeers]);
      const fresh = await hre.ethers.provider.estimateGas({ to: market, data });
      await setNextBlock(BigInt(await hre.ethers.provider.getBlockNumber()) + 11n);
      const weakest = 2n; // the sybil with the least stake
      await expect(w.ranking.connect(w.anyone).register()).to.emit(w.ranking, "PeerReplaced").withArgs(weakest, anyAccount, TOKENS(1) + 2n);
      const stale = await hre.ethers.provider.estimateGas({ to: market, data });
      console.log(`      getWeightRows(0, ${maxPeers}) of dense rows: ${fresh} gas before a replacement, ${stale} after`);
      // A replacement costs each row a check of the one word that holds the replaced lane (about 1.4k gas a row
      // here), not a check of each of its 64 lanes (about 25k gas a row before the masks).
      expect((stale - fresh) / BigInt(maxPeers)).to.be.lessThan(2_000n, "gas a replacement adds to the read of one row");
      // Every row reads the replaced uid's column as zero, and both honest validators finalize the next epoch.
      const [rowWords, words] = await w.ranking.getWeightRows(0, maxPeers);
      for (let uid = 0; uid < maxPeers; uid++) {
        if (uid === Number(weakest)) continue;
        const lanes = (words[uid * Number(rowWords)] >> (weakest << 4n)) & 0xffffn;
        expect(lanes).to.equal(0n, `row ${uid} still weights the former holder of uid ${weakest}`);
      }
      const epoch = await firstEpochAfterSetup(w);
      await validateHonestly(w, epoch, [h0, h1]);
      expect(Number((await w.ranking.epochInfo(epoch))[0])).to.equal(EpochStatus.Finalized);
    });
  });

  describe("honest peers and validators", () => {
    it("a validator that commits and reveals the honest root in time gets it final and its leaf paid, whatever an attacker commits", async () => {
      const w = await world();
      const uids = await honestGroup(w, [TOKENS(100), TOKENS(60)]);
      // The attacker holds a little stake that counts, and rents a lot in the snapshot block.
      const attackerUid = await registerPeer(w.ranking, w.attacker);
      await stakeOn(w.ranking, w.attacker, attackerUid, TOKENS(20));
      const epoch = await firstEpochAfterSetup(w);
      const snapshot = await w.ranking.snapshotBlock(epoch);
      await setNextBlock(snapshot);
      await w.ranking.connect(w.attacker).stake(attackerUid, TOKENS(10_000));
      expect(await w.ranking.countingStakeOf(attackerUid, epoch)).to.equal(TOKENS(20));
      // Its commitment to a self-serving root replays one made for the previous epoch: it does not open.
      const cap = ((await w.ranking.tauAt(snapshot)) * (await w.ranking.countingTotalStake(epoch))) / WAD;
      const selfish = buildEmissionTree([0n, 0n, cap]);
      const salt = id("attacker");
      const replayed = resultCommitment(await context(w, epoch - 1), selfish.root, cap, salt, w.attacker.address);
      await w.ranking.connect(w.attacker).commitResult(epoch, replayed);
      const cache: EpochCache = new Map();
      const root = await validateHonestly(w, epoch, [w.honest[0], w.honest[1]], cache);
      await expect(w.ranking.connect(w.attacker).revealResult(epoch, selfish.root, cap, salt))
        .to.be.revertedWithCustomError(w.ranking, "CommitmentMismatch")
        .withArgs(epoch, attackerUid);
      expect(root).to.equal(cache.get(epoch)!.root, "the honest root is final");
      const result = cache.get(epoch)!;
      for (const [i, uid] of uids.entries()) {
        const before = await w.ranking.stakeOf(uid);
        await advanceValidator(w.ranking, w.honest[i], epoch, cache);
        expect((await w.ranking.stakeOf(uid)) - before).to.equal(result.emission[Number(uid)], "its leaf, into its stake");
      }
      // The attacker committed and never revealed: its leaf is refused.
      expect(result.emission[Number(attackerUid)]).to.be.greaterThan(0n);
      await expect(w.ranking.claim(epoch, attackerUid, result.emission[Number(attackerUid)], result.proof(Number(attackerUid))))
        .to.be.revertedWithCustomError(w.ranking, "UnrevealedCommitment")
        .withArgs(epoch, attackerUid);
      await expectConservation(w.token, w.ranking);
    });

    it("a validator gains nothing by committing and not revealing: a peer that never committed keeps its leaf, one that withheld its reveal loses it", async () => {
      const w = await world();
      const uids = await honestGroup(w, [TOKENS(100), TOKENS(60), TOKENS(40), TOKENS(30)]);
      const epoch = await firstEpochAfterSetup(w);
      const cache: EpochCache = new Map();
      const snapshot = await w.ranking.snapshotBlock(epoch);
      await setNextBlock(snapshot + 1n);
      for (const v of w.honest.slice(0, 3)) await advanceValidator(w.ranking, v, epoch, cache); // peer 3 never commits
      await setNextBlock(snapshot + (await w.ranking.commitBlocks()) + 1n);
      for (const v of w.honest.slice(0, 2)) await advanceValidator(w.ranking, v, epoch, cache); // peer 2 withholds its reveal
      expect(Number((await w.ranking.epochInfo(epoch))[0])).to.equal(EpochStatus.Finalized);
      await setNextBlock(snapshot + (await w.ranking.commitBlocks()) + (await w.ranking.revealBlocks()) + 1n);
      const result = cache.get(epoch)!;
      await expect(w.ranking.claim(epoch, uids[2], result.emission[2], result.proof(2)))
        .to.be.revertedWithCustomError(w.ranking, "UnrevealedCommitment")
        .withArgs(epoch, uids[2]);
      await expect(w.ranking.claim(epoch, uids[3], result.emission[3], result.proof(3)))
        .to.emit(w.ranking, "EmissionClaimed")
        .withArgs(epoch, uids[3], w.honest[3].address, result.emission[3]);
      // The validator's own claiming (its leaf, then every leaf left) skips the forfeited leaf and pays every other one.
      while ((await advanceValidator(w.ranking, w.honest[0], epoch, cache)).kind === "claimed");
      for (const uid of [0, 1, 3]) expect(await w.ranking.isClaimed(epoch, uid)).to.equal(true);
      expect(await w.ranking.isClaimed(epoch, 2)).to.equal(false);
    });

    it("a peer can always leave: the release block is fixed when it unstakes, whatever the admin changes later", async () => {
      const w = await world();
      const [uid] = await honestGroup(w, [TOKENS(100)]);
      await w.ranking.connect(w.honest[0]).unstake(TOKENS(100));
      const [amount, release] = await w.ranking.unbondingOf(w.honest[0].address);
      await w.ranking.connect(w.admin).setParameter(7, 1_000_000n); // UnbondingBlocks to its ceiling
      await setNextBlock(release);
      await expect(w.ranking.connect(w.honest[0]).withdraw()).to.changeTokenBalance(w.token, w.honest[0], amount);
      expect(await w.ranking.stakeOf(uid)).to.equal(0n);
      await expectConservation(w.token, w.ranking);
    });

    it("a peer replaced after an epoch's snapshot still gets the emission it earned in that epoch", async () => {
      const w = await world({ maxPeers: 2n, immunityBlocks: 0n });
      const uids = await honestGroup(w, [TOKENS(100), TOKENS(10)]);
      const epoch = await firstEpochAfterSetup(w);
      const cache: EpochCache = new Map();
      await validateHonestly(w, epoch, [w.honest[0], w.honest[1]], cache);
      const leaf = cache.get(epoch)!.emission[Number(uids[1])];
      expect(leaf).to.be.greaterThan(0n);
      // Before its leaf is claimed, the weaker peer is replaced.
      await expect(w.ranking.connect(w.attacker).register()).to.emit(w.ranking, "PeerReplaced").withArgs(uids[1], w.honest[1].address, TOKENS(10));
      await expect(w.ranking.claim(epoch, uids[1], leaf, cache.get(epoch)!.proof(Number(uids[1]))))
        .to.emit(w.ranking, "EmissionClaimed")
        .withArgs(epoch, uids[1], w.honest[1].address, leaf);
      expect(await w.ranking.stakeOf(uids[1])).to.equal(0n, "nothing of it goes to the newcomer");
      const [unbonding, release] = await w.ranking.replacedUnbondingOf(w.honest[1].address);
      expect(unbonding).to.equal(TOKENS(10) + leaf);
      await setNextBlock(release);
      await expect(w.ranking.connect(w.honest[1]).withdraw()).to.changeTokenBalance(w.token, w.honest[1], TOKENS(10) + leaf);
      await expectConservation(w.token, w.ranking);
    });
  });

  describe("a validator replaced between its commit and its reveal", () => {
    it("still reveals as the uid's former holder, with the stake that counted, and is paid its leaf", async () => {
      const w = await world({ maxPeers: 3n, immunityBlocks: 0n });
      const uids = await honestGroup(w, [TOKENS(30), TOKENS(20), TOKENS(10)]);
      const epoch = await firstEpochAfterSetup(w);
      const snapshot = await w.ranking.snapshotBlock(epoch);
      const cache: EpochCache = new Map();
      await setNextBlock(snapshot + 1n);
      for (const v of w.honest.slice(0, 3)) await advanceValidator(w.ranking, v, epoch, cache);
      // A newcomer pays the burn and takes the weakest uid (2) after its holder committed.
      await expect(w.ranking.connect(w.attacker).register()).to.emit(w.ranking, "PeerReplaced").withArgs(uids[2], w.honest[2].address, TOKENS(10));
      await setNextBlock(snapshot + (await w.ranking.commitBlocks()) + 1n);
      await expect(w.ranking.connect(w.honest[2]).revealResult(epoch, cache.get(epoch)!.root, 0n, id("x")))
        .to.be.revertedWithCustomError(w.ranking, "NotRegistered")
        .withArgs(w.honest[2].address);
      // The newcomer cannot reveal in its place, nor can anyone else as the former holder.
      await expect(w.ranking.connect(w.attacker).revealAsFormerHolder(epoch, uids[2], cache.get(epoch)!.root, 0n, id("x")))
        .to.be.revertedWithCustomError(w.ranking, "NotHolderAtSnapshot")
        .withArgs(epoch, uids[2]);
      // The SDK's validator reveals for the uid it held at the snapshot, with the stake that counted.
      const action = await advanceValidator(w.ranking, w.honest[2], epoch, cache);
      expect(action.kind).to.equal("revealed");
      const result = cache.get(epoch)!;
      expect(await w.ranking.resultStake(epoch, result.root, result.totalEmission)).to.equal(TOKENS(10));
      for (const v of w.honest.slice(0, 2)) await advanceValidator(w.ranking, v, epoch, cache);
      expect((await w.ranking.epochInfo(epoch))[1]).to.equal(result.root);
      await expect(w.ranking.claim(epoch, uids[2], result.emission[2], result.proof(2)))
        .to.emit(w.ranking, "EmissionClaimed")
        .withArgs(epoch, uids[2], w.honest[2].address, result.emission[2]);
      const [unbonding] = await w.ranking.replacedUnbondingOf(w.honest[2].address);
      expect(unbonding).to.equal(TOKENS(10) + result.emission[2], "its stake and its leaf, withdrawable by it");
      await expectConservation(w.token, w.ranking);
    });
  });

  describe("the token's powers are bounded", () => {
    it("lets nobody but the ranking market mint, and binds it once and for all", async () => {
      const w = await world();
      expect(await w.token.minter()).to.equal(await w.ranking.getAddress());
      for (const who of [w.admin, w.attacker]) {
        await expect(w.token.connect(who).mint(who.address, 1n)).to.be.revertedWithCustomError(w.token, "NotMinter").withArgs(who.address);
      }
      await expect(w.token.connect(w.admin).bindMinter(w.admin.address))
        .to.be.revertedWithCustomError(w.token, "MinterAlreadyBound")
        .withArgs(await w.ranking.getAddress());
      await expect(w.token.connect(w.attacker).bindMinter(w.attacker.address)).to.be.revertedWithCustomError(w.token, "NotDeployer").withArgs(w.attacker.address);
    });

    it("caps an epoch's emission at maxTau times the stake that counts, whatever the admin sets", async () => {
      const w = await world();
      const maxTau = await w.ranking.maxTau();
      await expect(w.ranking.connect(w.admin).setParameter(4, maxTau + 1n))
        .to.be.revertedWithCustomError(w.ranking, "ParameterOutOfBounds")
        .withArgs(4, maxTau + 1n, 0n, maxTau);
      await w.ranking.connect(w.admin).setParameter(4, maxTau);
      await honestGroup(w, [TOKENS(100)]);
      const epoch = await firstEpochAfterSetup(w);
      const snapshot = await w.ranking.snapshotBlock(epoch);
      const cap = (maxTau * (await w.ranking.countingTotalStake(epoch))) / WAD;
      const greedy = buildEmissionTree([cap + 1n]);
      const salt = id("greedy");
      await setNextBlock(snapshot + 1n);
      await w.ranking.connect(w.honest[0]).commitResult(epoch, resultCommitment(await context(w, epoch), greedy.root, cap + 1n, salt, w.honest[0].address));
      await setNextBlock(snapshot + (await w.ranking.commitBlocks()) + 1n);
      await expect(w.ranking.connect(w.honest[0]).revealResult(epoch, greedy.root, cap + 1n, salt))
        .to.be.revertedWithCustomError(w.ranking, "EmissionAboveCap")
        .withArgs(epoch, cap + 1n, cap);
    });

    it("moves the parameter admin only through OpenZeppelin's delayed transfer, and deploys with none on request", async () => {
      const w = await world();
      const role = await w.ranking.DEFAULT_ADMIN_ROLE();
      await expect(w.ranking.connect(w.admin).grantRole(role, w.attacker.address)).to.be.revertedWithCustomError(
        w.ranking,
        "AccessControlEnforcedDefaultAdminRules",
      );
      await w.ranking.connect(w.admin).beginDefaultAdminTransfer(w.anyone.address);
      const [, schedule] = await w.ranking.pendingDefaultAdmin();
      await expect(w.ranking.connect(w.anyone).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(w.ranking, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(schedule) + 1]);
      await w.ranking.connect(w.anyone).acceptDefaultAdminTransfer();
      expect(await w.ranking.defaultAdmin()).to.equal(w.anyone.address);

      const [deployer] = await hre.ethers.getSigners();
      const fixed = await deployAgora(deployer, { addressBookDir: false, renounceAdmin: true });
      expect(await fixed.ranking.defaultAdmin()).to.equal("0x0000000000000000000000000000000000000000");
      expect(await fixed.ranking.hasRole(await fixed.ranking.PARAMETER_ADMIN_ROLE(), deployer.address)).to.equal(false);
      await expect(fixed.ranking.connect(deployer).setParameter(4, 0n)).to.be.revertedWithCustomError(fixed.ranking, "AccessControlUnauthorizedAccount");
    });
  });
});
