import { expect } from "chai";
import fc from "fast-check";
import { InvalidInputError } from "../../sdk/src/errors";
import { emaWeight, normalizeRow, packRow, parseWeightsFile, ROW_TOTAL, sparseRow, unpackRow, unpackRows, weightsFromFloats, wordsFor } from "../../sdk/src/ranking/weights";

const WAD = 10n ** 18n;
const rowArb = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 65535 })), { minLength: 1, maxLength: 300 })
  .filter((row) => row.some((v) => v > 0));

describe("SDK weights", () => {
  describe("normalizeRow", () => {
    it("keeps a row that already sums to 65535", () => {
      expect(normalizeRow([65535])).to.deep.equal([65535]);
      expect(normalizeRow([0, 30000, 35535])).to.deep.equal([0, 30000, 35535]);
    });

    it("splits equal weights with the spare units going to the lowest uids", () => {
      expect(normalizeRow([1, 1, 1, 1])).to.deep.equal([16384, 16384, 16384, 16383]);
      expect(normalizeRow([0, 5, 0, 5])).to.deep.equal([0, 32768, 0, 32767]);
    });

    it("lifts weights too small to earn a unit to exactly one", () => {
      // 300 weights of 65535 and one of 1: the 1 would earn 0.0033 units.
      const row = [...Array(300).fill(65535), 1];
      const out = normalizeRow(row);
      expect(out[300]).to.equal(1);
      expect(out.reduce((a, b) => a + b, 0)).to.equal(ROW_TOTAL);
    });

    it("sums to 65535, keeps zero and non-zero weights as they were, and is idempotent", () => {
      fc.assert(
        fc.property(rowArb, (row) => {
          const out = normalizeRow(row);
          expect(out.reduce((a, b) => a + b, 0)).to.equal(ROW_TOTAL);
          row.forEach((v, i) => expect(out[i] > 0).to.equal(v > 0));
          expect(normalizeRow(out)).to.deep.equal(out);
        }),
        { seed: 11, numRuns: 300 },
      );
    });

    it("stays within one unit of the exact proportional share when no weight is lifted", () => {
      fc.assert(
        fc.property(rowArb, (row) => {
          const sum = row.reduce((a, b) => a + b, 0);
          fc.pre(row.every((v) => v === 0 || v * ROW_TOTAL >= sum));
          const out = normalizeRow(row);
          row.forEach((v, i) => expect(Math.abs(out[i] - (v * ROW_TOTAL) / sum)).to.be.lessThan(1));
        }),
        { seed: 12, numRuns: 300 },
      );
    });

    it("is monotone: a larger input weight never gets a smaller output weight", () => {
      fc.assert(
        fc.property(rowArb, (row) => {
          const out = normalizeRow(row);
          for (let i = 0; i < row.length; i++)
            for (let j = 0; j < row.length; j++) if (row[i] > row[j]) expect(out[i]).to.be.at.least(out[j]);
        }),
        { seed: 13, numRuns: 100 },
      );
    });

    it("names the problem when a row is invalid", () => {
      expect(() => normalizeRow([0, 0])).to.throw(InvalidInputError, "every weight of the row is zero");
      expect(() => normalizeRow([1, 65536])).to.throw(InvalidInputError, "weight of uid 1 is 65536");
      expect(() => normalizeRow([1.5])).to.throw(InvalidInputError, "weight of uid 0 is 1.5");
    });
  });

  it("packs and unpacks rows losslessly, 16 weights per word", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 100 }), (row) => {
        const words = packRow(row);
        expect(words.length).to.equal(wordsFor(row.length));
        expect(Array.from(unpackRow(words, row.length))).to.deep.equal(row);
      }),
      { seed: 14, numRuns: 200 },
    );
    expect(packRow([1, 2])).to.deep.equal([1n | (2n << 16n)]);
    expect(unpackRows([5n, 7n], 1, 3)).to.deep.equal([Uint16Array.from([5, 0, 0]), Uint16Array.from([7, 0, 0])]);
    expect(() => unpackRows([5n, 7n, 1n], 2, 17)).to.throw(InvalidInputError, "3 words is not a whole number of rows of 2 words");
    expect(() => unpackRows([5n], 2, 3)).to.throw(InvalidInputError, "rows of 3 weights take 1 words, not 2");
  });

  it("turns a dense row into the sparse pairs setWeights takes", () => {
    expect(sparseRow([0, 3, 0, 4])).to.deep.equal({ uids: [1, 3], values: [3, 4] });
  });

  it("moves a weight toward its target by lambda, floored", () => {
    expect(emaWeight(100, 200, WAD)).to.equal(200);
    expect(emaWeight(100, 200, WAD / 2n)).to.equal(150);
    expect(emaWeight(65535, 0, (3n * WAD) / 10n)).to.equal(45874);
  });
});

describe("weights from a file of floats (the CLI's set-weights)", () => {
  it("scales floats to a stored row that sums to 65535 and keeps every non-zero weight", () => {
    expect(weightsFromFloats([0.2, 0.8])).to.deep.equal([13107, 52428]);
    const tiny = weightsFromFloats([1e-9, 1, 0, 3]);
    expect(tiny.reduce((a, b) => a + b, 0)).to.equal(65535);
    expect(tiny[0]).to.equal(1);
    expect(tiny[2]).to.equal(0);
    expect(tiny[3]).to.be.closeTo(3 * tiny[1], 3);
    expect(weightsFromFloats([5, 5])).to.deep.equal(weightsFromFloats([0.5, 0.5]));
  });

  it("names bad weights", () => {
    expect(() => weightsFromFloats([0, 0])).to.throw(InvalidInputError, "every weight of the row is zero");
    expect(() => weightsFromFloats([1, -1])).to.throw(InvalidInputError, "weight of uid 1 is -1");
    expect(() => weightsFromFloats([1, NaN])).to.throw(InvalidInputError, "weight of uid 1 is NaN");
  });

  it("reads JSON arrays, objects, {uid, weight} lists and CSV with or without a header", () => {
    expect(parseWeightsFile("[0.5, 0, 1]")).to.deep.equal([0.5, 0, 1]);
    expect(parseWeightsFile('{"2": 1, "0": 0.25}', 4)).to.deep.equal([0.25, 0, 1, 0]);
    expect(parseWeightsFile('[{"uid": 1, "weight": 3}]')).to.deep.equal([0, 3]);
    expect(parseWeightsFile("uid,weight\n0,1\n2,0.5\n")).to.deep.equal([1, 0, 0.5]);
    expect(parseWeightsFile("1, 2\r\n0, 4")).to.deep.equal([4, 2]);
  });

  it("names a bad file: duplicates, unknown peers, bad numbers, bad lines, bad JSON", () => {
    expect(() => parseWeightsFile("0,1\n0,2")).to.throw(InvalidInputError, "uid 0 appears twice");
    expect(() => parseWeightsFile("[1, 2, 3]", 2)).to.throw(InvalidInputError, "uid 2 is not a peer: there are 2 peers");
    expect(() => parseWeightsFile("0,abc")).to.throw(InvalidInputError, "the weight of uid 0 is NaN");
    expect(() => parseWeightsFile("0,1,2")).to.throw(InvalidInputError, 'line 1 of the weights file: expected "uid,weight"');
    expect(() => parseWeightsFile("{nope")).to.throw(InvalidInputError, "the weights file is not valid JSON");
    expect(() => parseWeightsFile("-1,2")).to.throw(InvalidInputError, "uid -1 is not a non-negative integer");
  });
});
