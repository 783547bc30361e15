import type { Provider } from "ethers";

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
