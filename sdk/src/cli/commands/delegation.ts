import { Command, InvalidArgumentError } from "commander";
import { formatUnits } from "ethers";
import { delegationMarket, openSession, registerModels, SessionPhase } from "../../chain/delegation";
import { formatTokens } from "../../format";
import { ModelSpec } from "../../delegation/parameters";
import { CliContext } from "../context";
import { CliError } from "../connect";
import { address, integer, number, tokens } from "../parse";
import { ensureTokens } from "./ranking";

/** --model score,outputTokens,tokenPrice, repeatable. */
const collectModel = (value: string, previous: ModelSpec[] = []): ModelSpec[] => {
  const [score, outputTokens, tokenPrice] = value.split(",").map(Number);
  if (!(score > 0 && score <= 1) || !Number.isInteger(outputTokens) || outputTokens <= 0 || !(tokenPrice > 0)) {
    throw new InvalidArgumentError("--model must be score,outputTokens,tokenPrice with score in (0, 1], e.g. 0.9,500,0.0001");
  }
  return [...previous, { score, outputTokens, tokenPrice }];
};
const sessionId = (value: string) => BigInt(integer("session")(value));

export function delegationCommands(program: Command, ctx: CliContext): void {
  const delegation = program.command("delegation").description("the delegation market: providers' models, sessions, settlements, the plan");
  const connected = async () => {
    const { provider, book } = await ctx.connect();
    const wallet = await ctx.signer(provider);
    return { provider, book, wallet, market: delegationMarket(book, wallet) };
  };

  delegation
    .command("register")
    .description("as a provider: register your models (the first is your flagship), each with its token price")
    .requiredOption("--model <score,outputTokens,tokenPrice>", "a model; repeat for each (price in AGORA per output token)", collectModel)
    .action(async (o: { model: ModelSpec[] }) => {
      const { market, wallet } = await connected();
      await registerModels(market, wallet, o.model);
      ctx.emit({ provider: wallet.address, models: o.model }, `${wallet.address} offers ${o.model.length} model${o.model.length > 1 ? "s" : ""}`);
    });

  delegation
    .command("open")
    .description("as a user: open a session of T queries over the providers, with a budget in escrow")
    .requiredOption("--providers <addresses>", "comma-separated providers (2 to 8)", (v: string) => v.split(",").map((a) => address("--providers")(a.trim())))
    .requiredOption("--queries <T>", "number of queries", integer("--queries"))
    .requiredOption("--budget <tokens>", "budget escrowed", tokens("--budget"))
    .option("--eps <x>", "exploration exponent in (0, 1/2): B = T^(2 eps)", number("--eps", 0), 0.25)
    .option("--max-tokens <L>", "tokens billed per query at most", integer("--max-tokens"), 1000)
    .option("--reward-scale <x>", "reward scale of the plan", number("--reward-scale", 0), 1)
    .option("--duration <s>", "seconds after which anyone may close the session", integer("--duration"), 86_400)
    .action(async (o: { providers: string[]; queries: number; budget: bigint; eps: number; maxTokens: number; rewardScale: number; duration: number }) => {
      const { book, market, wallet } = await connected();
      await ensureTokens(book, wallet, await market.getAddress(), o.budget);
      const { id, B } = await openSession(market, wallet, { providers: o.providers, T: o.queries, eps: o.eps, L: o.maxTokens, rewardScale: o.rewardScale, budget: o.budget, duration: o.duration });
      ctx.emit({ session: id, B }, `session ${id} open: blocks of B = ${B} queries; explore each provider ${B} times, then \`agora delegation plan ${id}\``);
    });

  delegation
    .command("settle")
    .argument("<session>", "session id", sessionId)
    .requiredOption("--provider <index>", "the provider's index in the session", integer("--provider"))
    .requiredOption("--count <n>", "queries settled", integer("--count"))
    .requiredOption("--tokens <n>", "output tokens the provider reported, in all", integer("--tokens"))
    .requiredOption("--reward <x>", "reward you measured, in all (in AGORA)", tokens("--reward"))
    .option("--model <i>", "the model the provider reported", integer("--model"), 0)
    .description("as the user: settle queries delegated to one provider (pays it for the reported tokens)")
    .action(async (id: bigint, o: { provider: number; count: number; tokens: number; reward: bigint; model: number }) => {
      const { market } = await connected();
      const receipt = await (await market.settle(id, o.provider, o.count, o.tokens, o.reward, o.model)).wait();
      const settled = receipt!.logs.map((l) => market.interface.parseLog(l)).find((p) => p?.name === "Settled");
      const s = await market.sessionOf(id);
      ctx.emit(
        { session: id, payment: settled?.args.payment, phase: SessionPhase[Number(s.phase)], stoppedEarly: s.stoppedEarly },
        `session ${id}: settled ${o.count} queries of provider ${o.provider}, paid ${formatTokens(settled?.args.payment ?? 0n, 6)}; phase ${SessionPhase[Number(s.phase)]}${s.stoppedEarly ? " (stopped early)" : ""}`,
      );
    });

  delegation
    .command("plan")
    .argument("<session>", "session id", sessionId)
    .description("commit the plan once exploration is complete (anyone): the chain computes it from the recorded statistics")
    .action(async (id: bigint) => {
      const { market } = await connected();
      await (await market.commitPlan(id)).wait();
      const plan = await market.planOf(id);
      ctx.emit(
        { session: id, best: plan.best, r: plan.r, threshold: plan.threshold, secondBestUtility: plan.secondBestUtility },
        `session ${id}: best provider ${plan.best}, ${plan.r} exploitation queries, early-stop threshold ${formatUnits(plan.threshold, 18)} per query`,
      );
    });

  delegation
    .command("show")
    .argument("<session>", "session id", sessionId)
    .description("a session's phase, budget and providers")
    .action(async (id: bigint) => {
      const { market } = await connected();
      const s = await market.sessionOf(id);
      if (Number(s.phase) === SessionPhase.None) throw new CliError(`no session ${id}`);
      const providers = await market.providersOf(id);
      const stats = await Promise.all(providers.map((_, i) => market.stats(id, i)));
      ctx.emit(
        {
          session: id,
          user: s.user,
          phase: SessionPhase[Number(s.phase)],
          T: s.t,
          B: s.b,
          budget: s.budget,
          spent: s.spent,
          reserved: s.reserved,
          providers: providers.map((p, i) => ({ address: p, explored: stats[i].explored, bonusDue: stats[i].bonusDue, incentiveDue: stats[i].incentiveDue, earned: stats[i].earned })),
        },
        [
          `session ${id}: ${SessionPhase[Number(s.phase)]}, T = ${s.t}, B = ${s.b}; budget ${formatTokens(s.budget, 4)}, spent ${formatTokens(s.spent, 4)}, reserved ${formatTokens(s.reserved, 4)}`,
          ...providers.map((p, i) => `  provider ${i} ${p}: explored ${stats[i].explored}, owed ${stats[i].bonusDue} bonus + ${stats[i].incentiveDue} incentive queries, earned ${formatTokens(stats[i].earned, 4)}`),
        ],
      );
    });

  delegation
    .command("close")
    .argument("<session>", "session id", sessionId)
    .description("end a session (its user any time, anyone after its deadline): owed queries are paid, the rest refunded")
    .action(async (id: bigint) => {
      const { market } = await connected();
      const receipt = await (await market.closeSession(id)).wait();
      const closed = receipt!.logs.map((l) => market.interface.parseLog(l)).find((p) => p?.name === "SessionClosed");
      ctx.emit({ session: id, owedPaid: closed?.args.owedPaid, refund: closed?.args.refund }, `session ${id} closed: ${formatTokens(closed?.args.owedPaid ?? 0n, 4)} paid for owed queries, ${formatTokens(closed?.args.refund ?? 0n, 4)} refunded to the user`);
    });

  delegation
    .command("claim")
    .argument("<session>", "session id", sessionId)
    .description("as a provider: collect what the session has paid you so far and withdraw it")
    .action(async (id: bigint) => {
      const { market, wallet } = await connected();
      const providers = (await market.providersOf(id)).map((p) => p.toLowerCase());
      const index = providers.indexOf(wallet.address.toLowerCase());
      if (index < 0) throw new CliError(`${wallet.address} is not a provider of session ${id}`);
      const s = await market.sessionOf(id);
      const phase = Number(s.phase);
      // Exploration earnings stay in the session until the plan (which reads them) is committed.
      if (phase !== SessionPhase.Closed && phase !== SessionPhase.Exploration) await (await market.collectEarnings(id, index)).wait();
      const amount = await market.credits(wallet.address);
      if (amount === 0n && phase === SessionPhase.Exploration) {
        throw new CliError(`session ${id} is still exploring: earnings can be claimed once the plan is committed (agora delegation plan ${id}) or the session is closed`);
      }
      if (amount === 0n) throw new CliError(`nothing to claim: session ${id} owes ${wallet.address} nothing yet`);
      await (await market.withdraw()).wait();
      ctx.emit({ session: id, withdrawn: amount }, `withdrew ${formatTokens(amount, 4)} AGORA`);
    });

  delegation
    .command("withdraw")
    .description("withdraw what the delegation market credits the wallet (refunds, closed sessions)")
    .action(async () => {
      const { market, wallet } = await connected();
      const amount = await market.credits(wallet.address);
      if (amount === 0n) throw new CliError(`nothing to withdraw: the delegation market credits ${wallet.address} nothing`);
      await (await market.withdraw()).wait();
      ctx.emit({ withdrawn: amount }, `withdrew ${formatTokens(amount, 4)} AGORA`);
    });
}
