import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deployRanking, in12sBlock, nextBlockIn12s, pass12sBlocks, WAD } from "../helpers";
import { deployRankingMarket } from "../../deploy/agora";
import { DEFAULT_ADMIN_DELAY, DEFAULT_RANKING_CONFIG } from "../../deploy/config";

const Parameter = {
  Lambda: 0,
  Quorum: 1,
  Rho: 2,
  Theta: 3,
  Tau: 4,
  MinStakeToSetWeights: 5,
  WeightsRateLimit: 6,
  UnbondingBlocks: 7,
  RegistrationBurn: 8,
  ImmunityBlocks: 9,
} as const;

const bounds: Record<keyof typeof Parameter, [bigint, bigint]> = {
  Lambda: [1n, WAD],
  Quorum: [WAD / 2n, WAD - 1n],
  Rho: [1n, 10n ** 24n],
  Theta: [1n, WAD - 1n],
  Tau: [0n, DEFAULT_RANKING_CONFIG.maxTau], // the hard cap fixed at deployment
  MinStakeToSetWeights: [0n, 2n ** 128n - 1n],
  WeightsRateLimit: [0n, 1_000_000n],
  UnbondingBlocks: [0n, 1_000_000n],
  RegistrationBurn: [0n, 2n ** 128n - 1n],
  ImmunityBlocks: [0n, 1_000_000n],
};

const field: Record<keyof typeof Parameter, string> = {
  Lambda: "lambda",
  Quorum: "quorum",
  Rho: "rho",
  Theta: "theta",
  Tau: "tau",
  MinStakeToSetWeights: "minStakeToSetWeights",
  WeightsRateLimit: "weightsRateLimit",
  UnbondingBlocks: "unbondingBlocks",
  RegistrationBurn: "registrationBurn",
  ImmunityBlocks: "immunityBlocks",
};

