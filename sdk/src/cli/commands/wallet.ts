import fs from "node:fs";
import { Command } from "commander";
import { CliContext } from "../context";
import { CliError } from "../connect";
import { createWallet, importWallet, listWallets, readPassword } from "../wallets";
import { integer } from "../parse";

/** The secret to import: AGORA_SECRET, else stdin when piped, else asked on the terminal. */
async function readSecret(): Promise<string> {
  if (process.env.AGORA_SECRET) return process.env.AGORA_SECRET;
  if (!process.stdin.isTTY) {
    const piped = fs.readFileSync(0, "utf8").trim();
    if (piped) return piped;
    throw new CliError("no secret to import: pipe the private key or mnemonic to stdin, or set AGORA_SECRET");
  }
  return readPassword("private key or mnemonic: ");
}

export function walletCommands(program: Command, ctx: CliContext): void {
  const wallet = program.command("wallet").description("named wallets kept as encrypted JSON keystores (--keystore DIR)");

  wallet
    .command("new <name>")
    .description("create a random wallet and print its address and mnemonic (write the mnemonic down)")
    .action(async (name: string) => {
      const password = await readPassword(`password for "${name}": `, true);
      const entry = await createWallet(ctx.options.keystore, name, password);
      ctx.emit({ ...entry }, [`wallet ${entry.name}: ${entry.address} (${entry.file})`, `mnemonic: ${entry.mnemonic}`]);
    });

  wallet
    .command("import <name>")
    .description("import a private key or a mnemonic (from AGORA_SECRET, stdin, or asked)")
    .option("--index <i>", "account index of a mnemonic (m/44'/60'/0'/0/i)", integer("--index"), 0)
    .action(async (name: string, opts: { index: number }) => {
      const secret = await readSecret();
      const password = await readPassword(`password for "${name}": `, true);
      const entry = await importWallet(ctx.options.keystore, name, secret, password, opts.index);
      ctx.emit({ ...entry }, `wallet ${entry.name}: ${entry.address} (${entry.file})`);
    });

  wallet
    .command("list")
    .description("list the wallets of the keystore")
    .action(() => {
      const wallets = listWallets(ctx.options.keystore);
      ctx.emit(
        { keystore: ctx.options.keystore, wallets },
        wallets.length ? wallets.map((w) => `${w.name.padEnd(16)} ${w.address}`) : `no wallets in ${ctx.options.keystore}: create one with \`agora wallet new NAME\``,
      );
    });
}
