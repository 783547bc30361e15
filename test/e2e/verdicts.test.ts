import { expect } from "chai";
import hre from "hardhat";
import { parseEther } from "ethers";
import { deployAgora } from "../../deploy/agora";
import { runVerdictTour } from "../../scripts/verdicts";
import { Verdict, verdictPayouts } from "../../sdk/src/chain/jobs";

describe("e2e: the tour's job of each verdict (SPEC §2.1)", function () {
  this.timeout(120_000);

  it("ends one job in each row of the verdict table, every party's net as the table says", async () => {
    const [treasury, ...others] = await hre.ethers.getSigners();
    const deployment = await deployAgora(treasury, { addressBookDir: false });
    const rows = await runVerdictTour(deployment, treasury, others.slice(0, 4), () => undefined);
    expect(rows.map((r) => r.verdict)).to.deep.equal([
      Verdict.Accepted,
      Verdict.JobCreatorWrong,
      Verdict.ResourceProviderCheated,
      Verdict.NonDeterministic,
      Verdict.ResultTimeout,
      Verdict.MediationTimeout,
    ]);
    const T = (x: number) => parseEther(String(x));
    const [P, D, N, bond] = [T(100), T(150), T(300), T(50)];
    for (const r of rows) {
      const pay = verdictPayouts({ price: P, deposit: D, ndDeposit: N, bond }, r.verdict);
      // JC escrows P + D + N + its match fee 5 + the mediator's JC price 2; the RP's deposit beyond D
      // comes back, it pays its match fee 4 and the mediator's RP price 3; a missed mediation costs
      // the mediator its bond.
      expect(r.net.jc, Verdict[r.verdict]).to.equal(pay.jc - (P + D + N + T(5) + T(2)));
      expect(r.net.rp, Verdict[r.verdict]).to.equal(pay.rp - (D + T(4) + T(3)));
      expect(r.net.mediator, Verdict[r.verdict]).to.equal(pay.mediator + T(5) - (r.verdict === Verdict.MediationTimeout ? bond : 0n));
      expect(r.net.solver).to.equal(T(9));
    }
  });
});
