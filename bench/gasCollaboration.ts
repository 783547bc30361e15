import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { id, parseEther, TransactionResponse } from "ethers";
import { deployAgora } from "../deploy/agora";

async function gas(tx: Promise<TransactionResponse>): Promise<bigint> {
  return (await (await tx).wait())!.gasUsed;
}

/**
 * Gas of a collaboration round (SPEC §4): a round of three parties on a two-item menu that is
 * delivered, and one the coordinator never delivers (claimDefault). Approvals are left out.
 */
export async function collaborationGas(): Promise<{ operation: string; gas: bigint }[]> {
  const [admin, coordinator, a, b, c] = await hre.ethers.getSigners();
  const { token, collaboration: round } = await deployAgora(admin, { addressBookDir: false });
  const address = await round.getAddress();
  for (const s of [coordinator, a, b, c]) {
    await token.transfer(s.address, parseEther("10000"));
    await token.connect(s).approve(address, hre.ethers.MaxUint256);
  }
  const items = [
    { contribution: parseEther("10"), reward: parseEther("20"), collateral: parseEther("5") },
    { contribution: parseEther("30"), reward: parseEther("40"), collateral: parseEther("8") },
  ];
  const rows: { operation: string; gas: bigint }[] = [];
  const open = async () => {
    const now = BigInt(await time.latest());
    const deadlines = [now + 100n, now + 200n, now + 300n] as const;
    const tx = round.connect(coordinator).createRound(items, parseEther("90"), ...deadlines);
    return { gas: await gas(tx), id: await round.roundCount(), deadlines };
  };

  const first = await open();
  rows.push({ operation: "createRound (2 items)", gas: first.gas });
  rows.push({ operation: "join (first party)", gas: await gas(round.connect(a).join(first.id, 0)) });
  rows.push({ operation: "join (second party)", gas: await gas(round.connect(b).join(first.id, 1)) });
  await round.connect(c).join(first.id, 0);
  rows.push({ operation: "contribute", gas: await gas(round.connect(a).contribute(first.id, id("data a"), parseEther("10"))) });
  await round.connect(b).contribute(first.id, id("data b"), parseEther("31"));
  await time.increaseTo(first.deadlines[1] + 1n);
  const shares = [parseEther("0.5"), parseEther("0.9"), 0n];
  rows.push({ operation: "deliver (3 parties, 1 non-contributor)", gas: await gas(round.connect(coordinator).deliver(first.id, id("model"), shares)) });
  rows.push({ operation: "withdraw", gas: await gas(round.connect(a).withdraw()) });

  const second = await open();
  await round.connect(a).join(second.id, 0);
  await round.connect(b).join(second.id, 1);
  await round.connect(a).contribute(second.id, id("data a"), parseEther("10"));
  await time.increaseTo(second.deadlines[2] + 1n);
  rows.push({ operation: "claimDefault (2 parties, 1 contributor)", gas: await gas(round.connect(c).claimDefault(second.id)) });
  return rows;
}
