import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { deployAgora, AgoraDeployment } from "../../../deploy/agora";
import { TOKENS } from "../../helpers";

/** Agora deployed with its defaults, and named accounts holding 100,000 tokens each. */
export interface SecurityFixture extends AgoraDeployment {
  admin: HardhatEthersSigner;
  /** Honest parties, one per role. */
  honest: HardhatEthersSigner[];
  /** An attacker that plays every other role at once. */
  attacker: HardhatEthersSigner;
  /** A third party that only calls permissionless exits. */
  anyone: HardhatEthersSigner;
}

/** Deploys Agora with the deployment defaults (the protocol's floors and ceilings) and funds the accounts. */
export async function deploySecurity(): Promise<SecurityFixture> {
  const [admin, attacker, anyone, ...rest] = await hre.ethers.getSigners();
  const deployment = await deployAgora(admin, { addressBookDir: false });
  const honest = rest.slice(0, 8);
  for (const s of [attacker, anyone, ...honest]) await deployment.token.transfer(s.address, TOKENS(100_000));
  return { ...deployment, admin, honest, attacker, anyone };
}
