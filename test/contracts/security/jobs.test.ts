import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { AbiCoder, id, keccak256, toBeHex, zeroPadValue } from "ethers";
import {
  JobOffer,
  JobRequest,
  MatchState,
  MatchTerms,
  MediatorTerms,
  ResourceOffer,
  ResourceRequest,
  Verdict,
  deposits,
  jobEscrow,
  postJobOffer,
  postMatch,
  postResourceOffer,
  readMatch,
  registerMediator,
  verdictPayouts,
} from "../../../sdk/src/chain/jobs";
import { DEFAULT_JOB_WINDOWS } from "../../../deploy/config";
import { BLOCK_TIME, TOKENS, nextBlockIn12s, pass12sBlocks } from "../../helpers";
import { deploySecurity, SecurityFixture } from "./fixtures";

/** PR * n = 1.5, NDPR * n = 3: D = 1.5 P and N = 3 P. */
const TERMS: MediatorTerms = {
  pr: TOKENS("0.5"),
  ndpr: TOKENS(1),
  jcPrice: TOKENS(2),
  rpPrice: TOKENS(3),
  bond: TOKENS(50),
  n: 3,
  mediationTime: 3600,
  maxJobTime: 86_400,
};
const BOND_DEPOSIT = TOKENS(500);
/** What the honest RP's offer consents to. */
const RP_LIMITS = { minResultTime: 600, maxReactionTime: 3600, maxMediationTime: 3600, maxMediatorPrice: TOKENS(3) };
const CORRECT = id("the correct output");
const WRONG = id("a wrong output");
const { Result, Reaction } = { Result: 0, Reaction: 1 };
const { MinResultTime, MaxReactionTime } = { MinResultTime: 0, MaxReactionTime: 1 };

interface JobWorld extends SecurityFixture {
  jc: HardhatEthersSigner;
  rp: HardhatEthersSigner;
  mediator: HardhatEthersSigner;
  solver: HardhatEthersSigner;
}

async function deployJobWorld(): Promise<JobWorld> {
  const f = await deploySecurity();
  const [jc, rp, mediator, solver] = f.honest;
  await registerMediator(f.jobs, mediator, TERMS, BOND_DEPOSIT);
  return { ...f, jc, rp, mediator, solver };
}

async function postJob(f: JobWorld, jc: HardhatEthersSigner, overrides: Partial<JobRequest> = {}): Promise<{ jobId: bigint; offer: JobOffer }> {
  await nextBlockIn12s();
  return postJobOffer(f.jobs, jc, {
    mediator: f.mediator.address,
    specHash: id("a job"),
    instructions: 1_000n,
    bandwidth: 10n,
    expiry: BigInt(await time.latest()) + 86_400n,
    resultTime: 600,
    reactionTime: 600,
    price: TOKENS(100),
    matchFee: TOKENS(5),
    ...overrides,
  });
}

async function postOffer(f: JobWorld, overrides: Partial<ResourceRequest> = {}): Promise<{ offerId: bigint; offer: ResourceOffer }> {
  await nextBlockIn12s();
  return postResourceOffer(f.jobs, f.rp, {
    instructionCapacity: 10_000n,
    bandwidthCapacity: 100n,
    expiry: BigInt(await time.latest()) + 86_400n,
    requestedPrice: TOKENS(80),
    matchFee: TOKENS(4),
    deposit: TOKENS(303),
    ...RP_LIMITS,
    trustedMediators: [f.mediator.address],
    ...overrides,
  });
}

async function approveAll(f: JobWorld, who: HardhatEthersSigner): Promise<void> {
  await f.token.connect(who).approve(await f.jobs.getAddress(), hre.ethers.MaxUint256);
}

/** Takes every share and credit `who` holds in `matches`; returns the tokens it received. */
async function collect(f: JobWorld, who: HardhatEthersSigner, matches: { matchId: bigint; terms: MatchTerms }[]): Promise<bigint> {
  const before = await f.token.balanceOf(who.address);
  for (const m of matches) {
    const view = await readMatch(f.jobs, m.matchId);
    const shares = verdictPayouts(m.terms, view.verdict);
    const mine =
      (m.terms.jc === who.address && !view.claimed.jc ? shares.jc : 0n) +
      (m.terms.rp === who.address && !view.claimed.rp ? shares.rp : 0n) +
      (m.terms.mediator === who.address && !view.claimed.mediator ? shares.mediator : 0n);
    if (mine > 0n) await f.jobs.connect(who).claimShare(m.matchId, m.terms);
  }
  if ((await f.jobs.credits(who.address)) > 0n) await f.jobs.connect(who).withdraw();
  return (await f.token.balanceOf(who.address)) - before;
}

