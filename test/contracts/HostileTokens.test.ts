import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import fs from "node:fs";
import path from "node:path";
import { BaseContract, Interface, ParamType, ZeroAddress } from "ethers";
import { deployRankingMarket } from "../../deploy/agora";
import { DEFAULT_JOB_WINDOWS, DEFAULT_RANKING_CONFIG, DEFAULT_ROUND_WINDOW, DEFAULT_SESSION_DURATION, RankingConfig } from "../../deploy/config";
import { onChainModel } from "../../sdk/src/chain/delegation";
import { NOTEBOOK_MODELS } from "../../sdk/src/delegation/toy";
import {
  CollaborationRound__factory,
  DelegationMarket__factory,
  FeeOnTransferToken__factory,
  HostileReceiver,
  HostileReceiver__factory,
  JobMarket__factory,
  ReentrantToken,
  ReentrantToken__factory,
} from "../../typechain-types";
import { TERMS } from "./jobHelpers";
import { setNextBlock, TOKENS, WAD } from "../helpers";

const FEE_BPS = 100n; // 1%
const AMOUNT = TOKENS(1000);
const REENTRANT_CALL = new Interface(["error ReentrancyGuardReentrantCall()"]).getError("ReentrancyGuardReentrantCall")!.selector;
const ITEMS = [{ contribution: TOKENS(10), reward: TOKENS(20), collateral: TOKENS(5) }];

type Market = BaseContract & { getAddress(): Promise<string> };

/** The four markets deployed on `token` with the deployment defaults, as a plain ERC-20 would be. */
async function marketsOn(token: string, admin: HardhatEthersSigner, ranking: RankingConfig = DEFAULT_RANKING_CONFIG) {
  return {
    ranking: await deployRankingMarket(admin, token, admin.address, ranking),
    jobs: await new JobMarket__factory(admin).deploy(token, DEFAULT_JOB_WINDOWS),
    delegation: await new DelegationMarket__factory(admin).deploy(token, DEFAULT_SESSION_DURATION.min, DEFAULT_SESSION_DURATION.max),
    collaboration: await new CollaborationRound__factory(admin).deploy(token, DEFAULT_ROUND_WINDOW.min, DEFAULT_ROUND_WINDOW.max),
  };
}

async function deadlines() {
  const now = BigInt(await time.latest());
  return { join: now + 100n, contribution: now + 200n, delivery: now + 300n };
}

