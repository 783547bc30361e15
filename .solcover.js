// solidity-coverage (`npm run coverage`): the contract tests and the fuzz suites; test helpers are not measured.
module.exports = {
  skipFiles: ["test-helpers/"],
  // The reentrancy guard uses transient storage (cancun); the instrumented build must keep it.
  configureYulOptimizer: true,
};
