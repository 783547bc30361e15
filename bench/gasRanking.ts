import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { id, parseEther, Signer, TransactionReceipt, TransactionResponse, Wallet } from "ethers";
import { deployAgora } from "../deploy/agora";
import { buildEmissionTree } from "../sdk/src/ranking/merkle";
import { resultCommitment } from "../sdk/src/ranking/commitment";
import { normalizeRow, packRow, sparseRow, wordsFor } from "../sdk/src/ranking/weights";
import type { RankingMarket } from "../typechain-types";

export interface GasRow {
  operation: string;
  gas: bigint;
  /** 21000 + calldata + one steady-state slot update (5000) per row word, where it applies. */
  floor?: bigint;
}

async function gasOf(tx: Promise<TransactionResponse>): Promise<{ gas: bigint; receipt: TransactionReceipt }> {
  const sent = await tx;
  const receipt = (await sent.wait())!;
  return { gas: receipt.gasUsed, receipt };
}

/** Intrinsic calldata cost of a transaction (EIP-2028: 16 per non-zero byte, 4 per zero byte). */
function calldataGas(data: string): bigint {
  let gas = 0n;
  for (let i = 2; i < data.length; i += 2) gas += data.slice(i, i + 2) === "00" ? 4n : 16n;
  return gas;
}

/** A dense row of n weights with k non-zero entries spread evenly, already normalized. */
function row(n: number, k: number, variant: number): number[] {
  const dense = new Array<number>(n).fill(0);
  for (let j = 0; j < k; j++) dense[Math.floor((j * n) / k)] = 1000 + ((j * 7919 + variant * 104729) % 9000);
  return normalizeRow(dense);
}

/**
 * Gas of every ranking market action on a market of `n` peers (SPEC §1, issue 2's benchmark).
 * With `weights`, rows of 16, 64 and n non-zero entries, first write and steady-state update.
 */
