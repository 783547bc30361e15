/**
 * The delegation mechanism of "Pay for the Second-Best Service" (SPEC §3.1) as a state machine:
 * `next()` says where the next query goes, `record()` takes what came back (the reward the user
 * measured, the tokens and model the provider reported). Pure and deterministic: the one random
 * draw (a fractional extra delegation in phase 4) comes from a seeded generator.
 *
 * Phases: (1) exploration, B queries to each provider in turn; the best is the highest average
 * user utility; (2) exploitation, the best provider in blocks of B up to R queries, stopping early
 * once the running average user utility of the phase falls below the threshold; (3) if it did not
 * stop, B bonus queries to the best provider and B to each other one; (4) every provider with
 * delta_i > 0 gets floor(delta_i B) more queries, and one more with probability of the fraction.
 * Reported tokens are paid up to L per query, always.
 */
import { InvalidInputError } from "../errors";
import { mulberry32 } from "../ranking/generators";
import { blockSize, delta1Of, ModelSpec, providerDelta, providerTerm } from "./parameters";

export type Phase = "exploration" | "exploitation" | "bonus" | "incentive" | "done";

/** What a provider says it did for one query, and the reward the user measured. */
export interface Outcome {
  reward: number;
  reportedTokens: number;
  /** Index into the provider's registered models: the price it bills at. */
  reportedModel: number;
}

export interface MechanismConfig {
  T: number;
  eps: number;
  L: number;
  rewardScale: number;
  /** Each provider's registered models (prices are what the user pays per reported token). */
  providers: ModelSpec[][];
  /** Seed of the fractional extra delegation draws. */
  seed: number;
}

/** The commitment made at the end of exploration (checked on chain by DelegationMarket). */
export interface Plan {
  best: number;
  secondBestUtility: number;
  B: number;
  M: number;
  delta1: number;
  delta2: number;
  delta3: number;
  /** Exploitation queries (0 when T leaves no room for them). */
  R: number;
  threshold: number;
  /** phase-4 queries of each provider, before the random extra one. */
  incentive: number[];
  /** delta_i of each provider. */
  deltas: number[];
}

interface Stats {
  count: number;
  utility: number;
  reward: number;
  tokens: number;
  /** What the user paid (the best provider's average payment prices the threshold). */
  payment: number;
}

export class DelegationMechanism {
  readonly K: number;
  readonly B: number;
  private readonly random: () => number;
  private readonly stats: Stats[];
  private readonly exploitation = { count: 0, utility: 0 };
  /**
   * What is left to delegate, as runs of queries to one provider in one phase (first run first);
   * `owed` of a run's queries are owed by the plan (bonus and incentive queries; not the random extra one).
   */
  private readonly queue: { provider: number; phase: Phase; count: number; owed: number }[] = [];
  private current: { provider: number; phase: Phase } | undefined;
  private phaseOf: Phase = "exploration";
  planned: Plan | undefined;
  stoppedEarly = false;
  /** Whether each provider got its random extra phase-4 query. */
  readonly extra: boolean[];

  constructor(readonly config: MechanismConfig) {
    const { T, eps, providers } = config;
    if (providers.length < 2) throw new InvalidInputError("delegation needs at least 2 providers");
    if (providers.some((p) => p.length === 0)) throw new InvalidInputError("every provider needs at least one model");
    this.K = providers.length;
    this.B = blockSize(T, eps);
    if (this.K * this.B > T) throw new InvalidInputError(`T = ${T} cannot even explore ${this.K} providers with blocks of ${this.B}`);
    this.random = mulberry32(config.seed);
    this.stats = providers.map(() => ({ count: 0, utility: 0, reward: 0, tokens: 0, payment: 0 }));
    this.extra = providers.map(() => false);
    for (let i = 0; i < this.K; i++) this.queue.push({ provider: i, phase: "exploration", count: this.B, owed: 0 });
  }

  get phase(): Phase {
    return this.phaseOf;
  }

  /**
   * Where the next query goes, or undefined when the mechanism has delegated all it will. `owed`
   * says the plan owes the query to its provider: on chain it is paid at least L tokens of the
   * provider's flagship price (DelegationMarket's owed-query floor).
   */
  next(): { provider: number; phase: Phase; owed: boolean } | undefined {
    if (this.current) throw new InvalidInputError("record the outcome of the last delegation before asking for the next one");
    while (this.queue.length > 0 && this.queue[0].count === 0) this.queue.shift();
    if (this.queue.length === 0) this.advance();
    while (this.queue.length > 0 && this.queue[0].count === 0) this.queue.shift();
    const run = this.queue[0];
    if (!run) {
      this.phaseOf = "done";
      return undefined;
    }
    run.count--;
    const owed = run.owed > 0;
    if (owed) run.owed--;
    this.current = { provider: run.provider, phase: run.phase };
    this.phaseOf = run.phase;
    return { ...this.current, owed };
  }

