import fs from "node:fs";
import path from "node:path";
import { DeploymentNotFoundError } from "../errors";

/** One deployed contract. */
export interface DeployedContract {
  address: string;
  /** Block of the deployment transaction (where an indexer starts). */
  blockNumber: number;
}

/** What `deploy/` writes to `deployments/<chainId>.json` and the SDK and CLI read. */
export interface AddressBook {
  chainId: number;
  network: string;
  deployer: string;
  contracts: Record<string, DeployedContract>;
}

/** Default folder of address books: `deployments/` at the repository root. */
export const DEFAULT_DEPLOYMENTS_DIR = path.resolve(__dirname, "..", "..", "..", "deployments");

export function addressBookPath(chainId: number, dir = DEFAULT_DEPLOYMENTS_DIR): string {
  return path.join(dir, `${chainId}.json`);
}

export function writeAddressBook(book: AddressBook, dir = DEFAULT_DEPLOYMENTS_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = addressBookPath(book.chainId, dir);
  fs.writeFileSync(file, JSON.stringify(book, null, 2) + "\n");
  return file;
}

/** Reads the address book of `chainId`; throws DeploymentNotFoundError naming the file if absent. */
export function readAddressBook(chainId: number, dir = DEFAULT_DEPLOYMENTS_DIR): AddressBook {
  const file = addressBookPath(chainId, dir);
  if (!fs.existsSync(file)) {
    throw new DeploymentNotFoundError(`no Agora deployment for chain ${chainId}: ${file} does not exist (deploy first)`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as AddressBook;
}

/** The address of `name` in `book`; throws DeploymentNotFoundError if the book lacks it. */
export function contractAddress(book: AddressBook, name: string): string {
  const entry = book.contracts[name];
  if (!entry) throw new DeploymentNotFoundError(`the address book of chain ${book.chainId} has no ${name}`);
  return entry.address;
}
