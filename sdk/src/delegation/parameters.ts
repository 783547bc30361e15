/**
 * The parameters of the delegation mechanism of "Pay for the Second-Best Service" (SPEC §3.1,
 * seed 000's notebook). Pure.
 */
import { InvalidInputError } from "../errors";

/** A model a provider serves: its score (quality in [0, 1]), output tokens per query and token price. */
export interface ModelSpec {
  score: number;
  outputTokens: number;
  tokenPrice: number;
}

export interface DelegationConfig {
  /** Queries to delegate in all. */
  T: number;
  /** The mechanism's exponent, in (0, 1/2). */
  eps: number;
  /** Number of providers. */
  K: number;
  /** Cap on reported tokens per query. */
  L: number;
  /** A query's reward is score * rewardScale. */
  rewardScale: number;
  /** Every model of every provider (for delta1). */
  models: ModelSpec[];
  /** u2: the second-best provider's average user utility in exploration. */
  secondBestUtility: number;
  /** The best provider's reported token price and tokens (for the threshold). */
  best: { tokenPrice: number; outputTokens: number };
  /** Average reward and reported tokens in exploration of each provider but the best. */
  others: { avgReward: number; avgTokens: number }[];
}

export interface DelegationParameters {
  B: number;
  M: number;
  delta1: number;
  delta2: number;
  delta3: number;
  R: number;
  threshold: number;
}

/** B = floor(T^(2 eps)), the block size. */
export function blockSize(T: number, eps: number): number {
  return Math.floor(T ** (2 * eps));
}

/** delta1 = -ln(rewardScale * min_m s_m / l_m) + max_m l_m / L + 1. */
export function delta1Of(models: readonly ModelSpec[], rewardScale: number, L: number): number {
  const minRatio = Math.min(...models.map((m) => m.score / m.outputTokens));
  const maxTokens = Math.max(...models.map((m) => m.outputTokens));
  return -Math.log(rewardScale * minRatio) + maxTokens / L + 1;
}

/** A provider's own term: ln vbar - ln taubar - taubar / L. */
export function providerTerm(avgReward: number, avgTokens: number, L: number): number {
  return Math.log(avgReward) - Math.log(avgTokens) - avgTokens / L;
}

/** delta_i = delta1 + ln vbar_i - ln taubar_i - taubar_i / L: the share of B a provider earns in phase 4. */
export function providerDelta(delta1: number, avgReward: number, avgTokens: number, L: number): number {
  return delta1 + providerTerm(avgReward, avgTokens, L);
}

/**
 * B, M, delta1..3, R and the early-stop threshold of SPEC §3.1:
 * M = T^-eps ln(K T), delta2 = ln(rewardScale), delta3 = sum over the others of their term,
 * R = floor(T - ((delta1 + 3) K + delta2 + delta3) B), threshold = u2 - (rewardScale + pi l) M / 2.
 * Throws when R <= 0: T is too small for K providers at this eps.
 */
export function delegationParameters(cfg: DelegationConfig): DelegationParameters {
  const { T, eps, K, L, rewardScale } = cfg;
  if (!(eps > 0 && eps < 0.5)) throw new InvalidInputError(`eps = ${eps} is not in (0, 1/2)`);
  if (!Number.isInteger(T) || T < 1) throw new InvalidInputError(`T = ${T} is not a positive integer`);
  if (!Number.isInteger(K) || K < 2) throw new InvalidInputError(`K = ${K}: delegation needs at least 2 providers`);
  if (!(L > 0) || !(rewardScale > 0)) throw new InvalidInputError("L and rewardScale must be positive");
  if (cfg.models.length === 0) throw new InvalidInputError("no models: delta1 needs every provider's models");
  if (cfg.others.length !== K - 1) throw new InvalidInputError(`${cfg.others.length} other providers given for K = ${K}: expected ${K - 1}`);
  const B = blockSize(T, eps);
  const M = T ** -eps * Math.log(K * T);
  const delta1 = delta1Of(cfg.models, rewardScale, L);
  const delta2 = Math.log(rewardScale);
  const delta3 = cfg.others.reduce((s, o) => s + providerTerm(o.avgReward, o.avgTokens, L), 0);
  const R = Math.floor(T - ((delta1 + 3) * K + delta2 + delta3) * B);
  if (R <= 0) {
    throw new InvalidInputError(`R = ${R}: T = ${T} is too small for K = ${K} providers at eps = ${eps} (exploration, bonus and incentive phases need more than T)`);
  }
  const threshold = cfg.secondBestUtility - ((rewardScale + cfg.best.tokenPrice * cfg.best.outputTokens) * M) / 2;
  return { B, M, delta1, delta2, delta3, R, threshold };
}
