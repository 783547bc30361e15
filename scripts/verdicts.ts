/**
 * One job for each ending of the verdict table (SPEC §2.1), on the tour's job market: accepted;
 * rejected but right (the JC was wrong); junk caught by mediation; a non-deterministic job; a
 * result that never comes; a mediator that never mediates. Prints what each party got back
 * against what it put in escrow, and the gas of each job.
 */
import { parseEther, Provider, Signer } from "ethers";
import type { AgoraDeployment } from "../deploy/agora";
import {
  acceptResult,
  claimShare,
  MatchState,
  MatchTerms,
  mediate,
  postJobOffer,
  postMatch,
  postResourceOffer,
  postResult,
  readMatch,
  registerMediator,
  rejectResult,
  timeout,
  Verdict,
  verdictPayouts,
} from "../sdk/src/chain/jobs";
import { JobSpec, resultHash, runProgram, specHash } from "../sdk/src/market/programs";
import { formatTable, formatTokens } from "../sdk/src/format";
import { advanceTime } from "../sdk/src/chain/devnet";

type Ending = "accept" | "jcWrong" | "junk" | "nonDeterministic" | "noResult" | "noMediation";

const ENDINGS: { ending: Ending; story: string; expect: Verdict }[] = [
  { ending: "accept", story: "the RP computes, the JC accepts", expect: Verdict.Accepted },
  { ending: "jcWrong", story: "the RP computes, the JC rejects anyway", expect: Verdict.JobCreatorWrong },
  { ending: "junk", story: "the RP returns junk, the JC rejects", expect: Verdict.ResourceProviderCheated },
  { ending: "nonDeterministic", story: "a coin-flip job: the mediator's re-runs disagree", expect: Verdict.NonDeterministic },
  { ending: "noResult", story: "the RP never posts a result", expect: Verdict.ResultTimeout },
  { ending: "noMediation", story: "the JC rejects, the mediator never mediates", expect: Verdict.MediationTimeout },
];

export interface VerdictRow {
  verdict: Verdict;
  story: string;
  /** Net token change of each party over the job (paid back less escrowed). */
  net: { jc: bigint; rp: bigint; mediator: bigint; solver: bigint };
  gas: bigint;
}


async function gasSince(provider: Provider, from: number): Promise<bigint> {
  let gas = 0n;
  for (let b = from + 1; b <= (await provider.getBlockNumber()); b++) gas += (await provider.getBlock(b))!.gasUsed;
  return gas;
}

