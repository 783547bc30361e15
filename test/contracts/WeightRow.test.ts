import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { normalizeRow, packRow } from "../../sdk/src/ranking/weights";
import { WeightRow__factory, WeightRowHarness__factory } from "../../typechain-types";

const ROW_TOTAL = 65_535;
const WAD = 10n ** 18n;

/** The word of 16 lanes holding `lanes` (lane m in bits 16m..16m+15). */
const word = (lanes: number[]) => lanes.reduce((w, v, m) => w | (BigInt(v) << BigInt(16 * m)), 0n);

describe("WeightRow (the on-chain normalization and learning rate)", () => {
  async function deployed() {
    const [admin] = await hre.ethers.getSigners();
    return new WeightRowHarness__factory(admin).deploy();
  }

  it("normalizes any row exactly as the SDK does, zeros included (200 random rows)", async () => {
    const lib = await loadFixture(deployed);
    const row = fc
      .array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 65_535 })), { minLength: 1, maxLength: 64 })
      .filter((r) => r.some((v) => v > 0));
    await fc.assert(
      fc.asyncProperty(row, async (values) => {
        const sum = values.reduce((a, b) => a + b, 0);
        const onChain = await lib.normalize(values, values.map((_, i) => i), sum);
        expect(onChain.map(Number)).to.deep.equal(normalizeRow(values));
        expect(onChain.reduce((a, b) => a + b, 0n)).to.equal(BigInt(ROW_TOTAL));
      }),
      { numRuns: 200, seed: 42 },
    );
  });

  it("normalizes a packed row, as the linked library the market calls, exactly as the SDK does (100 random rows)", async () => {
    const [admin] = await hre.ethers.getSigners();
    const library = await new WeightRow__factory(admin).deploy();
    const row = fc
      .array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 65_535 })), { minLength: 1, maxLength: 70 })
      .filter((r) => r.some((v) => v > 0));
    await fc.assert(
      fc.asyncProperty(row, async (values) => {
        const sum = values.reduce((a, b) => a + b, 0);
        expect(await library.normalizePacked(packRow(values), sum)).to.deep.equal(packRow(normalizeRow(values)));
      }),
      { numRuns: 100, seed: 43 },
    );
  });

  it("keeps a row that already sums to the total as it is", async () => {
    const lib = await loadFixture(deployed);
    const values = [65_000, 500, 35];
    expect((await lib.normalize(values, [0, 1, 2], ROW_TOTAL)).map(Number)).to.deep.equal(values);
  });

  it("moves each lane toward the target by lambda, floored, and keeps empty words empty", async () => {
    const lib = await loadFixture(deployed);
    expect(await lib.ema(0n, 0n, WAD / 2n)).to.equal(0n);
    expect(await lib.ema(word([100, 0, 65_535]), word([0, 100, 65_535]), WAD / 4n)).to.equal(word([75, 25, 65_535]));
    expect(await lib.ema(word([7]), word([8]), WAD / 2n)).to.equal(word([7])); // 7.5 floors to 7
    expect(await lib.ema(word([1, 2, 3]), word([4, 5, 6]), WAD)).to.equal(word([4, 5, 6]));
  });
});