  /** Records the outcome of the query `next()` gave out. */
  record(outcome: Outcome): void {
    const d = this.current;
    if (!d) throw new InvalidInputError("no delegation is waiting for an outcome");
    const models = this.config.providers[d.provider];
    if (!Number.isInteger(outcome.reportedModel) || outcome.reportedModel < 0 || outcome.reportedModel >= models.length) {
      throw new InvalidInputError(`provider ${d.provider} has no model ${outcome.reportedModel}`);
    }
    const tokens = Math.min(outcome.reportedTokens, this.config.L);
    const payment = tokens * models[outcome.reportedModel].tokenPrice;
    const utility = outcome.reward - payment;
    if (d.phase === "exploration") {
      const s = this.stats[d.provider];
      s.count++;
      s.utility += utility;
      s.reward += outcome.reward;
      s.tokens += tokens;
      s.payment += payment;
    } else if (d.phase === "exploitation") {
      this.exploitation.count++;
      this.exploitation.utility += utility;
      this.checkEarlyStop();
    }
    this.current = undefined;
  }

  /** Average user utility, reward and reported tokens of each provider in exploration. */
  explorationStats(): { avgUtility: number; avgReward: number; avgTokens: number }[] {
    return this.stats.map((s) => ({ avgUtility: s.utility / s.count, avgReward: s.reward / s.count, avgTokens: s.tokens / s.count }));
  }

  private checkEarlyStop(): void {
    const plan = this.planned!;
    const { count, utility } = this.exploitation;
    const blockEnd = count % this.B === 0 || count === plan.R;
    if (blockEnd && utility / count < plan.threshold) {
      this.stoppedEarly = true;
      // Drop what is left of exploitation and skip the bonus phase: phase 4 follows directly.
      this.queue.length = 0;
      this.enqueueIncentive();
    }
  }

  /** Fills the queue with the next phase. */
  private advance(): void {
    if (!this.planned) {
      this.planned = this.plan();
      if (this.planned.R > 0) {
        this.queue.push({ provider: this.planned.best, phase: "exploitation", count: this.planned.R, owed: 0 });
        return;
      }
    }
    if (this.phaseOf === "exploration" || this.phaseOf === "exploitation") {
      if (!this.stoppedEarly) {
        const { best } = this.planned;
        this.queue.push({ provider: best, phase: "bonus", count: this.B, owed: this.B });
        for (let i = 0; i < this.K; i++) if (i !== best) this.queue.push({ provider: i, phase: "bonus", count: this.B, owed: this.B });
        return;
      }
      this.enqueueIncentive();
      return;
    }
    if (this.phaseOf === "bonus") this.enqueueIncentive();
  }

  private incentiveQueued = false;

  private enqueueIncentive(): void {
    if (this.incentiveQueued) return;
    this.incentiveQueued = true;
    const plan = this.planned!;
    plan.deltas.forEach((delta, i) => {
      if (!(delta > 0)) return;
      let count = plan.incentive[i];
      if (this.random() < delta * this.B - count) {
        count++;
        this.extra[i] = true;
      }
      if (count > 0) this.queue.push({ provider: i, phase: "incentive", count, owed: plan.incentive[i] });
    });
  }

  /** The plan at the end of exploration (SPEC §3.1): best provider, u2, R, threshold, phase-4 counts. */
  private plan(): Plan {
    const { T, L, rewardScale, providers } = this.config;
    const stats = this.explorationStats();
    const order = stats.map((_, i) => i).sort((a, b) => stats[b].avgUtility - stats[a].avgUtility || a - b);
    const best = order[0];
    const secondBestUtility = stats[order[1]].avgUtility;
    const avgPayment = this.stats[best].payment / this.stats[best].count;
    const B = this.B;
    const M = T ** -this.config.eps * Math.log(this.K * T);
    const delta1 = delta1Of(providers.flat(), rewardScale, L);
    const delta2 = Math.log(rewardScale);
    const delta3 = stats.reduce((s, st, i) => (i === best ? s : s + providerTerm(st.avgReward, st.avgTokens, L)), 0);
    const R = Math.max(0, Math.floor(T - ((delta1 + 3) * this.K + delta2 + delta3) * B));
    // pi_best * l_best of SPEC §3.1 as what the user paid the best provider per query in
    // exploration (the same thing when it bills one model; DelegationMarket computes it so too).
    const threshold = secondBestUtility - ((rewardScale + avgPayment) * M) / 2;
    const deltas = stats.map((s) => providerDelta(delta1, s.avgReward, s.avgTokens, L));
    const incentive = deltas.map((d) => (d > 0 ? Math.floor(d * B) : 0));
    return { best, secondBestUtility, B, M, delta1, delta2, delta3, R, threshold, incentive, deltas };
  }
}
