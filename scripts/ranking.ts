import type { Signer } from "ethers";
import { parseEther } from "ethers";
import type { AgoraDeployment } from "../deploy/agora";
import { advanceValidator, EpochCache, statusForNextBlock, EpochStatus } from "../sdk/src/chain/ranking";
import { mineTo } from "../sdk/src/chain/devnet";
import { formatPercent, formatTable, formatTokens } from "../sdk/src/format";
import { packRow, normalizeRow } from "../sdk/src/ranking/weights";

export type Log = (line: string) => void;

/** The peers of the short ranking scenario: who they are and what they do. */
const CAST = [
  { name: "ada", stake: "100", role: "honest: trusts the group" },
  { name: "bo", stake: "80", role: "honest: trusts the group" },
  { name: "cy", stake: "60", role: "honest: trusts the group" },
  { name: "dee", stake: "40", role: "honest: trusts the group" },
  { name: "eve", stake: "50", role: "loner: never sets weights (trusts only itself)" },
  { name: "fin", stake: "10", role: "newcomer: subscribed and staked by ada, trusts ada and bo" },
];

/**
 * A short ranking scenario on a fresh deployment (SPEC §1): six peers register and stake, set
 * weights, and every staked peer validates `epochs` epochs on chain (computes, commits,
 * reveals, claims). Prints what happened at each step; returns the final stakes.
 */
export async function runRankingScenario(
  deployment: AgoraDeployment,
  treasury: Signer,
  peers: Signer[],
  log: Log,
  epochs = 2,
): Promise<bigint[]> {
  const { token, ranking } = deployment;
  const provider = treasury.provider!;
  const marketAddress = await ranking.getAddress();
  const cast = CAST.map((c, i) => ({ ...c, signer: peers[i] }));
  log(`Ranking market at ${marketAddress}: ${cast.length} peers join.`);

  for (const [i, c] of cast.entries()) {
    const address = await c.signer.getAddress();
    await (await token.connect(treasury).transfer(address, parseEther("1000"))).wait();
    await (await token.connect(c.signer).approve(marketAddress, parseEther("1000"))).wait();
    if (c.name === "fin") {
      // A newcomer with nothing on chain: ada subscribes it and stakes for it (whitepaper §5).
      await (await ranking.connect(cast[0].signer).registerFor(address)).wait();
      await (await ranking.connect(cast[0].signer).stake(i, parseEther(c.stake))).wait();
    } else {
      await (await ranking.connect(c.signer).register()).wait();
      await (await ranking.connect(c.signer).stake(i, parseEther(c.stake))).wait();
    }
  }
  const n = cast.length;
  const rows = [
    [0, 40, 30, 20, 0, 10],
    [40, 0, 30, 20, 0, 10],
    [35, 35, 0, 30, 0, 0],
    [30, 30, 40, 0, 0, 0],
    null, // eve never sets weights
    [60, 40, 0, 0, 0, 0],
  ];
  for (const [i, row] of rows.entries()) {
    if (!row) continue;
    // Rows are normalized off-chain exactly as the contract would, so the packed call stores them as sent.
    await (await ranking.connect(cast[i].signer).setWeightsPacked(packRow(normalizeRow(row)))).wait();
  }
  log(
    formatTable(
      ["uid", "peer", "stake", "role"],
      cast.map((c, i) => [i, c.name, formatTokens(parseEther(c.stake), 0), c.role]),
    ),
  );

  const cache: EpochCache = new Map();
  const validators = cast.map((c) => c.signer);
  let epoch = Number(await ranking.currentEpoch());
  for (let e = 0; e < epochs; e++, epoch++) {
    const before = await ranking.getStakes();
    const snapshot = await ranking.snapshotBlock(epoch);
    await mineTo(provider, snapshot);
    log(`\nEpoch ${epoch}: snapshot at block ${snapshot}, total stake ${formatTokens(await ranking.totalStakeAt(snapshot), 2)}.`);
    // Commit window, then reveal window, then claims: every validator does what is due.
    for (const phase of [EpochStatus.Committing, EpochStatus.Revealing, EpochStatus.Finalized]) {
      if (phase === EpochStatus.Revealing) await mineTo(provider, snapshot + (await ranking.commitBlocks()));
      const claimers: string[] = [];
      for (const [i, v] of validators.entries()) {
        if ((await statusForNextBlock(ranking, epoch)) !== phase) break;
        const action = await advanceValidator(ranking, v, epoch, cache);
        if (action.kind === "committed") log(`  ${cast[i].name} commits to root ${action.root.slice(0, 10)}…`);
        if (action.kind === "revealed") log(`  ${cast[i].name} reveals${action.finalized ? ": quorum reached, epoch final" : ""}`);
        if (action.kind === "claimed") claimers.push(`${cast[i].name} ${formatTokens(action.amount)}`);
      }
      if (claimers.length > 0) log(`  each validator claims its own emission, minted into its stake: ${claimers.join(", ")}`);
    }
    const result = cache.get(epoch)!;
    const [, root, totalEmission] = await ranking.epochInfo(epoch);
    const after = await ranking.getStakes();
    const totalAtSnapshot = await ranking.totalStakeAt(snapshot);
    const cap = ((await ranking.tauAt(snapshot)) * totalAtSnapshot) / 10n ** 18n;
    const support = await ranking.resultStake(epoch, root, totalEmission);
    log(
      `  final root ${root.slice(0, 10)}… backed by ${formatPercent((support * 10n ** 18n) / totalAtSnapshot)} of the stake; ` +
        `emission ${formatTokens(totalEmission)} (cap ${formatTokens(cap)})`,
    );
    log(
      formatTable(
        ["uid", "peer", "stake before", "share", "clip", "rank", "emission", "stake after"],
        cast.map((c, i) => [
          i,
          c.name,
          formatTokens(before[i]),
          formatPercent(result.p[i]),
          formatPercent(result.clip[i], 0),
          formatTokens(result.r[i]),
          formatTokens(result.emission[i]),
          formatTokens(after[i]),
        ]),
      ),
    );
  }
  const held = await token.balanceOf(marketAddress);
  const owed = (await ranking.totalStake()) + (await ranking.totalUnbonding());
  log(`\nConservation: the market holds ${formatTokens(held)} tokens and owes ${formatTokens(owed)}.`);
  if (held !== owed) throw new Error("conservation broken: the market holds a different amount than it owes");
  return ranking.getStakes().then((s) => [...s].slice(0, n));
}
