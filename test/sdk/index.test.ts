import { expect } from "chai";
import * as sdk from "../../sdk/src";
import { cabalDecayClipped } from "../../sdk/src/ranking/cabal";
import { resultCommitment } from "../../sdk/src/ranking/commitment";

describe("SDK entry point", () => {
  it("exports the stable names of SPEC §6 as functions", () => {
    for (const name of ["computeEpoch", "cabalDecay", "NDU", "maxNonDeterminismGain", "delegationParameters", "solveContract"] as const) expect(sdk[name]).to.be.a("function");
    expect(sdk.maxNonDeterminismGain(4, 0, 1, 1).p1).to.be.closeTo(0.8, 1e-12);
    expect(sdk.cabalDecay(0.49, 0.1, 100, 1)).to.deep.equal([0.4891094401482484]);
  });

  it("exports the commitment with its context and the clipped cabal model with its lag", () => {
    expect(sdk.resultCommitment).to.equal(resultCommitment);
    expect(sdk.cabalDecayClipped).to.equal(cabalDecayClipped);
    expect(sdk.cabalDecayClipped(0.45, 0.1, 10, 3, 1)).not.to.deep.equal(sdk.cabalDecayClipped(0.45, 0.1, 10, 3));
  });
});
