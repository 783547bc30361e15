import fs from "node:fs";
import { Command } from "commander";
import { Signer } from "ethers";
import { AgoraToken__factory } from "../../../../typechain-types";
import { contractAddress, AddressBook } from "../../chain/addressBook";
import { ensureAllowance } from "../../chain/allowance";
import { formatEpochReport, rankingMarket, registerPeer, runValidator } from "../../chain/ranking";
import { formatTokens } from "../../format";
import { parseWeightsFile, sparseRow, weightsFromFloats } from "../../ranking/weights";
import { CliContext } from "../context";
import { CliError } from "../connect";
import { integer, tokens } from "../parse";

/** Checks the balance and approves `spender` for `amount` if the allowance is short. */
export async function ensureTokens(book: AddressBook, owner: Signer, spender: string, amount: bigint): Promise<void> {
  const tokenAddress = contractAddress(book, "AgoraToken");
  const who = await owner.getAddress();
  const balance = await AgoraToken__factory.connect(tokenAddress, owner).balanceOf(who);
  if (balance < amount) throw new CliError(`insufficient balance: ${who} holds ${formatTokens(balance, 4)} AGORA and needs ${formatTokens(amount, 4)} (on a devnet: agora faucet)`);
  await ensureAllowance(tokenAddress, owner, spender, amount);
}

export function rankingCommands(program: Command, ctx: CliContext): void {
  const ranking = program.command("ranking").description("the ranking market: peers, stake, weights, validation");

  ranking
    .command("register")
    .description("register the wallet as a peer (burns the market's registration cost from it)")
    .action(async () => {
      const { provider, book } = await ctx.connect();
      const wallet = await ctx.signer(provider);
      const market = rankingMarket(book, wallet);
      if (await market.isRegistered(wallet.address)) throw new CliError(`${wallet.address} is already peer uid ${await market.uidOf(wallet.address)}`);
      const burn = await market.registrationBurn();
      await ensureTokens(book, wallet, await market.getAddress(), burn);
      const uid = await registerPeer(market, wallet);
      ctx.emit({ address: wallet.address, uid, burned: burn }, `${wallet.address} registered as peer uid ${uid} (burned ${formatTokens(burn, 4)} AGORA)`);
    });

  ranking
    .command("stake")
    .argument("<amount>", "tokens", tokens("amount"))
    .description("stake AGORA tokens on the wallet's peer (approves the market if needed)")
    .action(async (amount: bigint) => {
      const { provider, book } = await ctx.connect();
      const wallet = await ctx.signer(provider);
      const market = rankingMarket(book, wallet);
      if (!(await market.isRegistered(wallet.address))) throw new CliError(`${wallet.address} is not a peer: run \`agora ranking register\` first`);
      const uid = await market.uidOf(wallet.address);
      await ensureTokens(book, wallet, await market.getAddress(), amount);
      await (await market.stake(uid, amount)).wait();
      const stake = await market.stakeOf(uid);
      ctx.emit({ uid, staked: amount, stake }, `staked ${formatTokens(amount, 4)} on uid ${uid}: its stake is ${formatTokens(stake, 4)}`);
    });

  ranking
    .command("unstake")
    .argument("<amount>", "tokens", tokens("amount"))
    .description("start unbonding part of the stake; withdraw it after the unbonding period")
    .action(async (amount: bigint) => {
      const { provider, book } = await ctx.connect();
      const wallet = await ctx.signer(provider);
      const market = rankingMarket(book, wallet);
      await (await market.unstake(amount)).wait();
      const uid = await market.uidOf(wallet.address);
      const [unbonding, releaseBlock] = await market.unbondingOf(wallet.address);
      ctx.emit({ uid, unbonding, releaseBlock }, `unbonding ${formatTokens(unbonding, 4)} from uid ${uid}, withdrawable from block ${releaseBlock}`);
    });

  ranking
    .command("withdraw")
    .description("withdraw unbonded stake")
    .action(async () => {
      const { provider, book } = await ctx.connect();
      const wallet = await ctx.signer(provider);
      const market = rankingMarket(book, wallet);
      const token = AgoraToken__factory.connect(contractAddress(book, "AgoraToken"), provider);
      const before = await token.balanceOf(wallet.address);
      await (await market.withdraw()).wait();
      const got = (await token.balanceOf(wallet.address)) - before;
      ctx.emit({ withdrawn: got }, `withdrew ${formatTokens(got, 4)} AGORA`);
    });

  ranking
    .command("set-weights <file>")
    .description("set the wallet's weights from a JSON or CSV file of float weights by uid")
    .action(async (file: string) => {
      if (!fs.existsSync(file)) throw new CliError(`no such weights file: ${file}`);
      const { provider, book } = await ctx.connect();
      const wallet = await ctx.signer(provider);
      const market = rankingMarket(book, wallet);
      const peers = Number(await market.peerCount());
      const row = weightsFromFloats(parseWeightsFile(fs.readFileSync(file, "utf8"), peers));
      const { uids, values } = sparseRow(row);
      await (await market.setWeights(uids, values)).wait();
      ctx.emit({ uids, weights: values }, `set ${uids.length} weights: ${uids.map((u, i) => `${u}:${values[i]}`).join(" ")}`);
    });

  const validator = (parent: Command, hidden = false) =>
    parent
      .command("validator", { hidden })
      .description("validate ranking epochs for one wallet until stopped: compute, commit, reveal, claim")
      .option("--epochs <n>", "stop after reporting this many epochs", integer("--epochs"))
      .option("--from-epoch <e>", "first epoch to serve (default: the oldest still open)", integer("--from-epoch"))
      .option("--poll <ms>", "how often to look for a new block", integer("--poll"), 1000)
      .action(async (opts: { epochs?: number; fromEpoch?: number; poll: number }) => {
        const { provider, chainId, book } = await ctx.connect();
        const wallet = await ctx.signer(provider);
        const market = rankingMarket(book, wallet);
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        ctx.emit({ validator: wallet.address, chainId, market: await market.getAddress() }, `validator ${wallet.address} on chain ${chainId}, ranking market ${await market.getAddress()}`);
        try {
          await runValidator(market, wallet, {
            epochs: opts.epochs,
            fromEpoch: opts.fromEpoch,
            pollMs: opts.poll,
            signal: controller.signal,
            onReport: (r) => ctx.emit({ ...r } as unknown as Record<string, unknown>, formatEpochReport(r)),
            onRetry: (epoch, reason) => ctx.emit({ epoch, retry: reason }, `epoch ${epoch}: transaction reverted (${reason}); retrying at the next block`),
          });
        } finally {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
        }
        ctx.emit({ done: !controller.signal.aborted }, controller.signal.aborted ? "stopped" : "done");
      });
  validator(ranking);
  validator(program, true); // `agora validator`, kept from before the ranking group
}
