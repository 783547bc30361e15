import { keccak256, Signer, toUtf8Bytes, ContractRunner } from "ethers";
import { RankingMarket, RankingMarket__factory } from "../../../typechain-types";
import { AgoraError } from "../errors";
import { computeEpoch, EpochResult } from "../ranking/epoch";
import { resultCommitment } from "../ranking/commitment";
import { unpackRows, wordsFor } from "../ranking/weights";
import { AddressBook, contractAddress } from "./addressBook";

const WAD = 10n ** 18n;

/** Epoch status as `RankingMarket.epochStatus` returns it. */
export enum EpochStatus {
  Accumulating = 0,
  Committing = 1,
  Revealing = 2,
  Finalized = 3,
  Lapsed = 4,
}

/** The validator cannot take part: no stake, not registered (message says which). */
export class ValidatorError extends AgoraError {}

/** The RankingMarket of an address book, connected to `runner`. */
export function rankingMarket(book: AddressBook, runner: ContractRunner): RankingMarket {
  return RankingMarket__factory.connect(contractAddress(book, "RankingMarket"), runner);
}

/** What an epoch's computation needs, read from the chain at its snapshot block. */
export interface EpochSnapshot {
  epoch: number;
  snapshotBlock: number;
  weights: Uint16Array[];
  stake: bigint[];
  params: { rho: bigint; theta: number; tau: bigint };
}

/** Rows per eth_call when reading weights: keeps each call near 10M gas of storage reads. */
function rowsPerCall(n: number): number {
  return Math.max(1, Math.floor(10_000_000 / (wordsFor(n) * 2_200 + 1_000)));
}

/**
 * Reads peers, weight rows, stakes and parameters as of the end of epoch `epoch`'s snapshot
 * block, in bulk (a few eth_calls at that blockTag, never one per entry).
 */
export async function readEpochSnapshot(market: RankingMarket, epoch: number): Promise<EpochSnapshot> {
  const snapshotBlock = Number(await market.snapshotBlock(epoch));
  const head = await market.runner!.provider!.getBlockNumber();
  if (snapshotBlock > head) {
    throw new AgoraError(`epoch ${epoch} ends at block ${snapshotBlock}; the chain is at ${head}`);
  }
  const at = { blockTag: snapshotBlock };
  const n = Number(await market.peerCount(at));
  const [stake, parameters, tau] = await Promise.all([market.getStakes(at), market.parameters(at), market.tauAt(snapshotBlock)]);
  const weights: Uint16Array[] = [];
  const step = rowsPerCall(n);
  for (let from = 0; from < n; from += step) {
    const to = Math.min(n, from + step);
    const [rowWords, words] = await market.getWeightRows(from, to, at);
    weights.push(...unpackRows(words, Number(rowWords), n));
  }
  return {
    epoch,
    snapshotBlock,
    weights,
    stake: [...stake],
    params: { rho: parameters.rho, theta: Number(parameters.theta) / Number(WAD), tau },
  };
}

/** Reads epoch `epoch`'s snapshot and runs the epoch function on it. */
export async function computeEpochOnChain(market: RankingMarket, epoch: number): Promise<EpochResult & { snapshot: EpochSnapshot }> {
  const snapshot = await readEpochSnapshot(market, epoch);
  return { ...computeEpoch({ weights: snapshot.weights, stake: snapshot.stake, params: snapshot.params }), snapshot };
}

/**
 * The salt a validator commits with: derived from its own signature over (chain, market, epoch),
 * so it is secret until revealed and the validator finds it again after a restart.
 */
export async function validatorSalt(signer: Signer, market: RankingMarket, epoch: number): Promise<string> {
  const { chainId } = await signer.provider!.getNetwork();
  const message = `Agora ranking salt\nchain ${chainId}\nmarket ${(await market.getAddress()).toLowerCase()}\nepoch ${epoch}`;
  return keccak256(await signer.signMessage(toUtf8Bytes(message)));
}

/**
 * The status epoch `epoch` will have in the next block, where a transaction sent now lands
 * (`epochStatus` answers for the latest block).
 */
