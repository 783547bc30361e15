import { parseEther } from "ethers";
import type { WindowBounds } from "../sdk/src/chain/jobs";
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
  maxTau: bigint;
  registrationBurn: bigint;
  immunityBlocks: bigint;
}

/** A floor and a ceiling in seconds. */
export interface SecondsBounds {
  min: number;
  max: number;
}

const WAD = 10n ** 18n;
const MINUTE = 60;
const DAY = 86_400;

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
  quorum: WAD / 2n, // more than half of the stake that counts
  rho: WAD,
  theta: WAD / 2n,
  tau: WAD / 100n, // 1% of the stake that counts per epoch
  minStakeToSetWeights: parseEther("1"),
  weightsRateLimit: 1n,
  unbondingBlocks: 20n,
  maxTau: WAD / 20n, // the hard cap: tau can never be raised above 5% per epoch
  registrationBurn: parseEther("1"),
  immunityBlocks: 100n, // five epochs before a newcomer can be replaced
};

/**
 * Job market windows: a minute at least (five 12-second blocks, so a party always has blocks to
 * act in) and a week at most (no escrow, deposit or bond waits longer in any one window).
 */
export const DEFAULT_JOB_WINDOWS: WindowBounds = {
  minResultTime: MINUTE,
  maxResultTime: 7 * DAY,
  minReactionTime: MINUTE,
  maxReactionTime: 7 * DAY,
  minMediationTime: MINUTE,
  maxMediationTime: 7 * DAY,
};

/** A delegation session lasts between a minute and 30 days (after which anyone closes it). */
export const DEFAULT_SESSION_DURATION: SecondsBounds = { min: MINUTE, max: 30 * DAY };

/** Each window of a collaboration round (join, contribute, deliver) lasts between a minute and 30 days. */
export const DEFAULT_ROUND_WINDOW: SecondsBounds = { min: MINUTE, max: 30 * DAY };

/** Seconds a transfer of the ranking market's default admin waits (OpenZeppelin AccessControlDefaultAdminRules). */
export const DEFAULT_ADMIN_DELAY = 2 * DAY;

/** Tokens minted to the deployer at deployment, to hand out on a devnet. */
export const DEFAULT_INITIAL_SUPPLY = parseEther("10000000");
