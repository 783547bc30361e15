import { expect } from "chai";
import hre from "hardhat";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { deployAgora } from "../../deploy/agora";
import { readAddressBook, contractAddress } from "../../sdk/src/chain/addressBook";
import { DeploymentNotFoundError } from "../../sdk/src/errors";
import { WAD } from "../helpers";
import { DEFAULT_ADMIN_DELAY } from "../../deploy/config";

describe("deployAgora", () => {
  it("writes the address book the SDK reads back", async () => {
    const [deployer] = await hre.ethers.getSigners();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-book-"));
    const { book, addressBookFile, ranking } = await deployAgora(deployer, { addressBookDir: dir, network: "test" });
    expect(addressBookFile).to.equal(path.join(dir, "31337.json"));
    const read = readAddressBook(31337, dir);
    expect(read).to.deep.equal(book);
    expect(read.network).to.equal("test");
    expect(contractAddress(read, "RankingMarket")).to.equal(await ranking.getAddress());
    expect(read.contracts.RankingMarket.blockNumber).to.be.greaterThan(read.contracts.AgoraToken.blockNumber);
  });

  it("names the missing file or contract when there is no deployment", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-book-"));
    expect(() => readAddressBook(5, dir)).to.throw(DeploymentNotFoundError, `no Agora deployment for chain 5: ${path.join(dir, "5.json")}`);
    expect(() => contractAddress({ chainId: 1, network: "x", deployer: "0x", contracts: {} }, "JobMarket")).to.throw(
      DeploymentNotFoundError,
      "the address book of chain 1 has no JobMarket",
    );
  });

  it("hands the ranking market's admin roles to a separate admin, binds the token's minter to the market and applies overrides", async () => {
    const [deployer, admin] = await hre.ethers.getSigners();
    const { token, ranking } = await deployAgora(deployer, {
      admin: admin.address,
      adminDelay: 3_600,
      addressBookDir: false,
      ranking: { tau: WAD / 50n },
    });
    expect(await token.minter()).to.equal(await ranking.getAddress());
    expect(await token.deployer()).to.equal(deployer.address);
    const adminRole = await ranking.DEFAULT_ADMIN_ROLE();
    expect(await ranking.defaultAdmin()).to.equal(admin.address);
    expect(await ranking.hasRole(adminRole, admin.address)).to.equal(true);
    expect(await ranking.hasRole(adminRole, deployer.address)).to.equal(false);
    expect(await ranking.defaultAdminDelay()).to.equal(3_600n);
    expect(await ranking.hasRole(await ranking.PARAMETER_ADMIN_ROLE(), admin.address)).to.equal(true);
    expect(await ranking.hasRole(await ranking.PARAMETER_ADMIN_ROLE(), deployer.address)).to.equal(false);
    expect((await ranking.parameters()).tau).to.equal(WAD / 50n);
  });

  it("puts the ranking market's admin behind the default delay unless told otherwise", async () => {
    const [deployer] = await hre.ethers.getSigners();
    const { ranking } = await deployAgora(deployer, { addressBookDir: false });
    expect(await ranking.defaultAdmin()).to.equal(deployer.address);
    expect(await ranking.defaultAdminDelay()).to.equal(BigInt(DEFAULT_ADMIN_DELAY));
  });

  it("refuses to renounce the admin of a deployment that names another admin", async () => {
    const [deployer, admin] = await hre.ethers.getSigners();
    await expect(deployAgora(deployer, { admin: admin.address, renounceAdmin: true, addressBookDir: false })).to.be.rejectedWith(
      "renounceAdmin renounces the deployer's roles: leave admin unset",
    );
  });
});
