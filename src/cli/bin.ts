#!/usr/bin/env node
// The `cairn` command's entry (dist/cli.js). It checks the Node version before
// loading the rest (dist/cairn.js), which needs Node 24: zstd in node:zlib,
// whose absence older Node reports only as a SyntaxError about a missing
// export. This file is built for old Node and may use nothing newer.
const NEEDED = 24;
const have = process.versions.node;

if (Number(have.split(".")[0]) < NEEDED) {
  const message = `cairn needs Node ${NEEDED} or later (zstd in node:zlib); you have ${have} (${process.execPath})`;
  const hint = `install Node ${NEEDED} (e.g. \`nvm install ${NEEDED}\`, or from https://nodejs.org) and put it first in PATH; under cron, set PATH in the crontab (see the README's "Install the cairn command")`;
  const json = process.argv.slice(2).includes("--json");
  process.stderr.write(json ? JSON.stringify({ error: { code: 2, message, hint } }) + "\n" : `${message}\nhint: ${hint}\n`);
  process.exitCode = 2; // ExitCode.usage: a setup error
} else {
  // main.ts runs the command when loaded; in dist/ it is cairn.js.
  import("./main.ts").catch((err: Error) => {
    process.stderr.write(`cairn: cannot load the rest of cairn beside ${process.argv[1]}: ${err.message}\nhint: reinstall cairn (dist/cli.js, cairn.js and worker.js belong together)\n`);
    process.exitCode = 1;
  });
}
