import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet } from "ethers";
import { deployRanking, registerAndStake, seededRandom, TOKENS, WAD } from "../helpers";
import { emaWeight, normalizeRow, packRow, sparseRow, unpackRows, ROW_TOTAL } from "../../sdk/src/ranking/weights";
import type { RankingMarket } from "../../typechain-types";

async function readRows(ranking: RankingMarket, blockTag?: number): Promise<number[][]> {
  const n = Number(await ranking.peerCount({ blockTag }));
  const [rowWords, words] = await ranking.getWeightRows(0, n, { blockTag });
  return unpackRows(words, Number(rowWords), n).map((r) => Array.from(r));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("RankingMarket: weights", () => {
  /** Five staked peers; uid i is peers[i]. */
  async function fivePeers() {
    const f = await deployRanking();
    await registerAndStake(f.ranking, f.peers.slice(0, 5), Array(5).fill(TOKENS(10)));
    return f;
  }

  /** One staked peer that registered 36 more (37 uids: rows end mid-word). */
  async function thirtySevenPeers() {
    const f = await deployRanking();
    await registerAndStake(f.ranking, [f.peers[0]], [TOKENS(10)]);
    for (let i = 1; i < 37; i++) await f.ranking.connect(f.peers[0]).registerFor(Wallet.createRandom().address);
    return f;
  }

  describe("setWeights", () => {
    it("stores a row that already sums to 65535 as it is", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await expect(ranking.connect(peers[0]).setWeights([1, 3, 4], [30000, 35000, 535]))
        .to.emit(ranking, "WeightsSet")
        .withArgs(0);
      const rows = await readRows(ranking);
      expect(rows[0]).to.deep.equal([0, 30000, 0, 35000, 535]);
      const [, lastWeightsBlock, rowSet] = await ranking.peer(0);
      expect(rowSet).to.equal(true);
      expect(lastWeightsBlock).to.equal(BigInt(await hre.ethers.provider.getBlockNumber()));
    });

    it("normalizes any row to sum 65535 by largest remainder", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await ranking.connect(peers[0]).setWeights([0, 1, 2], [1, 1, 1]);
      // 65535 / 3 = 21845 exactly.
      expect((await readRows(ranking))[0]).to.deep.equal([21845, 21845, 21845, 0, 0]);
      await ranking.connect(peers[1]).setWeights([0, 1, 2, 3], [1, 1, 1, 1]);
      // 65535 / 4 = 16383.75: three units go to the lowest uids among equal remainders.
      expect((await readRows(ranking))[1]).to.deep.equal([16384, 16384, 16384, 16383, 0]);
      // 19660.5 and 45874.5: equal remainders, the one unit left goes to the lower uid.
      await ranking.connect(peers[2]).setWeights([2, 4], [3, 7]);
      expect((await readRows(ranking))[2]).to.deep.equal([0, 0, 19661, 0, 45874]);
    });

    it("never turns a non-zero weight into zero", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await ranking.connect(peers[0]).setWeights([0, 1, 2, 3, 4], [65535, 65535, 1, 1, 65535]);
      // The two 1s would get 0.33 units each: they are fixed at 1, and the 65533 units left are
      // shared by the three equal weights (21844.33 each; the unit left goes to uid 0).
      const row = (await readRows(ranking))[0];
      expect(row).to.deep.equal([21845, 21844, 1, 1, 21844]);
      expect(sum(row)).to.equal(ROW_TOTAL);
    });

    it("rejects duplicate and unsorted uids", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await expect(ranking.connect(peers[0]).setWeights([1, 1], [5, 5]))
        .to.be.revertedWithCustomError(ranking, "UidsNotIncreasing")
        .withArgs(1, 1, 1);
      await expect(ranking.connect(peers[0]).setWeights([0, 3, 2], [5, 5, 5]))
        .to.be.revertedWithCustomError(ranking, "UidsNotIncreasing")
        .withArgs(2, 3, 2);
    });

    it("rejects uids beyond the registered peers, unequal lengths and all-zero rows", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await expect(ranking.connect(peers[0]).setWeights([0, 5], [5, 5]))
        .to.be.revertedWithCustomError(ranking, "UidOutOfRange")
        .withArgs(5, 5);
      await expect(ranking.connect(peers[0]).setWeights([0, 1], [5]))
        .to.be.revertedWithCustomError(ranking, "LengthMismatch")
        .withArgs(2, 1);
      await expect(ranking.connect(peers[0]).setWeights([0, 1], [0, 0])).to.be.revertedWithCustomError(ranking, "AllWeightsZero");
      await expect(ranking.connect(peers[0]).setWeights([], [])).to.be.revertedWithCustomError(ranking, "AllWeightsZero");
    });

    it("refuses callers that are not registered or stake less than minStakeToSetWeights", async () => {
      const { ranking, peers, outsider } = await loadFixture(fivePeers);
      await expect(ranking.connect(outsider).setWeights([0], [1]))
        .to.be.revertedWithCustomError(ranking, "NotRegistered")
        .withArgs(outsider.address);
      await ranking.connect(peers[5]).register();
      await ranking.connect(peers[5]).stake(5, TOKENS(1) - 1n);
      await expect(ranking.connect(peers[5]).setWeights([0], [1]))
        .to.be.revertedWithCustomError(ranking, "StakeBelowMinimum")
        .withArgs(5, TOKENS(1) - 1n, TOKENS(1));
      await ranking.connect(peers[5]).stake(5, 1n);
      await expect(ranking.connect(peers[5]).setWeights([0], [1])).to.emit(ranking, "WeightsSet");
    });

    it("allows one update per weightsRateLimit blocks", async () => {
      const { ranking, admin, peers } = await loadFixture(fivePeers);
      await ranking.connect(admin).setParameter(6, 4); // WeightsRateLimit
      const first = await (await ranking.connect(peers[0]).setWeights([1], [1])).wait();
      const next = BigInt(first!.blockNumber) + 4n;
      await expect(ranking.connect(peers[0]).setWeights([2], [1]))
        .to.be.revertedWithCustomError(ranking, "WeightsRateLimited")
        .withArgs(0, next);
      await hre.network.provider.send("hardhat_mine", ["0x1"]);
      await expect(ranking.connect(peers[0]).setWeights([2], [1])).to.be.revertedWithCustomError(ranking, "WeightsRateLimited");
      // That revert was mined at next - 1; the next block is `next`.
      await expect(ranking.connect(peers[0]).setWeights([2], [1])).to.emit(ranking, "WeightsSet");
    });
  });

  describe("setWeightsPacked", () => {
    it("stores a packed row exactly as setWeights stores the same row", async () => {
      const { ranking, peers } = await loadFixture(thirtySevenPeers);
      const dense = Array.from({ length: 37 }, (_, i) => (i % 5 === 0 ? 1000 + i : 0));
      await ranking.connect(peers[0]).setWeightsPacked(packRow(dense));
      const packedResult = (await readRows(ranking))[0];
      const { uids, values } = sparseRow(dense);
      await ranking.connect(peers[0]).setWeights(uids, values);
      expect((await readRows(ranking))[0]).to.deep.equal(packedResult);
      expect(packedResult).to.deep.equal(normalizeRow(dense));
    });

    it("treats missing trailing words as zeros", async () => {
      const { ranking, peers } = await loadFixture(thirtySevenPeers);
      await ranking.connect(peers[0]).setWeightsPacked([65535n << 16n]);
      const row = (await readRows(ranking))[0];
      expect(row[1]).to.equal(65535);
      expect(sum(row)).to.equal(65535);
    });

    it("rejects rows longer than the peers, weights for unregistered uids, and all-zero rows", async () => {
      const { ranking, peers } = await loadFixture(thirtySevenPeers);
      await expect(ranking.connect(peers[0]).setWeightsPacked([1n, 0n, 0n, 0n]))
        .to.be.revertedWithCustomError(ranking, "PackedRowTooLong")
        .withArgs(4, 3);
      // uid 39 lives in word 2, lane 7; 37 peers end at lane 4 of that word.
      await expect(ranking.connect(peers[0]).setWeightsPacked([1n, 0n, 9n << (7n * 16n)]))
        .to.be.revertedWithCustomError(ranking, "UidOutOfRange")
        .withArgs(39, 37);
      await expect(ranking.connect(peers[0]).setWeightsPacked([0n, 0n, 0n])).to.be.revertedWithCustomError(ranking, "AllWeightsZero");
      await expect(ranking.connect(peers[0]).setWeightsPacked([])).to.be.revertedWithCustomError(ranking, "AllWeightsZero");
    });

    it("applies the same caller checks as setWeights", async () => {
      const { ranking, admin, peers, outsider } = await loadFixture(thirtySevenPeers);
      await expect(ranking.connect(outsider).setWeightsPacked([1n])).to.be.revertedWithCustomError(ranking, "NotRegistered");
      await ranking.connect(admin).setParameter(5, TOKENS(11)); // MinStakeToSetWeights
      await expect(ranking.connect(peers[0]).setWeightsPacked([1n]))
        .to.be.revertedWithCustomError(ranking, "StakeBelowMinimum")
        .withArgs(0, TOKENS(10), TOKENS(11));
      expect(await ranking.minStakeToSetWeights()).to.equal(TOKENS(11));
      await ranking.connect(admin).setParameter(5, 0n);
      await ranking.connect(admin).setParameter(6, 10n); // WeightsRateLimit
      const at = (await (await ranking.connect(peers[0]).setWeightsPacked([1n])).wait())!.blockNumber;
      await expect(ranking.connect(peers[0]).setWeightsPacked([1n]))
        .to.be.revertedWithCustomError(ranking, "WeightsRateLimited")
        .withArgs(0, BigInt(at) + 10n);
    });
  });

  it("normalizes random rows on chain exactly as the SDK's normalizeRow, through both entry points", async () => {
    const { ranking, peers } = await loadFixture(thirtySevenPeers);
    const random = seededRandom(7);
    for (let trial = 0; trial < 24; trial++) {
      const density = [0.05, 0.3, 1][trial % 3];
      const scale = [3, 300, 65535][Math.floor(trial / 3) % 3];
      const dense: number[] = Array.from({ length: 37 }, () => (random() < density ? Math.floor(random() ** 3 * scale) : 0));
      if (!dense.some((v) => v > 0)) dense[trial % 37] = 1 + trial;
      const expected = normalizeRow(dense);
      expect(sum(expected)).to.equal(ROW_TOTAL);
      dense.forEach((v, i) => expect(v === 0 ? expected[i] === 0 : expected[i] > 0).to.equal(true));
      if (trial % 2 === 0) {
        const { uids, values } = sparseRow(dense);
        await ranking.connect(peers[0]).setWeights(uids, values);
      } else {
        await ranking.connect(peers[0]).setWeightsPacked(packRow(dense));
      }
      expect((await readRows(ranking))[0]).to.deep.equal(expected, `trial ${trial}: ${dense}`);
    }
  });

  describe("learning rate lambda", () => {
    it("follows the closed-form EMA over two updates, starting from self-trust", async () => {
      const lambda = (3n * WAD) / 10n;
      const { ranking, peers } = await deployRanking({ ranking: { lambda } });
      await registerAndStake(ranking, peers.slice(0, 4), Array(4).fill(TOKENS(10)));
      const t1 = [0, 0, 65535, 0];
      const t2 = [0, 20000, 0, 45535];
      await ranking.connect(peers[1]).setWeights([2], [65535]);
      await ranking.connect(peers[1]).setWeights([1, 3], [20000, 45535]);
      const row = (await readRows(ranking))[1];
      const self = [0, 65535, 0, 0];
      const l = 0.3;
      for (let j = 0; j < 4; j++) {
        // W2 = (1 - l)^2 W0 + l (1 - l) T1 + l T2, floored once per step.
        const closed = (1 - l) ** 2 * self[j] + l * (1 - l) * t1[j] + l * t2[j];
        expect(row[j]).to.be.within(Math.floor(closed) - 1, Math.floor(closed));
        const stepwise = emaWeight(emaWeight(self[j], t1[j], lambda), t2[j], lambda);
        expect(row[j]).to.equal(stepwise);
      }
      // By hand: step 1 gives [0, 45874, 19660, 0]; step 2 floors 0.7 * old + 0.3 * T2.
      expect(row).to.deep.equal([0, 38111, 13762, 13660]);
    });

    it("moves a packed row by the same learning rate as a sparse one, normalized or raw", async () => {
      const lambda = (7n * WAD) / 10n;
      const { ranking, peers } = await deployRanking({ ranking: { lambda } });
      await registerAndStake(ranking, peers.slice(0, 3), [TOKENS(10), TOKENS(10), TOKENS(10)]);
      // First a row already normalized (the fast check), then the same row raw (normalized on chain).
      for (const dense of [normalizeRow([3, 0, 9]), [3, 0, 9]]) {
        const { uids, values } = sparseRow(dense);
        await ranking.connect(peers[0]).setWeights(uids, values);
        await ranking.connect(peers[1]).setWeightsPacked(packRow(dense));
      }
      const [row0, row1] = (await readRows(ranking)).slice(0, 2);
      const target = normalizeRow([3, 0, 9]);
      const step = (old: number[]) => old.map((o, j) => emaWeight(o, target[j], lambda));
      expect(row0).to.deep.equal(step(step([65535, 0, 0])));
      expect(row1).to.deep.equal(step(step([0, 65535, 0])));
    });

    it("replaces the row when lambda is 1", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await ranking.connect(peers[0]).setWeights([1, 2], [1, 1]);
      await ranking.connect(peers[0]).setWeights([4], [9]);
      expect((await readRows(ranking))[0]).to.deep.equal([0, 0, 0, 0, 65535]);
    });
  });

  describe("reads", () => {
    it("reads a row never set as the peer trusting only itself", async () => {
      const { ranking } = await loadFixture(fivePeers);
      const rows = await readRows(ranking);
      rows.forEach((row, i) => expect(row).to.deep.equal([0, 1, 2, 3, 4].map((j) => (j === i ? 65535 : 0))));
    });

    it("returns at a past blockTag the rows and stakes that were set then", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      const b1 = (await (await ranking.connect(peers[0]).setWeights([1, 2], [1, 2])).wait())!.blockNumber;
      const rowsAtB1 = await readRows(ranking);
      await ranking.connect(peers[6]).register(); // a sixth peer widens the rows
      await ranking.connect(peers[2]).stake(2, TOKENS(5));
      const b2 = (await (await ranking.connect(peers[0]).setWeights([3], [1])).wait())!.blockNumber;
      await ranking.connect(peers[1]).setWeights([0], [1]);
      expect(await readRows(ranking, b1)).to.deep.equal(rowsAtB1);
      expect(await ranking.getStakes({ blockTag: b1 })).to.deep.equal(Array(5).fill(TOKENS(10)));
      const atB2 = await readRows(ranking, b2);
      expect(atB2[0]).to.deep.equal([0, 0, 0, 65535, 0, 0]);
      expect(atB2[1]).to.deep.equal([0, 65535, 0, 0, 0, 0]);
      expect(await ranking.getStakes({ blockTag: b2 })).to.deep.equal([...Array(5).fill(TOKENS(10)), 0n].map((v, i) => (i === 2 ? v + TOKENS(5) : v)));
      expect((await readRows(ranking))[1]).to.deep.equal([65535, 0, 0, 0, 0, 0]);
    });

    it("reads a replaced uid's row and every other row's weight on it as cleared, leaving the newcomer no inherited trust", async () => {
      const { ranking, peers } = await deployRanking({ ranking: { maxPeers: 3n, immunityBlocks: 0n } });
      await registerAndStake(ranking, peers.slice(0, 3), [TOKENS(5), TOKENS(2), TOKENS(9)]);
      await ranking.connect(peers[0]).setWeights([0, 1, 2], [1, 1, 1]);
      await ranking.connect(peers[1]).setWeights([0, 2], [1, 3]);
      await ranking.connect(peers[2]).setWeights([1, 2], [1, 1]);
      const before = await readRows(ranking);
      await expect(ranking.connect(peers[3]).register()).to.emit(ranking, "PeerReplaced").withArgs(1, peers[1].address, TOKENS(2));
      const after = await readRows(ranking);
      const withoutUid1 = (row: number[]) => row.map((w, j) => (j === 1 ? 0 : w));
      expect(before[0][1]).to.be.greaterThan(0);
      expect(after[0]).to.deep.equal(withoutUid1(before[0]));
      expect(after[2]).to.deep.equal(withoutUid1(before[2]));
      expect(after[1]).to.deep.equal([0, 65535, 0], "the newcomer's row reads as never set: it trusts only itself");
      expect((await ranking.peer(1))[2]).to.equal(false);
    });

    it("counts a weight on a replaced uid again once a row gives it after the replacement, and reads the past as it was", async () => {
      const { ranking, peers } = await deployRanking({ ranking: { maxPeers: 3n, immunityBlocks: 0n, weightsRateLimit: 0n } });
      await registerAndStake(ranking, peers.slice(0, 3), [TOKENS(5), TOKENS(2), TOKENS(9)]);
      await ranking.connect(peers[0]).setWeights([0, 1], [1, 1]);
      const before = (await (await ranking.connect(peers[2]).setWeights([1, 2], [1, 1])).wait())!.blockNumber;
      const replacedIn = (await (await ranking.connect(peers[3]).register()).wait())!.blockNumber;
      expect(await ranking.lastReplacementBlock()).to.equal(BigInt(replacedIn));
      // Rows are cleared lazily: row 2 still holds its old word, but the weight on uid 1 no longer counts.
      const given = normalizeRow([0, 1, 1]);
      expect((await readRows(ranking))[2]).to.deep.equal([0, 0, given[2]]);
      expect((await readRows(ranking, before))[2]).to.deep.equal(given, "at a block before the replacement, the row as it counted then");
      // Written again after the replacement, a weight on uid 1 is trust in the newcomer: it counts.
      await ranking.connect(peers[2]).setWeights([1, 2], [3, 1]);
      expect((await readRows(ranking))[2]).to.deep.equal(normalizeRow([0, 3, 1]));
    });

    it("drops a replaced uid's weight from the row a learning-rate update starts from", async () => {
      const lambda = WAD / 2n;
      const { ranking, peers } = await deployRanking({ ranking: { maxPeers: 3n, immunityBlocks: 0n, weightsRateLimit: 0n, lambda } });
      await registerAndStake(ranking, peers.slice(0, 3), [TOKENS(5), TOKENS(2), TOKENS(9)]);
      await ranking.connect(peers[0]).setWeights([0, 1], [1, 3]);
      const old = (await readRows(ranking))[0];
      await ranking.connect(peers[3]).register(); // uid 1 goes to a newcomer
      const cleared = old.map((w, j) => (j === 1 ? 0 : w));
      expect((await readRows(ranking))[0]).to.deep.equal(cleared, "the read drops it");
      await ranking.connect(peers[0]).setWeights([0, 2], [1, 1]);
      const target = normalizeRow([1, 0, 1]);
      expect((await readRows(ranking))[0]).to.deep.equal(cleared.map((w, j) => emaWeight(w, target[j], lambda)), "and so does the update");
    });

    it("returns any sub-range of rows and refuses an invalid range", async () => {
      const { ranking, peers } = await loadFixture(fivePeers);
      await ranking.connect(peers[3]).setWeights([0], [1]);
      const [rowWords, words] = await ranking.getWeightRows(3, 4);
      expect(unpackRows(words, Number(rowWords), 5)).to.deep.equal([Uint16Array.from([65535, 0, 0, 0, 0])]);
      expect((await ranking.getWeightRows(2, 2))[1]).to.deep.equal([]);
      await expect(ranking.getWeightRows(3, 2)).to.be.revertedWithCustomError(ranking, "RangeInvalid").withArgs(3, 2, 5);
      await expect(ranking.getWeightRows(0, 6)).to.be.revertedWithCustomError(ranking, "RangeInvalid").withArgs(0, 6, 5);
    });
  });
});
