import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { runCollaborationScenario, writeTwoTypeStudy } from "../../scripts/collaboration";
import { compositions } from "../../bench/collaboration";

describe("e2e: the collaboration scenario of npm start (SPEC §4)", function () {
  this.timeout(120_000);

  it("solves the paper's menu, runs a delivered round and a defaulted one on chain", async () => {
    const [treasury] = await hre.ethers.getSigners();
    const lines: string[] = [];
    await runCollaborationScenario(treasury, (l) => lines.push(l));
    const text = lines.join("\n");
    expect(text).to.match(/expected accuracy 0\.69\d\d/);
    expect(text).to.match(/10 parties joined, 9 contributed/);
    expect(text).to.match(/missed its delivery deadline; its 100-token bond went to the two contributors/);
  });

  it("plots the two-type study as SVG and PNG", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agora-collab-"));
    const { png } = writeTwoTypeStudy(dir, () => undefined);
    expect(png.map((f) => path.basename(f))).to.deep.equal(["collaboration-accuracy.png", "collaboration-rent.png"]);
    for (const f of png) {
      expect(fs.readFileSync(f).subarray(1, 4).toString()).to.equal("PNG");
      expect(fs.readFileSync(f.replace(/\.png$/, ".svg"), "utf8")).to.match(/^<svg[\s\S]*<path d="M/);
    }
  });

  it("counts the benchmark's compositions as C(N + I - 1, I - 1)", () => {
    expect(compositions(10, 5)).to.equal(1001);
    expect(compositions(100, 6)).to.equal(96_560_646);
    expect(compositions(7, 1)).to.equal(1);
  });
});
