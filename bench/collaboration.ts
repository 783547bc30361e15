/**
 * The collaboration solver's time (SPEC §4): solveContract for I = 2..6 types and N = 10..100
 * parties. The exact expectations enumerate every composition of N parties into I types,
 * C(N + I - 1, I - 1) of them, so the largest cases are skipped above a budget (and reported).
 */
import { solveContract } from "../sdk/src/collaboration/solve";

export const COMPOSITION_BUDGET = 5_000_000;

export function compositions(N: number, I: number): number {
  let c = 1;
  for (let k = 1; k < I; k++) c = (c * (N + k)) / k;
  return Math.round(c);
}

export interface SolverTiming {
  types: number;
  N: number;
  compositions: number;
  ms?: number;
  expectedAccuracy?: number;
}

export function solverTiming(types: number, N: number, budget = COMPOSITION_BUDGET): SolverTiming {
  const count = compositions(N, types);
  if (count > budget) return { types, N, compositions: count };
  // Costs spread evenly from 1 down to 0.4 and equally likely types, as in the spec's scenario.
  const costs = Array.from({ length: types }, (_, i) => 1 - (0.6 * i) / (types - 1));
  const probs = Array.from({ length: types }, () => 1 / types);
  const start = performance.now();
  const contract = solveContract({ costs, probs, N });
  return { types, N, compositions: count, ms: performance.now() - start, expectedAccuracy: contract.expectedAccuracy };
}
