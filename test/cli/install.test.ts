// The installed command: dist/cli.js on a Node older than 24 says what is
// needed instead of crashing on a missing zlib export, and the tarball
// `npm pack` makes installs (offline: it has no dependencies) into a prefix
// whose bin/cairn backs up and restores. Uses the built dist/ (npm run build).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { cliEnv } from "../helpers/cli.ts";
import { tempDir } from "../helpers/repo.ts";

const DIST_CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
/** Node 24 first on PATH, as it must be for the installed command's `#!/usr/bin/env node`. */
const PATH = [dirname(process.execPath), process.env.PATH].join(delimiter);

let tmp: { dir: string; cleanup(): Promise<void> };
before(async () => {
  tmp = await tempDir("cairn-install-");
});
after(() => tmp.cleanup());

function nodeMajor(node: string): number {
  return Number(execFileSync(node, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim());
}

test("on Node older than 24, the command says which Node it needs and which it found (exit 2), before loading anything", () => {
  // The machine's own node where it is old (Node 20 here); else Node 24 told it is 20.
  const old = existsSync("/usr/bin/node") && nodeMajor("/usr/bin/node") < 24;
  const argv = old ? ["/usr/bin/node", DIST_CLI] : [process.execPath, "--import", `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.1"})`, DIST_CLI];
  for (const json of [false, true]) {
    const r = spawnSync(argv[0], [...argv.slice(1), "snapshots", ...(json ? ["--json"] : [])], { env: cliEnv(), encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /SyntaxError|createZstdCompress|^\s+at /m, r.stderr);
    const message = json ? JSON.parse(r.stderr).error.message : r.stderr;
    assert.match(message, /cairn needs Node 24 or later \(zstd in node:zlib\); you have (20|1\d)\.\d+\.\d+/);
  }
});

test("npm pack's tarball installs into a prefix offline, and its bin/cairn runs a backup and a restore", () => {
  const packed = execFileSync("npm", ["pack", "--pack-destination", tmp.dir, "--json"], { cwd: ROOT, env: { ...process.env, PATH }, encoding: "utf8" });
  const tgz = join(tmp.dir, JSON.parse(packed)[0].filename);
  const prefix = join(tmp.dir, "prefix");
  const install = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", tgz], { env: { ...process.env, PATH }, encoding: "utf8" });
  assert.equal(install.status, 0, install.stdout + install.stderr);
  assert.doesNotMatch(install.stderr, /EBADENGINE/);
  const bin = join(prefix, "bin", "cairn");
  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(bin, args, { cwd: tmp.dir, env: cliEnv({ PATH, ...env }), encoding: "utf8" });
    assert.equal(r.status, 0, `cairn ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  assert.match(run(["--help"]), /Exit codes:/);
  // A backup uses the worker threads: worker.js must have been installed beside the bundle.
  const id = join(tmp.dir, "id.txt");
  run(["keygen", "-o", id]);
  const writeKey = /CAIRN_WRITE_KEY=(\S+)/.exec(run(["init", "-r", `local:${join(tmp.dir, "repo")}`, "-i", id]))![1];
  mkdirSync(join(tmp.dir, "srv"));
  writeFileSync(join(tmp.dir, "srv", "settings.json"), '{"risk":0.01}\n');
  writeFileSync(join(tmp.dir, "cairn.yml"), `repository: local:${join(tmp.dir, "repo")}\nsources:\n  - { name: settings, files: [srv/settings.json] }\n`);
  run(["backup", "-c", "cairn.yml"], { CAIRN_WRITE_KEY: writeKey });
  run(["restore", "latest", "-c", "cairn.yml", "-i", id, "--target", "restored"]);
  assert.equal(readFileSync(join(tmp.dir, "restored", "settings", tmp.dir.slice(1), "srv", "settings.json"), "utf8"), '{"risk":0.01}\n');
});
