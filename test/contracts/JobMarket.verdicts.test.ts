import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { id } from "ethers";
import { TOKENS, in12sBlock } from "../helpers";
import { deadlineOf, deployJobs, JobFixture, matched, pass12sBlocksUpTo } from "./jobHelpers";
import { MatchState, MatchTerms, readMatch, Verdict, verdictPayouts } from "../../sdk/src/chain/jobs";

const RESULT = id("result a1");
/** A job market on a token whose supply is far above 2^96 wei. */
const deployJobsWithHugeSupply = () => deployJobs(2n ** 100n);
const OTHER = id("result a2");

/** Every party takes everything it is owed, and the mediator leaves if it has not yet; returns nothing. */
async function settleAll(f: JobFixture, matchId: bigint, terms: MatchTerms): Promise<void> {
  const view = await readMatch(f.market, matchId);
  const shares = verdictPayouts(terms, view.verdict);
  if (!view.claimed.jc && shares.jc > 0n) await f.market.connect(f.jc).claimShare(matchId, terms);
  if (!view.claimed.rp && shares.rp > 0n) await f.market.connect(f.rp).claimShare(matchId, terms);
  if (!view.claimed.mediator && shares.mediator > 0n) await f.market.connect(f.mediator).claimShare(matchId, terms);
  if ((await f.market.mediator(f.mediator.address)).active) await f.market.connect(f.mediator).exitMediator();
  for (const s of [f.jc, f.rp, f.solver, f.mediator]) {
    if ((await f.market.credits(s.address)) > 0n) await f.market.connect(s).withdraw();
  }
}

/** Mines 12-second blocks past the match's current deadline, then sends `send` in the next 12-second block. */
async function afterDeadline(f: JobFixture, matchId: bigint, send: () => Promise<{ wait(): Promise<unknown> }>): Promise<void> {
  await pass12sBlocksUpTo((await deadlineOf(f, matchId)) + 1n);
  await in12sBlock(send);
}

type Matched = Awaited<ReturnType<typeof matched>>;

