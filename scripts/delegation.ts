/**
 * The delegation market end to end (SPEC §3): a user delegates T queries to three providers on
 * chain, one of them substituting a cheaper model (the notebook's run_ours strategy), with a
 * settlement per block of queries and a progress bar; then the deviation table of the toy game.
 *
 *   npx hardhat run scripts/delegation.ts      (AGORA_DELEGATION_T sets T; default 100000)
 */
import hre from "hardhat";
import { parseEther, Signer } from "ethers";
import { SingleBar, Presets } from "cli-progress";
import { deployAgora } from "../deploy/agora";
import { registerModels, runDelegationSession, SessionPhase, SessionSummary } from "../sdk/src/chain/delegation";
import { deviationTable, STRATEGIES } from "../sdk/src/delegation/simulate";
import { NOTEBOOK_MODELS, NOTEBOOK_OTHERS, toyGame } from "../sdk/src/delegation/toy";
import { formatTable, formatTokens } from "../sdk/src/format";
import { devnetWallet } from "../sdk/src/chain/devnet";


export async function runDelegationScenario(treasury: Signer, T: number, log: (line: string) => void, progress = process.stdout.isTTY): Promise<SessionSummary> {
  const provider = treasury.provider!;
  const { token, delegation } = await deployAgora(treasury, { addressBookDir: false, initialSupply: parseEther("10000000") });
  const user = await devnetWallet(provider);
  await (await token.connect(treasury).transfer(await user.getAddress(), parseEther("1000000"))).wait();
  const models = [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS];
  const strategies = [STRATEGIES.both, STRATEGIES.honest, STRATEGIES.honest];
  const providers = [];
  for (let i = 0; i < 3; i++) {
    const signer = await devnetWallet(provider);
    await registerModels(delegation, signer, models[i]);
    providers.push({ signer, models: models[i], strategy: strategies[i] });
  }
  log(`A user delegates T = ${T} queries to 3 providers; provider 0 substitutes its second model, billed as its best, after exploration.`);
  const bar = progress ? new SingleBar({ format: "  {bar} {value}/{total} queries | {phase}" }, Presets.shades_classic) : undefined;
  bar?.start(T, 0, { phase: "exploration" });
  const summary = await runDelegationSession(delegation, user, providers, {
    T,
    eps: 0.3,
    L: 1500,
    rewardScale: 5,
    eta: 0.9,
    budget: parseEther("1000000"),
    duration: 86_400,
    seed: 7,
    onProgress: (done, _total, phase) => bar?.update(done, { phase: SessionPhase[phase] }),
  });
  bar?.stop();
  const gas = summary.settlements.map((s) => Number(s.gasUsed));
  log(
    `B = ${summary.B}; plan: best provider ${summary.plan.best}, R = ${summary.plan.R}, threshold ${summary.plan.threshold.toFixed(4)} ` +
      `(u2 = ${summary.plan.secondBestUtility.toFixed(4)}); ${summary.stoppedEarly ? "stopped early" : "no early stop"}; ` +
      `${summary.settlements.length} settlements, ${Math.min(...gas)}-${Math.max(...gas)} gas each.`,
  );
  log(
    formatTable(
      ["provider", "strategy", "queries", "paid (tokens)", "provider utility"],
      summary.delegations.map((d, i) => [i, i === 0 ? "substitute (run_ours)" : "honest", d, formatTokens(summary.paid[i], 2), summary.providerUtility[i].toFixed(2)]),
    ),
  );
  const delegated = summary.delegations.reduce((a, b) => a + b, 0);
  log(`User utility ${summary.userUtility.toFixed(2)} over ${delegated} queries (${(summary.userUtility / delegated).toFixed(4)} per query; the second-best provider gives 3.5); unused budget returned: ${formatTokens(summary.refund, 2)} tokens.`);
  return summary;
}

/** The toy game's deviation table (SPEC §3.1) for the given T. */
export function logDeviationTable(Ts: number[], log: (line: string) => void): void {
  const rows = deviationTable(toyGame, Ts);
  log(
    formatTable(
      ["T", "provider 0 plays", "its utility", "gain over honest, / honest revenue", "user utility per query", "u2", "early stop"],
      rows.map((r) => [r.T, r.strategy, r.providerUtility.toFixed(1), r.gainOverHonestRevenue.toFixed(4), r.userUtilityPerQuery.toFixed(4), r.secondBestUtility.toFixed(2), r.stoppedEarly ? "yes" : "no"]),
    ),
  );
}

if (require.main === module) {
  (async () => {
    const [treasury] = await hre.ethers.getSigners();
    await runDelegationScenario(treasury, Number(process.env.AGORA_DELEGATION_T ?? 100_000), console.log);
    console.log("\nThe toy game's deviations (simulated, no chain):");
    logDeviationTable([1e4, 1e5, 1e6], console.log);
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
