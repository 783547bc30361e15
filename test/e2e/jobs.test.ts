import { expect } from "chai";
import hre from "hardhat";
import { defaultScenarios, runJobSimulation } from "../../scripts/jobs";
import { verdictPayouts, Verdict } from "../../sdk/src/chain/jobs";

describe("e2e: job market bots against the analytic utilities (SPEC §2.3)", function () {
  this.timeout(300_000);

  for (const scenario of defaultScenarios(120)) {
    it(`${scenario.name}: realized utilities agree with the verdict table's expectation`, async () => {
      const [treasury] = await hre.ethers.getSigners();
      const r = await runJobSimulation(treasury, scenario);
      const s = scenario.strategies;
      // Each job, exactly: the money each side made is the verdict table's payout less its escrow.
      const P = s.price;
      const D = P * s.pr * s.n;
      const N = P * s.ndpr * s.n;
      for (const job of r.records) {
        const pay = verdictPayouts({ price: BigInt(P), deposit: BigInt(D), ndDeposit: BigInt(N), bond: 10n }, job.verdict as Verdict);
        expect(job.jcMoney).to.be.closeTo(Number(pay.jc) - (P + D + N) - r.fixed.jc, 1e-9);
        expect(job.rpMoney).to.be.closeTo(Number(pay.rp) - D - r.fixed.rp, 1e-9);
      }
      // All jobs together: the averages sit within the 99.9% interval of the analytic values (fixed seed).
      expect(Math.abs(r.jc.mean - r.analytic.jc)).to.be.at.most(3.29 * r.jc.standardError);
      expect(Math.abs(r.rp.mean - r.analytic.rp)).to.be.at.most(3.29 * r.rp.standardError);
      expect(r.records).to.have.length(120);
      expect(Object.keys(r.verdicts).length).to.be.greaterThan(1, "more than one kind of ending");
    });
  }
});
