/**
 * Named wallets for the CLI: encrypted JSON keystores (the Web3 Secret Storage format ethers
 * writes), one file `<name>.json` per wallet in the keystore folder (`--keystore`, else
 * `AGORA_KEYSTORE`, else `~/.agora/wallets`). Passwords come from `AGORA_PASSWORD` or a prompt.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { decryptKeystoreJson, encryptKeystoreJson, HDNodeWallet, Mnemonic, Wallet } from "ethers";
import { CliError } from "./connect";

export const DEFAULT_KEYSTORE = path.join(os.homedir(), ".agora", "wallets");

/** scrypt cost of new keystores: ethers' default 2^17, or AGORA_SCRYPT_N (tests use a cheap one). */
function scryptN(): number {
  const raw = process.env.AGORA_SCRYPT_N;
  if (raw === undefined) return 1 << 17;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2 || (n & (n - 1)) !== 0) throw new CliError(`AGORA_SCRYPT_N is ${raw}: it must be a power of two`);
  return n;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function walletFile(dir: string, name: string): string {
  if (!NAME.test(name)) throw new CliError(`wallet name "${name}" is not valid: use letters, digits, '.', '_' or '-' (at most 64)`);
  return path.join(dir, `${name}.json`);
}

export interface WalletEntry {
  name: string;
  address: string;
  file: string;
}

async function save(dir: string, name: string, wallet: Wallet | HDNodeWallet, password: string): Promise<WalletEntry> {
  const file = walletFile(dir, name);
  if (fs.existsSync(file)) throw new CliError(`a wallet named "${name}" already exists in ${dir}: choose another name`);
  if (password.length === 0) throw new CliError("the password is empty: choose a non-empty password");
  const account = {
    address: wallet.address,
    privateKey: wallet.privateKey,
    mnemonic: "mnemonic" in wallet && wallet.mnemonic ? { entropy: wallet.mnemonic.entropy, path: wallet.path ?? undefined } : undefined,
  };
  const json = await encryptKeystoreJson(account, password, { scrypt: { N: scryptN() } });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, json, { mode: 0o600, flag: "wx" });
  return { name, address: wallet.address, file };
}

/** A new random wallet (with a mnemonic), saved encrypted. */
export async function createWallet(dir: string, name: string, password: string): Promise<WalletEntry & { mnemonic: string }> {
  const wallet = Wallet.createRandom();
  const entry = await save(dir, name, wallet, password);
  return { ...entry, mnemonic: wallet.mnemonic!.phrase };
}

/** Imports a hex private key or a BIP-39 mnemonic (first account, m/44'/60'/0'/0/index). */
export async function importWallet(dir: string, name: string, secret: string, password: string, index = 0): Promise<WalletEntry> {
  const trimmed = secret.trim();
  let wallet: Wallet | HDNodeWallet;
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(trimmed)) {
    wallet = new Wallet(trimmed.startsWith("0x") ? trimmed : `0x${trimmed}`);
  } else if (trimmed.split(/\s+/).length >= 12) {
    if (!Mnemonic.isValidMnemonic(trimmed.split(/\s+/).join(" "))) throw new CliError("the mnemonic is not a valid BIP-39 phrase: check the words and their order");
    wallet = HDNodeWallet.fromPhrase(trimmed.split(/\s+/).join(" "), undefined, `m/44'/60'/0'/0/${index}`);
  } else {
    throw new CliError("the secret is neither a 32-byte hex private key nor a mnemonic of 12 or more words");
  }
  return save(dir, name, wallet, password);
}

export function listWallets(dir: string): WalletEntry[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const address = (JSON.parse(fs.readFileSync(file, "utf8")) as { address?: string }).address ?? "";
      return { name: f.slice(0, -5), address: address.startsWith("0x") ? address : `0x${address}`, file };
    });
}

/** Decrypts a named wallet; a wrong password is a CliError. */
export async function loadWallet(dir: string, name: string, password: string): Promise<Wallet> {
  const file = walletFile(dir, name);
  if (!fs.existsSync(file)) throw new CliError(`no wallet named "${name}" in ${dir}: create one with \`agora wallet new ${name}\` or list them with \`agora wallet list\``);
  try {
    const account = await decryptKeystoreJson(fs.readFileSync(file, "utf8"), password);
    return new Wallet(account.privateKey);
  } catch (error) {
    if (String((error as Error).message).includes("incorrect password")) throw new CliError(`wrong password for wallet "${name}": check AGORA_PASSWORD or type it again`);
    throw new CliError(`the keystore ${file} cannot be read: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** The password: AGORA_PASSWORD, else asked on the terminal without echo (twice when `confirm`). */
export async function readPassword(prompt: string, confirm = false): Promise<string> {
  const fromEnv = process.env.AGORA_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) throw new CliError("no password: set AGORA_PASSWORD or run the command in a terminal to be asked");
  const first = await ask(prompt);
  if (confirm && (await ask("repeat the password: ")) !== first) throw new CliError("the two passwords differ: run the command again");
  return first;
}

function ask(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const muted = rl as unknown as { _writeToOutput(s: string): void; output: NodeJS.WriteStream };
    process.stderr.write(prompt);
    muted._writeToOutput = () => undefined;
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}
