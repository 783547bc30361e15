import { FetchRequest, JsonRpcProvider, Wallet } from "ethers";
import { AgoraError } from "../errors";
import { AddressBook, DEFAULT_DEPLOYMENTS_DIR, readAddressBook } from "../chain/addressBook";

/** An error the CLI prints as one line and exits with status 1. */
export class CliError extends AgoraError {}

export interface Connection {
  provider: JsonRpcProvider;
  chainId: number;
  book: AddressBook;
}

/**
 * Connects to a JSON-RPC node and loads the address book of its chain, checking that the
 * contracts it names are really there. Each failure is a CliError that says what to do.
 */
export async function connect(rpcUrl: string, deploymentsDir = DEFAULT_DEPLOYMENTS_DIR): Promise<Connection> {
  const { provider, chainId } = await connectNode(rpcUrl);
  let book: AddressBook;
  try {
    book = readAddressBook(chainId, deploymentsDir);
  } catch {
    throw new CliError(`no Agora deployment for chain ${chainId} in ${deploymentsDir}: run \`agora deploy\` (or pass --deployments DIR)`);
  }
  for (const [name, { address }] of Object.entries(book.contracts)) {
    if ((await provider.getCode(address)) === "0x") {
      throw new CliError(
        `no ${name} contract at ${address} on chain ${chainId}: the address book is stale (was the node restarted?); deploy again`,
      );
    }
  }
  return { provider, chainId, book };
}

/** Connects to a JSON-RPC node (no address book needed). */
export async function connectNode(rpcUrl: string): Promise<{ provider: JsonRpcProvider; chainId: number }> {
  const request = new FetchRequest(rpcUrl);
  request.timeout = 5000;
  request.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  request.setHeader("content-type", "application/json");
  let chainId: number;
  try {
    const response = await request.send();
    chainId = Number(BigInt((response.bodyJson as { result: string }).result));
  } catch {
    throw new CliError(`cannot reach a JSON-RPC node at ${rpcUrl} (is \`npx hardhat node\` running?)`);
  }
  // cacheTimeout -1: ethers otherwise reuses a nonce read within 250 ms for the next transaction.
  const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, cacheTimeout: -1 });
  return { provider, chainId };
}

/** A wallet from a hex private key. */
export function walletFromKey(key: string | undefined, provider: JsonRpcProvider): Wallet {
  if (!key) throw new CliError("no wallet: pass --wallet NAME (see `agora wallet list`) or --private-key HEX, or set AGORA_PRIVATE_KEY");
  try {
    return new Wallet(key.startsWith("0x") ? key : `0x${key}`, provider);
  } catch {
    throw new CliError("the private key is not a 32-byte hex string");
  }
}