export async function rankingGas(n: number, weights: boolean): Promise<GasRow[]> {
  const [deployer, setter, validatorB] = await hre.ethers.getSigners();
  const { token, ranking } = await deployAgora(deployer, {
    addressBookDir: false,
    ranking: { maxPeers: BigInt(n), epochLength: BigInt(4 * n + 200), weightsRateLimit: 0n },
  });
  const rows: GasRow[] = [];
  const address = await ranking.getAddress();
  // The setter sponsors every other registration, each burning registrationBurn.
  const burn = await ranking.registrationBurn();
  for (const s of [setter, validatorB]) {
    await token.transfer(s.address, parseEther("1000") + BigInt(n) * burn);
    await token.connect(s).approve(address, hre.ethers.MaxUint256);
  }

  rows.push({ operation: "register (first peer)", gas: (await gasOf(ranking.connect(setter).register())).gas });
  rows.push({ operation: "register (second peer)", gas: (await gasOf(ranking.connect(validatorB).register())).gas });
  for (let i = 2; i < n; i++) await ranking.connect(setter).registerFor(Wallet.createRandom().address);
  rows.push({ operation: "stake (first deposit of a peer)", gas: (await gasOf(ranking.connect(setter).stake(0, parseEther("60")))).gas });
  rows.push({ operation: "stake (top-up)", gas: (await gasOf(ranking.connect(setter).stake(0, parseEther("1")))).gas });
  await ranking.connect(validatorB).stake(1, parseEther("39"));
  rows.push({ operation: "unstake", gas: (await gasOf(ranking.connect(validatorB).unstake(parseEther("1")))).gas });

  const words = BigInt(wordsFor(n));
  const floorOf = (data: string) => 21000n + calldataGas(data) + words * 5000n;
  const setterMarket = ranking.connect(setter) as RankingMarket;
  for (const k of weights ? [16, 64, n] : []) {
    for (const variant of ["setWeights", "setWeightsPacked"] as const) {
      const send = async (dense: number[]) => {
        if (variant === "setWeights") {
          const { uids, values } = sparseRow(dense);
          return gasOf(setterMarket.setWeights(uids, values));
        }
        return gasOf(setterMarket.setWeightsPacked(packRow(dense)));
      };
      // Start each series from a row with the other shape so the first write really writes.
      await setterMarket.setWeights([n - 1], [1]);
      const first = await send(row(n, k, 1));
      rows.push({ operation: `${variant}, ${k} non-zero of ${n}: first write`, gas: first.gas });
      const steady = await send(row(n, k, 2));
      const tx = await hre.ethers.provider.getTransaction(steady.receipt.hash);
      rows.push({
        operation: `${variant}, ${k} non-zero of ${n}: steady-state update`,
        gas: steady.gas,
        floor: floorOf(tx!.data),
      });
    }
  }
  // The general path: a raw row that does not sum to 65535 is normalized on chain.
  if (weights) await rawRows(setterMarket, n, rows);

  // Epoch 1 (the first in which stake counts: it was staked in epoch 0): the setter (61 of 99
  // staked) and validator B (38) commit and reveal, then claims.
  const epoch = 1;
  const context = { chainId: (await hre.ethers.provider.getNetwork()).chainId, market: address, epoch };
  const snapshot = await ranking.snapshotBlock(epoch);
  const now = BigInt(await hre.ethers.provider.getBlockNumber());
  if (now < snapshot) await mine(snapshot - now);
  const emission = Array.from({ length: n }, (_, i) => parseEther("0.00001") * BigInt(1 + (i % 7)));
  const tree = buildEmissionTree(emission);
  const total = emission.reduce((a, b) => a + b, 0n);
  const salt = id("bench");
  rows.push({
    operation: "commitResult",
    gas: (await gasOf(setterMarket.commitResult(epoch, resultCommitment(context, tree.root, total, salt, setter.address)))).gas,
  });
  await ranking.connect(validatorB).commitResult(epoch, resultCommitment(context, tree.root, total, salt, validatorB.address));
  await mine(await ranking.commitBlocks());
  rows.push({ operation: "revealResult (not yet quorum)", gas: (await gasOf(ranking.connect(validatorB).revealResult(epoch, tree.root, total, salt))).gas });
  rows.push({ operation: "revealResult (reaches quorum, finalizes)", gas: (await gasOf(setterMarket.revealResult(epoch, tree.root, total, salt))).gas });
  rows.push({ operation: `claim (tree of ${n} leaves)`, gas: (await gasOf(ranking.claim(epoch, 5, emission[5], tree.proof(5)))).gas });
  const batch = [6, 7, 8, 9, 10, 11, 12, 13].map((uid) => ({ epoch, uid, amount: emission[uid], proof: tree.proof(uid) }));
  const many = await gasOf(ranking.claimMany(batch));
  rows.push({ operation: `claimMany, 8 leaves (per leaf)`, gas: many.gas / 8n });
  rows.push(...(await replacementGas(ranking, setter, n)));
  return rows;
}

/**
 * A registration in the full market of `n` peers: the newcomer replaces the weakest peer past
 * immunity. The best case finds a zero-stake uid early (uid 2: the scan stops there); the worst
 * case has every uid but the last staked, so every stake is read. Neither writes a row or a column:
 * the replacement is recorded and rows read it lazily (docs/ranking.md).
 */
async function replacementGas(ranking: RankingMarket, funder: Signer, n: number): Promise<GasRow[]> {
  const [, , , first, second] = await hre.ethers.getSigners();
  await mine((await ranking.parameters()).immunityBlocks);
  const rows: GasRow[] = [];
  const token = await hre.ethers.getContractAt("AgoraToken", await ranking.token());
  for (const s of [first, second]) {
    await token.connect(funder).transfer(s.address, parseEther("10"));
    await token.connect(s).approve(await ranking.getAddress(), hre.ethers.MaxUint256);
  }
  rows.push({ operation: "register in a full market (replaces the first zero-stake peer)", gas: (await gasOf(ranking.connect(first).register())).gas });
  const stakes = await ranking.getStakes();
  for (let uid = 0; uid < n - 1; uid++) if (stakes[uid] === 0n) await ranking.connect(funder).stake(uid, 1n);
  rows.push({ operation: "register in a full market (the weakest is the last uid: every stake read)", gas: (await gasOf(ranking.connect(second).register())).gas });
  return rows;
}

