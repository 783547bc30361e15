import { Command, InvalidArgumentError } from "commander";
import { AgoraError } from "../errors";
import { DEFAULT_DEPLOYMENTS_DIR } from "../chain/addressBook";
import { formatEpochReport, rankingMarket, runValidator, ValidatorError } from "../chain/ranking";
import { CliError, connect, walletFromKey } from "./connect";
import { decodeRevert } from "../chain/revert";

const integer = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

/** The `agora` command line. `argv` as in process.argv. */
export async function main(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const program = new Command()
    .name("agora")
    .description("Agora: an on-chain market for machine intelligence")
    .option("--rpc <url>", "JSON-RPC endpoint", process.env.AGORA_RPC_URL ?? "http://127.0.0.1:8545")
    .option("--deployments <dir>", "folder of address books (<chainId>.json)", DEFAULT_DEPLOYMENTS_DIR)
    .option("--private-key <hex>", "wallet key (default: AGORA_PRIVATE_KEY)")
    .exitOverride();

  program
    .command("validator")
    .description("validate ranking epochs for one wallet until stopped: compute, commit, reveal, claim")
    .option("--epochs <n>", "stop after reporting this many epochs", integer("--epochs"))
    .option("--from-epoch <e>", "first epoch to serve (default: the oldest still open)", integer("--from-epoch"))
    .option("--poll <ms>", "how often to look for a new block", integer("--poll"), 1000)
    .action(async (opts: { epochs?: number; fromEpoch?: number; poll: number }) => {
      const global = program.opts<{ rpc: string; deployments: string; privateKey?: string }>();
      const { provider, chainId, book } = await connect(global.rpc, global.deployments);
      const wallet = walletFromKey(global.privateKey ?? process.env.AGORA_PRIVATE_KEY, provider);
      const market = rankingMarket(book, wallet);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      out(`validator ${wallet.address} on chain ${chainId}, ranking market ${await market.getAddress()}`);
      try {
        await runValidator(market, wallet, {
          epochs: opts.epochs,
          fromEpoch: opts.fromEpoch,
          pollMs: opts.poll,
          signal: controller.signal,
          onReport: (r) => out(formatEpochReport(r)),
          onRetry: (epoch, reason) => out(`epoch ${epoch}: transaction reverted (${reason}); retrying at the next block`),
        });
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
      out(controller.signal.aborted ? "stopped" : "done");
    });

  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") return 0;
    if (code?.startsWith("commander.")) return 2; // commander already printed the usage error
    console.error(`agora: ${oneLine(error)}`);
    if (process.env.AGORA_DEBUG) console.error(error);
    return 1;
  }
}

/** The one line the CLI prints for an error. */
export function oneLine(error: unknown): string {
  if (error instanceof CliError || error instanceof ValidatorError || error instanceof AgoraError) return error.message;
  const decoded = decodeRevert(error);
  if (decoded) return `the transaction reverted: ${decoded}`;
  const e = error as { shortMessage?: string; message?: string; reason?: string };
  return (e.shortMessage ?? e.reason ?? e.message ?? String(error)).split("\n")[0];
}
