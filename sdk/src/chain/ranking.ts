import { keccak256, Signer, toUtf8Bytes, ContractRunner } from "ethers";
import { RankingMarket, RankingMarket__factory } from "../../../typechain-types";
import { AgoraError } from "../errors";
import { formatTokens } from "../format";
import { computeEpoch, EpochResult } from "../ranking/epoch";
import { resultCommitment } from "../ranking/commitment";
import { unpackRows, wordsFor } from "../ranking/weights";
import { AddressBook, contractAddress } from "./addressBook";
import { decodeRevert, isRevert } from "./revert";
import { ensureAllowance } from "./allowance";

const WAD = 10n ** 18n;
const minBig = (a: bigint, b: bigint) => (a < b ? a : b);
const ZERO32 = "0x" + "00".repeat(32);

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

/**
 * The market's theta (WAD, in (0, 1e18)) as the float the epoch function takes. Near 1 a double
 * cannot hold it (1e18 - 1 rounds to 1.0, which the epoch function refuses): such a theta becomes
 * the largest double below 1, so validators can still compute every epoch the contract allows.
 */
export function thetaFromWad(theta: bigint): number {
  const value = Number(theta) / Number(WAD);
  return theta < WAD && value >= 1 ? 1 - Number.EPSILON / 2 : value;
}

/** The RankingMarket of an address book, connected to `runner`. */
export function rankingMarket(book: AddressBook, runner: ContractRunner): RankingMarket {
  return RankingMarket__factory.connect(contractAddress(book, "RankingMarket"), runner);
}

/**
 * Registers `account` (by default the signer itself; otherwise the signer, a peer, sponsors it)
 * as a peer, approving the registration burn from the signer's tokens; returns the uid.
 */
export async function registerPeer(market: RankingMarket, signer: Signer, account?: string): Promise<bigint> {
  const who = account ?? (await signer.getAddress());
  await ensureAllowance(await market.token(), signer, await market.getAddress(), await market.registrationBurn());
  const connected = market.connect(signer);
  const [count, max] = await Promise.all([market.peerCount(), market.maxPeers()]);
  // In a full market the registration scans every uid for the weakest (under 2,700 gas a uid,
  // docs/ranking.md); Hardhat's estimate of it is three times the gas used, above the 2^24
  // per-transaction cap in the largest markets, so the limit is set from that bound instead.
  const overrides = count >= max ? { gasLimit: minBig(2n ** 24n, 500_000n + 3_000n * max) } : {};
  await (await (account === undefined ? connected.register(overrides) : connected.registerFor(account, overrides))).wait();
  return market.uidOf(who);
}

/** Stakes `amount` of the signer's tokens on peer `uid`, approving them if the allowance is short. */
export async function stakeOn(market: RankingMarket, signer: Signer, uid: bigint | number, amount: bigint): Promise<void> {
  await ensureAllowance(await market.token(), signer, await market.getAddress(), amount);
  await (await market.connect(signer).stake(uid, amount)).wait();
}

/** What an epoch's computation needs, read from the chain at its snapshot block. */
export interface EpochSnapshot {
  epoch: number;
  snapshotBlock: number;
  weights: Uint16Array[];
  /** The stake that counts in the epoch, by uid. */
  stake: bigint[];
  params: { rho: bigint; theta: number; tau: bigint };
}

/**
 * Rows per eth_call when reading weights: keeps each call near 10M gas of storage reads (a row's
 * words, its holder's account and state, and, once any uid was replaced, the replacement blocks of
 * every uid, read once a call).
 */
function rowsPerCall(n: number): number {
  const replacements = Math.ceil(n / 8) * 2_200 + n * 100;
  return Math.max(1, Math.floor((10_000_000 - replacements) / (wordsFor(n) * 2_200 + 5_400)));
}

/** Uids per eth_call when reading the stake that counts: each reads a few checkpoint slots. */
const STAKES_PER_CALL = 512;

/**
 * Calls `read` over [0, n) in pages of `size`, halving a page whose call runs out of gas (a view's
 * cost depends on the state: checkpoints, rows written before a replacement), down to one item.
 */
