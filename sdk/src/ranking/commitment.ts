import { AbiCoder, keccak256 } from "ethers";

/** Where a commitment is valid: the chain, the ranking market and the epoch. */
export interface CommitmentContext {
  chainId: bigint;
  market: string;
  epoch: bigint | number;
}

/**
 * The commitment a validator sends with `commitResult` (SPEC §1.2), as the market's
 * `resultCommitment` computes it: keccak256(abi.encode(chainId, market, epoch, root, totalEmission,
 * salt, validator)). Binding the chain, the market and the epoch makes it worthless anywhere else;
 * binding the validator's address makes a copied commitment worthless to anyone else.
 */
export function resultCommitment(context: CommitmentContext, root: string, totalEmission: bigint, salt: string, validator: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint256", "bytes32", "uint256", "bytes32", "address"],
      [context.chainId, context.market, context.epoch, root, totalEmission, salt, validator],
    ),
  );
}
