import type { ContractRunner, Signer } from "ethers";
import { parseEther } from "ethers";
import { CollaborationRound, CollaborationRound__factory } from "../../../typechain-types";
import { ensureAllowance } from "./allowance";
import { AgoraError } from "../errors";
import type { Contract } from "../collaboration/solve";
import { AddressBook, contractAddress } from "./addressBook";

export enum RoundState {
  None = 0,
  Open = 1,
  Delivered = 2,
  Failed = 3,
}

export function collaborationRound(book: AddressBook, runner: ContractRunner): CollaborationRound {
  return CollaborationRound__factory.connect(contractAddress(book, "CollaborationRound"), runner);
}

const fixed = (x: number) => parseEther(x.toFixed(12));

/** A solved contract as a menu: contributions and rewards with 18 decimals, a collateral per item. */
export function menuOf(contract: Contract, collateral: (type: number) => bigint): { contribution: bigint; reward: bigint; collateral: bigint }[] {
  return contract.m.map((m, i) => ({ contribution: fixed(m), reward: fixed(contract.t[i]), collateral: collateral(i) }));
}

async function approve(round: CollaborationRound, signer: Signer, amount: bigint): Promise<void> {
  await ensureAllowance(await round.token(), signer, await round.getAddress(), amount);
}

/** Creates a round with `items`, approving and posting the bond; returns its id. */
export async function createRound(
  round: CollaborationRound,
  coordinator: Signer,
  items: { contribution: bigint; reward: bigint; collateral: bigint }[],
  bond: bigint,
  deadlines: { join: bigint; contribution: bigint; delivery: bigint },
): Promise<bigint> {
  await approve(round, coordinator, bond);
  const receipt = await (await round.connect(coordinator).createRound(items, bond, deadlines.join, deadlines.contribution, deadlines.delivery)).wait();
  for (const log of receipt!.logs) {
    const parsed = round.interface.parseLog(log);
    if (parsed?.name === "RoundCreated") return parsed.args.round;
  }
  throw new AgoraError("createRound emitted no RoundCreated event");
}

/** Joins round `id` with `item`, approving and posting its collateral. */
export async function joinRound(round: CollaborationRound, party: Signer, id: bigint, item: number): Promise<void> {
  const items = await round.itemsOf(id);
  await approve(round, party, items[item].collateral);
  await (await round.connect(party).join(id, item)).wait();
}
