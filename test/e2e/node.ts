import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet } from "ethers";

const ROOT = path.resolve(__dirname, "..", "..");
/** Hardhat's default accounts (the node's funded wallets). */
const MNEMONIC = "test test test test test test test test test test test junk";

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningNode {
  url: string;
  provider: JsonRpcProvider;
  wallet(i: number): Wallet;
  stop(): Promise<void>;
}

/**
 * Starts a devnet as a separate process on a free loopback port and waits until it answers: `npx
 * hardhat node`, or with `via: "agora"` the CLI's own `agora node` (which runs hardhat node under it).
 */
export async function startHardhatNode(options: { via?: "hardhat" | "agora" } = {}): Promise<RunningNode> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const command =
    options.via === "agora"
      ? [path.join(ROOT, "bin", "agora.js"), "node", "--port", String(port)]
      : [path.join(ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)];
  const child: ChildProcess = spawn(process.execPath, command, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  // cacheTimeout -1: ethers otherwise reuses a nonce read within 250 ms for the next transaction.
  const provider = new JsonRpcProvider(url, 31337, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await provider.getBlockNumber();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hardhat node did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const mnemonic = Mnemonic.fromPhrase(MNEMONIC);
  return {
    url,
    provider,
    wallet: (i) => new Wallet(HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`).privateKey, provider),
    stop: () =>
      new Promise<void>((resolve) => {
        provider.destroy();
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running `agora` CLI. */
export interface CliProcess {
  /** Resolves with the first line of its output matching `pattern`; rejects if it exits before printing one. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** Resolves with its exit code and output once it exits. */
  exited: Promise<CliResult>;
}

/**
 * Starts the `agora` CLI in a child process. A test that must not let the chain move before the
 * CLI is ready (a validator's windows last a few blocks; a loaded machine may take seconds to start
 * it) waits for its first line before mining.
 */
export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "agora.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiting = new Set<{ pattern: RegExp; resolve(line: string): void }>();
  const matchLines = () => {
    for (const w of waiting) {
      const line = stdout.split("\n").find((l) => w.pattern.test(l));
      if (line === undefined) continue;
      waiting.delete(w);
      w.resolve(line);
    }
  };
  child.stdout.on("data", (d) => {
    stdout += d;
    matchLines();
  });
  child.stderr.on("data", (d) => (stderr += d));
  // "close", not "exit": every byte of the output has been read by then.
  const exited = new Promise<CliResult>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return {
    exited,
    waitForLine: (pattern) =>
      new Promise<string>((resolve, reject) => {
        waiting.add({ pattern, resolve });
        matchLines();
        // Once a line matched this rejection is a no-op.
        void exited.then((r) => reject(new Error(`agora ${args.join(" ")} exited (${r.code}) before printing a line matching ${pattern}:\n${r.stdout}${r.stderr}`)));
      }),
  };
}

/** Runs the `agora` CLI in a child process; resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).exited;
}
