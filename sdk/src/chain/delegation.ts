import type { ContractRunner, Signer, TransactionReceipt } from "ethers";
import { parseEther } from "ethers";
import { AgoraToken__factory, DelegationMarket, DelegationMarket__factory } from "../../../typechain-types";
import { AgoraError } from "../errors";
import { ModelSpec, providerTerm } from "../delegation/parameters";
import type { Phase, Plan } from "../delegation/mechanism";
import type { Strategy } from "../delegation/simulate";
import { mulberry32 } from "../ranking/generators";
import { AddressBook, contractAddress } from "./addressBook";

/** Session phases as DelegationMarket numbers them. */
export enum SessionPhase {
  None = 0,
  Exploration = 1,
  Exploitation = 2,
  Bonus = 3,
  Incentive = 4,
  Closed = 5,
}

export function delegationMarket(book: AddressBook, runner: ContractRunner): DelegationMarket {
  return DelegationMarket__factory.connect(contractAddress(book, "DelegationMarket"), runner);
}

/** A decimal (utility units = tokens) as token wei, exact to 1e-12. */
export const toWei = (x: number): bigint => parseEther(x.toFixed(12));

/** A model as the contract takes it: score as 18 decimals, price in token wei per token. */
export function onChainModel(m: ModelSpec): { score: bigint; outputTokens: bigint; tokenPrice: bigint } {
  return { score: toWei(m.score), outputTokens: BigInt(m.outputTokens), tokenPrice: toWei(m.tokenPrice) };
}

export async function registerModels(market: DelegationMarket, provider: Signer, models: ModelSpec[]): Promise<void> {
  await (await market.connect(provider).registerModels(models.map(onChainModel))).wait();
}

export interface SessionRequest {
  providers: string[];
  T: number;
  eps: number;
  L: number;
  rewardScale: number;
  budget: bigint;
  /** Seconds after which anyone may close the session. */
  duration: number;
}

/** Opens a session, approving the budget; returns its id, block size and the gas of the opening. */
export async function openSession(market: DelegationMarket, user: Signer, r: SessionRequest): Promise<{ id: bigint; B: number; gasUsed: bigint }> {
  const token = AgoraToken__factory.connect(await market.token(), user);
  await (await token.approve(await market.getAddress(), r.budget)).wait();
  const receipt = await (
    await market.connect(user).openSession(r.providers, r.T, toWei(r.eps), r.L, toWei(r.rewardScale), r.budget, r.duration)
  ).wait();
  for (const log of receipt!.logs) {
    const parsed = market.interface.parseLog(log);
    if (parsed?.name === "SessionOpened") return { id: parsed.args.session, B: Number(parsed.args.b), gasUsed: receipt!.gasUsed };
  }
  throw new AgoraError("openSession emitted no SessionOpened event");
}

/** A provider taking part in a session: its account, models and strategy. */
export interface SessionProvider {
  signer: Signer;
  models: ModelSpec[];
  strategy: Strategy;
}

export interface SessionRunConfig {
  T: number;
  eps: number;
  L: number;
  rewardScale: number;
  /** The providers' share of what they bill beyond list price (for the summary only). */
  eta: number;
  budget: bigint;
  duration: number;
  /** Seed of the fractional extra phase-4 query. */
  seed: number;
  onProgress?: (done: number, total: number, phase: SessionPhase) => void;
}

export interface SessionSummary {
  id: bigint;
  B: number;
  plan: { best: number; R: number; threshold: number; secondBestUtility: number };
  stoppedEarly: boolean;
  delegations: number[];
  paid: bigint[];
  userUtility: number;
  providerUtility: number[];
  refund: bigint;
  settlements: { phase: SessionPhase; count: number; gasUsed: bigint }[];
  /** Gas of opening, committing the plan and closing. */
  overhead: { open: bigint; commitPlan: bigint; close: bigint };
}

const wei = (x: bigint) => Number(x) / 1e18;

/** The payment of the Settled event in a settlement's receipt. */
function settledPayment(market: DelegationMarket, receipt: TransactionReceipt): bigint {
  for (const log of receipt.logs) {
    const parsed = market.interface.parseLog(log);
    if (parsed?.name === "Settled") return parsed.args.payment as bigint;
  }
  throw new AgoraError("settle emitted no Settled event");
}

/**
 * Runs a whole session on chain: the user settles each block of queries with the answers its
 * providers' strategies give (the chain enforces the phases and computes the plan), then closes
 * it. Every settlement's gas is kept for benchmarks.
 */
