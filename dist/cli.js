#!/usr/bin/env node

// src/cli/bin.ts
var NEEDED = 24;
var have = process.versions.node;
if (Number(have.split(".")[0]) < NEEDED) {
  const message = `cairn needs Node ${NEEDED} or later (zstd in node:zlib); you have ${have} (${process.execPath})`;
  const hint = `install Node ${NEEDED} (e.g. \`nvm install ${NEEDED}\`, or from https://nodejs.org) and put it first in PATH; under cron, set PATH in the crontab (see the README's "Install the cairn command")`;
  const json = process.argv.slice(2).includes("--json");
  process.stderr.write(json ? JSON.stringify({ error: { code: 2, message, hint } }) + "\n" : `${message}
hint: ${hint}
`);
  process.exitCode = 2;
} else {
  import("./cairn.js").catch((err) => {
    process.stderr.write(`cairn: cannot load the rest of cairn beside ${process.argv[1]}: ${err.message}
hint: reinstall cairn (dist/cli.js, cairn.js and worker.js belong together)
`);
    process.exitCode = 1;
  });
}
