/**
 * Providers' strategies and the simulation of a whole delegation run (SPEC §3.1). Pure.
 *
 * Accounting (the notebook's `run_ours`): a query's user utility is the reward of the model that
 * actually ran (score * rewardScale) minus what the user pays, min(reported tokens, L) times the
 * price of the reported model; the provider's utility is eta times what it bills beyond the list
 * price of what it actually ran (tokens it produced times that model's price). An honest provider
 * bills exactly its list price and so earns nothing beyond it in this accounting.
 */
import { InvalidInputError } from "../errors";
import { DelegationMechanism, MechanismConfig, Phase, Plan } from "./mechanism";
import type { ModelSpec } from "./parameters";

/** What a provider does for one query: the model it runs, the model and tokens it reports. */
export interface Action {
  actualModel: number;
  reportedModel: number;
  reportedTokens: number;
}

/**
 * A strategy decides each query's action from the phase, the provider's models (index 0 its
 * best), the mechanism's plan once exploration is over, and the environment.
 */
export type Strategy = (ctx: { phase: Phase; models: ModelSpec[]; plan?: Plan; L: number; rewardScale: number }) => Action;

const cheapest = (models: ModelSpec[]) => models.reduce((best, m, i) => (m.tokenPrice * m.outputTokens < models[best].tokenPrice * models[best].outputTokens ? i : best), 0);

/** Strategies for simulation (SPEC §3.1). All are honest in exploration, where the plan is made. */
export const STRATEGIES: Record<string, Strategy> = {
  honest: ({ models }) => ({ actualModel: 0, reportedModel: 0, reportedTokens: models[0].outputTokens }),
  /** Runs its second model after exploration and bills it as its best. */
  substitute: ({ phase, models }) => {
    const m = phase === "exploration" ? 0 : Math.min(1, models.length - 1);
    return { actualModel: m, reportedModel: 0, reportedTokens: models[m].outputTokens };
  },
  /** Runs its best model but reports L tokens after exploration. */
  inflate: ({ phase, models, L }) => ({ actualModel: 0, reportedModel: 0, reportedTokens: phase === "exploration" ? models[0].outputTokens : L }),
  /** The notebook's run_ours: second model billed as the best in exploitation, the cheapest billed as the best at L tokens after. */
  both: ({ phase, models, L }) => {
    if (phase === "exploration") return { actualModel: 0, reportedModel: 0, reportedTokens: models[0].outputTokens };
    if (phase === "exploitation") {
      const m = Math.min(1, models.length - 1);
      return { actualModel: m, reportedModel: 0, reportedTokens: models[m].outputTokens };
    }
    return { actualModel: cheapest(models), reportedModel: 0, reportedTokens: L };
  },
  /**
   * After exploration, serves just the utility the threshold requires (about the second-best
   * provider's): the model and billing that earn the most while each query's user utility stays
   * at or above the threshold, so the early stop never triggers.
   */
  mimicSecondBest: ({ phase, models, plan, L, rewardScale }) => {
    if (phase === "exploration" || !plan) return { actualModel: 0, reportedModel: 0, reportedTokens: models[0].outputTokens };
    let best: Action & { gain: number } = { actualModel: 0, reportedModel: 0, reportedTokens: models[0].outputTokens, gain: 0 };
    models.forEach((actual, a) => {
      models.forEach((reported, r) => {
        // Bill as much as keeps the user at the threshold (with a hair of margin against
        // rounding in the running average), within L tokens.
        const maxBill = Math.min(L * reported.tokenPrice, actual.score * rewardScale - plan.threshold - 1e-6);
        if (maxBill <= 0) return;
        const gain = maxBill - actual.outputTokens * actual.tokenPrice;
        if (gain > best.gain) best = { actualModel: a, reportedModel: r, reportedTokens: maxBill / reported.tokenPrice, gain };
      });
    });
    return { actualModel: best.actualModel, reportedModel: best.reportedModel, reportedTokens: best.reportedTokens };
  },
};

