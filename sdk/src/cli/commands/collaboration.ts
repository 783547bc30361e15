import fs from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { id as hashText, keccak256, parseEther } from "ethers";
import { collaborationRound, createRound, joinRound, menuOf, RoundState } from "../../chain/collaboration";
import { solveContract } from "../../collaboration/solve";
import { formatTokens } from "../../format";
import { CliContext } from "../context";
import { CliError } from "../connect";
import { integer, tokens } from "../parse";
import { ensureTokens } from "./ranking";

/** "1,0.85,0.7" to numbers. */
export const numberList = (name: string) => (value: string) => {
  const xs = value.split(",").map((v) => Number(v.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x))) throw new InvalidArgumentError(`${name} must be comma-separated numbers such as 1,0.85,0.7`);
  return xs;
};
const roundId = (value: string) => BigInt(integer("round")(value));
/** Seconds of one block: a round created now lands at most about this much later than the latest block. */
const BLOCK_SLACK = 12;
const fixed = (x: number) => parseEther(x.toFixed(12));

/** The hash of a file's bytes, or of the text given. */
function contentHash(fileOrText: string): string {
  return fs.existsSync(fileOrText) ? keccak256(fs.readFileSync(fileOrText)) : hashText(fileOrText);
}

export function collaborationCommands(program: Command, ctx: CliContext): void {
  const collab = program.command("collab").description("collaboration rounds paid with models: menus, joins, contributions, delivery");
  const connected = async () => {
    const { provider, book } = await ctx.connect();
    const wallet = await ctx.signer(provider);
    return { provider, book, wallet, round: collaborationRound(book, wallet) };
  };

  collab
    .command("open")
    .description("as the coordinator: solve the optimal menu for the types and open a round with it and a bond")
    .requiredOption("--costs <list>", "per-unit costs of the types, decreasing (e.g. 1,0.85,0.7,0.55,0.4)", numberList("--costs"))
    .requiredOption("--probs <list>", "type probabilities, summing to 1", numberList("--probs"))
    .requiredOption("--parties <N>", "number of parties expected", integer("--parties"))
    .requiredOption("--bond <tokens>", "the coordinator's bond, forfeited to the parties if it does not deliver", tokens("--bond"))
    .option("--collateral <tokens>", "collateral each party posts", tokens("--collateral"), parseEther("10"))
    .option("--join-for <s>", "seconds to join", integer("--join-for"), 3600)
    .option("--contribute-for <s>", "seconds after joining closes to contribute", integer("--contribute-for"), 3600)
    .option("--deliver-for <s>", "seconds after contributions close to deliver", integer("--deliver-for"), 3600)
    .action(async (o: { costs: number[]; probs: number[]; parties: number; bond: bigint; collateral: bigint; joinFor: number; contributeFor: number; deliverFor: number }) => {
      const contract = solveContract({ costs: o.costs, probs: o.probs, N: o.parties });
      const { provider, book, wallet, round } = await connected();
      const [minWindow, maxWindow] = (await Promise.all([round.minWindow(), round.maxWindow()])).map(Number);
      // The join window runs from the block the round lands in: leave a block (12 s) of slack.
      const windows: [string, number, number][] = [
        ["--join-for", o.joinFor, minWindow + BLOCK_SLACK],
        ["--contribute-for", o.contributeFor, minWindow],
        ["--deliver-for", o.deliverFor, minWindow],
      ];
      for (const [flag, seconds, least] of windows) {
        if (seconds < least || seconds > maxWindow) {
          throw new CliError(`${flag} must be between ${least} and ${maxWindow} seconds (the protocol's window bounds${flag === "--join-for" ? ", plus a block" : ""}), got ${seconds}`);
        }
      }
      await ensureTokens(book, wallet, await round.getAddress(), o.bond);
      const now = BigInt((await provider.getBlock("latest"))!.timestamp);
      const join = now + BigInt(o.joinFor);
      const contribution = join + BigInt(o.contributeFor);
      const delivery = contribution + BigInt(o.deliverFor);
      const items = menuOf(contract, () => o.collateral);
      const id = await createRound(round, wallet, items, o.bond, { join, contribution, delivery });
      ctx.emit(
        { round: id, items, expectedAccuracy: contract.expectedAccuracy, deadlines: { join, contribution, delivery } },
        [
          `round ${id} open until ${new Date(Number(join) * 1000).toISOString()}; expected accuracy ${contract.expectedAccuracy.toFixed(4)}`,
          ...contract.m.map((m, i) => `item ${i} (type ${i + 1}, cost ${o.costs[i]}): contribute ${m.toFixed(3)} for a model worth ${contract.t[i].toFixed(3)}`),
        ],
      );
    });

  collab
    .command("show")
    .argument("<round>", "round id", roundId)
    .description("a round's state, deadlines, menu and parties")
    .action(async (id: bigint) => {
      const { round } = await connected();
      const r = await round.roundOf(id);
      if (Number(r.state) === RoundState.None) throw new CliError(`no round ${id}`);
      const items = await round.itemsOf(id);
      const parties = await round.partiesOf(id);
      const details = await Promise.all(parties.map((p) => round.partyOf(id, p)));
      ctx.emit(
        {
          round: id,
          state: RoundState[Number(r.state)],
          coordinator: r.coordinator,
          bond: r.bond,
          deadlines: { join: r.joinDeadline, contribution: r.contributionDeadline, delivery: r.deliveryDeadline },
          items: items.map((it) => ({ contribution: it.contribution, reward: it.reward, collateral: it.collateral })),
          parties: parties.map((p, i) => ({ address: p, item: Number(details[i].item), contributed: details[i].contributed, qualityShare: details[i].qualityShare })),
        },
        [
          `round ${id}: ${RoundState[Number(r.state)]}, coordinator ${r.coordinator}, bond ${formatTokens(r.bond, 4)}, ${items.length} items, ${parties.length} parties`,
          ...parties.map((p, i) => `  ${p} item ${details[i].item}${details[i].contributed ? `, contributed ${formatTokens(details[i].amount, 3)}` : ""}`),
        ],
      );
    });

  collab
    .command("join")
    .argument("<round>", "round id", roundId)
    .argument("<item>", "menu item (your type's item is the one the menu made best for you)", integer("item"))
    .description("as a party: join a round with a menu item, posting its collateral")
    .action(async (id: bigint, item: number) => {
      const { book, wallet, round } = await connected();
      const items = await round.itemsOf(id).catch(() => {
        throw new CliError(`no round ${id}`);
      });
      if (item >= items.length) throw new CliError(`round ${id} has items 0 to ${items.length - 1}: there is no item ${item}`);
      await ensureTokens(book, wallet, await round.getAddress(), items[item].collateral);
      await joinRound(round, wallet, id, item);
      ctx.emit({ round: id, item, collateral: items[item].collateral }, `joined round ${id} with item ${item}, ${formatTokens(items[item].collateral, 4)} collateral posted`);
    });

  collab
    .command("contribute")
    .argument("<round>", "round id", roundId)
    .requiredOption("--data <file-or-text>", "the data delivered (a file is hashed; so is text)")
    .requiredOption("--amount <units>", "units contributed (at least the item's contribution)", (v: string) => {
      if (!/^\d+(\.\d{1,18})?$/.test(v)) throw new InvalidArgumentError("--amount must be a number of units such as 69.5");
      return v;
    })
    .description("as a party: record the contribution (hash of the data delivered, amount)")
    .action(async (id: bigint, o: { data: string; amount: string }) => {
      const { round } = await connected();
      const dataHash = contentHash(o.data);
      await (await round.contribute(id, dataHash, parseEther(o.amount))).wait();
      ctx.emit({ round: id, dataHash, amount: parseEther(o.amount) }, `round ${id}: contributed ${o.amount} units (data ${dataHash})`);
    });

  collab
    .command("deliver")
    .argument("<round>", "round id", roundId)
    .requiredOption("--model <file-or-text>", "the trained model (a file is hashed; so is text)")
    .option("--shares <list>", "each party's quality share in join order, in [0, 1] (default: 1 for each contributor)", numberList("--shares"))
    .description("as the coordinator: record the model commitment and each party's quality share; returns collateral")
    .action(async (id: bigint, o: { model: string; shares?: number[] }) => {
      const { round } = await connected();
      const parties = await round.partiesOf(id);
      const details = await Promise.all(parties.map((p) => round.partyOf(id, p)));
      const shares = o.shares ?? details.map((d) => (d.contributed ? 1 : 0));
      if (shares.length !== parties.length) throw new CliError(`round ${id} has ${parties.length} parties: give ${parties.length} shares, in join order`);
      if (shares.some((s) => !(s >= 0 && s <= 1))) throw new CliError("quality shares must be in [0, 1]");
      const modelHash = contentHash(o.model);
      await (await round.deliver(id, modelHash, shares.map(fixed))).wait();
      ctx.emit({ round: id, modelHash, shares }, `round ${id}: model ${modelHash} delivered to ${details.filter((d) => d.contributed).length} contributors`);
    });

  collab
    .command("claim")
    .argument("<round>", "round id", roundId)
    .description("after a missed delivery deadline (anyone): the coordinator's bond goes to the parties")
    .action(async (id: bigint) => {
      const { round } = await connected();
      await (await round.claimDefault(id)).wait();
      ctx.emit({ round: id }, `round ${id}: the coordinator defaulted; its bond is credited to the parties (withdraw with \`agora collab withdraw\`)`);
    });

  collab
    .command("withdraw")
    .description("withdraw the tokens collaboration rounds credit to the wallet")
    .action(async () => {
      const { round, wallet } = await connected();
      const amount = await round.credits(wallet.address);
      if (amount === 0n) throw new CliError(`nothing to withdraw: collaboration rounds credit ${wallet.address} nothing`);
      await (await round.withdraw()).wait();
      ctx.emit({ withdrawn: amount }, `withdrew ${formatTokens(amount, 4)} AGORA`);
    });
}
