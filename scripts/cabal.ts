/**
 * Cabal resistance shown end to end (SPEC §1.4, whitepaper §10). An honest, tightly connected
 * group A holds 51% of the stake; a disjoint cabal B holds 49% and weights only its own members.
 * Every peer validates on chain: A's validators commit and reveal the honest result, B's try a
 * self-serving root that pays only B. The honest root reaches quorum every epoch, B's never does,
 * and B's share of the stake falls epoch after epoch, beside the closed-form `cabalDecay` curve.
 *
 *   npx hardhat run scripts/cabal.ts          (AGORA_CABAL_EPOCHS=50 for the whitepaper's horizon)
 */
import hre from "hardhat";
import { parseEther, Signer } from "ethers";
import path from "node:path";
import { deployAgora } from "../deploy/agora";
import { DEFAULT_RANKING_CONFIG } from "../deploy/config";
import { advanceValidator, computeEpochOnChain, registerPeer, stakeOn, validatorSalt, EpochStatus, EpochCache } from "../sdk/src/chain/ranking";
import { devnetWallet, mineTo } from "../sdk/src/chain/devnet";
import { cabalDecay, cabalDecayClipped } from "../sdk/src/ranking/cabal";
import { buildEmissionTree } from "../sdk/src/ranking/merkle";
import { resultCommitment } from "../sdk/src/ranking/commitment";
import { normalizeRow, packRow } from "../sdk/src/ranking/weights";
import { formatPercent } from "../sdk/src/format";
import { lineChartSvg, writePlot } from "./lib/plot";

const WAD = 10n ** 18n;

export interface CabalOptions {
  epochs: number;
  honestPeers: number;
  cabalPeers: number;
  /** Connectivity scale (WAD); the whitepaper's example uses 100. */
  rho: bigint;
  /** Emission per epoch as a fraction of stake (WAD); the whitepaper's example uses 0.1. */
  tau: bigint;
  /** Where to write cabal.svg and cabal.png; no plot when undefined. */
  outDir?: string;
}

export const DEFAULT_CABAL: CabalOptions = {
  epochs: 20,
  honestPeers: 6,
  cabalPeers: 5,
  rho: 100n * WAD,
  tau: WAD / 10n,
  outDir: path.resolve(__dirname, "..", "out"),
};

export interface CabalEpoch {
  epoch: number;
  honestSupport: number;
  cabalSupport: number;
  finalRootIsHonest: boolean;
  cabalShare: number;
}

export interface CabalResult {
  initialShare: number;
  epochs: CabalEpoch[];
  closedForm: number[];
  /** The closed form with stake clipping, which the chain tracks to rounding. */
  closedFormClipped: number[];
  plot?: { svg: string; png: string };
}


