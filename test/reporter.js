// The mocha reporter of `hardhat test`: mocha's own spec output, and, when AGORA_TEST_SUMMARY names
// a file, the run's counts written there as JSON ({ passed, failed, pending }) for `.ci/run` to
// print its closing line from. Plain JavaScript: mocha loads reporters before any transpiler.
"use strict";
const fs = require("node:fs");
const Mocha = require("mocha");

const { EVENT_RUN_END } = Mocha.Runner.constants;

class AgoraReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const file = process.env.AGORA_TEST_SUMMARY;
    if (!file) return;
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      fs.writeFileSync(file, JSON.stringify({ passed: passes, failed: failures, pending }));
    });
  }
}

module.exports = AgoraReporter;
