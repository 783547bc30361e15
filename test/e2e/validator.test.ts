import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEther } from "ethers";
import { deployAgora, AgoraDeployment } from "../../deploy/agora";
import { writeAddressBook } from "../../sdk/src/chain/addressBook";
import { registerPeer, stakeOn, voteStake } from "../../sdk/src/chain/ranking";
import { normalizeRow, packRow } from "../../sdk/src/ranking/weights";
import { runCli, RunningNode, startCli, startHardhatNode } from "./node";

describe("e2e: the validator command against a hardhat node", function () {
  this.timeout(180_000);
  let node: RunningNode;
  let dir: string;
  let deployment: AgoraDeployment;

  before(async () => {
    node = await startHardhatNode();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-e2e-"));
    const treasury = node.wallet(0);
    deployment = await deployAgora(treasury, { addressBookDir: dir, network: "localhost", ranking: { epochLength: 20n } });
    const { token, ranking } = deployment;
    const stakes = ["50", "30", "20"];
    for (let i = 0; i < 3; i++) {
      const peer = node.wallet(i + 1);
      await (await token.connect(treasury).transfer(peer.address, parseEther("100"))).wait();
      // Registering burns the registration cost from the peer's tokens.
      expect(await registerPeer(ranking, peer)).to.equal(BigInt(i));
      await stakeOn(ranking, peer, i, parseEther(stakes[i]));
      expect(await token.balanceOf(peer.address)).to.equal(parseEther("100") - (await ranking.registrationBurn()) - parseEther(stakes[i]));
    }
    const rows = [[0, 1, 1], [1, 0, 1], [1, 1, 0]];
    for (let i = 0; i < 3; i++) await (await ranking.connect(node.wallet(i + 1)).setWeightsPacked(packRow(normalizeRow(rows[i])))).wait();
  });

  after(async () => {
    await node?.stop();
  });

  it("validates two epochs for two wallets: commit, reveal, quorum, claims", async () => {
    const { ranking } = deployment;
    const before = await ranking.getStakes();
    // The next epoch: the stake was there before it started, so it counts (none does in epoch 0).
    const from = Number(await ranking.currentEpoch()) + 1;
    for (let uid = 0n; uid < 3n; uid++) expect(await voteStake(ranking, uid, from)).to.equal(before[Number(uid)]);
    const validators = [1, 2].map((i) =>
      startCli(["--rpc", node.url, "--deployments", dir, "validator", "--epochs", "2", "--from-epoch", String(from), "--poll", "100"], {
        AGORA_PRIVATE_KEY: node.wallet(i).privateKey,
      }),
    );
    // Blocks come only once both validators are up: a loaded machine may take seconds to start one,
    // longer than an epoch's windows.
    await Promise.all(validators.map((v) => v.waitForLine(/^validator 0x/)));
    await node.provider.send("evm_setIntervalMining", [500]);
    let a, b;
    try {
      [a, b] = await Promise.all(validators.map((v) => v.exited));
    } finally {
      await node.provider.send("evm_setIntervalMining", [0]);
    }

    for (const r of [a, b]) {
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).to.match(/^validator 0x[0-9a-fA-F]{40} on chain 31337, ranking market 0x/);
      const reports = lines.filter((l) => /^epoch \d+: final, agreed; committed, revealed/.test(l));
      expect(reports).to.have.length(2, r.stdout + r.stderr);
      expect(reports[0].startsWith(`epoch ${from}: `)).to.equal(true, r.stdout);
      expect(lines.at(-1)).to.equal("done");
    }
    const after = await ranking.getStakes();
    after.forEach((s, i) => expect(s > before[i]).to.equal(true, `stake of uid ${i} grew`));
  });

  it("explains in one line a wallet that is not a peer", async () => {
    const r = await runCli(["--rpc", node.url, "--deployments", dir, "--private-key", node.wallet(9).privateKey, "validator"]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim()).to.equal(`agora: ${node.wallet(9).address} is not a registered peer: register and stake first`);
  });

  it("explains in one line a chain without a deployment, a stale address book and a missing key", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "agora-none-"));
    const none = await runCli(["--rpc", node.url, "--deployments", empty, "validator"], { AGORA_PRIVATE_KEY: node.wallet(1).privateKey });
    expect(none.code).to.equal(1);
    expect(none.stderr.trim()).to.equal(`agora: no Agora deployment for chain 31337 in ${empty}: run \`agora deploy\` (or pass --deployments DIR)`);

    const stale = fs.mkdtempSync(path.join(os.tmpdir(), "agora-stale-"));
    const ghost = "0x000000000000000000000000000000000000dEaD";
    writeAddressBook({ ...deployment.book, contracts: { RankingMarket: { address: ghost, blockNumber: 1 } } }, stale);
    const staleRun = await runCli(["--rpc", node.url, "--deployments", stale, "validator"], { AGORA_PRIVATE_KEY: node.wallet(1).privateKey });
    expect(staleRun.stderr.trim()).to.equal(
      `agora: no RankingMarket contract at ${ghost} on chain 31337: the address book is stale (was the node restarted?); deploy again`,
    );

    const noKey = await runCli(["--rpc", node.url, "--deployments", dir, "validator"], { AGORA_PRIVATE_KEY: "" });
    expect(noKey.stderr.trim()).to.equal("agora: no wallet: pass --wallet NAME (see `agora wallet list`) or --private-key HEX, or set AGORA_PRIVATE_KEY");
  });

  it("explains in one line a wallet with no stake, and an unreachable node", async () => {
    const { ranking } = deployment;
    const lonely = node.wallet(7);
    await (await deployment.token.connect(node.wallet(0)).transfer(lonely.address, await ranking.registrationBurn())).wait();
    await registerPeer(ranking, lonely);
    expect(await deployment.token.balanceOf(lonely.address)).to.equal(0n, "the registration cost was burnt");
    const r = await runCli(["--rpc", node.url, "--deployments", dir, "--private-key", lonely.privateKey, "validator"]);
    expect(r.stderr.trim()).to.match(new RegExp(`^agora: ${lonely.address} \\(uid \\d+\\) has no stake: stake before validating$`));
    const down = await runCli(["--rpc", "http://127.0.0.1:1", "validator"]);
    expect(down.stderr.trim()).to.equal("agora: cannot reach a JSON-RPC node at http://127.0.0.1:1 (is `npx hardhat node` running?)");
  });
});
