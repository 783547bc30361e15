import { Command } from "commander";
import { JsonRpcProvider, Wallet } from "ethers";
import { Connection, connect, connectNode, walletFromKey } from "./connect";
import { DEFAULT_KEYSTORE, loadWallet, readPassword } from "./wallets";

export interface GlobalOptions {
  rpc: string;
  deployments: string;
  keystore: string;
  wallet?: string;
  privateKey?: string;
  json?: boolean;
}

/** What every command shares: the global options, the connection, the wallet, the output. */
export class CliContext {
  constructor(
    private readonly program: Command,
    readonly out: (line: string) => void,
  ) {}

  get options(): GlobalOptions {
    const o = this.program.opts<GlobalOptions>();
    return { ...o, keystore: o.keystore ?? process.env.AGORA_KEYSTORE ?? DEFAULT_KEYSTORE };
  }

  /** The node and the address book of its chain. */
  connect(): Promise<Connection> {
    return connect(this.options.rpc, this.options.deployments);
  }

  connectNode(): Promise<{ provider: JsonRpcProvider; chainId: number }> {
    return connectNode(this.options.rpc);
  }

  /** The acting wallet: `--wallet NAME` (keystore), else `--private-key`, else AGORA_PRIVATE_KEY. */
  async signer(provider: JsonRpcProvider): Promise<Wallet> {
    const { wallet, privateKey, keystore } = this.options;
    if (wallet) {
      const password = await readPassword(`password of wallet "${wallet}": `);
      return (await loadWallet(keystore, wallet, password)).connect(provider);
    }
    return walletFromKey(privateKey ?? process.env.AGORA_PRIVATE_KEY, provider);
  }

  /** Prints `data` as one JSON line under --json, else the text. */
  emit(data: Record<string, unknown>, text: string | string[]): void {
    if (this.options.json) this.out(JSON.stringify(data, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
    else for (const line of Array.isArray(text) ? text : [text]) this.out(line);
  }
}
