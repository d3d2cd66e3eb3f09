// Bundle the CLI and the Action into dist/ (committed; CI checks it is fresh).
import { chmodSync } from "node:fs";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  legalComments: "none",
  // Worktrees may link node_modules; keep the paths esbuild writes into comments the same.
  preserveSymlinks: true,
  logLevel: "warning",
  // ssh2's optional native speed-ups; it falls back to pure JS without them.
  external: ["cpu-features", "*.node"],
  // jsonc-parser's main build is UMD with require() calls esbuild cannot follow; bundle its ES module build.
  alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
  // CommonJS dependencies use require() and __dirname; give them both in the ESM bundle.
  banner: {
    js: [
      "import { createRequire as __cairnRequire } from 'node:module';",
      "import { fileURLToPath as __cairnPath } from 'node:url';",
      "const require = __cairnRequire(import.meta.url);",
      "const __filename = __cairnPath(import.meta.url);",
      "const __dirname = __cairnPath(new URL('.', import.meta.url));",
    ].join(" "),
  },
};
// dist/cli.js (the `cairn` command) is a small entry built for old Node: it
// checks the version, then loads the CLI's bundle, dist/cairn.js.
await build({
  entryPoints: ["src/cli/bin.ts"],
  outfile: "dist/cli.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node14",
  logLevel: "warning",
  plugins: [{ name: "cli-bundle", setup: (b) => b.onResolve({ filter: /^\.\/main\.ts$/ }, () => ({ path: "./cairn.js", external: true })) }],
});
await build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cairn.js" });
await build({ ...common, entryPoints: ["src/action/main.ts"], outfile: "dist/action.js" });
// The worker threads (src/engine/tasks.ts) load this file from beside the bundle.
await build({ ...common, entryPoints: ["src/engine/tasks.ts"], outfile: "dist/worker.js" });
// Artifact uploads load this file from beside the bundle, only when they happen (src/github/artifact-client.ts).
await build({ ...common, entryPoints: ["src/github/artifact-client.ts"], outfile: "dist/artifact-client.js" });
chmodSync("dist/cli.js", 0o755);
