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
} from "../typechain-types";
import { AddressBook, writeAddressBook, DEFAULT_DEPLOYMENTS_DIR } from "../sdk/src/chain/addressBook";
import { DEFAULT_INITIAL_SUPPLY, DEFAULT_RANKING_CONFIG, RankingConfig } from "./config";

export interface DeployOptions {
  /** Receives the token's and the market's admin roles; the deployer if not given. */
  admin?: string;
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
 * Deploys every Agora contract with `deployer` and wires them: the ranking market alone holds the
 * token's MINTER_ROLE (SPEC §0). Used by the tests, `npm start` and `deploy/index.ts`.
 */
export async function deployAgora(deployer: Signer, options: DeployOptions = {}): Promise<AgoraDeployment> {
  const deployerAddress = await deployer.getAddress();
  const admin = options.admin ?? deployerAddress;
  const rankingConfig: RankingConfig = { ...DEFAULT_RANKING_CONFIG, ...options.ranking };

  // The deployer administers the token until MINTER_ROLE is granted, then hands admin over.
  const token = await new AgoraToken__factory(deployer).deploy(
    deployerAddress,
    deployerAddress,
    options.initialSupply ?? DEFAULT_INITIAL_SUPPLY,
  );
  await token.waitForDeployment();
  const ranking = await new RankingMarket__factory(deployer).deploy(await token.getAddress(), admin, rankingConfig);
  await ranking.waitForDeployment();
  await (await token.grantRole(await token.MINTER_ROLE(), await ranking.getAddress())).wait();
  const jobs = await new JobMarket__factory(deployer).deploy(await token.getAddress());
  await jobs.waitForDeployment();
  const delegation = await new DelegationMarket__factory(deployer).deploy(await token.getAddress());
  await delegation.waitForDeployment();
  const collaboration = await new CollaborationRound__factory(deployer).deploy(await token.getAddress());
  await collaboration.waitForDeployment();
  if (admin !== deployerAddress) {
    const adminRole = await token.DEFAULT_ADMIN_ROLE();
    await (await token.grantRole(adminRole, admin)).wait();
    await (await token.renounceRole(adminRole, deployerAddress)).wait();
  }

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
