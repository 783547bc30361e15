#!/usr/bin/env node
// The `agora` command: runs the TypeScript CLI through ts-node, transpiled by swc (types are checked by `npm test`).
const path = require("node:path");
require("ts-node").register({ transpileOnly: true, swc: true, project: path.join(__dirname, "..", "tsconfig.json") });
require("../sdk/src/cli/main")
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
