import { rankingGas } from "./gasRanking";
import { jobMarketGas } from "./gasJobs";
import { delegationGas } from "./gasDelegation";
import { collaborationGas } from "./gasCollaboration";

/** Where the committed gas snapshot lives (`npm run gas:snapshot` rewrites it). */
export const GAS_SNAPSHOT_FILE = "bench/gas-snapshot.json";

/**
 * The benchmark gas table as one flat record, "market: operation" -> gas: the ranking market on
 * 16 and 256 peers (with weight rows), every job market call and path, a delegation session of
 * T = 10,000 (settlement gas by phase, max and mean), and a collaboration round. The gas budget
 * test compares it with the committed snapshot.
 */
export async function gasTable(): Promise<Record<string, number>> {
  const table: Record<string, number> = {};
  const put = (key: string, gas: bigint | number) => {
    if (key in table) throw new Error(`gas table: "${key}" twice`);
    table[key] = Number(gas);
  };
  for (const [n, weights] of [
    [16, false],
    [256, true],
  ] as const) {
    for (const r of await rankingGas(n, weights)) put(`ranking, ${n} peers: ${r.operation}`, r.gas);
  }
  const jobs = await jobMarketGas();
  for (const r of jobs.rows) {
    put(`jobs: ${r.operation} (first job)`, r.first);
    put(`jobs: ${r.operation} (second job)`, r.steady);
  }
  for (const p of jobs.paths) put(`jobs: ${p.path}`, p.gas);
  const delegation = await delegationGas(10_000);
  for (const p of delegation.perPhase) {
    put(`delegation, T = 10000: settle in ${p.phase} (max)`, p.max);
    put(`delegation, T = 10000: settle in ${p.phase} (mean)`, p.mean);
  }
  put("delegation, T = 10000: openSession", delegation.overhead.open);
  put("delegation, T = 10000: commitPlan", delegation.overhead.commitPlan);
  put("delegation, T = 10000: closeSession", delegation.overhead.close);
  for (const r of await collaborationGas()) put(`collaboration: ${r.operation}`, r.gas);
  return table;
}
