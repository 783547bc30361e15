import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Interface, Signature, id } from "ethers";
import { deployRanking, TOKENS } from "../helpers";
import { DEFAULT_INITIAL_SUPPLY } from "../../deploy/config";
import { AgoraToken__factory } from "../../typechain-types";

describe("AgoraToken", () => {
  const fixture = () => deployRanking();

  /** A token deployed by signer 0 (its deployer) with 1,000 tokens to signer 1, no minter bound yet. */
  async function unbound() {
    const [deployer, holder, minter, stranger] = await hre.ethers.getSigners();
    const token = await new AgoraToken__factory(deployer).deploy(holder.address, TOKENS(1_000));
    return { token, deployer, holder, minter, stranger };
  }

  it("is an 18-decimal ERC-20 whose initial supply goes to the deployer", async () => {
    const { token, admin } = await loadFixture(fixture);
    expect(await token.name()).to.equal("Agora");
    expect(await token.symbol()).to.equal("AGORA");
    expect(await token.decimals()).to.equal(18n);
    expect(await token.totalSupply()).to.equal(DEFAULT_INITIAL_SUPPLY);
    expect(await token.balanceOf(admin.address)).to.equal(DEFAULT_INITIAL_SUPPLY - 11n * TOKENS(100_000));
    expect(await token.deployer()).to.equal(admin.address);
  });

  it("has the ranking market as its only minter once deployed, and nobody can bind another", async () => {
    const { token, ranking, admin, peers } = await loadFixture(fixture);
    const market = await ranking.getAddress();
    expect(await token.minter()).to.equal(market);
    await expect(token.connect(admin).bindMinter(admin.address)).to.be.revertedWithCustomError(token, "MinterAlreadyBound").withArgs(market);
    await expect(token.connect(peers[0]).bindMinter(peers[0].address))
      .to.be.revertedWithCustomError(token, "NotDeployer")
      .withArgs(peers[0].address);
  });

  it("lets only the deployer bind the minter, once, and never to the zero address", async () => {
    const { token, deployer, minter, stranger } = await loadFixture(unbound);
    expect(await token.minter()).to.equal(hre.ethers.ZeroAddress);
    await expect(token.connect(stranger).bindMinter(stranger.address))
      .to.be.revertedWithCustomError(token, "NotDeployer")
      .withArgs(stranger.address);
    await expect(token.connect(deployer).bindMinter(hre.ethers.ZeroAddress)).to.be.revertedWithCustomError(token, "ZeroMinter");
    await expect(token.connect(deployer).bindMinter(minter.address)).to.emit(token, "MinterBound").withArgs(minter.address);
    expect(await token.minter()).to.equal(minter.address);
    await expect(token.connect(deployer).bindMinter(stranger.address))
      .to.be.revertedWithCustomError(token, "MinterAlreadyBound")
      .withArgs(minter.address);
    await expect(token.connect(deployer).bindMinter(hre.ethers.ZeroAddress))
      .to.be.revertedWithCustomError(token, "MinterAlreadyBound")
      .withArgs(minter.address);
  });

  it("lets the bound minter mint", async () => {
    const { token, deployer, holder, minter } = await loadFixture(unbound);
    await token.connect(deployer).bindMinter(minter.address);
    const supply = await token.totalSupply();
    await expect(token.connect(minter).mint(holder.address, 5n)).to.changeTokenBalance(token, holder, 5n);
    expect(await token.totalSupply()).to.equal(supply + 5n);
  });

  it("refuses to mint for anyone but the minter, the deployer included, and for everyone before a minter is bound", async () => {
    const { token, deployer, holder, minter } = await loadFixture(unbound);
    await expect(token.connect(deployer).mint(deployer.address, 1n)).to.be.revertedWithCustomError(token, "NotMinter").withArgs(deployer.address);
    await token.connect(deployer).bindMinter(minter.address);
    for (const caller of [deployer, holder]) {
      await expect(token.connect(caller).mint(caller.address, 1n)).to.be.revertedWithCustomError(token, "NotMinter").withArgs(caller.address);
    }
    const deployed = await loadFixture(fixture);
    await expect(deployed.token.connect(deployed.admin).mint(deployed.admin.address, 1n))
      .to.be.revertedWithCustomError(deployed.token, "NotMinter")
      .withArgs(deployed.admin.address);
  });

  it("has no roles anyone could grant: AccessControl's calls are not part of it", async () => {
    const { token, admin, peers } = await loadFixture(fixture);
    const accessControl = new Interface([
      "function grantRole(bytes32 role, address account)",
      "function hasRole(bytes32 role, address account) view returns (bool)",
      "function MINTER_ROLE() view returns (bytes32)",
    ]);
    const abi: Interface = token.interface;
    for (const name of ["grantRole", "hasRole", "MINTER_ROLE"]) expect(abi.getFunction(name), name).to.equal(null);
    const tokenAddress = await token.getAddress();
    const grant = accessControl.encodeFunctionData("grantRole", [id("MINTER_ROLE"), peers[0].address]);
    await expect(admin.sendTransaction({ to: tokenAddress, data: grant })).to.be.reverted;
    await expect(
      hre.ethers.provider.call({ to: tokenAddress, data: accessControl.encodeFunctionData("hasRole", [hre.ethers.ZeroHash, admin.address]) }),
    ).to.be.rejected;
  });

  it("lets a holder burn its own tokens, and a spender burn what it was approved", async () => {
    const { token, holder, stranger } = await loadFixture(unbound);
    await expect(token.connect(holder).burn(TOKENS(100))).to.changeTokenBalance(token, holder, -TOKENS(100));
    expect(await token.totalSupply()).to.equal(TOKENS(900));
    await expect(token.connect(stranger).burnFrom(holder.address, TOKENS(1)))
      .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
      .withArgs(stranger.address, 0n, TOKENS(1));
    await token.connect(holder).approve(stranger.address, TOKENS(50));
    await expect(token.connect(stranger).burnFrom(holder.address, TOKENS(20))).to.changeTokenBalances(
      token,
      [holder, stranger],
      [-TOKENS(20), 0n],
    );
    expect(await token.allowance(holder.address, stranger.address)).to.equal(TOKENS(30));
    expect(await token.totalSupply()).to.equal(TOKENS(880));
    await expect(token.connect(holder).burn(TOKENS(881)))
      .to.be.revertedWithCustomError(token, "ERC20InsufficientBalance")
      .withArgs(holder.address, TOKENS(880), TOKENS(881));
  });

  it("accepts an EIP-2612 permit signed by the owner", async () => {
    const { token, peers } = await loadFixture(fixture);
    const [owner, spender] = peers;
    const deadline = 2n ** 40n;
    const { chainId } = await hre.ethers.provider.getNetwork();
    const domain = { name: "Agora", version: "1", chainId, verifyingContract: await token.getAddress() };
    const types = {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    };
    const value = TOKENS(7);
    const message = { owner: owner.address, spender: spender.address, value, nonce: 0n, deadline };
    const sig = Signature.from(await owner.signTypedData(domain, types, message));
    await token.permit(owner.address, spender.address, value, deadline, sig.v, sig.r, sig.s);
    expect(await token.allowance(owner.address, spender.address)).to.equal(value);
    await expect(token.permit(owner.address, spender.address, value, deadline, sig.v, sig.r, sig.s)).to.be.revertedWithCustomError(
      token,
      "ERC2612InvalidSigner",
    );
  });

  it("can start with no supply at all, all of it then coming from emission", async () => {
    const [admin, holder] = await hre.ethers.getSigners();
    const token = await new AgoraToken__factory(admin).deploy(holder.address, 0);
    expect(await token.totalSupply()).to.equal(0n);
    expect(await token.balanceOf(holder.address)).to.equal(0n);
  });
});
