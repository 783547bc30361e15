#!/usr/bin/env node
// The `agora` command: runs the TypeScript CLI, transpiled on load by sucrase (pure JavaScript, so
// no platform binary to install; types are checked by `npm test`).
require("sucrase/register/ts");
require("../sdk/src/cli/main")
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
