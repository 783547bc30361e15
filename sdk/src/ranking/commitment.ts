import { AbiCoder, keccak256 } from "ethers";

/**
 * The commitment a validator sends with `commitResult` (SPEC §1.2):
 * keccak256(abi.encode(root, totalEmission, salt, validator)). Binding the validator's address
 * makes a copied commitment worthless to anyone else.
 */
export function resultCommitment(root: string, totalEmission: bigint, salt: string, validator: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "bytes32", "address"], [root, totalEmission, salt, validator]),
  );
}