export async function statusForNextBlock(market: RankingMarket, epoch: number): Promise<EpochStatus> {
  const [info, snapshot, commitBlocks, revealBlocks, head] = await Promise.all([
    market.epochInfo(epoch),
    market.snapshotBlock(epoch),
    market.commitBlocks(),
    market.revealBlocks(),
    market.runner!.provider!.getBlockNumber(),
  ]);
  if (Number(info[0]) === EpochStatus.Finalized) return EpochStatus.Finalized;
  const next = BigInt(head + 1);
  if (next <= snapshot) return EpochStatus.Accumulating;
  if (next <= snapshot + commitBlocks) return EpochStatus.Committing;
  if (next <= snapshot + commitBlocks + revealBlocks) return EpochStatus.Revealing;
  return EpochStatus.Lapsed;
}

/** What one call of `advanceValidator` did. */
export type ValidatorAction =
  | { kind: "wait"; status: EpochStatus; reason: string }
  | { kind: "committed"; root: string; totalEmission: bigint }
  | { kind: "revealed"; root: string; totalEmission: bigint; finalized: boolean }
  | { kind: "claimed"; leaves: number; amount: bigint }
  | { kind: "done"; status: EpochStatus; reason: string };

/** Cache of epoch results a validator keeps between calls (recomputed after a restart). */
export type EpochCache = Map<number, EpochResult>;

/** Claims sent per claimMany transaction. */
export const CLAIM_BATCH = 64;

/**
 * Does the next thing a validator owes epoch `epoch`, judged from the chain alone, so a validator
 * that stopped anywhere picks up where it was:
 * Committing: commits its result unless already committed; Revealing: reveals unless already
 * revealed; Finalized: claims, in batches, every leaf of the final root not yet claimed (only if
 * the final root is its own, since it needs the tree to build proofs).
 */
export async function advanceValidator(
  market: RankingMarket,
  signer: Signer,
  epoch: number,
  cache: EpochCache = new Map(),
): Promise<ValidatorAction> {
  const me = await signer.getAddress();
  const connected = market.connect(signer);
  const status = await statusForNextBlock(market, epoch);
  if (status === EpochStatus.Accumulating) return { kind: "wait", status, reason: "snapshot not reached" };
  if (status === EpochStatus.Lapsed) return { kind: "done", status, reason: "epoch lapsed without quorum" };

  const result = cache.get(epoch) ?? (await computeEpochOnChain(market, epoch));
  cache.set(epoch, result);

  if (status === EpochStatus.Finalized) {
    const [, root] = await market.epochInfo(epoch);
    if (root !== result.root) return { kind: "done", status, reason: "final root is not this validator's" };
    const claimed = await Promise.all(result.emission.map((e, uid) => (e > 0n ? market.isClaimed(epoch, uid) : true)));
    const due = result.emission.flatMap((amount, uid) => (claimed[uid] ? [] : [{ epoch, uid, amount, proof: result.proof(uid) }]));
    if (due.length === 0) return { kind: "done", status, reason: "all emission claimed" };
    for (let i = 0; i < due.length; i += CLAIM_BATCH) await (await connected.claimMany(due.slice(i, i + CLAIM_BATCH))).wait();
    return { kind: "claimed", leaves: due.length, amount: due.reduce((a, c) => a + c.amount, 0n) };
  }

  if (!(await market.isRegistered(me))) throw new ValidatorError(`${me} is not a registered peer: register and stake first`);
  const uid = await market.uidOf(me);
  const salt = await validatorSalt(signer, market, epoch);
  if (status === EpochStatus.Committing) {
    if ((await market.commitmentOf(epoch, uid)) !== "0x" + "00".repeat(32)) {
      return { kind: "wait", status, reason: "committed; waiting for the reveal window" };
    }
    const snapshotStake = await market.stakeAt(uid, await market.snapshotBlock(epoch));
    if (snapshotStake === 0n) return { kind: "done", status, reason: `uid ${uid} had no stake at the snapshot` };
    const commitment = resultCommitment(result.root, result.totalEmission, salt, me);
    await (await connected.commitResult(epoch, commitment)).wait();
    return { kind: "committed", root: result.root, totalEmission: result.totalEmission };
  }
  // Revealing
  if ((await market.commitmentOf(epoch, uid)) === "0x" + "00".repeat(32)) {
    return { kind: "done", status, reason: "missed the commit window" };
  }
  if (await market.hasRevealed(epoch, uid)) return { kind: "wait", status, reason: "revealed; waiting for quorum" };
  await (await connected.revealResult(epoch, result.root, result.totalEmission, salt)).wait();
  const finalized = Number(await market.epochStatus(epoch)) === EpochStatus.Finalized;
  return { kind: "revealed", root: result.root, totalEmission: result.totalEmission, finalized };
}
