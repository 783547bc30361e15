import hre from "hardhat";
import { runDelegationScenario } from "../scripts/delegation";
import { SessionPhase } from "../sdk/src/chain/delegation";

export interface DelegationGasReport {
  T: number;
  settlements: number;
  perPhase: { phase: string; count: number; min: number; max: number; mean: number }[];
  overhead: { open: bigint; commitPlan: bigint; close: bigint };
  total: bigint;
}

/** Gas of a whole delegation session on chain (issue 5's benchmark): per settlement, by phase, and in all. */
export async function delegationGas(T: number): Promise<DelegationGasReport> {
  const [treasury] = await hre.ethers.getSigners();
  const summary = await runDelegationScenario(treasury, T, () => {}, false);
  const phases = [SessionPhase.Exploration, SessionPhase.Exploitation, SessionPhase.Bonus, SessionPhase.Incentive];
  const perPhase = phases.map((phase) => {
    const gas = summary.settlements.filter((s) => s.phase === phase).map((s) => Number(s.gasUsed));
    return { phase: SessionPhase[phase], count: gas.length, min: Math.min(...gas), max: Math.max(...gas), mean: Math.round(gas.reduce((a, b) => a + b, 0) / gas.length) };
  });
  const settled = summary.settlements.reduce((a, s) => a + s.gasUsed, 0n);
  const { open, commitPlan, close } = summary.overhead;
  return { T, settlements: summary.settlements.length, perPhase, overhead: summary.overhead, total: settled + open + commitPlan + close };
}
