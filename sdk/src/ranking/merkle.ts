import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

/** Leaf encoding of an epoch's emission tree, as `RankingMarket.claim` checks it (SPEC §1.2). */
export const EMISSION_LEAF_ENCODING = ["uint256", "uint256"] as const;

export interface EmissionTree {
  root: string;
  /** Proof of uid's leaf; empty when uid has no emission. */
  proof(uid: number): string[];
  /** The (uid, amount) leaves, amount > 0, in uid order. */
  leaves: { uid: number; amount: bigint }[];
  tree: StandardMerkleTree<[bigint, bigint]> | undefined;
}

/**
 * The StandardMerkleTree over (uid, e_uid) for every uid with e_uid > 0 (SPEC §1.3 step 7).
 * With no emission at all the root is bytes32(0) and there is nothing to claim.
 */
export function buildEmissionTree(emission: readonly bigint[]): EmissionTree {
  const leaves = emission.flatMap((amount, uid) => (amount > 0n ? [{ uid, amount }] : []));
  if (leaves.length === 0) {
    return { root: "0x" + "00".repeat(32), proof: () => [], leaves, tree: undefined };
  }
  const tree = StandardMerkleTree.of(
    leaves.map(({ uid, amount }) => [BigInt(uid), amount] as [bigint, bigint]),
    [...EMISSION_LEAF_ENCODING],
  );
  // StandardMerkleTree.of sorts leaves; find each uid's tree index once.
  const treeIndex = new Map<number, number>();
  for (const [i, [uid]] of tree.entries()) treeIndex.set(Number(uid), i);
  return {
    root: tree.root,
    proof: (uid: number) => {
      const i = treeIndex.get(uid);
      return i === undefined ? [] : tree.getProof(i);
    },
    leaves,
    tree,
  };
}