async function inPages(n: number, size: number, read: (from: number, to: number) => Promise<void>): Promise<void> {
  let step = Math.max(1, size);
  for (let from = 0; from < n; ) {
    const to = Math.min(n, from + step);
    try {
      await read(from, to);
      from = to;
    } catch (error) {
      if (step === 1 || !/out of gas|gas cap|exceeds|gas required/i.test(String((error as Error).message))) throw error;
      step = Math.ceil(step / 2);
    }
  }
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
  const [parameters, tau] = await Promise.all([market.parameters(at), market.tauAt(snapshotBlock)]);
  // The stake that counts (held through the whole epoch), not the stake at the snapshot (SPEC §1.2).
  const stake: bigint[] = [];
  await inPages(n, STAKES_PER_CALL, async (from, to) => {
    stake.push(...(await market.getCountingStakeRange(epoch, from, to, at)));
  });
  const weights: Uint16Array[] = [];
  await inPages(n, rowsPerCall(n), async (from, to) => {
    const [rowWords, words] = await market.getWeightRows(from, to, at);
    weights.push(...unpackRows(words, Number(rowWords), n));
  });
  return {
    epoch,
    snapshotBlock,
    weights,
    stake,
    params: { rho: parameters.rho, theta: thetaFromWad(parameters.theta), tau },
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

async function nextBlock(market: RankingMarket): Promise<bigint> {
  return BigInt(await market.runner!.provider!.getBlockNumber()) + 1n;
}

async function revealWindowEnd(market: RankingMarket, epoch: number): Promise<bigint> {
  const [snapshot, commitBlocks, revealBlocks] = await Promise.all([market.snapshotBlock(epoch), market.commitBlocks(), market.revealBlocks()]);
  return snapshot + commitBlocks + revealBlocks;
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

/** A gas limit above an estimate, for state that can change between estimate and inclusion. */
function withMargin(estimate: bigint): bigint {
  return (estimate * 5n) / 4n + 25_000n;
}

/** Claims sent per claimMany transaction. */
export const CLAIM_BATCH = 64;

/**
 * Does the next thing a validator owes epoch `epoch`, judged from the chain alone, so a validator
 * that stopped anywhere picks up where it was:
 * Committing: commits its result unless already committed; Revealing: reveals unless already
 * revealed; Finalized: claims its own leaf, and once the reveal window is over every leaf of the
 * final root still unclaimed, in batches (only if the final root is its own, since it needs the
 * tree to build proofs).
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
  const salt = await validatorSalt(signer, market, epoch);

  // A validator that committed must reveal, even once the epoch is final or it has been replaced
  // since the snapshot, or it forfeits its own emission of the epoch (the market refuses the leaf
  // of a commitment never revealed).
  const registered = await market.isRegistered(me);
  if (status === EpochStatus.Finalized || (status === EpochStatus.Revealing && !registered)) {
    const uid = registered ? await market.uidOf(me) : await formerUidAt(market, me, epoch);
    const [next, snapshot, commitBlocks, end] = await Promise.all([
      nextBlock(market),
      market.snapshotBlock(epoch),
      market.commitBlocks(),
      revealWindowEnd(market, epoch),
    ]);
    const pending =
      uid !== undefined &&
      next > snapshot + commitBlocks &&
      next <= end &&
      (await market.commitmentOf(epoch, uid)) !== ZERO32 &&
      !(await market.hasRevealed(epoch, uid));
    if (pending) return reveal(market, signer, epoch, result, salt, registered ? undefined : uid);
    if (status === EpochStatus.Revealing) return { kind: "done", status, reason: "replaced since the snapshot, with no reveal owed" };
  }

  if (status === EpochStatus.Finalized) {
    const [, root] = await market.epochInfo(epoch);
    if (root !== result.root) return { kind: "done", status, reason: "final root is not this validator's" };
    const bitmap = await market.claimedBitmap(epoch);
    const claimed = (uid: number) => ((bitmap[uid >> 8] >> BigInt(uid & 255)) & 1n) === 1n;
    const forfeited = await unrevealedCommitments(market, epoch);
    const due = result.emission.flatMap((amount, uid) =>
      amount === 0n || claimed(uid) || forfeited.has(uid) ? [] : [{ epoch, uid, amount, proof: result.proof(uid) }],
    );
    if (due.length === 0) return { kind: "done", status, reason: "all emission claimed" };
    // Each validator claims its own leaf at once; the leaves left (peers that do not validate)
    // are claimed after the reveal window, so validators do not race for the same leaves.
    const own = (await market.isRegistered(me)) ? Number(await market.uidOf(me)) : -1;
    const mine = due.filter((c) => c.uid === own);
    if (mine.length === 0 && (await nextBlock(market)) <= (await revealWindowEnd(market, epoch))) {
      return { kind: "wait", status, reason: "own emission claimed; other leaves after the reveal window" };
    }
    if (mine.length > 0) due.splice(0, due.length, ...mine);
    for (let i = 0; i < due.length; i += CLAIM_BATCH) {
      const batch = due.slice(i, i + CLAIM_BATCH);
      const gasLimit = withMargin(await connected.claimMany.estimateGas(batch));
      await (await connected.claimMany(batch, { gasLimit })).wait();
    }
    return { kind: "claimed", leaves: due.length, amount: due.reduce((a, c) => a + c.amount, 0n) };
  }

  if (!(await market.isRegistered(me))) throw new ValidatorError(`${me} is not a registered peer: register and stake first`);
  const uid = await market.uidOf(me);
  if (status === EpochStatus.Committing) {
    if ((await market.commitmentOf(epoch, uid)) !== ZERO32) {
      return { kind: "wait", status, reason: "committed; waiting for the reveal window" };
    }
    const votes = await voteStake(market, uid, epoch);
    if (votes === 0n) return { kind: "done", status, reason: `uid ${uid} has no stake that counts in epoch ${epoch} (stake counts once held through a whole epoch)` };
    const { chainId } = await signer.provider!.getNetwork();
    const commitment = resultCommitment({ chainId, market: await market.getAddress(), epoch }, result.root, result.totalEmission, salt, me);
    const gasLimit = withMargin(await connected.commitResult.estimateGas(epoch, commitment));
    await (await connected.commitResult(epoch, commitment, { gasLimit })).wait();
    return { kind: "committed", root: result.root, totalEmission: result.totalEmission };
  }
  // Revealing
  if ((await market.commitmentOf(epoch, uid)) === ZERO32) {
    return { kind: "done", status, reason: "missed the commit window" };
  }
  if (await market.hasRevealed(epoch, uid)) return { kind: "wait", status, reason: "revealed; waiting for quorum" };
  return reveal(market, signer, epoch, result, salt);
}

/**
 * The uids that committed a result for `epoch` and have not revealed it (from the market's events):
 * their leaves cannot be claimed while that lasts, and for good once the reveal window is over.
 */
export async function unrevealedCommitments(market: RankingMarket, epoch: number): Promise<Set<number>> {
  const [committed, revealed] = await Promise.all([
    market.queryFilter(market.filters.ResultCommitted(epoch)),
    market.queryFilter(market.filters.ResultRevealed(epoch)),
  ]);
  const open = new Set(committed.map((e) => Number(e.args.uid)));
  for (const e of revealed) open.delete(Number(e.args.uid));
  return open;
}

/** The vote weight of `uid` in `epoch`: its stake that counts, if it held its uid at the snapshot. */
export async function voteStake(market: RankingMarket, uid: bigint, epoch: number): Promise<bigint> {
  const [, , , registeredBlock] = await market.peer(uid);
  if (registeredBlock > (await market.snapshotBlock(epoch))) return 0n;
  return market.countingStakeOf(uid, epoch);
}

/**
 * The uid `account` held at `epoch`'s snapshot if it has been replaced since (from the market's
 * PeerReplaced events and its former-holder record); undefined otherwise.
 */
export async function formerUidAt(market: RankingMarket, account: string, epoch: number): Promise<bigint | undefined> {
  const snapshot = await market.snapshotBlock(epoch);
  for (const e of await market.queryFilter(market.filters.PeerReplaced(undefined, account))) {
    const [holder, since, until] = await market.formerHolder(e.args.uid);
    if (holder.toLowerCase() === account.toLowerCase() && since <= snapshot && snapshot < until) return e.args.uid;
  }
  return undefined;
}

/** Reveals the validator's result; `formerUid` when it reveals for a uid it held at the snapshot and lost since. */
async function reveal(
  market: RankingMarket,
  signer: Signer,
  epoch: number,
  result: EpochResult,
  salt: string,
  formerUid?: bigint,
): Promise<ValidatorAction> {
  const connected = market.connect(signer);
  // The reveal that reaches quorum costs more than the others: another reveal landing first can
  // turn this one into the finalizing one, hence the margin over the estimate.
  if (formerUid === undefined) {
    const gasLimit = withMargin(await connected.revealResult.estimateGas(epoch, result.root, result.totalEmission, salt));
    await (await connected.revealResult(epoch, result.root, result.totalEmission, salt, { gasLimit })).wait();
  } else {
    const args = [epoch, formerUid, result.root, result.totalEmission, salt] as const;
    const gasLimit = withMargin(await connected.revealAsFormerHolder.estimateGas(...args));
    await (await connected.revealAsFormerHolder(...args, { gasLimit })).wait();
  }
  const finalized = Number(await market.epochStatus(epoch)) === EpochStatus.Finalized;
  return { kind: "revealed", root: result.root, totalEmission: result.totalEmission, finalized };
}

/** What a validator did for one epoch, reported once the epoch needs nothing more from it. */
export interface EpochReport {
  epoch: number;
  status: EpochStatus;
  committed: boolean;
  revealed: boolean;
  /** Whether the final root is the one this validator computed. */
  agreed: boolean;
  claimedLeaves: number;
  totalEmission: bigint;
  /** This validator's stake after the epoch's claims. */
  stake: bigint;
  reason: string;
}

export interface ValidatorLoopOptions {
  /** First epoch to serve; by default the oldest epoch whose commit or reveal window is still open. */
  fromEpoch?: number;
  /** Stop once this many epochs are reported; by default run until `signal` aborts. */
  epochs?: number;
  /** How often to look for a new block (ms). */
  pollMs?: number;
  signal?: AbortSignal;
  onReport?: (report: EpochReport) => void;
  /** Called when a transaction reverted (the loop goes on at the next block). */
  onRetry?: (epoch: number, reason: string) => void;
}

/**
 * Runs a validator for one wallet: at every new block, advances each epoch it still owes work
 * (see `advanceValidator`) and reports an epoch once it is final and claimed, lapsed, or out of
 * its reach. Safe to stop and start again at any point.
 */
export async function runValidator(market: RankingMarket, signer: Signer, options: ValidatorLoopOptions = {}): Promise<EpochReport[]> {
  const provider = signer.provider!;
  const me = await signer.getAddress();
  if (!(await market.isRegistered(me))) throw new ValidatorError(`${me} is not a registered peer: register and stake first`);
  const uid = await market.uidOf(me);
  if ((await market.stakeOf(uid)) === 0n) throw new ValidatorError(`${me} (uid ${uid}) has no stake: stake before validating`);

  let next = options.fromEpoch ?? (await firstOpenEpoch(market));
  const open = new Map<number, { committed: boolean; revealed: boolean; claimedLeaves: number }>();
  const cache: EpochCache = new Map();
  const reports: EpochReport[] = [];
  let lastHead = -1;
  while (!options.signal?.aborted && (options.epochs === undefined || reports.length < options.epochs)) {
    const head = await provider.getBlockNumber();
    if (head === lastHead) {
      await sleep(options.pollMs ?? 1000, options.signal);
      continue;
    }
    lastHead = head;
    while (Number(await market.snapshotBlock(next)) <= head) open.set(next++, { committed: false, revealed: false, claimedLeaves: 0 });
    for (const [epoch, progress] of [...open]) {
      let action: ValidatorAction;
      try {
        action = await advanceValidator(market, signer, epoch, cache);
      } catch (error) {
        // A window can close between reading the chain and the transaction landing; the next
        // block tells what is still owed. Anything but a revert is a real failure.
        if (!isRevert(error) && !/out of gas/i.test(String((error as Error).message))) throw error;
        options.onRetry?.(epoch, decodeRevert(error) ?? "reverted");
        continue;
      }
      if (action.kind === "committed") progress.committed = true;
      if (action.kind === "revealed") progress.revealed = true;
      if (action.kind === "claimed") progress.claimedLeaves += action.leaves;
      if (action.kind !== "done") continue;
      const [, root, totalEmission] = await market.epochInfo(epoch);
      const report: EpochReport = {
        epoch,
        status: action.status,
        committed: progress.committed || (await market.commitmentOf(epoch, uid)) !== ZERO32,
        revealed: progress.revealed || (await market.hasRevealed(epoch, uid)),
        agreed: cache.get(epoch)?.root === root,
        claimedLeaves: progress.claimedLeaves,
        totalEmission,
        stake: await market.stakeOf(uid),
        reason: action.reason,
      };
      open.delete(epoch);
      cache.delete(epoch);
      reports.push(report);
      options.onReport?.(report);
      if (options.epochs !== undefined && reports.length >= options.epochs) break;
    }
  }
  return reports;
}

/** The oldest epoch whose windows are still open at the next block (or the accumulating one). */
async function firstOpenEpoch(market: RankingMarket): Promise<number> {
  const current = Number(await market.currentEpoch());
  let epoch = current;
  while (epoch > 0) {
    const status = await statusForNextBlock(market, epoch - 1);
    if (status !== EpochStatus.Committing && status !== EpochStatus.Revealing) break;
    epoch--;
  }
  return epoch;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** One line about an epoch's outcome for this validator. */
export function formatEpochReport(r: EpochReport): string {
  const outcome =
    r.status === EpochStatus.Finalized ? (r.agreed ? "final, agreed" : "final, DISAGREED with this validator") : `lapsed, no emission (${r.reason})`;
  const steps = [r.committed ? "committed" : "no commit", r.revealed ? "revealed" : "no reveal"];
  if (r.claimedLeaves > 0) steps.push(`claimed ${r.claimedLeaves} ${r.claimedLeaves === 1 ? "leaf" : "leaves"}`);
  return `epoch ${r.epoch}: ${outcome}; ${steps.join(", ")}; emission ${formatTokens(r.totalEmission)}; stake ${formatTokens(r.stake)}`;
}
