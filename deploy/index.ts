/**
 * Deploys Agora to the network Hardhat was started with and writes `deployments/<chainId>.json`:
 *   npx hardhat node                                    # in another terminal
 *   npx hardhat run deploy/index.ts --network localhost
 * On the embedded `hardhat` network the chain ends with the process, so no address book is written.
 */
import hre from "hardhat";
import { deployAgora } from "./agora";

async function main(): Promise<void> {
  const [deployer] = await hre.ethers.getSigners();
  const embedded = hre.network.name === "hardhat";
  const deployment = await deployAgora(deployer, {
    network: hre.network.name,
    addressBookDir: embedded ? false : undefined,
  });
  for (const [name, c] of Object.entries(deployment.book.contracts)) {
    console.log(`${name.padEnd(14)} ${c.address}  (block ${c.blockNumber})`);
  }
  console.log(deployment.addressBookFile ? `address book: ${deployment.addressBookFile}` : "embedded network: no address book written");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
