import { Command } from "commander";
import { formatEther } from "ethers";
import { AgoraError } from "../errors";
import { DEFAULT_DEPLOYMENTS_DIR } from "../chain/addressBook";
import { ValidatorError } from "../chain/ranking";
import { decodeRevert } from "../chain/revert";
import { CliError } from "./connect";
import { CliContext } from "./context";
import { walletCommands } from "./commands/wallet";
import { devnetCommands } from "./commands/devnet";
import { rankingCommands } from "./commands/ranking";
import { jobCommands } from "./commands/jobs";
import { collaborationCommands } from "./commands/collaboration";
import { delegationCommands } from "./commands/delegation";
import { analysisCommands } from "./commands/analysis";

/**
 * The `agora` command line. `argv` as in process.argv. Exit status: 0 success, 1 an error (printed
 * as one line `agora: ...`), 2 a usage error.
 */
export async function main(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const program = buildProgram(out);
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

/** Every command of the CLI, wired to print through `out`. */
export function buildProgram(out: (line: string) => void = console.log): Command {
  const program = new Command()
    .name("agora")
    .description("Agora: an on-chain market for machine intelligence")
    .option("--rpc <url>", "JSON-RPC endpoint", process.env.AGORA_RPC_URL ?? "http://127.0.0.1:8545")
    .option("--deployments <dir>", "folder of address books (<chainId>.json)", DEFAULT_DEPLOYMENTS_DIR)
    .option("--keystore <dir>", "folder of wallet keystores (default: AGORA_KEYSTORE or ~/.agora/wallets)")
    .option("--wallet <name>", "act as this keystore wallet (password: AGORA_PASSWORD or asked)")
    .option("--private-key <hex>", "act as this key instead (default: AGORA_PRIVATE_KEY)")
    .option("--json", "print results as JSON lines, for scripts")
    .exitOverride();
  const ctx = new CliContext(program, out);
  walletCommands(program, ctx);
  devnetCommands(program, ctx);
  rankingCommands(program, ctx);
  jobCommands(program, ctx);
  delegationCommands(program, ctx);
  collaborationCommands(program, ctx);
  analysisCommands(program, ctx);
  program.commands.forEach(function override(c: Command): void {
    c.exitOverride();
    for (const option of c.options) {
      // Token amounts default to 18-decimal bigints, which commander's help cannot print itself.
      if (typeof option.defaultValue === "bigint" && option.defaultValueDescription === undefined) {
        option.defaultValueDescription = formatEther(option.defaultValue).replace(/\.0$/, "");
      }
    }
    c.commands.forEach(override);
  });
  return program;
}

/** The one line the CLI prints for an error. */
export function oneLine(error: unknown): string {
  if (error instanceof CliError || error instanceof ValidatorError || error instanceof AgoraError) return error.message;
  const decoded = decodeRevert(error);
  if (decoded) return `the transaction reverted: ${decoded}`;
  const e = error as { shortMessage?: string; message?: string; reason?: string };
  return (e.shortMessage ?? e.reason ?? e.message ?? String(error)).split("\n")[0];
}
