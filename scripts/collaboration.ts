/**
 * Collaboration contracts end to end (SPEC §4, "Paid with Models"): the optimal menu of the
 * paper's scenario, a round on chain where ten parties pick their items and contribute (one does
 * not), the coordinator delivers the model and each party's quality share; a round whose
 * coordinator defaults; and the two-type study plotted under out/.
 *
 *   npx hardhat run scripts/collaboration.ts
 */
import hre from "hardhat";
import path from "node:path";
import { id as hashOf, parseEther, Signer } from "ethers";
import { deployAgora } from "../deploy/agora";
import { createRound, joinRound, menuOf } from "../sdk/src/chain/collaboration";
import { informationRent, solveCompleteInformation, solveContract, Contract } from "../sdk/src/collaboration/solve";
import { accuracy, valuation } from "../sdk/src/collaboration/model";
import { formatTable, formatTokens } from "../sdk/src/format";
import { lineChartSvg, writePlot } from "./lib/plot";
import { devnetWallet, mineAtTime } from "../sdk/src/chain/devnet";

const fixed = (x: number) => parseEther(x.toFixed(12));



export function describeContract(contract: Contract, costs: number[], log: (line: string) => void): void {
  log(
    formatTable(
      ["type", "cost", "contribution m", "model reward t", "tbar", "utility", "outside option", "binds"],
      contract.m.map((m, i) => [
        i + 1,
        costs[i].toFixed(3),
        m.toFixed(3),
        contract.t[i].toFixed(3),
        contract.expectedModelValue[i].toFixed(3),
        contract.utilities[i].toFixed(3),
        contract.outside[i].toFixed(3),
        [contract.binding.feasibility[i] ? "feasibility" : "", contract.binding.individualRationality[i] ? "IR" : "", contract.binding.monotonicity[i] ? "pooled with the next type" : ""].filter(Boolean).join(", ") || "-",
      ]),
    ),
  );
}

export async function runCollaborationScenario(treasury: Signer, log: (line: string) => void, outDir?: string): Promise<void> {
  const costs = [1, 0.85, 0.7, 0.55, 0.4];
  const probs = [0.2, 0.2, 0.2, 0.2, 0.2];
  const contract = solveContract({ costs, probs, N: 10, outside: [0, 0, 0, 0, 0] });
  log(`The paper's scenario (N = 10, five types, c = linspace(1, 0.4, 5), no outside options): expected accuracy ${contract.expectedAccuracy.toFixed(4)}.`);
  describeContract(contract, costs, log);
  const full = solveCompleteInformation({ costs, probs, N: 10, outside: [0, 0, 0, 0, 0] });
  log(
    `With public costs the coordinator would ask m = ${full.m.map((m) => m.toFixed(1)).join(", ")} (accuracy ${full.expectedAccuracy.toFixed(4)}); ` +
      `private costs cost it ${((full.expectedAccuracy - contract.expectedAccuracy) * 100).toFixed(2)} points of accuracy and pay the information rents ${informationRent(contract).map((r) => r.toFixed(2)).join(", ")}.`,
  );

  // On chain: ten parties, two of each type, each picking its own item.
  const provider = treasury.provider!;
  const { token, collaboration } = await deployAgora(treasury, { addressBookDir: false });
  const coordinator = await devnetWallet(provider);
  await (await token.connect(treasury).transfer(await coordinator.getAddress(), parseEther("1000"))).wait();
  const items = menuOf(contract, () => parseEther("10"));
  const now = BigInt((await provider.getBlock("latest"))!.timestamp);
  const deadlines = { join: now + 1000n, contribution: now + 2000n, delivery: now + 3000n };
  const roundId = await createRound(collaboration, coordinator, items, parseEther("100"), deadlines);
  const parties: { signer: Signer; type: number; contributes: boolean }[] = [];
  for (let i = 0; i < 10; i++) {
    const signer = await devnetWallet(provider);
    await (await token.connect(treasury).transfer(await signer.getAddress(), parseEther("100"))).wait();
    parties.push({ signer, type: Math.floor(i / 2), contributes: i !== 9 });
    await joinRound(collaboration, signer, roundId, Math.floor(i / 2));
  }
  let total = 0;
  for (const p of parties) {
    if (!p.contributes) continue;
    const m = contract.m[p.type];
    total += m;
    await (await collaboration.connect(p.signer).contribute(roundId, hashOf(`data of ${await p.signer.getAddress()}`), fixed(m))).wait();
  }
  await mineAtTime(provider, deadlines.contribution + 1n);
  const shares = parties.map((p) => (p.contributes ? fixed(Math.min(1, contract.t[p.type] / contract.expectedModelValue[p.type])) : 0n));
  await (await collaboration.connect(coordinator).deliver(roundId, hashOf(`model trained on ${total.toFixed(3)} units`), shares)).wait();
  const modelValue = valuation(accuracy(total));
  log(`\nRound ${roundId} on chain: 10 parties joined, 9 contributed ${total.toFixed(2)} units; the model is worth ${modelValue.toFixed(2)}.`);
  log(
    formatTable(
      ["party", "type", "contributed", "quality share", "realized reward", "credited back (tokens)"],
      await Promise.all(
        parties.map(async (p, i) => {
          const address = await p.signer.getAddress();
          const share = Number(shares[i]) / 1e18;
          return [i, p.type + 1, p.contributes ? "yes" : "no", share.toFixed(4), (share * modelValue).toFixed(3), formatTokens(await collaboration.credits(address), 2)];
        }),
      ),
    ),
  );

  // A coordinator that misses its delivery deadline forfeits its bond to the contributors.
  const later = BigInt((await provider.getBlock("latest"))!.timestamp);
  const second = await createRound(collaboration, coordinator, items, parseEther("100"), { join: later + 100n, contribution: later + 200n, delivery: later + 300n });
  for (const p of parties.slice(0, 2)) {
    await joinRound(collaboration, p.signer, second, p.type);
    await (await collaboration.connect(p.signer).contribute(second, hashOf("data"), fixed(contract.m[p.type]))).wait();
  }
  await mineAtTime(provider, later + 301n);
  await (await collaboration.claimDefault(second)).wait();
  log(`Round ${second}: the coordinator missed its delivery deadline; its 100-token bond went to the two contributors (50 each, with their collateral back).`);

  if (outDir) writeTwoTypeStudy(outDir, log);
}

