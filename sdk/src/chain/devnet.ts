import { HDNodeWallet, Wallet, type Provider } from "ethers";

interface DevnetProvider extends Provider {
  send(method: string, params: unknown[]): Promise<unknown>;
}

/**
 * Mines empty blocks until the latest block is `target` (Hardhat's embedded network or a
 * `hardhat node`; public networks cannot be told to mine).
 */
export async function mineTo(provider: Provider, target: bigint | number): Promise<void> {
  const head = await provider.getBlockNumber();
  const missing = Number(target) - head;
  if (missing > 0) await (provider as DevnetProvider).send("hardhat_mine", ["0x" + missing.toString(16)]);
}

/** A new random wallet with 100 ETH for gas, set directly on the devnet. */
export async function devnetWallet(provider: Provider): Promise<HDNodeWallet> {
  const wallet = Wallet.createRandom().connect(provider);
  await (provider as DevnetProvider).send("hardhat_setBalance", [wallet.address, "0x56bc75e2d63100000"]);
  return wallet;
}

/** Mines one block at unix time `timestamp`. */
export async function mineAtTime(provider: Provider, timestamp: bigint | number): Promise<void> {
  await (provider as DevnetProvider).send("evm_setNextBlockTimestamp", [Number(timestamp)]);
  await (provider as DevnetProvider).send("evm_mine", []);
}

/** Moves the devnet's clock `seconds` ahead and mines a block. */
export async function advanceTime(provider: Provider, seconds: number): Promise<void> {
  await (provider as DevnetProvider).send("evm_increaseTime", [seconds]);
  await (provider as DevnetProvider).send("evm_mine", []);
}
