import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeEconomicsPlots } from "../../scripts/economics";

describe("the notebook's figures", () => {
  it("are written as SVG and PNG, one command for all four", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-plots-"));
    const written = writeEconomicsPlots(dir);
    expect(written.map((f) => path.basename(f))).to.deep.equal([
      "market-utility-vs-p1.png",
      "market-benefit-vs-p1.png",
      "market-utility-vs-verify.png",
      "market-rp-utility-vs-q.png",
    ]);
    for (const png of written) {
      expect(fs.readFileSync(png).subarray(1, 4).toString()).to.equal("PNG");
      expect(fs.readFileSync(png.replace(/\.png$/, ".svg"), "utf8")).to.match(/^<svg[\s\S]*<path d="M/);
    }
  });
});