describe("Markets with hostile tokens", () => {
  describe("a token that charges a fee on transfer", () => {
    async function deployed() {
      const [admin, user, p0, p1] = await hre.ethers.getSigners();
      const token = await new FeeOnTransferToken__factory(admin).deploy(FEE_BPS);
      // Registration burns its cost with burnFrom, which this token lacks: the ranking market on it
      // charges none, so that registering works and the first stake is what meets the fee.
      const markets = await marketsOn(await token.getAddress(), admin, { ...DEFAULT_RANKING_CONFIG, registrationBurn: 0n });
      await token.mint(user.address, TOKENS(1_000_000));
      for (const m of Object.values(markets)) await token.connect(user).approve(await m.getAddress(), hre.ethers.MaxUint256);
      const received = AMOUNT - (AMOUNT * FEE_BPS) / 10_000n;
      return { token, ...markets, user, p0, p1, received };
    }

    async function expectRefused(market: Market, tx: Promise<unknown>, token: string, received: bigint) {
      await expect(tx).to.be.revertedWithCustomError(market, "UnsupportedToken").withArgs(token, AMOUNT, received);
      expect(await (await hre.ethers.getContractAt("IERC20", token)).balanceOf(await market.getAddress())).to.equal(0n);
    }

    it("is refused by the ranking market at the first stake", async () => {
      const f = await deployed();
      await f.ranking.connect(f.user).register();
      await expectRefused(f.ranking, f.ranking.connect(f.user).stake(0, AMOUNT), await f.token.getAddress(), f.received);
    });

    it("is refused by the job market at the first deposit", async () => {
      const f = await deployed();
      await expectRefused(f.jobs, f.jobs.connect(f.user).registerMediator(TERMS, AMOUNT), await f.token.getAddress(), f.received);
    });

    it("is refused by the delegation market at the first budget", async () => {
      const f = await deployed();
      await f.delegation.connect(f.p0).registerModels(NOTEBOOK_MODELS.map(onChainModel));
      await f.delegation.connect(f.p1).registerModels(NOTEBOOK_MODELS.map(onChainModel));
      const open = f.delegation.connect(f.user).openSession([f.p0.address, f.p1.address], 10_000, WAD / 4n, 1500, 5n * WAD, AMOUNT, 3600);
      await expectRefused(f.delegation, open, await f.token.getAddress(), f.received);
    });

    it("is refused by collaboration rounds at the first bond", async () => {
      const f = await deployed();
      const d = await deadlines();
      const create = f.collaboration.connect(f.user).createRound(ITEMS, AMOUNT, d.join, d.contribution, d.delivery);
      await expectRefused(f.collaboration, create, await f.token.getAddress(), f.received);
    });
  });

  describe("a token that calls back the sender and receiver, and a receiver that reenters", () => {
    async function deployed() {
      const [admin, p0, p1] = await hre.ethers.getSigners();
      const token = await new ReentrantToken__factory(admin).deploy();
      const markets = await marketsOn(await token.getAddress(), admin);
      const hostile = await new HostileReceiver__factory(admin).deploy();
      await token.mint(await hostile.getAddress(), TOKENS(1_000_000));
      await hostile.act(await token.getAddress(), token.interface.encodeFunctionData("registerHook"));
      for (const m of Object.values(markets)) {
        await hostile.act(await token.getAddress(), token.interface.encodeFunctionData("approve", [await m.getAddress(), hre.ethers.MaxUint256]));
      }
      return { token, ...markets, hostile, p0, p1 };
    }

    /** Arms the receiver to call `withdraw()` on `market` whenever its tokens move. */
    async function armWithdraw(hostile: HostileReceiver, market: Market) {
      await hostile.arm(await market.getAddress(), new Interface(["function withdraw()"]).encodeFunctionData("withdraw"));
    }

    /**
     * Every reentry was attempted and refused by the guard, and the market owes nothing and holds
     * nothing: the hostile account has all its tokens back but what it burnt.
     */
    async function expectReentryRefused(token: ReentrantToken, hostile: HostileReceiver, market: Market, attempts: bigint, burnt = 0n) {
      expect(await hostile.reentryAttempts()).to.equal(attempts);
      expect(await hostile.reentrySuccesses()).to.equal(0n);
      expect((await hostile.lastRevert()).slice(0, 10)).to.equal(REENTRANT_CALL);
      expect(await token.balanceOf(await market.getAddress())).to.equal(0n);
      expect(await token.balanceOf(await hostile.getAddress())).to.equal(TOKENS(1_000_000) - burnt);
    }

    it("cannot reenter the ranking market while burning the registration cost, staking or withdrawing", async () => {
      const f = await deployed();
      const at = await f.ranking.getAddress();
      const burn = DEFAULT_RANKING_CONFIG.registrationBurn;
      await armWithdraw(f.hostile, f.ranking);
      await expect(f.hostile.act(at, f.ranking.interface.encodeFunctionData("register")))
        .to.emit(f.ranking, "PeerRegistered")
        .withArgs(0, await f.hostile.getAddress(), await f.hostile.getAddress(), burn);
      expect(await f.token.totalSupply()).to.equal(TOKENS(1_000_000) - burn);
      await f.hostile.act(at, f.ranking.interface.encodeFunctionData("stake", [0, AMOUNT]));
      expect(await f.ranking.stakeOf(0)).to.equal(AMOUNT);
      await f.hostile.act(at, f.ranking.interface.encodeFunctionData("unstake", [AMOUNT]));
      const [, releaseBlock] = await f.ranking.unbondingOf(await f.hostile.getAddress());
      await setNextBlock(releaseBlock);
      await f.hostile.act(at, f.ranking.interface.encodeFunctionData("withdraw"));
      expect(await f.ranking.totalStake()).to.equal(0n);
      await expectReentryRefused(f.token, f.hostile, f.ranking, 3n, burn);
    });

    it("cannot reenter the job market while depositing a bond or withdrawing it", async () => {
      const f = await deployed();
      const at = await f.jobs.getAddress();
      await armWithdraw(f.hostile, f.jobs);
      await f.hostile.act(at, f.jobs.interface.encodeFunctionData("registerMediator", [TERMS, AMOUNT]));
      await f.hostile.act(at, f.jobs.interface.encodeFunctionData("exitMediator"));
      expect(await f.jobs.credits(await f.hostile.getAddress())).to.equal(AMOUNT);
      await f.hostile.act(at, f.jobs.interface.encodeFunctionData("withdraw"));
      expect(await f.jobs.credits(await f.hostile.getAddress())).to.equal(0n);
      await expectReentryRefused(f.token, f.hostile, f.jobs, 2n);
    });

    it("cannot reenter the delegation market while escrowing a budget or withdrawing the refund", async () => {
      const f = await deployed();
      const at = await f.delegation.getAddress();
      await f.delegation.connect(f.p0).registerModels(NOTEBOOK_MODELS.map(onChainModel));
      await f.delegation.connect(f.p1).registerModels(NOTEBOOK_MODELS.map(onChainModel));
      await armWithdraw(f.hostile, f.delegation);
      const open = f.delegation.interface.encodeFunctionData("openSession", [[f.p0.address, f.p1.address], 10_000, WAD / 4n, 1500, 5n * WAD, AMOUNT, 3600]);
      await f.hostile.act(at, open);
      await f.hostile.act(at, f.delegation.interface.encodeFunctionData("closeSession", [1]));
      expect(await f.delegation.credits(await f.hostile.getAddress())).to.equal(AMOUNT);
      await f.hostile.act(at, f.delegation.interface.encodeFunctionData("withdraw"));
      await expectReentryRefused(f.token, f.hostile, f.delegation, 2n);
    });

    it("cannot reenter collaboration rounds while posting a bond or withdrawing it", async () => {
      const f = await deployed();
      const at = await f.collaboration.getAddress();
      const d = await deadlines();
      await armWithdraw(f.hostile, f.collaboration);
      await f.hostile.act(at, f.collaboration.interface.encodeFunctionData("createRound", [ITEMS, AMOUNT, d.join, d.contribution, d.delivery]));
      await time.increaseTo(d.delivery + 1n);
      await f.collaboration.claimDefault(1); // nobody joined: the bond goes back to the coordinator
      expect(await f.collaboration.credits(await f.hostile.getAddress())).to.equal(AMOUNT);
      await f.hostile.act(at, f.collaboration.interface.encodeFunctionData("withdraw"));
      await expectReentryRefused(f.token, f.hostile, f.collaboration, 2n);
    });
  });

  describe("every function behind the reentrancy guard", () => {
    /** External functions marked nonReentrant in these sources (a market and the bases it inherits). */
    function guarded(...files: string[]): string[] {
      const names = files.flatMap((file) => {
        const source = fs.readFileSync(path.join(__dirname, "..", "..", "contracts", file), "utf8");
        return [...source.matchAll(/function (\w+)\([^)]*\)[^{;]*\bnonReentrant\b/g)].map((m) => m[1]);
      });
      return [...new Set(names)].sort();
    }

    /** Well-formed calldata with every argument zero (the guard reverts before any check of them). */
    function zeroCall(iface: Interface, name: string): string {
      const zero = (t: ParamType): unknown => {
        if (t.baseType === "tuple") return t.components!.map(zero);
        if (t.baseType === "array") return [];
        if (t.baseType === "address") return ZeroAddress;
        if (t.baseType === "bool") return false;
        if (t.baseType === "string") return "";
        if (t.baseType === "bytes") return "0x";
        if (t.baseType.startsWith("bytes")) return "0x" + "00".repeat(Number(t.baseType.slice(5)));
        return 0;
      };
      const fragment = iface.getFunction(name)!;
      return iface.encodeFunctionData(fragment, fragment.inputs.map(zero));
    }

    it("refuses a reentrant call from inside a token transfer, in every market", async () => {
      const [admin, p0, p1] = await hre.ethers.getSigners();
      const token = await new ReentrantToken__factory(admin).deploy();
      const m = await marketsOn(await token.getAddress(), admin);
      const hostile = await new HostileReceiver__factory(admin).deploy();
      await token.mint(await hostile.getAddress(), TOKENS(1_000_000));
      await hostile.act(await token.getAddress(), token.interface.encodeFunctionData("registerHook"));
      for (const market of Object.values(m)) {
        await hostile.act(await token.getAddress(), token.interface.encodeFunctionData("approve", [await market.getAddress(), hre.ethers.MaxUint256]));
      }
      await m.delegation.connect(p0).registerModels(NOTEBOOK_MODELS.map(onChainModel));
      await m.delegation.connect(p1).registerModels(NOTEBOOK_MODELS.map(onChainModel));
      // Each market's trigger: a call by the hostile account that pulls its tokens, firing its hook.
      await hostile.act(await m.ranking.getAddress(), m.ranking.interface.encodeFunctionData("register"));
      await hostile.act(await m.jobs.getAddress(), m.jobs.interface.encodeFunctionData("registerMediator", [TERMS, TOKENS(1)]));
      const open = m.delegation.interface.encodeFunctionData("openSession", [[p0.address, p1.address], 10_000, WAD / 4n, 1500, 5n * WAD, TOKENS(1), 3600]);
      await hostile.act(await m.delegation.getAddress(), open);
      const cases = [
        { market: m.ranking, files: ["ranking/RankingMarket.sol"], trigger: async () => m.ranking.interface.encodeFunctionData("stake", [0, 1]) },
        {
          market: m.jobs,
          files: ["market/JobMarket.sol", "market/MediatorRegistry.sol", "token/TokenCredits.sol"],
          trigger: async () => m.jobs.interface.encodeFunctionData("addMediatorBond", [1]),
        },
        { market: m.delegation, files: ["delegation/DelegationMarket.sol", "token/TokenCredits.sol"], trigger: async () => m.delegation.interface.encodeFunctionData("topUp", [1, 1]) },
        {
          market: m.collaboration,
          files: ["collaboration/CollaborationRound.sol", "token/TokenCredits.sol"],
          trigger: async () => {
            const d = await deadlines();
            return m.collaboration.interface.encodeFunctionData("createRound", [ITEMS, 1, d.join, d.contribution, d.delivery]);
          },
        },
      ];
      let attempts = 0n;
      for (const { market, files, trigger } of cases) {
        const names = guarded(...files);
        expect(names.length, files[0]).to.be.greaterThan(1);
        for (const name of names) {
          await hostile.arm(await market.getAddress(), zeroCall(market.interface, name));
          await hostile.act(await market.getAddress(), await trigger());
          attempts += 1n;
          expect(await hostile.reentryAttempts(), name).to.equal(attempts);
          expect((await hostile.lastRevert()).slice(0, 10), name).to.equal(REENTRANT_CALL);
        }
      }
      expect(await hostile.reentrySuccesses()).to.equal(0n);
      expect(attempts).to.equal(BigInt(cases.reduce((n, c) => n + guarded(...c.files).length, 0)));
    });
  });
});
