import { expect } from "chai";
import hre from "hardhat";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_CABAL, runCabalScenario } from "../../scripts/cabal";

describe("e2e: cabal scenario on chain (SPEC §1.4)", function () {
  this.timeout(120_000);

  it("finalizes the honest root every epoch, never the cabal's, and shrinks the cabal's share as the clipped model says", async () => {
    const [treasury] = await hre.ethers.getSigners();
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-cabal-"));
    const lines: string[] = [];
    const result = await runCabalScenario(treasury, (l) => lines.push(l), { ...DEFAULT_CABAL, epochs: 6, honestPeers: 4, cabalPeers: 3, outDir });
    expect(result.initialShare).to.be.closeTo(0.49, 1e-12);
    let previous = result.initialShare;
    result.epochs.forEach((e, k) => {
      expect(e.finalRootIsHonest, `epoch ${e.epoch}`).to.equal(true);
      expect(e.cabalSupport).to.be.below(0.5);
      expect(e.cabalShare).to.be.below(previous);
      expect(e.cabalShare).to.be.closeTo(result.closedFormClipped[k], 1e-9);
      previous = e.cabalShare;
    });
    // Clipping makes the cabal decay faster than the whitepaper's unclipped closed form.
    expect(result.epochs.at(-1)!.cabalShare).to.be.below(result.closedForm.at(-1)!);
    expect(fs.readFileSync(result.plot!.png).subarray(1, 4).toString()).to.equal("PNG");
    expect(fs.readFileSync(result.plot!.svg, "utf8")).to.contain("closed form cabalDecay");
    expect(lines.filter((l) => /-> final; cabal root/.test(l))).to.have.length(6);
  });
});
