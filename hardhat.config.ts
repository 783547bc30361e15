import { HardhatUserConfig, subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox";
import path from "node:path";

/**
 * The compiler version. It must equal the version of the npm `solc` package pinned in
 * package.json: machines here cannot download compilers, so the build uses that package's
 * soljson.js (see the subtask override below).
 */
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solcPackage = require("solc/package.json") as { version: string };
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`npm solc is ${solcPackage.version} but hardhat.config.ts compiles with ${SOLC_VERSION}: pin them together`);
  }
  const compilerPath = path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const longVersion = (require("solc") as { version(): string }).version();
  return { version: SOLC_VERSION, longVersion, compilerPath, isSolcJs: true };
});

/** Compiler settings with `runs` optimizer runs: one compiler version and EVM version for every contract. */
function sizedFor(runs: number) {
  return { version: SOLC_VERSION, settings: { optimizer: { enabled: true, runs }, evmVersion: "cancun" } };
}

const config: HardhatUserConfig = {
  solidity: {
    compilers: [sizedFor(10_000)],
    // Contracts whose code at 10,000 runs passes the 24,576-byte limit of EIP-170 are tuned for size:
    // the ranking market holds peers, stake, rows, epochs and claims behind one balance; the job
    // market holds offers, matches, verdicts and the mediator registry behind one balance; the
    // delegation market computes its plan on chain with PRBMath.
    overrides: {
      "contracts/ranking/RankingMarket.sol": sizedFor(1),
      "contracts/market/JobMarket.sol": sizedFor(1_000),
      "contracts/delegation/DelegationMarket.sol": sizedFor(2_000),
    },
  },
  networks: {
    hardhat: {
      // AGORA_BLOCK_TIME=ms makes `npx hardhat node` also mine a block every ms milliseconds, so
      // epochs advance on a devnet without traffic (validators wait for blocks).
      ...(process.env.AGORA_BLOCK_TIME ? { mining: { auto: true, interval: Number(process.env.AGORA_BLOCK_TIME) } } : {}),
    },
    localhost: { url: process.env.AGORA_RPC_URL ?? "http://127.0.0.1:8545" },
    ...(process.env.AGORA_RPC_URL && process.env.AGORA_PRIVATE_KEY
      ? { custom: { url: process.env.AGORA_RPC_URL, accounts: [process.env.AGORA_PRIVATE_KEY] } }
      : {}),
  },
  paths: {
    sources: "./contracts",
    tests: "./test",
    cache: "./cache",
    artifacts: "./artifacts",
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  // The spec reporter, which also writes the counts for `.ci/run` (see test/reporter.js).
  mocha: { timeout: 120_000, reporter: "./test/reporter.js" },
  gasReporter: { enabled: false },
};

export default config;