export async function runDelegationSession(
  market: DelegationMarket,
  user: Signer,
  providers: SessionProvider[],
  config: SessionRunConfig,
): Promise<SessionSummary> {
  const addresses = await Promise.all(providers.map((p) => p.signer.getAddress()));
  const { id, B, gasUsed: openGas } = await openSession(market, user, { providers: addresses, T: config.T, eps: config.eps, L: config.L, rewardScale: config.rewardScale, budget: config.budget, duration: config.duration });
  const u = market.connect(user);
  const random = mulberry32(config.seed);
  const delegations = providers.map(() => 0);
  const paid = providers.map(() => 0n);
  const providerUtility = providers.map(() => 0);
  const settlements: SessionSummary["settlements"] = [];
  let userUtility = 0;
  let done = 0;
  let plan: Plan | undefined;

  const settle = async (i: number, count: number, phase: Phase, chainPhase: SessionPhase) => {
    const p = providers[i];
    const action = p.strategy({ phase, models: p.models, plan, L: config.L, rewardScale: config.rewardScale });
    const actual = p.models[action.actualModel];
    const tokens = Math.floor(action.reportedTokens) * count;
    const reward = toWei(actual.score * config.rewardScale) * BigInt(count);
    const receipt = await (await u.settle(id, i, count, tokens, reward, action.reportedModel)).wait();
    // What the chain paid (owed queries pay at least their reservation), not a recomputation.
    const payment = settledPayment(market, receipt!);
    delegations[i] += count;
    paid[i] += payment;
    userUtility += wei(reward - payment);
    providerUtility[i] += config.eta * (wei(payment) - count * actual.outputTokens * actual.tokenPrice);
    settlements.push({ phase: chainPhase, count, gasUsed: receipt!.gasUsed });
    done += count;
    config.onProgress?.(done, config.T, chainPhase);
  };

  for (let i = 0; i < providers.length; i++) await settle(i, B, "exploration", SessionPhase.Exploration);
  const commitGas = (await (await market.commitPlan(id)).wait())!.gasUsed;
  const chainPlan = await market.planOf(id);
  const best = Number(chainPlan.best);
  plan = {
    best,
    secondBestUtility: wei(chainPlan.secondBestUtility),
    B,
    M: wei(chainPlan.m),
    delta1: wei(chainPlan.delta1),
    delta2: wei(chainPlan.delta2),
    delta3: wei(chainPlan.delta3),
    R: Number(chainPlan.r),
    threshold: wei(chainPlan.threshold),
    incentive: [],
    deltas: [],
  };
  let session = await market.sessionOf(id);
  while (Number(session.phase) === SessionPhase.Exploitation) {
    const n = Math.min(B, plan.R - Number(session.exploited));
    await settle(best, n, "exploitation", SessionPhase.Exploitation);
    session = await market.sessionOf(id);
  }
  if (Number(session.phase) === SessionPhase.Bonus) {
    const order = [best, ...providers.map((_, i) => i).filter((i) => i !== best)];
    for (const i of order) {
      const due = Number((await market.stats(id, i)).bonusDue);
      if (due > 0) await settle(i, due, "bonus", SessionPhase.Bonus);
    }
  }
  for (let i = 0; i < providers.length; i++) {
    const s = await market.stats(id, i);
    // The optional extra query, drawn with the probability of delta_i * B's fraction (SPEC §3.1).
    const delta = plan.delta1 + providerTerm(wei(s.rewardSum) / B, Number(s.tokenSum) / B, config.L);
    const fraction = delta * B - Number(s.incentiveDue);
    const extra = s.extraAllowed > 0n && random() < fraction ? 1 : 0;
    const count = Number(s.incentiveDue) + extra;
    if (count > 0) await settle(i, count, "incentive", SessionPhase.Incentive);
  }
  const receipt = await (await u.closeSession(id)).wait();
  let refund = 0n;
  for (const log of receipt!.logs) {
    const parsed = market.interface.parseLog(log);
    if (parsed?.name === "SessionClosed") refund = parsed.args.refund;
  }
  return {
    id,
    B,
    plan: { best, R: plan.R, threshold: plan.threshold, secondBestUtility: plan.secondBestUtility },
    stoppedEarly: session.stoppedEarly,
    delegations,
    paid,
    userUtility,
    providerUtility,
    refund,
    settlements,
    overhead: { open: openGas, commitPlan: commitGas, close: receipt!.gasUsed },
  };
}
