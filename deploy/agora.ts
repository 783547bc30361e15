import type { Signer } from "ethers";
import {
  AgoraToken,
  AgoraToken__factory,
  CollaborationRound,
  CollaborationRound__factory,
  DelegationMarket,
  DelegationMarket__factory,
  JobMarket,
  JobMarket__factory,
  RankingMarket,
  RankingMarket__factory,
  WeightRow__factory,
} from "../typechain-types";
import { AddressBook, writeAddressBook, DEFAULT_DEPLOYMENTS_DIR } from "../sdk/src/chain/addressBook";
import type { WindowBounds } from "../sdk/src/chain/jobs";
import {
  DEFAULT_ADMIN_DELAY,
  DEFAULT_INITIAL_SUPPLY,
  DEFAULT_JOB_WINDOWS,
  DEFAULT_RANKING_CONFIG,
  DEFAULT_ROUND_WINDOW,
  DEFAULT_SESSION_DURATION,
  RankingConfig,
  SecondsBounds,
} from "./config";

export interface DeployOptions {
  /** Receives the ranking market's admin roles; the deployer if not given. */
  admin?: string;
  /** Seconds a transfer of the ranking market's default admin waits. */
  adminDelay?: number;
  /**
   * Leave the ranking market without any admin: its parameters are then fixed for good. The
   * token never has one (its minter is bound once, to the ranking market).
   */
  renounceAdmin?: boolean;
  /** Overrides of the job market's window bounds. */
  jobWindows?: Partial<WindowBounds>;
  /** Bounds of a delegation session's duration. */
  sessionDuration?: SecondsBounds;
  /** Bounds of each window of a collaboration round. */
  roundWindow?: SecondsBounds;
  /** Tokens minted to the deployer (wei). */
  initialSupply?: bigint;
  /** Overrides of the ranking market's parameters. */
  ranking?: Partial<RankingConfig>;
  /** Where to write the address book; `false` to write none (the embedded network's default). */
  addressBookDir?: string | false;
  /** Network name recorded in the address book. */
  network?: string;
}

export interface AgoraDeployment {
  token: AgoraToken;
  ranking: RankingMarket;
  jobs: JobMarket;
  delegation: DelegationMarket;
  collaboration: CollaborationRound;
  rankingConfig: RankingConfig;
  book: AddressBook;
  /** The file written, if any. */
  addressBookFile?: string;
}

/**
 * Deploys a RankingMarket (and the WeightRow library it links) with `deployer`. Every deployment
 * of the market goes through here.
 */
export async function deployRankingMarket(
  deployer: Signer,
  token: string,
  admin: string,
  config: RankingConfig,
  adminDelay: number = DEFAULT_ADMIN_DELAY,
): Promise<RankingMarket> {
  const library = await new WeightRow__factory(deployer).deploy();
  await library.waitForDeployment();
  const factory = new RankingMarket__factory({ "contracts/libraries/WeightRow.sol:WeightRow": await library.getAddress() }, deployer);
  const ranking = await factory.deploy(token, admin, adminDelay, config);
  await ranking.waitForDeployment();
  return ranking;
}

/**
 * Deploys every Agora contract with `deployer` and wires them: the token's only minter is bound,
 * once, to the ranking market (SPEC §0). Used by the tests, `npm start` and `deploy/index.ts`.
 */
export async function deployAgora(deployer: Signer, options: DeployOptions = {}): Promise<AgoraDeployment> {
  const deployerAddress = await deployer.getAddress();
  const admin = options.admin ?? deployerAddress;
  const rankingConfig: RankingConfig = { ...DEFAULT_RANKING_CONFIG, ...options.ranking };
  const jobWindows: WindowBounds = { ...DEFAULT_JOB_WINDOWS, ...options.jobWindows };
  const sessionDuration = options.sessionDuration ?? DEFAULT_SESSION_DURATION;
  const roundWindow = options.roundWindow ?? DEFAULT_ROUND_WINDOW;

  const token = await new AgoraToken__factory(deployer).deploy(deployerAddress, options.initialSupply ?? DEFAULT_INITIAL_SUPPLY);
  await token.waitForDeployment();
  if (options.renounceAdmin && admin !== deployerAddress) {
    throw new Error("renounceAdmin renounces the deployer's roles: leave admin unset");
  }
  const adminDelay = options.renounceAdmin ? 0 : (options.adminDelay ?? DEFAULT_ADMIN_DELAY);
  const ranking = await deployRankingMarket(deployer, await token.getAddress(), admin, rankingConfig, adminDelay);
  await (await token.bindMinter(await ranking.getAddress())).wait();
  const jobs = await new JobMarket__factory(deployer).deploy(await token.getAddress(), jobWindows);
  await jobs.waitForDeployment();
  const delegation = await new DelegationMarket__factory(deployer).deploy(
    await token.getAddress(),
    sessionDuration.min,
    sessionDuration.max,
  );
  await delegation.waitForDeployment();
  const collaboration = await new CollaborationRound__factory(deployer).deploy(
    await token.getAddress(),
    roundWindow.min,
    roundWindow.max,
  );
  await collaboration.waitForDeployment();
  if (options.renounceAdmin) await renounceRankingAdmin(ranking, deployer);

  const network = await deployer.provider!.getNetwork();
  const blockOf = async (c: { deploymentTransaction(): { hash: string } | null }) => {
    const tx = c.deploymentTransaction();
    const receipt = tx ? await deployer.provider!.getTransactionReceipt(tx.hash) : null;
    return receipt?.blockNumber ?? 0;
  };
  const book: AddressBook = {
    chainId: Number(network.chainId),
    network: options.network ?? network.name,
    deployer: deployerAddress,
    contracts: {
      AgoraToken: { address: await token.getAddress(), blockNumber: await blockOf(token) },
      RankingMarket: { address: await ranking.getAddress(), blockNumber: await blockOf(ranking) },
      JobMarket: { address: await jobs.getAddress(), blockNumber: await blockOf(jobs) },
      DelegationMarket: { address: await delegation.getAddress(), blockNumber: await blockOf(delegation) },
      CollaborationRound: { address: await collaboration.getAddress(), blockNumber: await blockOf(collaboration) },
    },
  };
  const dir = options.addressBookDir === undefined ? DEFAULT_DEPLOYMENTS_DIR : options.addressBookDir;
  const addressBookFile = dir === false ? undefined : writeAddressBook(book, dir);
  return { token, ranking, jobs, delegation, collaboration, rankingConfig, book, addressBookFile };
}

/**
 * Leaves the ranking market without an admin: the parameter role is renounced, and the default
 * admin goes through OpenZeppelin's two-step renounce (a transfer to the zero address, accepted
 * once its schedule has passed; the market was deployed with no delay for this).
 */
async function renounceRankingAdmin(ranking: RankingMarket, admin: Signer): Promise<void> {
  const account = await admin.getAddress();
  await (await ranking.connect(admin).renounceRole(await ranking.PARAMETER_ADMIN_ROLE(), account)).wait();
  // With no delay the schedule is the block of this transfer: the renounce, sent once it is mined,
  // lands in a later block, whose timestamp is past it.
  await (await ranking.connect(admin).beginDefaultAdminTransfer("0x0000000000000000000000000000000000000000")).wait();
  await (await ranking.connect(admin).renounceRole(await ranking.DEFAULT_ADMIN_ROLE(), account)).wait();
}
