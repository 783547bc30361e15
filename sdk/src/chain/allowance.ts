import type { Signer } from "ethers";
import { AgoraToken__factory } from "../../../typechain-types";

/**
 * Makes sure `spender` may take `amount` of `token` from `owner`: approves exactly `amount` when
 * the standing allowance is short, and asks nothing when it already covers it.
 */
export async function ensureAllowance(token: string, owner: Signer, spender: string, amount: bigint): Promise<void> {
  if (amount === 0n) return;
  const erc20 = AgoraToken__factory.connect(token, owner);
  if ((await erc20.allowance(await owner.getAddress(), spender)) < amount) await (await erc20.approve(spender, amount)).wait();
}
