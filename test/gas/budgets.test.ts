import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { GAS_SNAPSHOT_FILE, gasTable } from "../../bench/gasTable";

/** How far any entry may rise over its snapshot before the test fails. */
const TOLERANCE = 0.05;

describe("gas budgets", function () {
  this.timeout(300_000);

  it("keeps every function's gas within 5% of the committed snapshot (npm run gas:snapshot updates it)", async () => {
    const snapshot: Record<string, number> = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", GAS_SNAPSHOT_FILE), "utf8"));
    const measured = await gasTable();
    const missing = Object.keys(snapshot).filter((k) => !(k in measured));
    const unsnapshotted = Object.keys(measured).filter((k) => !(k in snapshot));
    expect(missing, "entries of the snapshot no longer measured: update the snapshot").to.deep.equal([]);
    expect(unsnapshotted, "entries measured but not in the snapshot: update the snapshot").to.deep.equal([]);
    const over = Object.entries(measured)
      .filter(([key, gas]) => gas > snapshot[key] * (1 + TOLERANCE))
      .map(([key, gas]) => `${key}: ${gas} gas, snapshot ${snapshot[key]} (+${((gas / snapshot[key] - 1) * 100).toFixed(1)}%)`);
    expect(over, "gas rose more than 5% over the snapshot").to.deep.equal([]);
    expect(Object.keys(measured).length).to.be.greaterThan(40);
  });
});
