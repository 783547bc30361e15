/**
 * `npm run bench`: gas of the ranking market on the embedded network. Prints Markdown tables;
 * the figures go to docs/BENCHMARKS.md with the command that produced them.
 */
import { formatTable } from "../sdk/src/format";
import { rankingGas } from "./gasRanking";

async function main(): Promise<void> {
  const only = process.env.AGORA_BENCH;
  if (!only || only === "gas") {
    for (const n of [16, 256, 1024]) {
      console.log(`\n## Ranking market gas, ${n} peers\n`);
      const rows = await rankingGas(n, n === 256);
      console.log(
        formatTable(
          ["operation", "gas", "floor", "gas / floor"],
          rows.map((r) => [r.operation, r.gas, r.floor ?? "", r.floor ? (Number(r.gas) / Number(r.floor)).toFixed(3) : ""]),
          true,
        ),
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