export interface SimulationConfig extends Omit<MechanismConfig, "seed"> {
  /** The provider's share of what it bills beyond its list price. */
  eta: number;
}

export interface ProviderResult {
  /** User utility from this provider's queries. */
  userUtility: number;
  providerUtility: number;
  delegations: number;
  /** Whether its count includes the random extra phase-4 query. */
  extra: boolean;
  /** What the user paid it. */
  revenue: number;
}

export interface SimulationResult {
  userUtility: number;
  delegations: number;
  providers: ProviderResult[];
  plan: Plan;
  stoppedEarly: boolean;
}

/** Runs the mechanism to the end with each provider playing its strategy. */
export function simulateDelegation(config: SimulationConfig, strategies: Strategy[], seed: number): SimulationResult {
  if (strategies.length !== config.providers.length) {
    throw new InvalidInputError(`${strategies.length} strategies for ${config.providers.length} providers`);
  }
  const mechanism = new DelegationMechanism({ ...config, seed });
  const providers: ProviderResult[] = config.providers.map(() => ({ userUtility: 0, providerUtility: 0, delegations: 0, extra: false, revenue: 0 }));
  for (let d = mechanism.next(); d; d = mechanism.next()) {
    const models = config.providers[d.provider];
    const action = strategies[d.provider]({ phase: d.phase, models, plan: mechanism.planned, L: config.L, rewardScale: config.rewardScale });
    const actual = models[action.actualModel];
    const reward = actual.score * config.rewardScale;
    const billed = Math.min(action.reportedTokens, config.L) * models[action.reportedModel].tokenPrice;
    // An owed query is paid at least what the plan reserved for it, as on chain.
    const paid = d.owed ? Math.max(billed, config.L * models[0].tokenPrice) : billed;
    const p = providers[d.provider];
    p.userUtility += reward - paid;
    p.revenue += paid;
    p.providerUtility += config.eta * (paid - actual.outputTokens * actual.tokenPrice);
    p.delegations++;
    mechanism.record({ reward, reportedTokens: action.reportedTokens, reportedModel: action.reportedModel });
  }
  providers.forEach((p, i) => (p.extra = mechanism.extra[i]));
  return {
    userUtility: providers.reduce((a, p) => a + p.userUtility, 0),
    delegations: providers.reduce((a, p) => a + p.delegations, 0),
    providers,
    plan: mechanism.planned!,
    stoppedEarly: mechanism.stoppedEarly,
  };
}

/** One row of the deviation table: a strategy of provider 0 against honest others, at one T. */
export interface DeviationRow {
  T: number;
  strategy: string;
  providerUtility: number;
  /** (utility - honest utility) / honest provider's revenue. */
  gainOverHonestRevenue: number;
  userUtilityPerQuery: number;
  secondBestUtility: number;
  stoppedEarly: boolean;
}

/** The deviation table of SPEC §3.1 on a game: every strategy of provider 0, the others honest. */
export function deviationTable(game: (T: number) => SimulationConfig, Ts: number[], seed = 1): DeviationRow[] {
  const rows: DeviationRow[] = [];
  for (const T of Ts) {
    const config = game(T);
    const honestOthers = config.providers.slice(1).map(() => STRATEGIES.honest);
    const honest = simulateDelegation(config, [STRATEGIES.honest, ...honestOthers], seed);
    for (const [name, strategy] of Object.entries(STRATEGIES)) {
      const r = simulateDelegation(config, [strategy, ...honestOthers], seed);
      rows.push({
        T,
        strategy: name,
        providerUtility: r.providers[0].providerUtility,
        gainOverHonestRevenue: (r.providers[0].providerUtility - honest.providers[0].providerUtility) / honest.providers[0].revenue,
        userUtilityPerQuery: r.userUtility / r.delegations,
        secondBestUtility: r.plan.secondBestUtility,
        stoppedEarly: r.stoppedEarly,
      });
    }
  }
  return rows;
}
