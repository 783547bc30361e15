/**
 * `npm run bench`: gas of the ranking market on the embedded network. Prints Markdown tables;
 * the figures go to docs/BENCHMARKS.md with the command that produced them.
 */
import { markdownTable } from "./table";
import { rankingGas } from "./gasRanking";

async function main(): Promise<void> {
  const only = process.env.AGORA_BENCH;
  if (!only || only === "gas") {
    for (const n of [16, 256, 1024]) {
      console.log(`\n## Ranking market gas, ${n} peers\n`);
      const rows = await rankingGas(n, n === 256);
      console.log(
        markdownTable(
          ["operation", "gas", "floor", "gas / floor"],
          rows.map((r) => [r.operation, r.gas, r.floor ?? "", r.floor ? (Number(r.gas) / Number(r.floor)).toFixed(3) : ""]),
        ),
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