/** Two types, c = {0.02, 0.01}: expected accuracy and information rent against N, for several p1. */
export function writeTwoTypeStudy(outDir: string, log: (line: string) => void): { png: string[] } {
  const Ns = [2, 3, 5, 8, 10, 15, 20, 30, 50, 75, 100];
  const p1s = [0.2, 0.5, 0.8];
  const colors = ["#c0392b", "#2c3e50", "#27ae60"];
  const rows = p1s.map((p1) => Ns.map((N) => ({ N, r: solveContract({ costs: [0.02, 0.01], probs: [p1, 1 - p1], N }) })));
  const accuracySvg = lineChartSvg({
    title: "Two types (c = 0.02, 0.01): expected accuracy of the optimal menu",
    xLabel: "N (parties)",
    yLabel: "expected accuracy",
    series: rows.map((row, k) => ({ name: `p1 = ${p1s[k]}`, color: colors[k], markers: true, points: row.map(({ N, r }): [number, number] => [N, r.expectedAccuracy]) })),
    yRange: [0.85, 1],
  });
  const rentSvg = lineChartSvg({
    title: "Two types (c = 0.02, 0.01): information rent of the low-cost type",
    xLabel: "N (parties)",
    yLabel: "rent (value units)",
    series: rows.map((row, k) => ({ name: `p1 = ${p1s[k]}`, color: colors[k], markers: true, points: row.map(({ N, r }): [number, number] => [N, informationRent(r)[1]]) })),
  });
  const a = writePlot(path.join(outDir, "collaboration-accuracy"), accuracySvg);
  const b = writePlot(path.join(outDir, "collaboration-rent"), rentSvg);
  log(`plots: ${a.png}, ${b.png}`);
  return { png: [a.png, b.png] };
}

if (require.main === module) {
  (async () => {
    const [treasury] = await hre.ethers.getSigners();
    await runCollaborationScenario(treasury, console.log, path.resolve(__dirname, "..", "out"));
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
