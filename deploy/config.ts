import { parseEther } from "ethers";
/** Every ranking market parameter (IRankingMarket.Config); fractions are WAD. */
export interface RankingConfig {
  maxPeers: bigint;
  epochLength: bigint;
  commitBlocks: bigint;
  revealBlocks: bigint;
  lambda: bigint;
  quorum: bigint;
  rho: bigint;
  theta: bigint;
  tau: bigint;
  minStakeToSetWeights: bigint;
  weightsRateLimit: bigint;
  unbondingBlocks: bigint;
}

const WAD = 10n ** 18n;

/**
 * Ranking market parameters of a fresh devnet (SPEC §1.1-1.2). Short epochs so a scenario runs
 * in seconds on the embedded network; an admin can change the economic ones later.
 */
export const DEFAULT_RANKING_CONFIG: RankingConfig = {
  maxPeers: 256n,
  epochLength: 20n,
  commitBlocks: 10n,
  revealBlocks: 10n,
  lambda: WAD, // a new row replaces the old one
  quorum: WAD / 2n, // more than half of the snapshot stake
  rho: WAD,
  theta: WAD / 2n,
  tau: WAD / 100n, // at most 1% of the total stake per epoch
  minStakeToSetWeights: parseEther("1"),
  weightsRateLimit: 1n,
  unbondingBlocks: 20n,
};

/** Tokens minted to the deployer at deployment, to hand out on a devnet. */
export const DEFAULT_INITIAL_SUPPLY = parseEther("10000000");
