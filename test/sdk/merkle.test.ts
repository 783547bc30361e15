import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, keccak256, getAddress } from "ethers";
import { buildEmissionTree } from "../../sdk/src/ranking/merkle";
import { resultCommitment } from "../../sdk/src/ranking/commitment";

describe("SDK emission tree and commitments", () => {
  it("puts every uid with emission in the tree and proves each leaf", () => {
    const emission = [5n, 0n, 7n, 1n];
    const tree = buildEmissionTree(emission);
    expect(tree.leaves).to.deep.equal([
      { uid: 0, amount: 5n },
      { uid: 2, amount: 7n },
      { uid: 3, amount: 1n },
    ]);
    for (const { uid, amount } of tree.leaves) {
      expect(StandardMerkleTree.verify(tree.root, ["uint256", "uint256"], [uid, amount], tree.proof(uid))).to.equal(true);
    }
    expect(tree.proof(1)).to.deep.equal([]);
  });

  it("gives the zero root when nothing is emitted", () => {
    expect(buildEmissionTree([0n, 0n]).root).to.equal("0x" + "00".repeat(32));
  });

  it("hashes a commitment as keccak256(abi.encode(chainId, market, epoch, root, totalEmission, salt, validator))", () => {
    const root = "0x" + "11".repeat(32);
    const salt = "0x" + "22".repeat(32);
    const validator = getAddress("0x" + "33".repeat(20));
    const market = getAddress("0x" + "55".repeat(20));
    const context = { chainId: 31337n, market, epoch: 4 };
    const expected = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["uint256", "address", "uint256", "bytes32", "uint256", "bytes32", "address"],
        [31337n, market, 4n, root, 9n, salt, validator],
      ),
    );
    expect(resultCommitment(context, root, 9n, salt, validator)).to.equal(expected);
    expect(resultCommitment({ ...context, epoch: 4n }, root, 9n, salt, validator)).to.equal(expected, "an epoch as bigint or number");
  });

  it("binds the commitment to its chain, market, epoch and validator: changing any one changes it", () => {
    const root = "0x" + "11".repeat(32);
    const salt = "0x" + "22".repeat(32);
    const validator = getAddress("0x" + "33".repeat(20));
    const context = { chainId: 31337n, market: getAddress("0x" + "55".repeat(20)), epoch: 4 };
    const base = resultCommitment(context, root, 9n, salt, validator);
    const variants = [
      resultCommitment({ ...context, chainId: 1n }, root, 9n, salt, validator),
      resultCommitment({ ...context, market: getAddress("0x" + "66".repeat(20)) }, root, 9n, salt, validator),
      resultCommitment({ ...context, epoch: 5 }, root, 9n, salt, validator),
      resultCommitment(context, root, 9n, salt, getAddress("0x" + "44".repeat(20))),
      resultCommitment(context, root, 10n, salt, validator),
    ];
    expect(new Set([base, ...variants]).size).to.equal(variants.length + 1);
  });
});
