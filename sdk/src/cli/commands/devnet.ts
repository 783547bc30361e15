import path from "node:path";
import { spawn } from "node:child_process";
import { Command } from "commander";
import { HDNodeWallet, JsonRpcProvider, formatEther, toQuantity } from "ethers";
import { AgoraToken__factory, CollaborationRound__factory, DelegationMarket__factory, JobMarket__factory, RankingMarket__factory } from "../../../../typechain-types";
import { deployAgora } from "../../../../deploy/agora";
import { contractAddress } from "../../chain/addressBook";
import { EpochStatus } from "../../chain/ranking";
import { formatTokens } from "../../format";
import { CliContext } from "../context";
import { CliError } from "../connect";
import { address, integer, tokens } from "../parse";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");
export const DEVNET_CHAIN_ID = 31337;
/** Hardhat's well-known development mnemonic: its accounts are funded on every devnet. */
const DEVNET_MNEMONIC = "test test test test test test test test test test test junk";

/** Hardhat's funded account #i on a devnet. */
export function devnetAccount(i: number, provider: JsonRpcProvider): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEVNET_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider);
}

function requireDevnet(chainId: number, what: string): void {
  if (chainId !== DEVNET_CHAIN_ID) throw new CliError(`${what} works only on a local devnet (chain ${DEVNET_CHAIN_ID}); this node is chain ${chainId}`);
}

