/**
 * One computeEpoch benchmark case, run in its own process so its peak memory is its own:
 *   node -r ts-node/register/transpile-only bench/epochCase.ts <shape> <n> <fast|reference> <runs>
 * Prints one JSON line: median and first-call milliseconds (the first includes JIT warm-up), peak
 * resident memory, and the root (to compare).
 */
import { performance } from "node:perf_hooks";
import { computeEpoch } from "../sdk/src/ranking/epoch";
import { computeEpochReference } from "../sdk/src/ranking/reference";
import { buildEmissionTree } from "../sdk/src/ranking/merkle";
import { mulberry32, newcomerMeshOnCore, newcomersOnCore, tightlyConnected } from "../sdk/src/ranking/generators";

const [shape, nArg, impl, runsArg] = process.argv.slice(2);
const n = Number(nArg);
const runs = Number(runsArg ?? 1);
const random = mulberry32(n * 31 + shape.length);
const weights =
  shape === "single-class"
    ? tightlyConnected(n, random)
    : shape === "mostly-transient"
      ? newcomersOnCore(n, Math.max(4, Math.floor(n / 32)), 8, random)
      : shape === "transient-component"
        ? newcomerMeshOnCore(n, Math.max(4, Math.floor(n / 32)), 8, random)
        : (() => {
          throw new Error(`unknown shape ${shape}`);
        })();
const stake = Array.from({ length: n }, () => BigInt(1 + Math.floor(random() * 1e6)) * 10n ** 15n);
const params = { rho: 10n * 10n ** 18n, theta: 0.3, tau: 10n ** 16n };
const baselineRss = process.resourceUsage().maxRSS;

const times: number[] = [];
let root = "";
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  if (impl === "fast") {
    root = computeEpoch({ weights, stake, params }).root;
  } else {
    root = buildEmissionTree(computeEpochReference({ weights, stake, params }).emission).root;
  }
  times.push(performance.now() - t0);
}
const first = times[0];
times.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    shape,
    n,
    impl,
    runs,
    ms: times[Math.floor(times.length / 2)],
    firstMs: first,
    peakMB: process.resourceUsage().maxRSS / 1024,
    baselineMB: baselineRss / 1024,
    root,
  }) + "\n",
);
