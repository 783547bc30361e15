import type { Signer } from "ethers";
import { parseEther } from "ethers";
import type { AgoraDeployment } from "../deploy/agora";
import { advanceValidator, EpochCache, registerPeer, stakeOn, statusForNextBlock, EpochStatus } from "../sdk/src/chain/ranking";
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

  const burn = await ranking.registrationBurn();
  log(`Registering burns ${formatTokens(burn)} of the registrant's tokens (a sponsor pays for its newcomer).`);
  for (const [i, c] of cast.entries()) {
    const address = await c.signer.getAddress();
    await (await token.connect(treasury).transfer(address, parseEther("1000"))).wait();
    if (c.name === "fin") {
      // A newcomer with nothing on chain: ada subscribes it and stakes for it (whitepaper §5).
      await registerPeer(ranking, cast[0].signer, address);
      await stakeOn(ranking, cast[0].signer, i, parseEther(c.stake));
    } else {
      await registerPeer(ranking, c.signer);
      await stakeOn(ranking, c.signer, i, parseEther(c.stake));
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
  // Stake counts in an epoch only if held through the whole epoch before its snapshot: the stake
  // just added counts from the next epoch on.
  let epoch = Number(await ranking.currentEpoch()) + 1;
  log(`Stake counts once held through a whole epoch: validation starts with epoch ${epoch}.`);
  for (let e = 0; e < epochs; e++, epoch++) {
    const snapshot = await ranking.snapshotBlock(epoch);
    await mineTo(provider, snapshot);
    const before = await ranking.getCountingStakes(epoch);
    log(`\nEpoch ${epoch}: snapshot at block ${snapshot}, stake that counts ${formatTokens(await ranking.countingTotalStake(epoch), 2)}.`);
    // Commit window, then reveal window, then claims: every validator does what is due.
    for (const phase of [EpochStatus.Committing, EpochStatus.Revealing, EpochStatus.Finalized]) {
      if (phase === EpochStatus.Revealing) await mineTo(provider, snapshot + (await ranking.commitBlocks()));
      const claimers: string[] = [];
      for (const [i, v] of validators.entries()) {
        const status = await statusForNextBlock(ranking, epoch);
        // Validators whose turn comes after quorum still reveal: a commitment never revealed forfeits its emission.
        if (status !== phase && !(phase === EpochStatus.Revealing && status === EpochStatus.Finalized)) break;
        const action = await advanceValidator(ranking, v, epoch, cache);
        if (action.kind === "committed") log(`  ${cast[i].name} commits to root ${action.root.slice(0, 10)}…`);
        if (action.kind === "revealed") log(`  ${cast[i].name} reveals${action.finalized ? (status === EpochStatus.Finalized ? " (the epoch is already final)" : ": quorum reached, epoch final") : ""}`);
        if (action.kind === "claimed") claimers.push(`${cast[i].name} ${formatTokens(action.amount)}`);
      }
      if (claimers.length > 0) log(`  each validator claims its own emission, minted into its stake: ${claimers.join(", ")}`);
    }
    const result = cache.get(epoch)!;
    const [, root, totalEmission] = await ranking.epochInfo(epoch);
    const after = await ranking.getStakes();
    const counted = await ranking.countingTotalStake(epoch);
    const cap = ((await ranking.tauAt(snapshot)) * counted) / 10n ** 18n;
    const support = await ranking.resultStake(epoch, root, totalEmission);
    log(
      `  final root ${root.slice(0, 10)}… backed by ${formatPercent((support * 10n ** 18n) / counted)} of the stake that counts; ` +
        `emission ${formatTokens(totalEmission)} (cap ${formatTokens(cap)})`,
    );
    log(
      formatTable(
        ["uid", "peer", "stake that counts", "share", "clip", "rank", "emission", "stake after"],
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
