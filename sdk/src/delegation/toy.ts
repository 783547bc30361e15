/**
 * The notebook's toy game (seed 000): provider 1 serves three models, the two other providers
 * three slightly weaker ones; rewardScale 5, L = 1500, eps = 0.3, eta = 0.9.
 */
import type { ModelSpec } from "./parameters";

export const NOTEBOOK_MODELS: ModelSpec[] = [
  { score: 0.9, outputTokens: 1000, tokenPrice: 5e-4 },
  { score: 0.8, outputTokens: 900, tokenPrice: 4e-4 },
  { score: 0.7, outputTokens: 800, tokenPrice: 3e-4 },
];

export const NOTEBOOK_OTHERS: ModelSpec[] = [
  { score: 0.8, outputTokens: 1000, tokenPrice: 5e-4 },
  { score: 0.7, outputTokens: 900, tokenPrice: 4e-4 },
  { score: 0.6, outputTokens: 800, tokenPrice: 3e-4 },
];

/** The toy game's configuration for T queries. */
export function toyGame(T: number) {
  return { T, eps: 0.3, L: 1500, rewardScale: 5, eta: 0.9, providers: [NOTEBOOK_MODELS, NOTEBOOK_OTHERS, NOTEBOOK_OTHERS] };
}
