import { expect } from "chai";
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
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

/** A small seeded generator (mulberry32) for reproducible random tests. */
export const seededRandom = mulberry32;