describe("RankingMarket: economic parameters", () => {
  const fixture = () => deployRanking();

  for (const name of Object.keys(Parameter) as (keyof typeof Parameter)[]) {
    const p = Parameter[name];
    const [min, max] = bounds[name];

    it(`lets the parameter admin set ${name} anywhere in [${min}, ${max}], with an event`, async () => {
      const { ranking, admin } = await loadFixture(fixture);
      expect(await ranking.parameterBounds(p)).to.deep.equal([min, max]);
      const before = (await ranking.parameters())[field[name] as "lambda"];
      await expect(ranking.connect(admin).setParameter(p, max)).to.emit(ranking, "ParameterChanged").withArgs(p, before, max);
      expect((await ranking.parameters())[field[name] as "lambda"]).to.equal(max);
      await expect(ranking.connect(admin).setParameter(p, min)).to.emit(ranking, "ParameterChanged").withArgs(p, max, min);
      expect((await ranking.parameters())[field[name] as "lambda"]).to.equal(min);
    });

    it(`refuses ${name} outside its bounds`, async () => {
      const { ranking, admin } = await loadFixture(fixture);
      if (min > 0n) {
        await expect(ranking.connect(admin).setParameter(p, min - 1n))
          .to.be.revertedWithCustomError(ranking, "ParameterOutOfBounds")
          .withArgs(p, min - 1n, min, max);
      }
      await expect(ranking.connect(admin).setParameter(p, max + 1n))
        .to.be.revertedWithCustomError(ranking, "ParameterOutOfBounds")
        .withArgs(p, max + 1n, min, max);
    });
  }

  it("charges newcomers the registration cost the admin sets", async () => {
    const { ranking, admin, peers, token } = await loadFixture(fixture);
    const burn = 3n * WAD;
    await ranking.connect(admin).setParameter(Parameter.RegistrationBurn, burn);
    expect(await ranking.registrationBurn()).to.equal(burn);
    await expect(ranking.connect(peers[0]).register()).to.changeTokenBalance(token, peers[0], -burn);
  });

  it("applies the immunity period in force at a newcomer's arrival to every peer already registered", async () => {
    const { ranking, admin, peers } = await deployRanking({ ranking: { maxPeers: 1n } });
    await ranking.connect(peers[0]).register();
    await expect(ranking.connect(peers[1]).register()).to.be.revertedWithCustomError(ranking, "MarketFull").withArgs(1);
    await ranking.connect(admin).setParameter(Parameter.ImmunityBlocks, 0n);
    await expect(ranking.connect(peers[1]).register()).to.emit(ranking, "PeerReplaced").withArgs(0, peers[0].address, 0n);
  });

  describe("the hard cap maxTau", () => {
    it("is fixed at deployment within (0, 1e18] and bounds tau", async () => {
      const { token, ranking, admin } = await loadFixture(fixture);
      const tokenAddress = await token.getAddress();
      for (const maxTau of [0n, WAD + 1n]) {
        await expect(deployRankingMarket(admin, tokenAddress, admin.address, { ...DEFAULT_RANKING_CONFIG, maxTau }))
          .to.be.revertedWithCustomError(ranking, "InvalidConfig")
          .withArgs("maxTau", maxTau);
      }
      const whole = await deployRankingMarket(admin, tokenAddress, admin.address, { ...DEFAULT_RANKING_CONFIG, maxTau: WAD });
      expect(await whole.maxTau()).to.equal(WAD);
      expect(await whole.parameterBounds(Parameter.Tau)).to.deep.equal([0n, WAD]);
      const tiny = await deployRankingMarket(admin, tokenAddress, admin.address, { ...DEFAULT_RANKING_CONFIG, maxTau: 1n, tau: 0n });
      expect(await tiny.parameterBounds(Parameter.Tau)).to.deep.equal([0n, 1n]);
    });

    it("refuses a deployment whose tau is above its maxTau", async () => {
      const { token, ranking, admin } = await loadFixture(fixture);
      const { maxTau } = DEFAULT_RANKING_CONFIG;
      await expect(deployRankingMarket(admin, await token.getAddress(), admin.address, { ...DEFAULT_RANKING_CONFIG, tau: maxTau + 1n }))
        .to.be.revertedWithCustomError(ranking, "ParameterOutOfBounds")
        .withArgs(Parameter.Tau, maxTau + 1n, 0n, maxTau);
    });
  });

  it("refuses parameter changes from accounts without PARAMETER_ADMIN_ROLE", async () => {
    const { ranking, peers } = await loadFixture(fixture);
    await expect(ranking.connect(peers[0]).setParameter(Parameter.Tau, 0))
      .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
      .withArgs(peers[0].address, await ranking.PARAMETER_ADMIN_ROLE());
  });

  it("lets the admin delegate parameter changes by granting the role", async () => {
    const { ranking, admin, peers } = await loadFixture(fixture);
    await ranking.connect(admin).grantRole(await ranking.PARAMETER_ADMIN_ROLE(), peers[0].address);
    await expect(ranking.connect(peers[0]).setParameter(Parameter.Rho, 5n * WAD)).to.emit(ranking, "ParameterChanged");
    expect(await ranking.rho()).to.equal(5n * WAD);
  });

  it("reads tau and quorum at past blocks and refuses future ones", async () => {
    const { ranking, admin } = await loadFixture(fixture);
    const tx = await ranking.connect(admin).setParameter(Parameter.Tau, WAD / 50n);
    const at = BigInt((await tx.wait())!.blockNumber);
    expect(await ranking.tauAt(at - 1n)).to.equal(WAD / 100n);
    expect(await ranking.tauAt(at)).to.equal(WAD / 50n);
    expect(await ranking.quorumAt(at)).to.equal(WAD / 2n);
    await expect(ranking.tauAt(at + 5n)).to.be.revertedWithCustomError(ranking, "FutureBlock").withArgs(at + 5n, at);
    await expect(ranking.quorumAt(at + 5n)).to.be.revertedWithCustomError(ranking, "FutureBlock");
  });

  describe("the default admin", () => {
    it("moves only through OpenZeppelin's delayed transfer: begun by the admin, accepted by the new one after the delay", async () => {
      const { ranking, admin, peers } = await loadFixture(fixture);
      const [successor, stranger] = peers;
      const adminRole = await ranking.DEFAULT_ADMIN_ROLE();
      const parameterRole = await ranking.PARAMETER_ADMIN_ROLE();
      expect(await ranking.defaultAdmin()).to.equal(admin.address);
      expect(await ranking.defaultAdminDelay()).to.equal(BigInt(DEFAULT_ADMIN_DELAY));
      await expect(ranking.connect(admin).grantRole(adminRole, successor.address)).to.be.revertedWithCustomError(
        ranking,
        "AccessControlEnforcedDefaultAdminRules",
      );
      await expect(ranking.connect(stranger).beginDefaultAdminTransfer(stranger.address))
        .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, adminRole);

      const begun = await in12sBlock(() => ranking.connect(admin).beginDefaultAdminTransfer(successor.address));
      const schedule = BigInt((await hre.ethers.provider.getBlock(begun!.blockNumber))!.timestamp) + BigInt(DEFAULT_ADMIN_DELAY);
      expect(await ranking.pendingDefaultAdmin()).to.deep.equal([successor.address, schedule]);
      await expect(ranking.connect(stranger).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(ranking, "AccessControlInvalidDefaultAdmin")
        .withArgs(stranger.address);
      await nextBlockIn12s();
      await expect(ranking.connect(successor).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(ranking, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);

      // The delay passes in 12-second blocks; at the schedule itself it has not passed yet.
      await pass12sBlocks(BigInt(DEFAULT_ADMIN_DELAY) - 60n);
      await time.setNextBlockTimestamp(schedule);
      await expect(ranking.connect(successor).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(ranking, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await nextBlockIn12s();
      await expect(ranking.connect(successor).acceptDefaultAdminTransfer())
        .to.emit(ranking, "RoleGranted")
        .withArgs(adminRole, successor.address, successor.address);
      expect(await ranking.defaultAdmin()).to.equal(successor.address);
      expect(await ranking.hasRole(adminRole, admin.address)).to.equal(false);

      // The new admin now decides who changes parameters.
      await ranking.connect(successor).revokeRole(parameterRole, admin.address);
      await expect(ranking.connect(admin).setParameter(Parameter.Tau, 0))
        .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, parameterRole);
      await expect(ranking.connect(admin).grantRole(parameterRole, admin.address))
        .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, adminRole);
    });

    it("is left to nobody, nor is any parameter admin, when deployed with renounceAdmin", async () => {
      const { ranking, admin, peers } = await deployRanking({ renounceAdmin: true });
      const adminRole = await ranking.DEFAULT_ADMIN_ROLE();
      const parameterRole = await ranking.PARAMETER_ADMIN_ROLE();
      expect(await ranking.defaultAdmin()).to.equal(hre.ethers.ZeroAddress);
      expect(await ranking.pendingDefaultAdmin()).to.deep.equal([hre.ethers.ZeroAddress, 0n]);
      expect(await ranking.hasRole(adminRole, admin.address)).to.equal(false);
      expect(await ranking.hasRole(parameterRole, admin.address)).to.equal(false);
      await expect(ranking.connect(admin).setParameter(Parameter.Tau, 0))
        .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, parameterRole);
      await expect(ranking.connect(admin).grantRole(parameterRole, peers[0].address))
        .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, adminRole);
      await expect(ranking.connect(admin).beginDefaultAdminTransfer(admin.address))
        .to.be.revertedWithCustomError(ranking, "AccessControlUnauthorizedAccount")
        .withArgs(admin.address, adminRole);
      expect((await ranking.parameters()).tau).to.equal(DEFAULT_RANKING_CONFIG.tau, "the parameters stay as deployed");
    });
  });
});
