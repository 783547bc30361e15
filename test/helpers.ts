import { expect } from "chai";
import hre from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { parseEther } from "ethers";
import { deployAgora, DeployOptions } from "../deploy/agora";
import type { AgoraToken, RankingMarket } from "../typechain-types";
import { mulberry32 } from "../sdk/src/ranking/generators";

export const WAD = 10n ** 18n;
export const TOKENS = (n: number | string) => parseEther(String(n));

export interface RankingFixture {
  token: AgoraToken;
  ranking: RankingMarket;
  admin: HardhatEthersSigner;
  peers: HardhatEthersSigner[];
  outsider: HardhatEthersSigner;
}

/** Deploys Agora on the embedded network and funds ten would-be peers and an outsider with 100,000 tokens each. */
export async function deployRanking(options: DeployOptions = {}): Promise<RankingFixture> {
  const [admin, ...others] = await hre.ethers.getSigners();
  const { token, ranking } = await deployAgora(admin, { addressBookDir: false, ...options });
  const peers = others.slice(0, 10);
  const outsider = others[10];
  for (const p of [...peers, outsider]) {
    await token.transfer(p.address, TOKENS(100_000));
    await token.connect(p).approve(await ranking.getAddress(), hre.ethers.MaxUint256);
  }
  return { token, ranking, admin, peers, outsider };
}

/** Registers each signer in order (uid = index) and stakes `amounts[i]` for it. */
export async function registerAndStake(
  ranking: RankingMarket,
  signers: HardhatEthersSigner[],
  amounts: bigint[],
): Promise<void> {
  for (let i = 0; i < signers.length; i++) {
    await ranking.connect(signers[i]).register();
    const uid = await ranking.uidOf(signers[i].address);
    if (amounts[i] > 0n) await ranking.connect(signers[i]).stake(uid, amounts[i]);
  }
}

/**
 * The conservation invariant of SPEC §0 for the ranking market: every token it holds is owed,
 * as stake or unbonding, and the total stake is the sum of the peers' stakes.
 */
export async function expectConservation(token: AgoraToken, ranking: RankingMarket): Promise<void> {
  const held = await token.balanceOf(await ranking.getAddress());
  const stakes = await ranking.getStakes();
  const sum = stakes.reduce((a, b) => a + b, 0n);
  expect(await ranking.totalStake()).to.equal(sum, "total stake is the sum of stakes");
  expect(held).to.equal(sum + (await ranking.totalUnbonding()), "tokens held equal stake plus unbonding");
}

/** Mines blocks so that the next block to be mined is `target` (no-op if already past). */
export async function setNextBlock(target: bigint | number): Promise<void> {
  const now = BigInt(await hre.ethers.provider.getBlockNumber());
  const next = BigInt(target);
  if (next > now + 1n) await mine(next - now - 1n);
}

/** Seconds between blocks on Ethereum since the merge; deadlines are tested at this pace. */
export const BLOCK_TIME = 12;

/**
 * Makes the next block come `BLOCK_TIME` seconds after the latest one, as on a real chain (Hardhat
 * otherwise mines each transaction one second after the last, which hides attacks that need a
 * window to be shorter than a block).
 */
export async function nextBlockIn12s(): Promise<void> {
  await time.setNextBlockTimestamp((await time.latest()) + BLOCK_TIME);
}

/** Sends a transaction in a block 12 s after the latest one; resolves to its receipt. */
export async function in12sBlock<T extends { wait(): Promise<unknown> }>(send: () => Promise<T>): Promise<Awaited<ReturnType<T["wait"]>>> {
  await nextBlockIn12s();
  return (await (await send()).wait()) as Awaited<ReturnType<T["wait"]>>;
}

/** Mines empty 12-second blocks until at least `seconds` have passed since the latest block. */
export async function pass12sBlocks(seconds: number | bigint): Promise<void> {
  const blocks = Math.ceil(Number(seconds) / BLOCK_TIME);
  if (blocks === 0) return;
  // hardhat_mine spaces its blocks by the interval but puts the first one second after the latest
  // unless the next timestamp is set: set it, so every block is 12 s after the one before.
  await nextBlockIn12s();
  await mine(blocks, { interval: BLOCK_TIME });
}

/** A small seeded generator (mulberry32) for reproducible random tests. */
export const seededRandom = mulberry32;
