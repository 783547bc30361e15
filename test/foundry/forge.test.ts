/**
 * Runs the Foundry invariant suites (test/foundry/*.t.sol) under `npm test` and reports each
 * invariant as a test of its own, so the CI line counts them. forge runs once, at the profile in
 * FOUNDRY_PROFILE (foundry.toml's default: the quick CI depth; `npm run fuzz:deep` runs the deep
 * one directly). A failure shows forge's reason and the shrunk call sequence.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const FORGE = path.join(ROOT, "node_modules", ".bin", "forge");

interface ForgeResult {
  status: string;
  reason: string | null;
  counterexample: unknown;
  kind: { Invariant?: { runs: number; calls: number; reverts: number } };
}
type ForgeReport = Record<string, { test_results: Record<string, ForgeResult> }>;

/** Every `invariant_*` of every suite, read from the sources: the tests forge must report. */
function declaredInvariants(): { file: string; contract: string; name: string }[] {
  const dir = __dirname;
  const out: { file: string; contract: string; name: string }[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".t.sol")).sort()) {
    let contract = "";
    for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
      const c = /^contract (\w+)/.exec(line);
      if (c) contract = c[1];
      const f = /function (invariant_\w+)\(\)/.exec(line);
      if (f) out.push({ file, contract, name: f[1] });
    }
  }
  return out;
}

function runForge(): Promise<ForgeReport> {
  return new Promise((resolve, reject) => {
    execFile(FORGE, ["test", "--json", "--offline"], { cwd: ROOT, maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
      // forge exits 1 when a test fails; the JSON report is still on stdout (its last line).
      const last = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(last) as ForgeReport);
      } catch {
        reject(new Error(`forge test gave no report (${error?.message ?? "no error"}):\n${stderr.slice(-4000)}`));
      }
    });
  });
}

describe("Foundry invariant suites (forge test)", function () {
  this.timeout(600_000);
  let report: ForgeReport;
  before(async () => {
    report = await runForge();
  });

  for (const { file, contract, name } of declaredInvariants()) {
    it(`${contract}.${name}`, () => {
      const suite = report[`test/foundry/${file}:${contract}`];
      expect(suite, `forge reported no suite ${contract}`).to.not.equal(undefined);
      const result = suite.test_results[`${name}()`];
      expect(result, `forge reported no ${name}`).to.not.equal(undefined);
      const detail = `${result.reason ?? ""}\n${JSON.stringify(result.counterexample, null, 1)}`;
      expect(result.status, detail).to.equal("Success");
      expect(result.kind.Invariant?.calls ?? 0, "calls made").to.be.greaterThan(0);
    });
  }
});