/** Runs the six endings with four accounts (JC, RP, mediator, solver) funded by `treasury`. */
export async function runVerdictTour(deployment: AgoraDeployment, treasury: Signer, accounts: Signer[], log: (line: string) => void): Promise<VerdictRow[]> {
  const [jc, rp, mediator, solver] = accounts;
  const { token, jobs: market } = deployment;
  const provider = treasury.provider!;
  for (const s of accounts) await (await token.connect(treasury).transfer(await s.getAddress(), parseEther("10000"))).wait();
  const terms = { pr: parseEther("0.5"), ndpr: parseEther("1"), jcPrice: parseEther("2"), rpPrice: parseEther("3"), bond: parseEther("50"), n: 3, mediationTime: 3600, maxJobTime: 86_400 };
  await registerMediator(market, mediator, terms, parseEther("500"));
  const who = { jc: await jc.getAddress(), rp: await rp.getAddress(), mediator: await mediator.getAddress(), solver: await solver.getAddress() };
  // What each party holds or may withdraw: its tokens, its job-market credits, and the mediator's earnings.
  const holding = async (a: string) => (await token.balanceOf(a)) + (await market.credits(a));
  const balances = async () => ({
    jc: await holding(who.jc),
    rp: await holding(who.rp),
    mediator: await holding(who.mediator).then(async (h) => {
      const record = await market.mediator(who.mediator);
      return h + record.earnings + record.freeBond;
    }),
    solver: await holding(who.solver),
  });

  const rows: VerdictRow[] = [];
  for (const [k, { ending, story, expect }] of ENDINGS.entries()) {
    const startBlock = await provider.getBlockNumber();
    const before = await balances();
    const spec: JobSpec = ending === "nonDeterministic" ? { program: "coin-flip", input: `tour job ${k}`, p1: 0.5 } : { program: "sha256-chain", input: `tour job ${k}` };
    const now = BigInt((await provider.getBlock("latest"))!.timestamp);
    const job = await postJobOffer(market, jc, {
      mediator: who.mediator,
      specHash: specHash(spec),
      instructions: 1_000_000n,
      bandwidth: 1_000n,
      expiry: now + 86_400n,
      resultTime: 600,
      reactionTime: 600,
      price: parseEther("100"),
      matchFee: parseEther("5"),
    });
    const offer = await postResourceOffer(market, rp, {
      instructionCapacity: 10_000_000n,
      bandwidthCapacity: 10_000n,
      expiry: now + 86_400n,
      requestedPrice: parseEther("80"),
      matchFee: parseEther("4"),
      deposit: parseEther("200"),
      minResultTime: 600,
      maxReactionTime: 600,
      maxMediationTime: 3600,
      maxMediatorPrice: parseEther("3"),
      trustedMediators: [who.mediator],
    });
    const { matchId, terms: t } = await postMatch(market, solver, job, offer);
    // The mediator's re-runs: a coin flip's entropy alternates so the runs disagree, as they would.
    const flips = [0.1, 0.9, 0.3];
    const rerun = () => Array.from({ length: t.n }, (_, i) => resultHash(runProgram(spec, () => flips[i % flips.length])));
    const honest = resultHash(runProgram(spec, () => 0.1));
    switch (ending) {
      case "accept":
        await postResult(market, rp, matchId, t, honest);
        await acceptResult(market, jc, matchId, t);
        break;
      case "jcWrong":
      case "junk":
      case "nonDeterministic":
        await postResult(market, rp, matchId, t, ending === "junk" ? resultHash("junk") : honest);
        await rejectResult(market, jc, matchId, t);
        await mediate(market, mediator, matchId, t, rerun());
        break;
      case "noResult":
        await advanceTime(provider, 601);
        await timeout(market, solver, matchId, t, MatchState.AwaitingResult);
        break;
      case "noMediation":
        await postResult(market, rp, matchId, t, honest);
        await rejectResult(market, jc, matchId, t);
        await advanceTime(provider, 3601);
        await timeout(market, solver, matchId, t, MatchState.Mediating);
        break;
    }
    const closed = await readMatch(market, matchId);
    if (closed.verdict !== expect) throw new Error(`job ${k} (${story}) ended ${Verdict[closed.verdict]}, not ${Verdict[expect]}`);
    await claimAll(market, closed.terms, matchId, closed.claimed, { jc, rp, mediator });
    const after = await balances();
    const moved = after.jc - before.jc + (after.rp - before.rp) + (after.mediator - before.mediator) + (after.solver - before.solver);
    if (moved !== 0n) throw new Error(`job ${k} (${story}): the four parties' nets sum to ${moved}, not 0`);
    rows.push({
      verdict: closed.verdict,
      story,
      net: { jc: after.jc - before.jc, rp: after.rp - before.rp, mediator: after.mediator - before.mediator, solver: after.solver - before.solver },
      gas: await gasSince(provider, startBlock),
    });
  }
  log(
    formatTable(
      ["verdict", "what happened", "JC net", "RP net", "mediator net", "solver net", "gas"],
      rows.map((r) => [Verdict[r.verdict], r.story, formatTokens(r.net.jc, 2), formatTokens(r.net.rp, 2), formatTokens(r.net.mediator, 2), formatTokens(r.net.solver, 2), r.gas.toString()]),
    ),
  );
  log(
    "(price 100, deposit D = 150, ND deposit N = 300, match fees 5 and 4 to the solver, mediator prices 2 and 3; a net counts what the party " +
      "holds or may withdraw: tokens, credits, the mediator's earnings and free bond; each row sums to 0)",
  );
  return rows;
}

async function claimAll(market: AgoraDeployment["jobs"], terms: MatchTerms, matchId: bigint, claimed: { jc: boolean; rp: boolean; mediator: boolean }, parties: { jc: Signer; rp: Signer; mediator: Signer }): Promise<void> {
  const { verdict } = await readMatch(market, matchId);
  const pay = verdictPayouts(terms, verdict);
  for (const role of ["jc", "rp", "mediator"] as const) {
    if (!claimed[role] && pay[role] > 0n) await claimShare(market, parties[role], matchId, terms);
  }
}