export async function runCabalScenario(treasury: Signer, log: (line: string) => void, options: CabalOptions = DEFAULT_CABAL): Promise<CabalResult> {
  const provider = treasury.provider!;
  const peersCount = options.honestPeers + options.cabalPeers;
  const windows = BigInt(peersCount + 2);
  const { token, ranking } = await deployAgora(treasury, {
    addressBookDir: false,
    initialSupply: parseEther("1000"),
    ranking: {
      rho: options.rho,
      tau: options.tau,
      maxTau: options.tau > DEFAULT_RANKING_CONFIG.maxTau ? options.tau : DEFAULT_RANKING_CONFIG.maxTau,
      commitBlocks: windows,
      revealBlocks: windows,
      epochLength: 2n * windows + 6n,
    },
  });
  const market = await ranking.getAddress();
  const peers: Signer[] = [];
  for (let i = 0; i < peersCount; i++) peers.push(await devnetWallet(provider));
  const isCabal = (uid: number) => uid >= options.honestPeers;
  // 51 tokens over A, 49 over B.
  const stakeOf = (uid: number) => (isCabal(uid) ? parseEther("49") / BigInt(options.cabalPeers) : parseEther("51") / BigInt(options.honestPeers));
  const burn = await ranking.registrationBurn();
  for (const [uid, peer] of peers.entries()) {
    await (await token.connect(treasury).transfer(await peer.getAddress(), burn + stakeOf(uid))).wait();
    await registerPeer(ranking, peer);
    await stakeOn(ranking, peer, uid, stakeOf(uid));
  }
  for (const [uid, peer] of peers.entries()) {
    // Each group weights only its own members, equally: A honestly, B as a closed cabal.
    const row = Array.from({ length: peersCount }, (_, j) => (isCabal(j) === isCabal(uid) ? 1 : 0));
    await (await ranking.connect(peer).setWeightsPacked(packRow(normalizeRow(row)))).wait();
  }
  const share = (stakes: readonly bigint[]) => {
    const total = stakes.reduce((a, b) => a + b, 0n);
    return Number((stakes.filter((_, uid) => isCabal(uid)).reduce((a, b) => a + b, 0n) * 10n ** 12n) / total) / 1e12;
  };
  const initialShare = share(await ranking.getStakes());
  log(
    `${options.honestPeers} honest peers (A) and ${options.cabalPeers} cabal peers (B); B holds ${(initialShare * 100).toFixed(2)}% of the stake; ` +
      `rho ${Number(options.rho) / 1e18}, tau ${Number(options.tau) / 1e18} per epoch.`,
  );

  const cache: EpochCache = new Map();
  const epochs: CabalEpoch[] = [];
  // Stake counts once held through a whole epoch: the first epoch to validate is the one after setup.
  let epoch = Number(await ranking.currentEpoch()) + 1;
  for (let k = 0; k < options.epochs; k++, epoch++) {
    const snapshot = await ranking.snapshotBlock(epoch);
    await mineTo(provider, snapshot);
    const honest = await computeEpochOnChain(ranking, epoch);
    cache.set(epoch, honest);
    // B's root: the whole cap, paid to B in proportion to stake.
    const stakes = honest.snapshot.stake;
    const total = stakes.reduce((a, b) => a + b, 0n);
    const cabalStake = stakes.filter((_, uid) => isCabal(uid)).reduce((a, b) => a + b, 0n);
    const cap = (options.tau * total) / WAD;
    const selfish = buildEmissionTree(stakes.map((s, uid) => (isCabal(uid) ? (cap * s) / cabalStake : 0n)));
    const selfishTotal = selfish.leaves.reduce((a, l) => a + l.amount, 0n);

    for (const [uid, peer] of peers.entries()) {
      if (isCabal(uid)) {
        const salt = await validatorSalt(peer, ranking, epoch);
        const context = { chainId: (await provider.getNetwork()).chainId, market, epoch };
        const commitment = resultCommitment(context, selfish.root, selfishTotal, salt, await peer.getAddress());
        await (await ranking.connect(peer).commitResult(epoch, commitment)).wait();
      } else {
        await advanceValidator(ranking, peer, epoch, cache);
      }
    }
    await mineTo(provider, snapshot + (await ranking.commitBlocks()));
    // B reveals first: its 49% alone never reaches quorum.
    for (const [uid, peer] of peers.entries()) {
      if (!isCabal(uid)) continue;
      const salt = await validatorSalt(peer, ranking, epoch);
      await (await ranking.connect(peer).revealResult(epoch, selfish.root, selfishTotal, salt)).wait();
    }
    for (const [uid, peer] of peers.entries()) if (!isCabal(uid)) await advanceValidator(ranking, peer, epoch, cache);
    const [status, root] = await ranking.epochInfo(epoch);
    // After the reveal window an honest validator claims every leaf of the final root.
    await mineTo(provider, snapshot + (await ranking.commitBlocks()) + (await ranking.revealBlocks()));
    await advanceValidator(ranking, peers[0], epoch, cache);
    await advanceValidator(ranking, peers[0], epoch, cache);
    const support = async (r: string, t: bigint) => Number((await ranking.resultStake(epoch, r, t)) * 10000n / total) / 10000;
    const record: CabalEpoch = {
      epoch,
      honestSupport: await support(honest.root, honest.totalEmission),
      cabalSupport: await support(selfish.root, selfishTotal),
      finalRootIsHonest: Number(status) === EpochStatus.Finalized && root === honest.root,
      cabalShare: share(await ranking.getStakes()),
    };
    epochs.push(record);
    log(
      `epoch ${epoch}: honest root revealed by ${(record.honestSupport * 100).toFixed(2)}% -> ${record.finalRootIsHonest ? "final" : "NOT FINAL"}; ` +
        `cabal root ${(record.cabalSupport * 100).toFixed(2)}% -> ${record.finalRootIsHonest ? "no quorum" : "?"}; ` +
        `B clipped to ${formatPercent(honest.clip[options.honestPeers])}; B's stake share ${(record.cabalShare * 100).toFixed(3)}%`,
    );
  }
  const closedForm = cabalDecay(initialShare, Number(options.tau) / 1e18, Number(options.rho) / 1e18, options.epochs);
  // On chain an epoch's emission reads the stake held through the epoch before: one step of lag.
  const closedFormClipped = cabalDecayClipped(initialShare, Number(options.tau) / 1e18, Number(options.rho) / 1e18, options.epochs, 1);
  let plot: CabalResult["plot"];
  if (options.outDir) {
    const svg = lineChartSvg({
      title: "Cabal B's share of the stake, epoch by epoch",
      xLabel: "epochs",
      yLabel: "B's share of total stake",
      series: [
        { name: "on chain (validators, claims)", color: "#c0392b", markers: true, points: [[0, initialShare], ...epochs.map((e, k): [number, number] => [k + 1, e.cabalShare])] },
        { name: "closed form cabalDecay (whitepaper)", color: "#2c3e50", dashed: true, points: [[0, initialShare], ...closedForm.map((s, k): [number, number] => [k + 1, s])] },
        { name: "closed form with stake clipping", color: "#27ae60", dashed: true, points: [[0, initialShare], ...closedFormClipped.map((s, k): [number, number] => [k + 1, s])] },
      ],
      yRange: [0, 0.55],
    });
    plot = writePlot(path.join(options.outDir, "cabal"), svg);
    log(`plot: ${plot.svg} and ${plot.png}`);
  }
  return { initialShare, epochs, closedForm, closedFormClipped, plot };
}

/** One line comparing the chain with both closed forms. */
export function summarizeCabal(result: CabalResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return (
    `B's share ${pct(result.initialShare)} -> ${pct(result.epochs.at(-1)!.cabalShare)} on chain after ${result.epochs.length} epochs; ` +
    `closed form ${pct(result.closedForm.at(-1)!)} (no clipping), ${pct(result.closedFormClipped.at(-1)!)} with clipping`
  );
}

if (require.main === module) {
  (async () => {
    const [treasury] = await hre.ethers.getSigners();
    const epochs = Number(process.env.AGORA_CABAL_EPOCHS ?? DEFAULT_CABAL.epochs);
    const result = await runCabalScenario(treasury, console.log, { ...DEFAULT_CABAL, epochs });
    console.log(summarizeCabal(result));
  })().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