describe("Security: the job market never lets a party lose what the verdict table gives it (issue 12)", () => {
  describe("attack 1: a stranger cannot take a standing offer's deposit", () => {
    it("refuses a job whose result window is one second, below the protocol's floor", async () => {
      const f = await loadFixture(deployJobWorld);
      await approveAll(f, f.attacker);
      await expect(postJob(f, f.attacker, { resultTime: 1 }))
        .to.be.revertedWithCustomError(f.jobs, "WindowOutOfBounds")
        .withArgs(Result, 1, DEFAULT_JOB_WINDOWS.minResultTime, DEFAULT_JOB_WINDOWS.maxResultTime);
    });

    it("refuses to match a standing offer with a result window shorter than the RP accepts, leaving its deposit whole", async () => {
      const f = await loadFixture(deployJobWorld);
      const resource = await postOffer(f);
      // P = 200 makes D_R = 300 = the whole deposit less the mediator's price: the attack's sizing.
      const job = await postJob(f, f.attacker, { resultTime: DEFAULT_JOB_WINDOWS.minResultTime, price: TOKENS(200) });
      expect(deposits(job.offer.price, TERMS).deposit + TERMS.rpPrice).to.equal(resource.offer.deposit);
      await nextBlockIn12s();
      await expect(f.jobs.connect(f.attacker).postMatch(job.jobId, job.offer, resource.offerId, resource.offer))
        .to.be.revertedWithCustomError(f.jobs, "OfferLimitExceeded")
        .withArgs(resource.offerId, MinResultTime, DEFAULT_JOB_WINDOWS.minResultTime, RP_LIMITS.minResultTime);
      const before = await f.token.balanceOf(f.rp.address);
      await f.jobs.connect(f.rp).cancelResourceOffer(resource.offerId, resource.offer);
      await f.jobs.connect(f.rp).withdraw();
      expect((await f.token.balanceOf(f.rp.address)) - before).to.equal(TOKENS(303 + 4));
    });

    it("leaves an RP matched at its own shortest window blocks to deliver in, and pays it P + D_R", async () => {
      const f = await loadFixture(deployJobWorld);
      await approveAll(f, f.attacker);
      const rpBefore = await f.token.balanceOf(f.rp.address);
      const attackerBefore = await f.token.balanceOf(f.attacker.address);
      const resource = await postOffer(f);
      const job = await postJob(f, f.attacker, { resultTime: RP_LIMITS.minResultTime, price: TOKENS(200) });
      await nextBlockIn12s();
      const m = await postMatch(f.jobs, f.attacker, job, resource);
      // The attacker tries its timeout in every 12-second block until the RP's result lands (block 10).
      for (let block = 1; block < 10; block++) {
        await nextBlockIn12s();
        await expect(f.jobs.connect(f.attacker).timeoutResult(m.matchId, m.terms)).to.be.revertedWithCustomError(f.jobs, "TooEarly");
      }
      await nextBlockIn12s();
      await f.jobs.connect(f.rp).postResult(m.matchId, m.terms, CORRECT);
      // The attacker, as JC, stays silent; past its reaction window anyone closes the match as accepted.
      await pass12sBlocks(m.terms.reactionTime);
      await nextBlockIn12s();
      await f.jobs.connect(f.anyone).timeoutReaction(m.matchId, m.terms);
      expect((await readMatch(f.jobs, m.matchId)).verdict).to.equal(Verdict.Accepted);
      await collect(f, f.rp, [m]);
      await collect(f, f.attacker, [m]);
      const P = TOKENS(200);
      expect((await f.token.balanceOf(f.rp.address)) - rpBefore).to.equal(
        P - TOKENS(4) - TERMS.rpPrice,
        "the RP earns P, less the solver's fee and the mediator's price it offered",
      );
      expect((await f.token.balanceOf(f.attacker.address)) - attackerBefore).to.equal(-P - TERMS.jcPrice + TOKENS(4), "the attacker pays P");
    });
  });

  describe("attack 2: nothing is held past a ceiling its owner agreed to", () => {
    it("refuses result and reaction windows of 2^32 - 1 seconds", async () => {
      const f = await loadFixture(deployJobWorld);
      await approveAll(f, f.attacker);
      const max = 2 ** 32 - 1;
      await expect(postJob(f, f.attacker, { resultTime: max }))
        .to.be.revertedWithCustomError(f.jobs, "WindowOutOfBounds")
        .withArgs(Result, max, DEFAULT_JOB_WINDOWS.minResultTime, DEFAULT_JOB_WINDOWS.maxResultTime);
      await expect(postJob(f, f.attacker, { reactionTime: max }))
        .to.be.revertedWithCustomError(f.jobs, "WindowOutOfBounds")
        .withArgs(Reaction, max, DEFAULT_JOB_WINDOWS.minReactionTime, DEFAULT_JOB_WINDOWS.maxReactionTime);
    });

    it("refuses a job that would lock the mediator's bond longer than the longest job it stands behind", async () => {
      const f = await loadFixture(deployJobWorld);
      await approveAll(f, f.attacker);
      const resultTime = TERMS.maxJobTime - 600 - TERMS.mediationTime + 1;
      await expect(postJob(f, f.attacker, { resultTime }))
        .to.be.revertedWithCustomError(f.jobs, "JobTooLongForMediator")
        .withArgs(f.mediator.address, TERMS.maxJobTime + 1, TERMS.maxJobTime);
    });

    it("refuses to bind an RP to a reaction window longer than it accepts", async () => {
      const f = await loadFixture(deployJobWorld);
      const resource = await postOffer(f);
      const reactionTime = RP_LIMITS.maxReactionTime + 1;
      const job = await postJob(f, f.attacker, { reactionTime });
      await expect(f.jobs.connect(f.attacker).postMatch(job.jobId, job.offer, resource.offerId, resource.offer))
        .to.be.revertedWithCustomError(f.jobs, "OfferLimitExceeded")
        .withArgs(resource.offerId, MaxReactionTime, reactionTime, RP_LIMITS.maxReactionTime);
    });

    it("lets a mediator whose whole bond is locked by 1-wei self-matches leave at once, and gives every bond back by the matches' deadlines", async () => {
      const f = await loadFixture(deployJobWorld);
      await approveAll(f, f.attacker);
      const matches: { matchId: bigint; terms: MatchTerms }[] = [];
      const resultTime = TERMS.maxJobTime - 600 - TERMS.mediationTime; // the longest the mediator accepts
      for (let k = 0; k < 10; k++) {
        // The attacker is JC, RP and solver: a 1-wei job against its own offer.
        const job = await postJob(f, f.attacker, { price: 1n, matchFee: 0n, resultTime, specHash: id(`self ${k}`) });
        await nextBlockIn12s();
        const offer = await postResourceOffer(f.jobs, f.attacker, {
          instructionCapacity: 10_000n,
          bandwidthCapacity: 100n,
          expiry: BigInt(await time.latest()) + 86_400n,
          requestedPrice: 1n,
          matchFee: 0n,
          deposit: TERMS.rpPrice + 1n,
          minResultTime: DEFAULT_JOB_WINDOWS.minResultTime,
          maxReactionTime: DEFAULT_JOB_WINDOWS.maxReactionTime,
          maxMediationTime: DEFAULT_JOB_WINDOWS.maxMediationTime,
          maxMediatorPrice: TERMS.rpPrice,
          trustedMediators: [f.mediator.address],
        });
        await nextBlockIn12s();
        matches.push(await postMatch(f.jobs, f.attacker, job, offer));
      }
      // The whole free bond is locked: an honest job cannot be matched with this mediator now.
      const honestJob = await postJob(f, f.jc);
      const resource = await postOffer(f);
      await expect(f.jobs.connect(f.solver).postMatch(honestJob.jobId, honestJob.offer, resource.offerId, resource.offer))
        .to.be.revertedWithCustomError(f.jobs, "MediatorUnavailable")
        .withArgs(f.mediator.address, 0n, TERMS.bond);
      // The mediator leaves at once with what it earned: the attacker paid both prices per match.
      const before = await f.token.balanceOf(f.mediator.address);
      await nextBlockIn12s();
      await f.jobs.connect(f.mediator).exitMediator();
      // No bond can stay locked past the longest job the mediator agreed to.
      const matchedAt = BigInt(await time.latest());
      await pass12sBlocks(resultTime);
      for (const m of matches) {
        await nextBlockIn12s();
        await f.jobs.connect(f.anyone).timeoutResult(m.matchId, m.terms);
      }
      expect(BigInt(await time.latest()) - matchedAt).to.be.at.most(BigInt(TERMS.maxJobTime));
      await f.jobs.connect(f.mediator).withdraw();
      const got = (await f.token.balanceOf(f.mediator.address)) - before;
      expect(got).to.equal(BOND_DEPOSIT + 10n * (TERMS.jcPrice + TERMS.rpPrice), "every bond back, and both prices of every match");
      expect((await f.jobs.mediator(f.mediator.address)).openJobs).to.equal(0n);
    });
  });

  describe("attack 7: a match's terms are bound by all 32 bytes of their hash", () => {
    it("stores a match's state under keccak256(abi.encode(matchId, terms)) and finds none under terms one unit off in any field", async () => {
      const f = await loadFixture(deployJobWorld);
      const job = await postJob(f, f.jc);
      const resource = await postOffer(f);
      const m = await postMatch(f.jobs, f.solver, job, resource);
      const coder = AbiCoder.defaultAbiCoder();
      const termsType = "tuple(uint256,uint256,address,address,address,uint96,uint96,uint96,uint96,uint16,uint32,uint32)";
      const t = m.terms;
      const key = keccak256(
        coder.encode(["uint256", termsType], [m.matchId, [t.jobId, t.offerId, t.jc, t.rp, t.mediator, t.price, t.deposit, t.ndDeposit, t.bond, t.n, t.reactionTime, t.mediationTime]]),
      );
      // The status is one slot of the `_matches` mapping at keccak256(key . p) for the mapping's slot p.
      const address = await f.jobs.getAddress();
      let found = false;
      for (let p = 0; p < 32 && !found; p++) {
        const slot = keccak256(coder.encode(["bytes32", "uint256"], [key, p]));
        const word = BigInt(await hre.ethers.provider.getStorage(address, slot));
        if (word === 0n) continue;
        const [status] = await f.jobs.matchStatus(m.matchId, m.terms);
        expect(word & ((1n << 64n) - 1n)).to.equal(status.deadline, "the slot holds the match's deadline");
        expect((word >> 64n) & 0xffn).to.equal(BigInt(MatchState.AwaitingResult), "and its state");
        found = true;
      }
      expect(found, "the match's status lives under the full 32-byte key").to.equal(true);
      const off = (field: keyof MatchTerms): MatchTerms => {
        const v = t[field];
        const changed = typeof v === "bigint" ? v + 1n : typeof v === "number" ? v + 1 : zeroPadValue(toBeHex(BigInt(v) ^ 1n), 20);
        return { ...t, [field]: changed };
      };
      for (const field of Object.keys(t) as (keyof MatchTerms)[]) {
        await expect(f.jobs.connect(f.rp).postResult(m.matchId, off(field), CORRECT), field)
          .to.be.revertedWithCustomError(f.jobs, "TermsMismatch")
          .withArgs(m.matchId);
      }
    });
  });

  describe("honest parties end with at least the verdict table's payout, whatever the others do", () => {
    type RpBehaviour = "correct" | "wrong" | "silent";
    type JcBehaviour = "accept" | "reject" | "silent";
    type MediatorBehaviour = "rules" | "silent";

    /** One match played to its end in 12-second blocks; returns each party's net and the verdict. */
    async function play(rpDoes: RpBehaviour, jcDoes: (rpOutput: string) => JcBehaviour, mediatorDoes: MediatorBehaviour) {
      const f = await loadFixture(deployJobWorld);
      const parties = { jc: f.jc, rp: f.rp, mediator: f.mediator, solver: f.solver };
      const before = Object.fromEntries(await Promise.all(Object.entries(parties).map(async ([k, s]) => [k, await f.token.balanceOf(s.address)])));
      const job = await postJob(f, f.jc);
      const resource = await postOffer(f);
      await nextBlockIn12s();
      const m = await postMatch(f.jobs, f.solver, job, resource);
      if (rpDoes === "silent") {
        await pass12sBlocks(job.offer.resultTime);
        await nextBlockIn12s();
        await f.jobs.connect(f.anyone).timeoutResult(m.matchId, m.terms);
      } else {
        const output = rpDoes === "correct" ? CORRECT : WRONG;
        await pass12sBlocks(BLOCK_TIME * 20);
        await nextBlockIn12s();
        await f.jobs.connect(f.rp).postResult(m.matchId, m.terms, output);
        const reaction = jcDoes(output);
        await pass12sBlocks(BLOCK_TIME * 5);
        await nextBlockIn12s();
        if (reaction === "accept") await f.jobs.connect(f.jc).acceptResult(m.matchId, m.terms);
        if (reaction === "silent") {
          await pass12sBlocks(job.offer.reactionTime);
          await nextBlockIn12s();
          await f.jobs.connect(f.anyone).timeoutReaction(m.matchId, m.terms);
        }
        if (reaction === "reject") {
          await f.jobs.connect(f.jc).rejectResult(m.matchId, m.terms);
          if (mediatorDoes === "rules") {
            await pass12sBlocks(BLOCK_TIME * 30);
            await nextBlockIn12s();
            await f.jobs.connect(f.mediator).mediate(m.matchId, m.terms, [CORRECT, CORRECT, CORRECT]);
          } else {
            await pass12sBlocks(TERMS.mediationTime);
            await nextBlockIn12s();
            await f.jobs.connect(f.anyone).timeoutMediation(m.matchId, m.terms);
          }
        }
      }
      const view = await readMatch(f.jobs, m.matchId);
      expect(view.state).to.equal(MatchState.Closed, "every match ends within its bounded windows");
      for (const who of Object.values(parties)) await collect(f, who, [m]);
      await f.jobs.connect(f.mediator).exitMediator();
      await collect(f, f.mediator, []);
      const net = Object.fromEntries(await Promise.all(Object.entries(parties).map(async ([k, s]) => [k, (await f.token.balanceOf(s.address)) - before[k]]))) as Record<keyof typeof parties, bigint>;
      return { f, m, verdict: view.verdict, net };
    }

    const P = TOKENS(100);
    const D = TOKENS(150);
    const FEES_JC = TOKENS(5) + TERMS.jcPrice;
    const FEES_RP = TOKENS(4) + TERMS.rpPrice;
    const honestJc = (output: string): JcBehaviour => (output === CORRECT ? "accept" : "reject");

    it("a job creator that accepts correct results and rejects wrong ones pays P only for a correct result", async () => {
      for (const rpDoes of ["correct", "wrong", "silent"] as RpBehaviour[]) {
        for (const mediatorDoes of ["rules", "silent"] as MediatorBehaviour[]) {
          const { m, verdict, net } = await play(rpDoes, honestJc, mediatorDoes);
          const escrow = jobEscrow(P, TOKENS(5), TERMS);
          const table = verdictPayouts(m.terms, verdict).jc;
          expect(net.jc, `${rpDoes}/${mediatorDoes}`).to.equal(table - escrow);
          if (rpDoes === "correct") expect(net.jc).to.equal(-P - FEES_JC, "a correct result costs exactly P and the fees");
          else expect(net.jc).to.be.at.least(-FEES_JC, "no correct result: nothing but the fees is lost");
        }
      }
    });

    it("a resource provider that posts the correct result in time never loses its deposit, whatever the JC and the mediator do", async () => {
      for (const jcDoes of ["accept", "reject", "silent"] as JcBehaviour[]) {
        for (const mediatorDoes of ["rules", "silent"] as MediatorBehaviour[]) {
          const { m, verdict, net } = await play("correct", () => jcDoes, mediatorDoes);
          const table = verdictPayouts(m.terms, verdict).rp;
          // The RP escrowed D_R + the mediator's price + its fee; nothing else.
          expect(net.rp, `${jcDoes}/${mediatorDoes}`).to.equal(table - D - FEES_RP);
          expect(table, "the verdict table pays it at least its deposit back").to.be.at.least(D);
          if (verdict !== Verdict.MediationTimeout) expect(net.rp).to.be.at.least(P - FEES_RP, "paid P unless the mediator went silent");
        }
      }
    });

    it("a solver is paid both match fees at the match, whatever happens after", async () => {
      for (const rpDoes of ["correct", "wrong", "silent"] as RpBehaviour[]) {
        const { net } = await play(rpDoes, honestJc, "silent");
        expect(net.solver, rpDoes).to.equal(TOKENS(5) + TOKENS(4));
      }
    });

    it("a mediator that rules in time earns D - P per ruling and both prices per match, and gets its whole deposit back", async () => {
      for (const rpDoes of ["correct", "wrong"] as RpBehaviour[]) {
        const { m, verdict, net } = await play(rpDoes, () => "reject", "rules");
        expect(verdict).to.equal(rpDoes === "correct" ? Verdict.JobCreatorWrong : Verdict.ResourceProviderCheated);
        // Its share, both prices, and its whole bond deposit back once it leaves.
        expect(net.mediator, rpDoes).to.equal(verdictPayouts(m.terms, verdict).mediator + TERMS.jcPrice + TERMS.rpPrice + BOND_DEPOSIT);
        expect(net.mediator).to.equal(D - P + TERMS.jcPrice + TERMS.rpPrice + BOND_DEPOSIT);
      }
      const { net } = await play("correct", () => "accept", "rules");
      expect(net.mediator, "an accepted job").to.equal(TERMS.jcPrice + TERMS.rpPrice + BOND_DEPOSIT);
    });
  });
});