export function devnetCommands(program: Command, ctx: CliContext): void {
  program
    .command("node")
    .description("start a local devnet (hardhat node) in the foreground; Ctrl-C stops it")
    .option("--port <port>", "port to listen on", integer("--port"), 8545)
    .option("--block-time <ms>", "mine a block every ms as well as on each transaction", integer("--block-time"))
    .action(async (opts: { port: number; blockTime?: number }) => {
      const cli = require.resolve("hardhat/internal/cli/cli.js", { paths: [ROOT] });
      const env = { ...process.env, ...(opts.blockTime ? { AGORA_BLOCK_TIME: String(opts.blockTime) } : {}) };
      const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(opts.port)], { cwd: ROOT, env, stdio: "inherit" });
      const stop = () => child.kill("SIGTERM");
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 0)));
      if (code !== 0) throw new CliError(`hardhat node exited with status ${code} (is port ${opts.port} taken? try --port)`);
    });

  program
    .command("deploy")
    .description("deploy every Agora contract and write the address book <deployments>/<chainId>.json")
    .action(async () => {
      const { provider, chainId } = await ctx.connectNode();
      const { wallet, privateKey } = ctx.options;
      const useDevnetKey = !wallet && !privateKey && !process.env.AGORA_PRIVATE_KEY && chainId === DEVNET_CHAIN_ID;
      const deployer = useDevnetKey ? devnetAccount(0, provider) : await ctx.signer(provider);
      const balance = await provider.getBalance(deployer.address);
      if (balance === 0n) throw new CliError(`the deployer ${deployer.address} has no ether to pay gas: fund it first (on a devnet: agora faucet ${deployer.address})`);
      const deployment = await deployAgora(deployer, { network: `chain-${chainId}`, addressBookDir: ctx.options.deployments });
      ctx.emit(
        { chainId, deployer: deployer.address, addressBook: deployment.addressBookFile, contracts: deployment.book.contracts },
        [
          ...Object.entries(deployment.book.contracts).map(([name, c]) => `${name.padEnd(18)} ${c.address}  (block ${c.blockNumber})`),
          `deployer ${deployer.address}${useDevnetKey ? " (Hardhat's account #0)" : ""}; address book: ${deployment.addressBookFile}`,
        ],
      );
    });

  program
    .command("faucet [address]")
    .description("devnet only: give an address ether for gas and AGORA tokens (from Hardhat's account #0)")
    .option("--eth <amount>", "ether to add", tokens("--eth"), 100n * 10n ** 18n)
    .option("--tokens <amount>", "AGORA tokens to send", tokens("--tokens"), 1000n * 10n ** 18n)
    .action(async (target: string | undefined, opts: { eth: bigint; tokens: bigint }) => {
      const { provider, chainId, book } = await ctx.connect();
      requireDevnet(chainId, "the faucet");
      const to = target ? address("address")(target) : (await ctx.signer(provider)).address;
      const eth = (await provider.getBalance(to)) + opts.eth;
      await provider.send("hardhat_setBalance", [to, toQuantity(eth)]);
      const funder = devnetAccount(0, provider);
      const token = AgoraToken__factory.connect(contractAddress(book, "AgoraToken"), funder);
      if (opts.tokens > 0n) {
        const has = await token.balanceOf(funder.address);
        if (has < opts.tokens) throw new CliError(`the faucet account ${funder.address} holds only ${formatTokens(has, 2)} AGORA: ask for less with --tokens`);
        await (await token.transfer(to, opts.tokens)).wait();
      }
      const agora = await token.balanceOf(to);
      ctx.emit({ address: to, eth, agora }, `${to}: ${formatEther(eth)} ETH, ${formatTokens(agora, 4)} AGORA`);
    });

  program
    .command("status")
    .description("the deployment, a wallet's balances, the ranking epoch, open jobs, sessions and rounds")
    .option("--address <address>", "whose balances to show (default: the wallet, if one is given)", address("--address"))
    .action(async (opts: { address?: string }) => {
      const { provider, chainId, book } = await ctx.connect();
      const { wallet, privateKey } = ctx.options;
      const who = opts.address ?? (wallet || privateKey || process.env.AGORA_PRIVATE_KEY ? (await ctx.signer(provider)).address : undefined);
      const at = (name: string) => contractAddress(book, name);
      const token = AgoraToken__factory.connect(at("AgoraToken"), provider);
      const ranking = RankingMarket__factory.connect(at("RankingMarket"), provider);
      const jobs = JobMarket__factory.connect(at("JobMarket"), provider);
      const delegation = DelegationMarket__factory.connect(at("DelegationMarket"), provider);
      const rounds = CollaborationRound__factory.connect(at("CollaborationRound"), provider);
      const [block, epoch, peers, totalStake, jobOffers, resourceOffers, sessions, roundCount] = await Promise.all([
        provider.getBlockNumber(),
        ranking.currentEpoch(),
        ranking.peerCount(),
        ranking.totalStake(),
        jobs.queryFilter(jobs.filters.JobOfferPosted()).then((es) => Promise.all(es.map((e) => jobs.isJobOfferOpen(e.args.jobId)))),
        jobs.queryFilter(jobs.filters.ResourceOfferPosted()).then((es) => Promise.all(es.map((e) => jobs.isResourceOfferOpen(e.args.offerId)))),
        delegation.sessionCount(),
        rounds.roundCount(),
      ]);
      const epochStatus = EpochStatus[Number(await ranking.epochStatus(epoch))];
      const status: Record<string, unknown> = {
        chainId,
        block,
        contracts: Object.fromEntries(Object.entries(book.contracts).map(([n, c]) => [n, c.address])),
        ranking: { peers, totalStake, epoch, epochStatus },
        jobs: { openJobOffers: jobOffers.filter(Boolean).length, openResourceOffers: resourceOffers.filter(Boolean).length },
        delegation: { sessions },
        collaboration: { rounds: roundCount },
      };
      const lines = [
        `chain ${chainId}, block ${block}; ${Object.entries(book.contracts).map(([n, c]) => `${n} ${c.address}`).join(", ")}`,
        `ranking: ${peers} peers, ${formatTokens(totalStake, 4)} staked; epoch ${epoch} ${epochStatus.toLowerCase()}`,
        `jobs: ${status.jobs && (status.jobs as { openJobOffers: number }).openJobOffers} open job offers, ${(status.jobs as { openResourceOffers: number }).openResourceOffers} open resource offers`,
        `delegation: ${sessions} sessions; collaboration: ${roundCount} rounds`,
      ];
      if (who) {
        const registered = await ranking.isRegistered(who);
        const uid = registered ? await ranking.uidOf(who) : undefined;
        const balances = {
          address: who,
          eth: await provider.getBalance(who),
          agora: await token.balanceOf(who),
          stake: uid === undefined ? 0n : await ranking.stakeOf(uid),
          uid: uid === undefined ? null : Number(uid),
          credits: { jobs: await jobs.credits(who), delegation: await delegation.credits(who), collaboration: await rounds.credits(who) },
        };
        status.account = balances;
        lines.push(
          `${who}: ${formatEther(balances.eth)} ETH, ${formatTokens(balances.agora, 4)} AGORA` +
            (uid === undefined ? ", not a peer" : `, peer uid ${uid} with ${formatTokens(balances.stake, 4)} staked`) +
            `; credits to withdraw: jobs ${formatTokens(balances.credits.jobs, 4)}, delegation ${formatTokens(balances.credits.delegation, 4)}, collaboration ${formatTokens(balances.credits.collaboration, 4)}`,
        );
      }
      ctx.emit(status, lines);
    });
}
