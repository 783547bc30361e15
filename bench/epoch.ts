import { execFileSync } from "node:child_process";
import path from "node:path";

export interface EpochBenchRow {
  shape: string;
  n: number;
  impl: "fast" | "reference";
  runs: number;
  ms: number;
  firstMs: number;
  peakMB: number;
  baselineMB: number;
  root: string;
}

/** Runs one case in a child process (fresh heap, own peak memory). */
export function runEpochCase(shape: string, n: number, impl: "fast" | "reference", runs: number): EpochBenchRow {
  const out = execFileSync(process.execPath, ["--max-old-space-size=16384", "-r", "ts-node/register/transpile-only", path.join(__dirname, "epochCase.ts"), shape, String(n), impl, String(runs)], {
    encoding: "utf8",
    cwd: path.resolve(__dirname, ".."),
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as EpochBenchRow;
}