describe("JobMarket: every verdict row, to the wei (SPEC §2.1)", () => {
  // P = 100, D = P * 0.5 * 3 = 150, N = P * 1 * 3 = 300, bond 50; fees: JC 5 + 2, RP 4 + 3.
  const P = TOKENS(100);
  const D = TOKENS(150);
  const N = TOKENS(300);
  const BOND = TOKENS(50);
  const JC_PAID = P + D + N + TOKENS(5) + TOKENS(2);
  const RP_PAID = TOKENS(204) - TOKENS(47); // deposit 200 + fee 4, the 47 above D + 3 refunded
  const SOLVER_GETS = TOKENS(9);
  const MEDIATOR_PRICES = TOKENS(5);

  async function run(
    flow: (f: JobFixture, m: Matched) => Promise<void>,
    verdict: Verdict,
    expected: { jc: bigint; rp: bigint; mediator: bigint; bondLost: boolean },
    mediatorLeavesFirst: boolean,
  ) {
    const f = await loadFixture(deployJobs);
    const parties = [f.jc, f.rp, f.solver, f.mediator];
    const before = await Promise.all(parties.map((p) => f.token.balanceOf(p.address)));
    const m = await matched(f);
    if (mediatorLeavesFirst) await f.market.connect(f.mediator).exitMediator();
    await flow(f, m);
    const view = await readMatch(f.market, m.matchId);
    expect(view.state).to.equal(MatchState.Closed);
    expect(view.verdict).to.equal(verdict);
    expect(verdictPayouts(m.terms, verdict)).to.deep.equal({ jc: expected.jc, rp: expected.rp, mediator: expected.mediator });
    expect(await f.market.payouts(m.terms, verdict)).to.deep.equal([expected.jc, expected.rp, expected.mediator]);
    await settleAll(f, m.matchId, m.terms);
    const after = await Promise.all(parties.map((p) => f.token.balanceOf(p.address)));
    const delta = after.map((a, i) => a - before[i]);
    expect(delta[0]).to.equal(expected.jc - JC_PAID, "JC");
    expect(delta[1]).to.equal(expected.rp - RP_PAID, "RP");
    expect(delta[2]).to.equal(SOLVER_GETS, "solver");
    // The mediator's 500-token deposit comes back whenever it leaves, less the bond if it was silent.
    expect(delta[3]).to.equal(MEDIATOR_PRICES + expected.mediator + TOKENS(500) - (expected.bondLost ? BOND : 0n), "mediator");
    expect(await f.token.balanceOf(await f.market.getAddress())).to.equal(0n, "nothing stays in the market");
  }

  const rows: [string, (f: JobFixture, m: Matched) => Promise<void>, Verdict, { jc: bigint; rp: bigint; mediator: bigint; bondLost: boolean }][] = [
    [
      "accepted: JC gets D_J + N_J, RP gets P + D_R",
      async (f, m) => {
        await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
        await expect(f.market.connect(f.jc).acceptResult(m.matchId, m.terms))
          .to.emit(f.market, "MatchClosed")
          .withArgs(m.matchId, Verdict.Accepted, D + N, P + D, 0n);
      },
      Verdict.Accepted,
      { jc: D + N, rp: P + D, mediator: 0n, bondLost: false },
    ],
    [
      "JC silent past the reaction deadline: the same as accepted",
      async (f, m) => {
        await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
        await afterDeadline(f, m.matchId, () => f.market.connect(f.outsider).timeoutReaction(m.matchId, m.terms));
      },
      Verdict.Accepted,
      { jc: D + N, rp: P + D, mediator: 0n, bondLost: false },
    ],
    [
      "mediation, n hashes equal and equal to the RP's: JC gets N_J, RP 2P + D_R, mediator D_J - P",
      async (f, m) => {
        await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
        await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
        await f.market.connect(f.mediator).mediate(m.matchId, m.terms, [RESULT, RESULT, RESULT]);
      },
      Verdict.JobCreatorWrong,
      { jc: N, rp: 2n * P + D, mediator: D - P, bondLost: false },
    ],
    [
      "mediation, n hashes equal but not the RP's: JC gets 2P + D_J + N_J, mediator D_R - P",
      async (f, m) => {
        await f.market.connect(f.rp).postResult(m.matchId, m.terms, OTHER);
        await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
        await f.market.connect(f.mediator).mediate(m.matchId, m.terms, [RESULT, RESULT, RESULT]);
      },
      Verdict.ResourceProviderCheated,
      { jc: 2n * P + D + N, rp: 0n, mediator: D - P, bondLost: false },
    ],
    [
      "mediation, hashes not all equal (non-deterministic job): JC P + D_J, RP P + D_R, mediator N_J - P",
      async (f, m) => {
        await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
        await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
        await f.market.connect(f.mediator).mediate(m.matchId, m.terms, [RESULT, OTHER, RESULT]);
      },
      Verdict.NonDeterministic,
      { jc: P + D, rp: P + D, mediator: N - P, bondLost: false },
    ],
    [
      "RP silent past the result deadline: JC gets P + D_J + N_J + D_R",
      async (f, m) => {
        await afterDeadline(f, m.matchId, () => f.market.connect(f.outsider).timeoutResult(m.matchId, m.terms));
      },
      Verdict.ResultTimeout,
      { jc: P + 2n * D + N, rp: 0n, mediator: 0n, bondLost: false },
    ],
    [
      "mediator silent past its deadline: JC P + D_J + N_J + half the bond, RP D_R + half the bond",
      async (f, m) => {
        await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
        await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
        await afterDeadline(f, m.matchId, () => f.market.connect(f.outsider).timeoutMediation(m.matchId, m.terms));
      },
      Verdict.MediationTimeout,
      { jc: P + D + N + BOND / 2n, rp: D + BOND / 2n, mediator: 0n, bondLost: true },
    ],
  ];
  for (const [name, flow, verdict, expected] of rows) {
    it(name, async () => run(flow, verdict, expected, false));
    it(`${name}; the same when the mediator left right after the match`, async () => run(flow, verdict, expected, true));
  }

  it("pays the accepting JC and the ruling mediator their shares in the same transaction", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, OTHER);
    await f.market.connect(f.jc).rejectResult(m.matchId, m.terms);
    await expect(f.market.connect(f.mediator).mediate(m.matchId, m.terms, [RESULT, RESULT, RESULT])).to.changeTokenBalance(
      f.token,
      f.mediator,
      D - P,
    );
    expect((await readMatch(f.market, m.matchId)).claimed).to.deep.equal({ jc: false, rp: false, mediator: true });
    await expect(f.market.connect(f.jc).claimShare(m.matchId, m.terms)).to.changeTokenBalance(f.token, f.jc, 2n * P + D + N);
    await expect(f.market.connect(f.jc).claimShare(m.matchId, m.terms))
      .to.be.revertedWithCustomError(f.market, "NothingToClaim")
      .withArgs(m.matchId, f.jc.address);
    await expect(f.market.connect(f.rp).claimShare(m.matchId, m.terms)).to.be.revertedWithCustomError(f.market, "NothingToClaim");
  });

  it("pays nothing for a match without a verdict, on chain and in the SDK", async () => {
    const f = await loadFixture(deployJobs);
    const m = await matched(f);
    expect(await f.market.payouts(m.terms, Verdict.None)).to.deep.equal([0n, 0n, 0n]);
    expect(verdictPayouts(m.terms, Verdict.None)).to.deep.equal({ jc: 0n, rp: 0n, mediator: 0n });
  });

  it("closes a match whose returning bond would overflow the mediator's free bond, crediting the excess", async () => {
    const f = await loadFixture(deployJobsWithHugeSupply);
    const m = await matched(f);
    const max = 2n ** 96n - 1n;
    const free = (await f.market.mediator(f.mediator.address)).freeBond;
    await f.token.transfer(f.mediator.address, max - free);
    await f.token.connect(f.mediator).approve(await f.market.getAddress(), max - free);
    await f.market.connect(f.mediator).addMediatorBond(max - free); // free bond at the 96-bit limit, 50 still locked
    await f.market.connect(f.rp).postResult(m.matchId, m.terms, RESULT);
    await expect(f.market.connect(f.jc).acceptResult(m.matchId, m.terms))
      .to.emit(f.market, "Credited")
      .withArgs(f.mediator.address, BOND);
    expect((await f.market.mediator(f.mediator.address)).freeBond).to.equal(max);
    await settleAll(f, m.matchId, m.terms);
    expect(await f.token.balanceOf(await f.market.getAddress())).to.equal(0n, "nothing stays in the market");
  });
});
