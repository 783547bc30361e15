/**
 * `npm start`: the main job. Deploys every Agora contract on the network Hardhat runs (the
 * embedded one by default; `npx hardhat run scripts/start.ts --network localhost` for a running
 * `hardhat node`) and runs the tour, printing what happens.
 */
import hre from "hardhat";
import { deployAgora } from "../deploy/agora";
import { runRankingScenario } from "./ranking";
import { DEFAULT_CABAL, runCabalScenario, summarizeCabal } from "./cabal";
import { defaultScenarios, runJobSimulation } from "./jobs";
import { writeEconomicsPlots } from "./economics";
import { logDeviationTable, runDelegationScenario } from "./delegation";
import { runCollaborationScenario } from "./collaboration";
import path from "node:path";

async function main(): Promise<void> {
  const log = (line: string) => console.log(line);
  const [treasury, ...others] = await hre.ethers.getSigners();
  const embedded = hre.network.name === "hardhat";
  log(`Agora tour on network "${hre.network.name}" (chain ${(await hre.ethers.provider.getNetwork()).chainId}).`);
  const deployment = await deployAgora(treasury, { network: hre.network.name, addressBookDir: embedded ? false : undefined });
  for (const [name, c] of Object.entries(deployment.book.contracts)) log(`  deployed ${name} at ${c.address}`);
  if (deployment.addressBookFile) log(`  address book: ${deployment.addressBookFile}`);

  log("\n== Ranking market: peers stake, set weights and agree on each epoch's emission ==\n");
  await runRankingScenario(deployment, treasury, others.slice(0, 6), log);

  log("\n== Cabal resistance: a disjoint 49% cabal against a tightly connected 51% (whitepaper §10) ==\n");
  const cabal = await runCabalScenario(treasury, log, DEFAULT_CABAL);
  log(summarizeCabal(cabal));

  log("\n== Job market: bots for every role run jobs on chain; realized utilities beside the analytic ones ==\n");
  for (const scenario of defaultScenarios(Number(process.env.AGORA_JOBS ?? 30))) {
    await runJobSimulation(treasury, scenario, (line) => log(line + "\n"));
  }
  log("The notebook's figures:");
  writeEconomicsPlots(path.resolve(__dirname, "..", "out"), log);

  log("\n== Delegation market: pay for the second-best service ==\n");
  await runDelegationScenario(treasury, Number(process.env.AGORA_DELEGATION_T ?? 20_000), log);
  log("\nThe toy game's deviations, simulated (provider 0's strategy against honest others):");
  logDeviationTable([1e4, 1e5, 1e6], log);

  log("\n== Collaboration contracts: a menu of (contribution, model reward) for parties with private costs ==\n");
  await runCollaborationScenario(treasury, log, path.resolve(__dirname, "..", "out"));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
