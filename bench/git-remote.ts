// The git backend over time: daily backups of the bench database into a bare
// git remote, then what one more backup fetches against the remote's size,
// and the remote's growth per day (a GitHub repository keeps every object:
// the yearly growth is the daily growth times 365).
//
//   node bench/git-remote.ts [--size-mib 64] [--days 30] [--full-every N] [--dir DIR] [--keep]
//
// "Fetched" is what the git backend downloads when a backup starts on a fresh
// machine (a workflow runner): `git fetch --depth=1` of the metadata branch
// into an empty repository, the same command the backend runs, measured as
// the pack git received. "Remote" is `git count-objects` of the bare remote
// (objects as pushed, nothing collected). cairn runs from source (node
// src/cli/main.ts).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildDatabase, simulateDay, writeConfig } from "./workload.ts";

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const sizeMiB = Number(arg("--size-mib", "64"));
const days = Number(arg("--days", "30"));
const fullEvery = Number(arg("--full-every", "0"));
const dir = process.argv.includes("--dir") ? arg("--dir", "") : mkdtempSync(join(tmpdir(), "cairn-gitbench-"));
mkdirSync(dir, { recursive: true });
const env: NodeJS.ProcessEnv = { ...process.env, CI: "1" };
const cairn = (args: string[]) => execFileSync(process.execPath, [CLI, ...args], { env, cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 26 });
const git = (args: string[]) => execFileSync("git", args, { encoding: "utf8" });
const mb = (n: number) => (n / 1e6).toFixed(2);

function remoteBytes(remote: string): number {
  const c = Object.fromEntries(git(["--git-dir", remote, "count-objects", "-v"]).trim().split("\n").map((l) => l.split(": ")));
  return (Number(c.size) + Number(c["size-pack"])) * 1024;
}

/** What a backup on a fresh machine fetches: the metadata branch at depth 1, into an empty repository. */
function fetchedBytes(remote: string): number {
  const probe = join(dir, "probe.git");
  rmSync(probe, { recursive: true, force: true });
  git(["init", "--bare", "-q", probe]);
  git(["--git-dir", probe, "config", "fetch.unpackLimit", "1"]);
  git(["--git-dir", probe, "fetch", "-q", "--depth=1", "--no-tags", `file://${remote}`, "+refs/heads/cairn:refs/cairn/tip"]);
  const packs = join(probe, "objects", "pack");
  return readdirSync(packs).filter((f) => f.endsWith(".pack")).reduce((n, f) => n + statSync(join(packs, f)).size, 0);
}

const db = join(dir, "srv", "data", "trading_bot.db");
mkdirSync(join(dir, "srv", "data"), { recursive: true });
const t0 = Date.now();
buildDatabase(db, sizeMiB);
writeConfig(join(dir, "srv"), 0);
process.stderr.write(`database: ${mb(statSync(db).size)} MB in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);

const remote = join(dir, "remote.git");
git(["init", "--bare", "-q", remote]);
const url = `git:${remote}`;
cairn(["keygen", "-o", join(dir, "key.txt")]);
const recipient = /# public key: (age1\S+)/.exec(readFileSync(join(dir, "key.txt"), "utf8"))![1];
env.CAIRN_WRITE_KEY = /CAIRN_WRITE_KEY=(\S+)/.exec(cairn(["init", "-r", url, "-i", join(dir, "key.txt")]))![1];
writeFileSync(join(dir, "cairn.yml"), `repository: ${url}\nsources:\n  - name: db\n    sqlite: srv/data/trading_bot.db\n  - name: settings\n    files: [srv/config/*.json, srv/.env, srv/security/*, srv/binance_keys/*]\n`);

const rows: { day: number; full: boolean; stored: number; remote: number; seconds: number }[] = [];
for (let day = 0; day <= days; day++) {
  if (day > 0) {
    simulateDay(db, day);
    writeConfig(join(dir, "srv"), day);
  }
  const full = day > 0 && fullEvery > 0 && day % fullEvery === 0;
  const started = Date.now();
  const out = JSON.parse(cairn(["backup", "-c", "cairn.yml", "--json", ...(full ? ["--full"] : [])]));
  rows.push({ day, full, stored: out.stats.storedBytes, remote: remoteBytes(remote), seconds: (Date.now() - started) / 1000 });
  process.stderr.write(`day ${day}${full ? " (full)" : ""}: stored ${mb(out.stats.storedBytes)} MB, remote ${mb(rows.at(-1)!.remote)} MB, the next backup fetches ${mb(fetchedBytes(remote))} MB, ${rows.at(-1)!.seconds.toFixed(1)} s\n`);
}

const fetched = fetchedBytes(remote);
const last = rows.at(-1)!;
const perDay = (last.remote - rows[0].remote) / days;
const packs = git(["--git-dir", remote, "for-each-ref", "--format=x", "refs/cairn-packs/"]).trim().split("\n").filter(Boolean).length;
const meta = git(["--git-dir", remote, "ls-tree", "-r", "-l", "cairn"]).trim().split("\n").reduce((n, l) => n + Number(l.split(/\s+/)[3]), 0);
const lines = [
  `| database | days | packs | remote | metadata (branch tip) | one more backup fetches | growth per day | per year (x365) |`,
  `|---|---|---|---|---|---|---|---|`,
  `| ${sizeMiB} MiB | ${days}${fullEvery ? ` (full every ${fullEvery})` : ""} | ${packs} | ${mb(last.remote)} MB | ${mb(meta)} MB | ${mb(fetched)} MB (${((100 * fetched) / last.remote).toFixed(2)}% of the remote) | ${mb(perDay)} MB | ${((perDay * 365) / 1e9).toFixed(2)} GB |`,
];
process.stdout.write(lines.join("\n") + "\n");
if (!process.argv.includes("--keep") && !process.argv.includes("--dir")) rmSync(dir, { recursive: true, force: true });
