import type { ContractRunner, Signer } from "ethers";
import { parseEther } from "ethers";
import { AgoraToken__factory, DelegationMarket, DelegationMarket__factory } from "../../../typechain-types";
import { AgoraError } from "../errors";
import type { ModelSpec } from "../delegation/parameters";
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

/** Opens a session, approving the budget; returns its id and block size. */
export async function openSession(market: DelegationMarket, user: Signer, r: SessionRequest): Promise<{ id: bigint; B: number }> {
  const token = AgoraToken__factory.connect(await market.token(), user);
  await (await token.approve(await market.getAddress(), r.budget)).wait();
  const receipt = await (
    await market.connect(user).openSession(r.providers, r.T, toWei(r.eps), r.L, toWei(r.rewardScale), r.budget, r.duration)
  ).wait();
  for (const log of receipt!.logs) {
    const parsed = market.interface.parseLog(log);
    if (parsed?.name === "SessionOpened") return { id: parsed.args.session, B: Number(parsed.args.b) };
  }
  throw new AgoraError("openSession emitted no SessionOpened event");
}
