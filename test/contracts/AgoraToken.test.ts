import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Signature } from "ethers";
import { deployRanking, TOKENS } from "../helpers";
import { DEFAULT_INITIAL_SUPPLY } from "../../deploy/config";

describe("AgoraToken", () => {
  const fixture = () => deployRanking();

  it("is an 18-decimal ERC-20 whose initial supply goes to the deployer", async () => {
    const { token, admin } = await loadFixture(fixture);
    expect(await token.name()).to.equal("Agora");
    expect(await token.symbol()).to.equal("AGORA");
    expect(await token.decimals()).to.equal(18n);
    expect(await token.totalSupply()).to.equal(DEFAULT_INITIAL_SUPPLY);
    expect(await token.balanceOf(admin.address)).to.equal(DEFAULT_INITIAL_SUPPLY - 11n * TOKENS(100_000));
  });

  it("grants MINTER_ROLE to the ranking market only", async () => {
    const { token, ranking, admin, peers } = await loadFixture(fixture);
    const role = await token.MINTER_ROLE();
    expect(await token.hasRole(role, await ranking.getAddress())).to.equal(true);
    expect(await token.hasRole(role, admin.address)).to.equal(false);
    expect(await token.hasRole(role, peers[0].address)).to.equal(false);
  });

  it("lets a minter mint", async () => {
    const { token, admin, peers } = await loadFixture(fixture);
    await token.grantRole(await token.MINTER_ROLE(), admin.address);
    await expect(token.mint(peers[0].address, 5n)).to.changeTokenBalance(token, peers[0], 5n);
  });

  it("refuses to mint for an account without MINTER_ROLE", async () => {
    const { token, peers } = await loadFixture(fixture);
    await expect(token.connect(peers[0]).mint(peers[0].address, 1n))
      .to.be.revertedWithCustomError(token, "AccessControlUnauthorizedAccount")
      .withArgs(peers[0].address, await token.MINTER_ROLE());
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
    const token = await (await hre.ethers.getContractFactory("AgoraToken")).deploy(admin.address, holder.address, 0);
    expect(await token.totalSupply()).to.equal(0n);
    expect(await token.balanceOf(holder.address)).to.equal(0n);
  });
});
