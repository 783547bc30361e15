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
import { runVerdictTour } from "./verdicts";
import { formatTable, formatTokens } from "../sdk/src/format";

interface Section {
  title: string;
  blocks: number;
  transactions: number;
  gas: bigint;
  outcome: string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const log = (line: string) => console.log(line);
  const provider = hre.ethers.provider;
  const [treasury, ...others] = await hre.ethers.getSigners();
  const embedded = hre.network.name === "hardhat";
  const outDir = path.resolve(__dirname, "..", "out");
  const sections: Section[] = [];
  /** Runs one part of the tour and keeps its blocks, transactions and gas for the summary. */
  const section = async (part: string, title: string, run: () => Promise<string>) => {
    log(`\n== ${title} ==\n`);
    const from = await provider.getBlockNumber();
    const outcome = await run();
    const to = await provider.getBlockNumber();
    let transactions = 0;
    let gas = 0n;
    for (let b = from + 1; b <= to; b++) {
      const block = (await provider.getBlock(b))!;
      transactions += block.transactions.length;
      gas += block.gasUsed;
    }
    sections.push({ title: part, blocks: to - from, transactions, gas, outcome });
  };

  log(`Agora tour on network "${hre.network.name}" (chain ${(await provider.getNetwork()).chainId}).`);
  const deployment = await deployAgora(treasury, { network: hre.network.name, addressBookDir: embedded ? false : undefined });
  for (const [name, c] of Object.entries(deployment.book.contracts)) log(`  deployed ${name} at ${c.address}`);
  if (deployment.addressBookFile) log(`  address book: ${deployment.addressBookFile}`);
  const plots: string[] = [];

  await section("ranking", "Ranking market: peers stake, set weights and agree on each epoch's emission", async () => {
    const supply = await deployment.token.totalSupply();
    await runRankingScenario(deployment, treasury, others.slice(0, 6), log);
    const minted = (await deployment.token.totalSupply()) - supply;
    return `6 peers; 2 epochs final; ${formatTokens(minted, 4)} AGORA minted into stake`;
  });

  await section("cabal", "Cabal resistance: a disjoint 49% cabal against a tightly connected 51% (whitepaper §10)", async () => {
    const cabal = await runCabalScenario(treasury, log, DEFAULT_CABAL);
    log(summarizeCabal(cabal));
    plots.push(path.join(outDir, "cabal.png"));
    return summarizeCabal(cabal).split("\n")[0];
  });

  await section("job verdicts", "Job market: one job for each verdict of the table, every role on chain", async () => {
    const rows = await runVerdictTour(deployment, treasury, others.slice(6, 10), log);
    const earned = rows.reduce((a, r) => ({ jc: a.jc + r.net.jc, rp: a.rp + r.net.rp, mediator: a.mediator + r.net.mediator, solver: a.solver + r.net.solver }), { jc: 0n, rp: 0n, mediator: 0n, solver: 0n });
    return `6 jobs, 6 verdicts; nets: JC ${formatTokens(earned.jc, 2)}, RP ${formatTokens(earned.rp, 2)}, mediator ${formatTokens(earned.mediator, 2)}, solver ${formatTokens(earned.solver, 2)}`;
  });

  await section("job bots", "Job market: bots for every role run jobs on chain; realized utilities beside the analytic ones", async () => {
    const jobs = Number(process.env.AGORA_JOBS ?? 30);
    for (const scenario of defaultScenarios(jobs)) await runJobSimulation(treasury, scenario, (line) => log(line + "\n"));
    log("The notebook's figures:");
    plots.push(...writeEconomicsPlots(outDir, log));
    return `${2 * jobs} jobs by bots in 2 scenarios; realized utilities within their intervals`;
  });

  await section("delegation", "Delegation market: pay for the second-best service", async () => {
    const summary = await runDelegationScenario(treasury, Number(process.env.AGORA_DELEGATION_T ?? 20_000), log);
    log("\nThe toy game's deviations, simulated (provider 0's strategy against honest others):");
    logDeviationTable([1e4, 1e5, 1e6], log);
    return `${summary.delegations.reduce((a, b) => a + b, 0)} queries; provider 0 (substituting) paid ${formatTokens(summary.paid[0], 2)}; ${formatTokens(summary.refund, 2)} refunded`;
  });

  await section("collaboration", "Collaboration contracts: a menu of (contribution, model reward) for parties with private costs", async () => {
    await runCollaborationScenario(treasury, log, outDir);
    plots.push(path.join(outDir, "collaboration-accuracy.png"), path.join(outDir, "collaboration-rent.png"));
    return "the optimal menu of the paper's scenario; a delivered round, a defaulted one";
  });

  log("\n== Summary ==\n");
  log(
    formatTable(
      ["part", "blocks", "transactions", "gas", "what happened"],
      [
        ...sections.map((s) => [s.title, s.blocks, s.transactions, s.gas.toString(), s.outcome]),
        ["all", sections.reduce((a, s) => a + s.blocks, 0), sections.reduce((a, s) => a + s.transactions, 0), sections.reduce((a, s) => a + s.gas, 0n).toString(), ""],
      ],
    ),
  );
  log(`\nPlots:\n${plots.map((p) => `  ${p}`).join("\n")}`);
  log(`\nThe tour took ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
