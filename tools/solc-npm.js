#!/usr/bin/env node
// A solc executable for forge, which cannot download a compiler here: it answers `--version` with
// the npm `solc` package's version and `--standard-json` (input on stdin) with that package's
// compile, the same compiler Hardhat uses (hardhat.config.ts pins both to one version).
"use strict";
const path = require("node:path");
const solc = require(path.join(__dirname, "..", "node_modules", "solc"));

const args = process.argv.slice(2);
if (args.includes("--version")) {
  // forge reads the semver from the second line, as the native binary prints it.
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  const chunks = [];
  process.stdin.on("data", (c) => chunks.push(c));
  process.stdin.on("end", () => {
    const input = Buffer.concat(chunks).toString("utf8");
    const base = args.includes("--base-path") ? args[args.indexOf("--base-path") + 1] : process.cwd();
    const roots = [base, ...args.flatMap((a, i) => (a === "--include-path" || a === "--allow-paths" ? args[i + 1].split(",") : []))];
    // Imports forge did not put in the input are read from the project (sources, remapped node_modules).
    const findImports = (file) => {
      for (const root of roots) {
        const full = path.resolve(root, file);
        try {
          return { contents: require("node:fs").readFileSync(full, "utf8") };
        } catch {
          // try the next root
        }
      }
      return { error: `File not found: ${file}` };
    };
    process.stdout.write(solc.compile(input, { import: findImports }));
  });
} else {
  process.stderr.write(`solc-npm: only --version and --standard-json are supported, got: ${args.join(" ")}\n`);
  process.exit(1);
}