/** Full rows that do not sum to 65535: the on-chain normalization path. */
async function rawRows(market: RankingMarket, n: number, rows: GasRow[]): Promise<void> {
  const raw = Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 500));
  await market.setWeightsPacked(packRow(row(n, n, 3)));
  rows.push({
    operation: `setWeightsPacked, ${n} non-zero of ${n}, raw row (normalized on chain)`,
    gas: (await gasOf(market.setWeightsPacked(packRow(raw)))).gas,
  });
  const { uids, values } = sparseRow(raw);
  rows.push({
    operation: `setWeights, ${n} non-zero of ${n}, raw row (normalized on chain)`,
    gas: (await gasOf(market.setWeights(uids, values))).gas,
  });
}

/**
 * The worst replacing registration an attacker can arrange in a full market of `n` peers: it
 * sponsors every uid and stakes them with strictly decreasing dust amounts (uid u holds n - u wei),
 * so every uid the scan reads is a new minimum. Returns the registration's gas used and what the attacker burnt, sent with the
 * per-transaction cap as its limit (Hardhat's estimate of it is about three times the gas used).
 */
export async function worstReplacementGas(n: number): Promise<{ gas: bigint; burnt: bigint }> {
  const [deployer, attacker, newcomer] = await hre.ethers.getSigners();
  const { token, ranking } = await deployAgora(deployer, { addressBookDir: false, ranking: { maxPeers: BigInt(n) } });
  const address = await ranking.getAddress();
  const burn = await ranking.registrationBurn();
  for (const s of [attacker, newcomer]) {
    await token.transfer(s.address, BigInt(n + 1) * burn + parseEther("1"));
    await token.connect(s).approve(address, hre.ethers.MaxUint256);
  }
  const supplyBefore = await token.totalSupply();
  // Thousands of transactions: sent without automine and mined 200 at a time.
  await hre.network.provider.send("evm_setAutomine", [false]);
  let nonce = await attacker.getNonce();
  const pending: Promise<unknown>[] = [ranking.connect(attacker).register({ nonce: nonce++ })];
  const batch = async (i: number) => {
    if (i % 200 === 0) await hre.network.provider.send("evm_mine", []);
  };
  for (let i = 1; i < n; i++) {
    pending.push(ranking.connect(attacker).registerFor(Wallet.createRandom().address, { nonce: nonce++, gasLimit: 300_000 }));
    await batch(i);
  }
  await hre.network.provider.send("evm_mine", []);
  for (let uid = 0; uid < n; uid++) {
    pending.push(ranking.connect(attacker).stake(uid, BigInt(n - uid), { nonce: nonce++, gasLimit: 300_000 }));
    await batch(uid + 1);
  }
  await hre.network.provider.send("evm_mine", []);
  await Promise.all(pending);
  await hre.network.provider.send("evm_setAutomine", [true]);
  if ((await ranking.peerCount()) !== BigInt(n)) throw new Error(`the market has ${await ranking.peerCount()} peers, not ${n}`);
  const burnt = supplyBefore - (await token.totalSupply());
  await mine((await ranking.parameters()).immunityBlocks + 1n);
  const receipt = await (await ranking.connect(newcomer).register({ gasLimit: 2n ** 24n })).wait();
  if (!(await ranking.isRegistered(newcomer.address))) throw new Error("the newcomer was not registered");
  return { gas: receipt!.gasUsed, burnt };
}
