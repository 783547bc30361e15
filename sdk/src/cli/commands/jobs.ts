import { Command, InvalidArgumentError, Option } from "commander";
import { parseUnits } from "ethers";
import {
  acceptResult,
  claimShare,
  jobEscrow,
  jobMarket,
  MatchState,
  mediate,
  mediatorTerms,
  postJobOffer,
  postResourceOffer,
  postResult,
  readMatch,
  registerMediator,
  rejectResult,
  timeout,
  toJobOffer,
  Verdict,
  withdrawCredits,
} from "../../chain/jobs";
import { SolverBot } from "../../chain/agents";
import { JobSpec, resultHash, runProgram, specHash } from "../../market/programs";
import { mulberry32 } from "../../ranking/generators";
import { formatTokens } from "../../format";
import { CliContext } from "../context";
import { CliError } from "../connect";
import { address, integer, tokens } from "../parse";
import { ensureTokens } from "./ranking";
import { AgoraToken__factory, type JobMarket } from "../../../../typechain-types";
import { contractAddress } from "../../chain/addressBook";

const fraction = (name: string) => (value: string) => {
  if (!/^\d+(\.\d{1,18})?$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative number such as 0.5`);
  return parseUnits(value, 18);
};
const probability = (name: string) => (value: string) => {
  const p = Number(value);
  if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError(`${name} must be a probability in [0, 1]`);
  return p;
};
const matchId = (value: string) => BigInt(integer("match")(value));

interface SpecOptions {
  program: JobSpec["program"];
  input: string;
  p1?: number;
}
const specOf = (o: SpecOptions): JobSpec => ({ program: o.program, input: o.input, p1: o.p1 });
const programOptions = (c: Command) =>
  c
    .addOption(new Option("--program <name>", "the job's program").choices(["sha256-chain", "coin-flip"]).makeOptionMandatory())
    .requiredOption("--input <text>", "the program's input")
    .option("--p1 <p>", "coin-flip: probability of answer class a1", probability("--p1"));

/** The spec hash the match's job offer carries (from its JobOfferPosted event). */
async function jobSpecHash(market: JobMarket, jobId: bigint): Promise<string> {
  const [event] = await market.queryFilter(market.filters.JobOfferPosted(jobId));
  if (!event) throw new CliError(`no job offer ${jobId}`);
  return toJobOffer(event.args.offer as never).specHash;
}

function checkSpec(spec: JobSpec, expected: string, matchIdValue: bigint): void {
  if (specHash(spec) !== expected) throw new CliError(`the program and input given are not the job of match ${matchIdValue} (its spec hash is ${expected}): ask the job creator for them`);
}

export function jobCommands(program: Command, ctx: CliContext): void {
  const jobs = program.command("jobs").description("the job market (MODICUM): mediators, offers, matches, results, mediation");
  const connected = async () => {
    const { provider, book } = await ctx.connect();
    const wallet = await ctx.signer(provider);
    return { provider, book, wallet, market: jobMarket(book, wallet) };
  };

  jobs
    .command("mediator-register")
    .description("register the wallet as a mediator with its terms and a bond deposit")
    .requiredOption("--n <n>", "re-executions per mediation", integer("--n"))
    .requiredOption("--pr <x>", "deposit ratio PR (PR * n >= 1)", fraction("--pr"))
    .requiredOption("--ndpr <x>", "non-determinism penalty ratio NDPR (NDPR * n >= 1)", fraction("--ndpr"))
    .requiredOption("--jc-price <tokens>", "availability price paid by job creators", tokens("--jc-price"))
    .requiredOption("--rp-price <tokens>", "availability price paid by resource providers", tokens("--rp-price"))
    .requiredOption("--bond <tokens>", "bond locked per mediation", tokens("--bond"))
    .requiredOption("--deposit <tokens>", "bond deposited now (covers deposit / bond mediations at once)", tokens("--deposit"))
    .option("--mediation-time <s>", "seconds to mediate", integer("--mediation-time"), 3600)
    .option("--max-job-time <s>", "the longest a job may lock the bond (result + reaction + mediation windows)", integer("--max-job-time"), 86_400)
    .action(async (o: { n: number; pr: bigint; ndpr: bigint; jcPrice: bigint; rpPrice: bigint; bond: bigint; deposit: bigint; mediationTime: number; maxJobTime: number }) => {
      const { book, wallet, market } = await connected();
      await ensureTokens(book, wallet, await market.getAddress(), o.deposit);
      const terms = {
        n: o.n,
        pr: o.pr,
        ndpr: o.ndpr,
        jcPrice: o.jcPrice,
        rpPrice: o.rpPrice,
        bond: o.bond,
        mediationTime: o.mediationTime,
        maxJobTime: o.maxJobTime,
      };
      await registerMediator(market, wallet, terms, o.deposit);
      ctx.emit({ mediator: wallet.address, terms, deposit: o.deposit }, `${wallet.address} is a mediator (n = ${o.n}), bond deposit ${formatTokens(o.deposit, 4)}`);
    });

  programOptions(
    jobs
      .command("post-job")
      .description("post a job offer, escrowing price + deposits + match fee + the mediator's price")
      .requiredOption("--mediator <address>", "the mediator both sides must trust", address("--mediator"))
      .requiredOption("--price <tokens>", "price offered", tokens("--price"))
      .option("--match-fee <tokens>", "fee for the solver", tokens("--match-fee"), 0n)
      .option("--instructions <n>", "instructions the job needs", integer("--instructions"), 1_000_000)
      .option("--bandwidth <n>", "bandwidth the job needs", integer("--bandwidth"), 1_000)
      .option("--expires-in <s>", "seconds the offer stays open", integer("--expires-in"), 86_400)
      .option("--result-time <s>", "seconds the RP has to post a result", integer("--result-time"), 600)
      .option("--reaction-time <s>", "seconds the JC has to accept or reject", integer("--reaction-time"), 600),
  ).action(
    async (o: SpecOptions & { mediator: string; price: bigint; matchFee: bigint; instructions: number; bandwidth: number; expiresIn: number; resultTime: number; reactionTime: number }) => {
      const { provider, book, wallet, market } = await connected();
      const spec = specOf(o);
      const terms = await mediatorTerms(market, o.mediator).catch(() => {
        throw new CliError(`${o.mediator} is not a registered mediator: pick one that registered with \`agora jobs mediator-register\``);
      });
      const escrow = jobEscrow(o.price, o.matchFee, terms);
      await ensureTokens(book, wallet, await market.getAddress(), escrow);
      const now = BigInt((await provider.getBlock("latest"))!.timestamp);
      const { jobId } = await postJobOffer(market, wallet, {
        mediator: o.mediator,
        specHash: specHash(spec),
        instructions: BigInt(o.instructions),
        bandwidth: BigInt(o.bandwidth),
        expiry: now + BigInt(o.expiresIn),
        resultTime: o.resultTime,
        reactionTime: o.reactionTime,
        price: o.price,
        matchFee: o.matchFee,
        terms,
      });
      ctx.emit({ jobId, specHash: specHash(spec), escrow }, `job offer ${jobId} posted (spec ${specHash(spec)}), ${formatTokens(escrow, 4)} in escrow`);
    },
  );

  jobs
    .command("post-offer")
    .description("offer resources: deposit, requested price, trusted mediators")
    .requiredOption("--price <tokens>", "lowest price accepted", tokens("--price"))
    .requiredOption("--deposit <tokens>", "deposit escrowed (must cover the job's deposit D)", tokens("--deposit"))
    .requiredOption("--mediators <addresses>", "comma-separated trusted mediators", (v: string) => v.split(",").map((a) => address("--mediators")(a.trim())))
    .option("--match-fee <tokens>", "fee for the solver", tokens("--match-fee"), 0n)
    .option("--instructions <n>", "instruction capacity", integer("--instructions"), 10_000_000)
    .option("--bandwidth <n>", "bandwidth capacity", integer("--bandwidth"), 10_000)
    .option("--expires-in <s>", "seconds the offer stays open", integer("--expires-in"), 86_400)
    .option("--min-result-time <s>", "the shortest result window accepted (time to run a job)", integer("--min-result-time"), 600)
    .option("--max-reaction-time <s>", "the longest the job creator may take to react", integer("--max-reaction-time"), 3_600)
    .option("--max-mediation-time <s>", "the longest a mediator may take to rule", integer("--max-mediation-time"), 86_400)
    .option("--max-mediator-price <tokens>", "the most availability price paid to a mediator", tokens("--max-mediator-price"), parseUnits("10", 18))
    .action(
      async (o: {
        price: bigint;
        deposit: bigint;
        mediators: string[];
        matchFee: bigint;
        instructions: number;
        bandwidth: number;
        expiresIn: number;
        minResultTime: number;
        maxReactionTime: number;
        maxMediationTime: number;
        maxMediatorPrice: bigint;
      }) => {
      const { provider, book, wallet, market } = await connected();
      await ensureTokens(book, wallet, await market.getAddress(), o.deposit + o.matchFee);
      const now = BigInt((await provider.getBlock("latest"))!.timestamp);
      const { offerId } = await postResourceOffer(market, wallet, {
        instructionCapacity: BigInt(o.instructions),
        bandwidthCapacity: BigInt(o.bandwidth),
        expiry: now + BigInt(o.expiresIn),
        requestedPrice: o.price,
        matchFee: o.matchFee,
        deposit: o.deposit,
        minResultTime: o.minResultTime,
        maxReactionTime: o.maxReactionTime,
        maxMediationTime: o.maxMediationTime,
        maxMediatorPrice: o.maxMediatorPrice,
        trustedMediators: o.mediators,
      });
      ctx.emit({ offerId }, `resource offer ${offerId} posted, ${formatTokens(o.deposit + o.matchFee, 4)} in escrow`);
      },
    );

  jobs
    .command("solve")
    .description("as a solver: match the open offers for the most surplus and post the matches")
    .action(async () => {
      const { market, wallet } = await connected();
      const from = await wallet.provider!.getBlockNumber();
      const count = await new SolverBot(market, wallet).step();
      const events = await market.queryFilter(market.filters.MatchPosted(undefined, undefined, wallet.address), from + 1);
      const matches = events.map((e) => ({ matchId: e.args.matchId, jobId: e.args.terms.jobId, offerId: e.args.terms.offerId, price: e.args.terms.price }));
      ctx.emit({ matches }, count === 0 ? "no match possible among the open offers" : matches.map((m) => `match ${m.matchId}: job ${m.jobId} with offer ${m.offerId} at ${formatTokens(m.price, 4)}`));
    });

  jobs
    .command("show")
    .argument("<match>", "match id", matchId)
    .description("a match's terms, state, deadline and verdict")
    .action(async (id: bigint) => {
      const { market } = await connected();
      const m = await readMatch(market, id);
      ctx.emit({ ...m, state: MatchState[m.state], verdict: Verdict[m.verdict] } as unknown as Record<string, unknown>, [
        `match ${id}: ${MatchState[m.state]}${m.verdict ? `, verdict ${Verdict[m.verdict]}` : ""}; deadline ${new Date(Number(m.deadline) * 1000).toISOString()}`,
        `job ${m.terms.jobId} (JC ${m.terms.jc}) with offer ${m.terms.offerId} (RP ${m.terms.rp}), mediator ${m.terms.mediator}; price ${formatTokens(m.terms.price, 4)}, deposit ${formatTokens(m.terms.deposit, 4)}, ND deposit ${formatTokens(m.terms.ndDeposit, 4)}`,
      ]);
    });

  programOptions(
    jobs
      .command("post-result")
      .argument("<match>", "match id", matchId)
      .description("as the RP: run the job's program and post its result hash")
      .option("--seed <n>", "seed of a non-deterministic program's run", integer("--seed"))
      .option("--result <text>", "post this result instead of running the program (a cheating RP, for experiments)"),
  ).action(async (id: bigint, o: SpecOptions & { seed?: number; result?: string }) => {
    const { market, wallet } = await connected();
    const m = await readMatch(market, id);
    const spec = specOf(o);
    checkSpec(spec, await jobSpecHash(market, m.terms.jobId), id);
    const result = o.result ?? runProgram(spec, mulberry32(o.seed ?? Date.now() % 2 ** 31));
    await postResult(market, wallet, id, m.terms, resultHash(result));
    ctx.emit({ matchId: id, result, resultHash: resultHash(result) }, `match ${id}: result posted (${resultHash(result)})`);
  });

  for (const [name, what, act] of [
    ["accept", "as the JC: accept the result (the RP is paid)", acceptResult],
    ["reject", "as the JC: reject the result and send the match to mediation", rejectResult],
  ] as const) {
    jobs
      .command(name)
      .argument("<match>", "match id", matchId)
      .description(what)
      .action(async (id: bigint) => {
        const { market, wallet } = await connected();
        const m = await readMatch(market, id);
        await act(market, wallet, id, m.terms);
        ctx.emit({ matchId: id, action: name }, `match ${id}: result ${name}ed`);
      });
  }

  programOptions(
    jobs
      .command("mediate")
      .argument("<match>", "match id", matchId)
      .description("as the mediator: re-run the job n times and post the result hashes; prints the verdict")
      .option("--seed <n>", "seed of the re-executions", integer("--seed")),
  ).action(async (id: bigint, o: SpecOptions & { seed?: number }) => {
    const { market, wallet } = await connected();
    const m = await readMatch(market, id);
    const spec = specOf(o);
    checkSpec(spec, await jobSpecHash(market, m.terms.jobId), id);
    const entropy = mulberry32(o.seed ?? Date.now() % 2 ** 31);
    const hashes = Array.from({ length: m.terms.n }, () => resultHash(runProgram(spec, entropy)));
    const verdict = await mediate(market, wallet, id, m.terms, hashes);
    ctx.emit({ matchId: id, verdict: Verdict[verdict] }, `match ${id}: verdict ${Verdict[verdict]}`);
  });

  jobs
    .command("timeout")
    .argument("<match>", "match id", matchId)
    .description("close a match whose current deadline passed (anyone may)")
    .action(async (id: bigint) => {
      const { market, wallet } = await connected();
      const m = await readMatch(market, id);
      const now = BigInt((await wallet.provider!.getBlock("latest"))!.timestamp);
      if (m.state !== MatchState.AwaitingResult && m.state !== MatchState.ResultPosted && m.state !== MatchState.Mediating) throw new CliError(`match ${id} is ${MatchState[m.state]}: nothing times out`);
      if (now < m.deadline) throw new CliError(`match ${id} is ${MatchState[m.state]} until ${new Date(Number(m.deadline) * 1000).toISOString()}: it has not timed out yet`);
      await timeout(market, wallet, id, m.terms, m.state);
      const after = await readMatch(market, id);
      ctx.emit({ matchId: id, verdict: Verdict[after.verdict] }, `match ${id}: timed out, verdict ${Verdict[after.verdict]}`);
    });

  jobs
    .command("claim")
    .argument("<match>", "match id", matchId)
    .description("be paid the wallet's share of a closed match (JC, RP or mediator; closing a match pays the closer at once)")
    .action(async (id: bigint) => {
      const { market, wallet, book } = await connected();
      const m = await readMatch(market, id);
      const token = AgoraToken__factory.connect(contractAddress(book, "AgoraToken"), wallet);
      const before = await token.balanceOf(wallet.address);
      await claimShare(market, wallet, id, m.terms);
      const paid = (await token.balanceOf(wallet.address)) - before;
      ctx.emit({ matchId: id, paid }, `match ${id}: paid ${formatTokens(paid, 4)} AGORA`);
    });

  jobs
    .command("withdraw")
    .description("withdraw every token the job market credits to the wallet, and its mediator earnings")
    .action(async () => {
      const { market, wallet } = await connected();
      const credits = await withdrawCredits(market, wallet);
      const record = await market.mediator(wallet.address);
      const earnings = record.earnings;
      if (earnings > 0n) await (await market.withdrawMediatorEarnings()).wait();
      if (credits + earnings === 0n) throw new CliError(`nothing to withdraw: the job market owes ${wallet.address} nothing (a closed match's share is paid by \`agora jobs claim\`)`);
      ctx.emit({ credits, earnings }, `withdrew ${formatTokens(credits + earnings, 4)} AGORA (credits ${formatTokens(credits, 4)}, mediator earnings ${formatTokens(earnings, 4)})`);
    });
}
