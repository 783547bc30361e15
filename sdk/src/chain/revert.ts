import { Interface, isError } from "ethers";
import {
  AgoraToken__factory,
  CollaborationRound__factory,
  DelegationMarket__factory,
  JobMarket__factory,
  RankingMarket__factory,
} from "../../../typechain-types";

/** Every Agora contract's errors (and the token's, OpenZeppelin's ERC-20 errors among them). */
const INTERFACES: Interface[] = [
  RankingMarket__factory.createInterface(),
  JobMarket__factory.createInterface(),
  DelegationMarket__factory.createInterface(),
  CollaborationRound__factory.createInterface(),
  AgoraToken__factory.createInterface(),
];

/** The revert data carried by an ethers error, if any. */
export function revertData(error: unknown): string | undefined {
  const e = error as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } };
  for (const candidate of [e.data, e.info?.error?.data, e.error?.data]) {
    if (typeof candidate === "string" && candidate.startsWith("0x") && candidate.length >= 10) return candidate;
    const nested = (candidate as { data?: unknown } | undefined)?.data;
    if (typeof nested === "string" && nested.startsWith("0x") && nested.length >= 10) return nested;
  }
  return undefined;
}

/** A custom error decoded to its name and values (`NotInCommitWindow(3, 120, 100, 110)`), if known. */
export function decodeRevert(error: unknown): string | undefined {
  const data = revertData(error);
  if (!data) return undefined;
  for (const iface of INTERFACES) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
    } catch {
      // not this contract's error
    }
  }
  return undefined;
}

/** Whether `error` is a transaction or call that the chain reverted. */
export function isRevert(error: unknown): boolean {
  return isError(error, "CALL_EXCEPTION") || revertData(error) !== undefined;
}
