import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEther } from "ethers";
import { readAddressBook } from "../../sdk/src/chain/addressBook";
import { RankingMarket__factory, AgoraToken__factory } from "../../typechain-types";
import { runCli, RunningNode, startHardhatNode } from "./node";

describe("e2e: the agora CLI with keystore wallets against a hardhat node", function () {
  this.timeout(240_000);
  let node: RunningNode;
  let deployments: string;
  let keystore: string;
  // A cheap scrypt keeps each keystore operation fast in tests; the default is ethers' 2^17.
  const env = { AGORA_PASSWORD: "correct horse", AGORA_SCRYPT_N: "1024", AGORA_PRIVATE_KEY: "" };
  const agora = (args: string[], extra: Record<string, string> = {}) =>
    runCli(["--rpc", node.url, "--deployments", deployments, "--keystore", keystore, ...args], { ...env, ...extra });
  const json = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

  before(async () => {
    node = await startHardhatNode();
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

    for (const [name, amount] of [["alice", "120"], ["bob", "30"]]) {
      if (name === "bob") expect((await agora(["faucet", node.wallet(5).address, "--tokens", "100"])).code).to.equal(0);
      expect((await agora(["--wallet", name, "ranking", "register"])).code).to.equal(0);
      const staked = await agora(["--wallet", name, "--json", "ranking", "stake", amount]);
      expect(staked.code, staked.stderr).to.equal(0);
      expect(json(staked.stdout).stake).to.equal(parseEther(amount).toString());
    }
    const ranking = RankingMarket__factory.connect(book.contracts.RankingMarket.address, node.provider);
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
    const token = AgoraToken__factory.connect(book.contracts.AgoraToken.address, node.provider);
    const before = await token.balanceOf(aliceAddress);
    const withdrawn = await agora(["--wallet", "alice", "ranking", "withdraw"]);
    expect(withdrawn.stdout.trim()).to.equal("withdrew 20.0000 AGORA");
    expect((await token.balanceOf(aliceAddress)) - before).to.equal(parseEther("20"));

    const status = await agora(["--wallet", "alice", "--json", "status"]);
    const s = json(status.stdout);
    expect(s.ranking.peers).to.equal("2");
    expect(s.account.stake).to.equal(parseEther("100").toString());
    expect(s.account.agora).to.equal(parseEther("100").toString());
    expect(s.account.uid).to.equal(0);
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

    const poor = await agora(["--wallet", "carol", "ranking", "register"]);
    expect(poor.code, poor.stderr).to.equal(0);
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
