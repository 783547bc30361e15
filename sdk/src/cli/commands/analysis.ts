import { Command } from "commander";
import { maxNonDeterminismGain, recommendParameters } from "../../market/economics";
import { informationRent, solveCompleteInformation, solveContract } from "../../collaboration/solve";
import { formatTable } from "../../format";
import { CliContext } from "../context";
import { integer, number } from "../parse";
import { numberList } from "./collaboration";


/** Off-chain analysis: no node needed. */
export function analysisCommands(program: Command, ctx: CliContext): void {
  const analyze = program.command("analyze").description("off-chain analysis (no node needed): job economics, parameters, contract menus");

  analyze
    .command("economics")
    .description("the job creator's largest gain from a non-deterministic job, at a mediator's n and NDPR")
    .requiredOption("--n <n>", "re-executions per mediation", integer("--n"))
    .requiredOption("--ndpr <x>", "non-determinism penalty rate as on chain (ND deposit = price * NDPR * n)", number("--ndpr"))
    .requiredOption("--price <x>", "the job's price", number("--price"))
    .requiredOption("--benefit <x>", "what the result is worth to the job creator", number("--benefit"))
    .action((o: { n: number; ndpr: number; price: number; benefit: number }) => {
      const r = maxNonDeterminismGain(o.n, o.ndpr * o.n, o.price, o.benefit);
      ctx.emit({ ...o, worstP1: r.p1, gain: r.gain }, `largest ND gain ${r.gain.toFixed(6)} (${((100 * r.gain) / o.price).toFixed(3)}% of the price) at p1 = ${r.p1.toFixed(6)}`);
    });

  analyze
    .command("recommend")
    .description("the smallest NDPR and PR that keep cheating gains under a fraction of the price")
    .requiredOption("--n <n>", "re-executions per mediation", integer("--n"))
    .requiredOption("--price <x>", "the job's price", number("--price"))
    .requiredOption("--benefit <x>", "what the result is worth to the job creator", number("--benefit"))
    .requiredOption("--exec-cost <x>", "the RP's cost of computing the job", number("--exec-cost"))
    .option("--junk-cost <x>", "the RP's cost of a junk answer", number("--junk-cost"), 0)
    .option("--verify <p>", "how often the JC verifies results", number("--verify"), 0.5)
    .option("--target <f>", "bound on each gain, as a fraction of the price", number("--target"), 0.01)
    .action((o: { n: number; price: number; benefit: number; execCost: number; junkCost: number; verify: number; target: number }) => {
      const r = recommendParameters({ n: o.n, price: o.price, benefit: o.benefit, execCost: o.execCost, junkCost: o.junkCost, verifyProbability: o.verify, targetFraction: o.target });
      ctx.emit({ ...r }, [
        `NDPR ${r.ndpr.toFixed(6)} (JC's ND gain ${r.ndGain.toFixed(6)} at p1 = ${r.ndWorstP1.toFixed(4)})`,
        `PR ${r.pr.toFixed(6)} (RP's cheating gain ${r.rpCheatGain.toFixed(6)} when verified with probability ${o.verify})`,
        `with the cheapest deposits (PR = 1/n) the JC must verify with probability ${r.verifyProbabilityAtMinimumPR.toFixed(4)}`,
      ]);
    });

  analyze
    .command("menu")
    .description("the optimal collaboration contract menu for private costs, beside the complete-information one")
    .requiredOption("--costs <list>", "per-unit costs of the types, decreasing", numberList("--costs"))
    .requiredOption("--probs <list>", "type probabilities, summing to 1", numberList("--probs"))
    .requiredOption("--parties <N>", "number of parties", integer("--parties"))
    .option("--outside <list>", "outside options (default: what each type gets training alone)", numberList("--outside"))
    .action((o: { costs: number[]; probs: number[]; parties: number; outside?: number[] }) => {
      const cfg = { costs: o.costs, probs: o.probs, N: o.parties, outside: o.outside };
      const menu = solveContract(cfg);
      const full = solveCompleteInformation(cfg);
      const rents = informationRent(menu);
      ctx.emit({ m: menu.m, t: menu.t, utilities: menu.utilities, outside: menu.outside, expectedAccuracy: menu.expectedAccuracy, binding: menu.binding, rents, completeInformation: { m: full.m, expectedAccuracy: full.expectedAccuracy } }, [
        formatTable(
          ["type", "cost", "m", "t", "utility", "outside", "rent", "m (public costs)"],
          menu.m.map((m, i) => [i + 1, o.costs[i], m.toFixed(3), menu.t[i].toFixed(3), menu.utilities[i].toFixed(3), menu.outside[i].toFixed(3), rents[i].toFixed(3), full.m[i].toFixed(3)]),
        ),
        `expected accuracy ${menu.expectedAccuracy.toFixed(4)} (with public costs ${full.expectedAccuracy.toFixed(4)})`,
      ]);
    });
}
