/**
 * `npm run gas:snapshot`: measures the benchmark gas table and writes it to bench/gas-snapshot.json.
 * Run it deliberately when a change of gas is intended, and commit the file with the change; the
 * gas budget test (test/gas/budgets.test.ts) fails when any entry rises more than 5% over it.
 */
import fs from "node:fs";
import { GAS_SNAPSHOT_FILE, gasTable } from "./gasTable";

async function main(): Promise<void> {
  const table = await gasTable();
  const sorted = Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b)));
  fs.writeFileSync(GAS_SNAPSHOT_FILE, JSON.stringify(sorted, null, 2) + "\n");
  console.log(`wrote ${Object.keys(sorted).length} entries to ${GAS_SNAPSHOT_FILE}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
