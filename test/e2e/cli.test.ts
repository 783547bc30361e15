import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatUnits, parseEther } from "ethers";
import { readAddressBook } from "../../sdk/src/chain/addressBook";
import { RankingMarket__factory, AgoraToken__factory } from "../../typechain-types";
import { runCli, RunningNode, startCli, startHardhatNode } from "./node";

describe("e2e: the agora CLI with keystore wallets against a devnet started by `agora node`", function () {
  this.timeout(240_000);
  let node: RunningNode;
  let deployments: string;
  let keystore: string;
  // A cheap scrypt keeps each keystore operation fast in tests; the default is ethers' 2^17.
  const env = { AGORA_PASSWORD: "correct horse", AGORA_SCRYPT_N: "1024", AGORA_PRIVATE_KEY: "" };
  const cliArgs = (args: string[]) => ["--rpc", node.url, "--deployments", deployments, "--keystore", keystore, ...args];
  const agora = (args: string[], extra: Record<string, string> = {}) => runCli(cliArgs(args), { ...env, ...extra });
  const json = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

  before(async () => {
    node = await startHardhatNode({ via: "agora" }); // `agora node`: the devnet a user starts
    deployments = fs.mkdtempSync(path.join(os.tmpdir(), "agora-cli-deploy-"));
    keystore = fs.mkdtempSync(path.join(os.tmpdir(), "agora-cli-keys-"));
  });

  after(async () => {
    await node?.stop();
  });

  it("deploys, creates and imports wallets, funds them, and takes part in the ranking market", async () => {
    const deploy = await agora(["--json", "deploy"]);
    expect(deploy.code, deploy.stderr).to.equal(0);
    const book = readAddressBook(31337, deployments);
    expect(json(deploy.stdout).contracts.RankingMarket.address).to.equal(book.contracts.RankingMarket.address);

    const alice = await agora(["--json", "wallet", "new", "alice"]);
    expect(alice.code, alice.stderr).to.equal(0);
    const aliceAddress = json(alice.stdout).address as string;
    expect(json(alice.stdout).mnemonic.split(" ")).to.have.length(12);
    const bobKey = node.wallet(5).privateKey;
    const bob = await agora(["--json", "wallet", "import", "bob"], { AGORA_SECRET: bobKey });
    expect(json(bob.stdout).address).to.equal(node.wallet(5).address);
    const carol = await agora(["--json", "wallet", "import", "carol", "--index", "6"], { AGORA_SECRET: "test test test test test test test test test test test junk" });
    expect(json(carol.stdout).address).to.equal(node.wallet(6).address);
    const list = await agora(["--json", "wallet", "list"]);
    expect(json(list.stdout).wallets.map((w: { name: string }) => w.name)).to.deep.equal(["alice", "bob", "carol"]);
    expect(fs.statSync(path.join(keystore, "alice.json")).mode & 0o077).to.equal(0);

    const faucet = await agora(["--wallet", "alice", "faucet", "--tokens", "200", "--eth", "5"]);
    expect(faucet.code, faucet.stderr).to.equal(0);
    expect(faucet.stdout.trim()).to.equal(`${aliceAddress}: 5.0 ETH, 200.0000 AGORA`);

    const ranking = RankingMarket__factory.connect(book.contracts.RankingMarket.address, node.provider);
    const token = AgoraToken__factory.connect(book.contracts.AgoraToken.address, node.provider);
    const burn = await ranking.registrationBurn();
    for (const [name, amount] of [["alice", "120"], ["bob", "30"]]) {
      if (name === "bob") expect((await agora(["faucet", node.wallet(5).address, "--tokens", "100"])).code).to.equal(0);
      const address = name === "alice" ? aliceAddress : node.wallet(5).address;
      const held = await token.balanceOf(address);
      const registered = await agora(["--wallet", name, "--json", "ranking", "register"]);
      expect(registered.code, registered.stderr).to.equal(0);
      // Registering burns its cost from the wallet.
      expect(json(registered.stdout).burned).to.equal(burn.toString());
      expect(held - (await token.balanceOf(address))).to.equal(burn);
      const staked = await agora(["--wallet", name, "--json", "ranking", "stake", amount]);
      expect(staked.code, staked.stderr).to.equal(0);
      expect(json(staked.stdout).stake).to.equal(parseEther(amount).toString());
    }
    expect(await ranking.stakeOf(0)).to.equal(parseEther("120"));

    const weights = path.join(keystore, "weights.csv");
    fs.writeFileSync(weights, "uid,weight\n0,0.2\n1,0.8\n");
    const set = await agora(["--wallet", "alice", "ranking", "set-weights", weights]);
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stdout.trim()).to.equal("set 2 weights: 0:13107 1:52428");

    const unstake = await agora(["--wallet", "alice", "--json", "ranking", "unstake", "20"]);
    expect(json(unstake.stdout).unbonding).to.equal(parseEther("20").toString());
    const release = Number(json(unstake.stdout).releaseBlock);
    await node.provider.send("hardhat_mine", ["0x" + (release - (await node.provider.getBlockNumber())).toString(16)]);
    const before = await token.balanceOf(aliceAddress);
    const withdrawn = await agora(["--wallet", "alice", "ranking", "withdraw"]);
    expect(withdrawn.stdout.trim()).to.equal("withdrew 20.0000 AGORA");
    expect((await token.balanceOf(aliceAddress)) - before).to.equal(parseEther("20"));

    const status = await agora(["--wallet", "alice", "--json", "status"]);
    const s = json(status.stdout);
    expect(s.ranking.peers).to.equal("2");
    expect(s.account.stake).to.equal(parseEther("100").toString());
    expect(s.account.agora).to.equal((parseEther("100") - burn).toString()); // 200 from the faucet, less the burn and 100 staked
    expect(s.account.uid).to.equal(0);
  });

  it("validates an epoch from keystore wallets: commit, reveal, quorum and claims", async () => {
    const book = readAddressBook(31337, deployments);
    const ranking = RankingMarket__factory.connect(book.contracts.RankingMarket.address, node.provider);
    const weights = path.join(keystore, "bob-weights.json");
    fs.writeFileSync(weights, JSON.stringify({ 0: 1 }));
    expect((await agora(["--wallet", "bob", "ranking", "set-weights", weights])).code).to.equal(0);
    const before = await ranking.getStakes();
    // The next epoch: the stake was there before it started, so it counts (none does in epoch 0).
    const from = Number(await ranking.currentEpoch()) + 1;
    expect(from).to.be.at.least(1);
    const validators = ["alice", "bob"].map((name) =>
      startCli(cliArgs(["--wallet", name, "ranking", "validator", "--epochs", "1", "--from-epoch", String(from), "--poll", "100"]), env),
    );
    // Blocks come only once both validators are up: a loaded machine may take longer to start one than an epoch's windows last.
    await Promise.all(validators.map((v) => v.waitForLine(/^validator 0x/)));
    await node.provider.send("evm_setIntervalMining", [500]);
    try {
      for (const r of await Promise.all(validators.map((v) => v.exited))) {
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(new RegExp(`epoch ${from}: final, agreed; committed, revealed`));
      }
    } finally {
      await node.provider.send("evm_setIntervalMining", [0]);
    }
    const after = await ranking.getStakes();
    expect(after[0] > before[0] || after[1] > before[1]).to.equal(true, "the epoch's emission compounded into stake");
  });

  it("runs a job with a dispute and a job that times out, every role from its own keystore wallet", async () => {
    const book = readAddressBook(31337, deployments);
    const token = AgoraToken__factory.connect(book.contracts.AgoraToken.address, node.provider);
    const market = book.contracts.JobMarket.address;
    const roles = ["jc", "rp", "med", "solver"];
    const address: Record<string, string> = {};
    for (const role of roles) {
      const created = await agora(["--json", "wallet", "new", role]);
      address[role] = json(created.stdout).address;
      expect((await agora(["--wallet", role, "faucet", "--tokens", "1000"])).code).to.equal(0);
    }
    const as = (role: string, args: string[]) => agora(["--wallet", role, "--json", "jobs", ...args]);
    const ok = async (role: string, args: string[]) => {
      const r = await as(role, args);
      expect(r.code, `${role} ${args.join(" ")}: ${r.stderr}`).to.equal(0);
      return json(r.stdout);
    };
    const supply = async () => (await Promise.all([...roles.map((r) => token.balanceOf(address[r])), token.balanceOf(market)])).reduce((a, b) => a + b, 0n);
    const before = await supply();
    const spend = Object.fromEntries(await Promise.all(roles.map(async (r) => [r, await token.balanceOf(address[r])])));

    await ok("med", ["mediator-register", "--n", "3", "--pr", "0.5", "--ndpr", "1", "--jc-price", "2", "--rp-price", "3", "--bond", "50", "--deposit", "500", "--max-job-time", "7200"]);
    const job = ["--program", "sha256-chain", "--input", "hello agora"];
    const posted = await ok("jc", ["post-job", "--mediator", address.med, "--price", "100", "--match-fee", "5", ...job]);
    // The RP's limits: the job's 600 s result and reaction windows, the mediator's hour and 3 tokens are within them.
    const limits = ["--min-result-time", "600", "--max-reaction-time", "600", "--max-mediation-time", "3600", "--max-mediator-price", "3"];
    await ok("rp", ["post-offer", "--price", "80", "--match-fee", "4", "--deposit", "200", "--mediators", address.med, ...limits]);
    const solved = await ok("solver", ["solve"]);
    expect(solved.matches).to.have.length(1);
    const id = String(solved.matches[0].matchId);
    expect(String(solved.matches[0].jobId)).to.equal(String(posted.jobId));

    const wrongJob = await as("rp", ["post-result", id, "--program", "sha256-chain", "--input", "another job"]);
    expect(wrongJob.stderr.trim()).to.match(/^agora: the program and input given are not the job of match \d+ \(its spec hash is 0x[0-9a-f]{64}\): ask the job creator for them$/);
    await ok("rp", ["post-result", id, ...job]);
    await ok("jc", ["reject", id]);
    const verdict = await ok("med", ["mediate", id, ...job]);
    expect(verdict.verdict).to.equal("JobCreatorWrong");
    // The mediator was paid its share (D - P = 50) when its verdict closed the match; JC and RP claim theirs.
    expect((await ok("jc", ["claim", id])).paid).to.equal(parseEther("300").toString()); // N
    expect((await ok("rp", ["claim", id])).paid).to.equal(parseEther("350").toString()); // 2P + D
    const again = await as("med", ["claim", id]);
    expect(again.stderr.trim()).to.equal(`agora: the transaction reverted: NothingToClaim(${id}, ${address.med})`);
    const earned = await ok("med", ["withdraw"]);
    expect(earned.earnings).to.equal(parseEther("5").toString()); // both availability prices
    const show = await ok("jc", ["show", id]);
    expect(show.state).to.equal("Closed");

    // A second job whose RP never posts a result: anyone times it out after the result time.
    await ok("jc", ["post-job", "--mediator", address.med, "--price", "100", "--result-time", "60", "--program", "coin-flip", "--input", "x", "--p1", "0.9"]);
    // An offer whose shortest result window is the default 600 s is not matched with it; one that accepts 60 s is.
    const strict = await ok("rp", ["post-offer", "--price", "80", "--deposit", "200", "--mediators", address.med]);
    await ok("rp", ["post-offer", "--price", "80", "--deposit", "200", "--mediators", address.med, "--min-result-time", "60"]);
    const secondSolve = (await ok("solver", ["solve"])).matches;
    expect(secondSolve).to.have.length(1);
    expect(String(secondSolve[0].offerId)).to.not.equal(String(strict.offerId));
    const second = String(secondSolve[0].matchId);
    const early = await as("solver", ["timeout", second]);
    expect(early.stderr.trim()).to.match(new RegExp(`^agora: match ${second} is AwaitingResult until .*: it has not timed out yet$`));
    await node.provider.send("evm_increaseTime", [120]);
    await node.provider.send("evm_mine", []);
    expect((await ok("solver", ["timeout", second])).verdict).to.equal("ResultTimeout");

    // Tokens only moved among these wallets and the market; the first job's money is out.
    expect(await supply()).to.equal(before);
    const after = Object.fromEntries(await Promise.all(roles.map(async (r) => [r, await token.balanceOf(address[r])])));
    expect(after.solver - spend.solver).to.equal(parseEther("9")); // both match fees of the first job, paid at match
    // The JC lost the dispute: it paid for the job and the mediation, so it has less than it began with.
    expect(after.jc < spend.jc).to.equal(true);
  });

  it("runs a collaboration round: the coordinator opens the optimal menu, parties join and contribute, the model is delivered", async () => {
    const book = readAddressBook(31337, deployments);
    const token = AgoraToken__factory.connect(book.contracts.AgoraToken.address, node.provider);
    const round = book.contracts.CollaborationRound.address;
    const names = ["coord", "p1", "p2", "p3"];
    const address: Record<string, string> = {};
    for (const name of names) {
      address[name] = json((await agora(["--json", "wallet", "new", name])).stdout).address;
      expect((await agora(["--wallet", name, "faucet", "--tokens", "500"])).code).to.equal(0);
    }
    const ok = async (name: string, args: string[]) => {
      const r = await agora(["--wallet", name, "--json", "collab", ...args]);
      expect(r.code, `${name} ${args.join(" ")}: ${r.stderr}`).to.equal(0);
      return json(r.stdout);
    };
    const opened = await ok("coord", ["open", "--costs", "0.02,0.01", "--probs", "0.5,0.5", "--parties", "3", "--bond", "90", "--collateral", "10"]);
    const id = String(opened.round);
    expect(opened.items).to.have.length(2);
    await ok("p1", ["join", id, "0"]);
    await ok("p2", ["join", id, "1"]);
    await ok("p3", ["join", id, "1"]);
    const need = (item: number) => formatUnits(BigInt(opened.items[item].contribution), 18);
    await ok("p1", ["contribute", id, "--data", "p1's images", "--amount", need(0)]);
    await ok("p2", ["contribute", id, "--data", "p2's images", "--amount", need(1)]);
    const short = await agora(["--wallet", "p3", "collab", "contribute", id, "--data", "x", "--amount", "0.5"]);
    expect(short.stderr.trim()).to.match(new RegExp(`^agora: the transaction reverted: ContributionTooSmall\\(${id}, \\d+, 500000000000000000\\)$`));
    const early = await agora(["--wallet", "coord", "collab", "deliver", id, "--model", "weights v1"]);
    expect(early.stderr.trim()).to.match(/^agora: the transaction reverted: TooEarly\(/);
    await node.provider.send("evm_increaseTime", [7201]);
    await node.provider.send("evm_mine", []);
    const delivered = await ok("coord", ["deliver", id, "--model", "weights v1"]);
    expect(delivered.shares).to.deep.equal([1, 1, 0]);
    const show = await ok("p1", ["show", id]);
    expect(show.state).to.equal("Delivered");
    expect(show.parties.map((p: { contributed: boolean }) => p.contributed)).to.deep.equal([true, true, false]);
    // p3 never contributed: its 10 collateral goes to p1 and p2 (5 each), with their own 10 back.
    const before = await token.balanceOf(address.p1);
    expect((await ok("p1", ["withdraw"])).withdrawn).to.equal(parseEther("15").toString());
    expect((await token.balanceOf(address.p1)) - before).to.equal(parseEther("15"));
    expect((await ok("p2", ["withdraw"])).withdrawn).to.equal(parseEther("15").toString());
    expect((await ok("coord", ["withdraw"])).withdrawn).to.equal(parseEther("90").toString());
    const nothing = await agora(["--wallet", "p3", "collab", "withdraw"]);
    expect(nothing.stderr.trim()).to.equal(`agora: nothing to withdraw: collaboration rounds credit ${address.p3} nothing`);
    expect(await token.balanceOf(round)).to.equal(0n);
  });

  it("runs a delegation session: providers register, the user explores, the chain plans, the user closes, providers claim", async () => {
    const names = ["user", "prov0", "prov1"];
    const address: Record<string, string> = {};
    for (const name of names) {
      address[name] = json((await agora(["--json", "wallet", "new", name])).stdout).address;
      expect((await agora(["--wallet", name, "faucet", "--tokens", name === "user" ? "50" : "0"])).code).to.equal(0);
    }
    const ok = async (name: string, args: string[]) => {
      const r = await agora(["--wallet", name, "--json", "delegation", ...args]);
      expect(r.code, `${name} ${args.join(" ")}: ${r.stderr}`).to.equal(0);
      return json(r.stdout);
    };
    await ok("prov0", ["register", "--model", "0.9,500,0.0001", "--model", "0.6,300,0.00002"]);
    await ok("prov1", ["register", "--model", "0.8,400,0.00005"]);
    const opened = await ok("user", ["open", "--providers", `${address.prov0},${address.prov1}`, "--queries", "16", "--budget", "10", "--eps", "0.25", "--max-tokens", "1000"]);
    expect(opened.B).to.equal(4);
    const id = String(opened.session);
    const tooMany = await agora(["--wallet", "user", "delegation", "settle", id, "--provider", "0", "--count", "5", "--tokens", "2500", "--reward", "4.5"]);
    expect(tooMany.stderr.trim()).to.equal(`agora: the transaction reverted: CountExceedsPhase(${id}, 0, 5, 4)`);
    const paid0 = await ok("user", ["settle", id, "--provider", "0", "--count", "4", "--tokens", "2000", "--reward", "3.6"]);
    expect(paid0.payment).to.equal(parseEther("0.2").toString()); // 2000 tokens at 0.0001
    await ok("user", ["settle", id, "--provider", "1", "--count", "4", "--tokens", "1600", "--reward", "3.2"]);
    const plan = await ok("user", ["plan", id]);
    expect(["0", "1"]).to.include(String(plan.best));
    const closed = await ok("user", ["close", id]);
    const shown = await ok("user", ["show", id]);
    expect(shown.phase).to.equal("Closed");
    const claimed0 = BigInt((await ok("prov0", ["claim", id])).withdrawn);
    const claimed1 = BigInt((await ok("prov1", ["claim", id])).withdrawn);
    const refunded = BigInt((await ok("user", ["withdraw"])).withdrawn);
    expect(refunded).to.equal(BigInt(closed.refund));
    // Every token of the budget went to a provider or back to the user; owed queries were paid at L.
    expect(claimed0 + claimed1 + refunded).to.equal(parseEther("10"));
    expect(claimed0 + claimed1).to.equal(parseEther("0.28") + BigInt(closed.owedPaid));
  });

  it("analyzes without a node: the known menu and the non-determinism gain", async () => {
    const menu = await runCli(["--json", "analyze", "menu", "--costs", "1,0.85,0.7,0.55,0.4", "--probs", "0.2,0.2,0.2,0.2,0.2", "--parties", "10", "--outside", "0,0,0,0,0"]);
    const m = json(menu.stdout);
    m.m.forEach((x: number) => expect(x).to.be.closeTo(69.05, 0.35));
    expect(m.utilities[4]).to.be.closeTo(41.43, 0.21);
    const gain = await runCli(["--json", "analyze", "economics", "--n", "4", "--ndpr", "0", "--price", "1", "--benefit", "1"]);
    expect(json(gain.stdout).worstP1).to.be.closeTo(0.8, 1e-9);
    const bad = await runCli(["analyze", "menu", "--costs", "1,x", "--probs", "1", "--parties", "3"]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--costs must be comma-separated numbers such as 1,0\.85,0\.7/);
  });

  it("says in one line what went wrong and how to fix it", async () => {
    const wrong = await agora(["--wallet", "alice", "status"], { AGORA_PASSWORD: "wrong" });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr.trim()).to.equal('agora: wrong password for wallet "alice": check AGORA_PASSWORD or type it again');

    const missing = await agora(["--wallet", "dave", "status"]);
    expect(missing.stderr.trim()).to.equal(`agora: no wallet named "dave" in ${keystore}: create one with \`agora wallet new dave\` or list them with \`agora wallet list\``);

    const twice = await agora(["wallet", "new", "alice"]);
    expect(twice.stderr.trim()).to.equal(`agora: a wallet named "alice" already exists in ${keystore}: choose another name`);

    const badSecret = await agora(["wallet", "import", "eve"], { AGORA_SECRET: "not a key" });
    expect(badSecret.stderr.trim()).to.equal("agora: the secret is neither a 32-byte hex private key nor a mnemonic of 12 or more words");

    // Registering burns a token: a wallet without one is told so, and registers once funded.
    const poor = await agora(["--wallet", "carol", "ranking", "register"]);
    expect(poor.code).to.equal(1);
    expect(poor.stderr.trim()).to.equal(`agora: insufficient balance: ${node.wallet(6).address} holds 0.0000 AGORA and needs 1.0000 (on a devnet: agora faucet)`);
    expect((await agora(["--wallet", "carol", "faucet", "--tokens", "1"])).code).to.equal(0);
    const funded = await agora(["--wallet", "carol", "ranking", "register"]);
    expect(funded.code, funded.stderr).to.equal(0);
    expect(funded.stdout.trim()).to.equal(`${node.wallet(6).address} registered as peer uid 2 (burned 1.0000 AGORA)`);
    const broke = await agora(["--wallet", "carol", "ranking", "stake", "5"]);
    expect(broke.stderr.trim()).to.equal(`agora: insufficient balance: ${node.wallet(6).address} holds 0.0000 AGORA and needs 5.0000 (on a devnet: agora faucet)`);

    const again = await agora(["--wallet", "carol", "ranking", "register"]);
    expect(again.stderr.trim()).to.equal(`agora: ${node.wallet(6).address} is already peer uid 2`);

    const revert = await agora(["--wallet", "carol", "ranking", "withdraw"]);
    expect(revert.code).to.equal(1);
    expect(revert.stderr.trim()).to.match(/^agora: the transaction reverted: NothingToWithdraw\(/);

    const usage = await agora(["ranking", "stake", "lots"]);
    expect(usage.code).to.equal(2);
    expect(usage.stderr.trim()).to.match(/'lots' is invalid for argument 'amount'\. amount must be a token amount such as 10 or 2\.5$/);

    const noDeployment = await runCli(["--rpc", node.url, "--deployments", keystore, "status"]);
    expect(noDeployment.stderr.trim()).to.equal(`agora: no Agora deployment for chain 31337 in ${keystore}: run \`agora deploy\` (or pass --deployments DIR)`);

    const badFile = path.join(keystore, "bad.json");
    fs.writeFileSync(badFile, '{"0": 1, "7": 2}');
    const bad = await agora(["--wallet", "alice", "ranking", "set-weights", badFile]);
    expect(bad.stderr.trim()).to.equal("agora: uid 7 is not a peer: there are 3 peers");
  });
});
