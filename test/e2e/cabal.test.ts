import { expect } from "chai";
import hre from "hardhat";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_CABAL, runCabalScenario } from "../../scripts/cabal";
import { cabalDecayClipped } from "../../sdk/src/ranking/cabal";

describe("e2e: cabal scenario on chain (SPEC §1.4)", function () {
  this.timeout(120_000);

  it("finalizes the honest root every epoch, never the cabal's, and shrinks the cabal's share as the clipped model with one epoch of lag says", async () => {
    const [treasury] = await hre.ethers.getSigners();
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-cabal-"));
    const lines: string[] = [];
    const options = { ...DEFAULT_CABAL, epochs: 6, honestPeers: 4, cabalPeers: 3, outDir };
    const result = await runCabalScenario(treasury, (l) => lines.push(l), options);
    expect(result.initialShare).to.be.closeTo(0.49, 1e-12);
    // An epoch's emission is computed from the stake held through the epoch before (SPEC §1.2): lag 1.
    const [tau, rho] = [Number(options.tau) / 1e18, Number(options.rho) / 1e18];
    const lagged = cabalDecayClipped(result.initialShare, tau, rho, options.epochs, 1);
    const unlagged = cabalDecayClipped(result.initialShare, tau, rho, options.epochs, 0);
    expect(result.closedFormClipped).to.deep.equal(lagged);
    // Nobody has stake that counts in epoch 0: the first epoch validated is at least 1.
    expect(result.epochs[0].epoch).to.be.at.least(1);
    let previous = result.initialShare;
    result.epochs.forEach((e, k) => {
      expect(e.finalRootIsHonest, `epoch ${e.epoch}`).to.equal(true);
      expect(e.cabalSupport).to.be.below(0.5);
      expect(e.cabalShare).to.be.below(previous);
      expect(e.cabalShare).to.be.closeTo(lagged[k], 1e-9);
      previous = e.cabalShare;
    });
    // The lag is visible: from the second epoch on, the chain is off the unlagged model by more than rounding.
    expect(Math.abs(result.epochs.at(-1)!.cabalShare - unlagged.at(-1)!)).to.be.above(1e-6);
    // Clipping makes the cabal decay faster than the whitepaper's unclipped closed form.
    expect(result.epochs.at(-1)!.cabalShare).to.be.below(result.closedForm.at(-1)!);
    expect(fs.readFileSync(result.plot!.png).subarray(1, 4).toString()).to.equal("PNG");
    expect(fs.readFileSync(result.plot!.svg, "utf8")).to.contain("closed form cabalDecay");
    expect(lines.filter((l) => /-> final; cabal root/.test(l))).to.have.length(6);
  });
});
