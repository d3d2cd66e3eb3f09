// cairn vs restic vs borg vs the naive `sqlite3 .backup | zstd | age`, side by
// side on one generated trading-bot database and 7 simulated days of churn.
// cairn is a black box here: `node dist/cli.js ...`.
//
//   npm run bench                              # 512 MiB, 7 days, memory + SSH figures
//   node bench/run.ts --size-mib 64 --days 2   # quick
//   flags: --size-mib N --days N --layout interleaved|sequential --repeat N --restores N --memory-sizes 512,2048 --no-memory
//          --ssh-mib N --no-ssh --tools cairn,restic,... --build --keep --dir DIR --out DIR
//
// Writes bench/results/latest.json and bench/results/latest.md and prints the
// markdown. Installs nothing: a missing tool is reported with the apt line.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { zstdCompressSync } from "node:zlib";
import { buildDatabase, growDatabase, simulateDay, writeConfig, type Layout } from "./workload.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIST_CLI = join(ROOT, "dist", "cli.js");
// The run uses a copy of dist/ (cli.js, the cairn.js it loads, worker.js) taken at its start, so
// a rebuild of dist/ by someone else mid-run cannot mix two builds in one repository.
let CLI = DIST_CLI;
let CLI_BUILT = "";
const GNU_TIME = "/usr/bin/time";
const MB = 1e6;
const MiB = 1048576;

// ---------- flags ----------
const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
if (flag("--help") || flag("-h")) {
  console.log(readFileSync(import.meta.filename, "utf8").split("\n").filter((l) => l.startsWith("//")).slice(0, 12).map((l) => l.slice(3)).join("\n"));
  process.exit(0);
}
const SIZE_MIB = Number(opt("--size-mib", "512"));
const DAYS = Number(opt("--days", "7"));
const REPEAT = Math.max(1, Number(opt("--repeat", "1")));
const RESTORES = Math.max(1, Number(opt("--restores", "3")));
const LAYOUT = opt("--layout", "interleaved") as Layout;
if (LAYOUT !== "interleaved" && LAYOUT !== "sequential") fail("--layout is interleaved or sequential");
const MEMORY_SIZES = flag("--no-memory") ? [] : opt("--memory-sizes", "512,2048").split(",").filter(Boolean).map(Number);
const SSH = !flag("--no-ssh");
const SSH_MIB = Number(opt("--ssh-mib", "128")); // its SFTP row runs at a few MB/s: keep the file modest
const ALL_TOOLS = ["cairn", "restic", "borg", "borg-sqlite", "naive"] as const;
type ToolName = (typeof ALL_TOOLS)[number];
const TOOLS = opt("--tools", ALL_TOOLS.join(",")).split(",") as ToolName[];
const KEEP = flag("--keep");
const OUT = resolve(opt("--out", join(ROOT, "bench", "results")));
for (const t of TOOLS) if (!ALL_TOOLS.includes(t)) fail(`unknown tool ${t}; known: ${ALL_TOOLS.join(", ")}`);
if (!(SIZE_MIB > 0) || !(DAYS >= 1)) fail("--size-mib must be > 0 and --days >= 1");

function fail(msg: string, code = 2): never {
  console.error(`bench: ${msg}`);
  process.exit(code);
}
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

// ---------- prerequisites: install nothing, say how ----------
const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
{
  const need: Record<string, string> = { sqlite3: "sqlite3", zstd: "zstd", age: "age", restic: "restic", borg: "borgbackup" };
  const missing = Object.entries(need).filter(([cmd]) => !which(cmd));
  if (missing.length) {
    console.error(`bench: missing ${missing.map(([c]) => c).join(", ")}. Install them (Debian/Ubuntu) with:\n  sudo apt-get install -y restic borgbackup age sqlite3 zstd time\nand run again. (The bench installs nothing itself.)`);
    process.exit(2);
  }
  if (Number(process.versions.node.split(".")[0]) < 24) fail(`needs Node 24 (this is ${process.version}); use the project's: export PATH=$PWD/node_modules/.bin:$PATH`);
  if (flag("--build") || !existsSync(DIST_CLI)) {
    log("building dist/ (node scripts/build.mjs)");
    const b = spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { cwd: ROOT, stdio: "inherit" });
    if (b.status !== 0) fail("build failed", 1);
  }
}
const HAVE_TIME = existsSync(GNU_TIME);
if (!HAVE_TIME) log(`no ${GNU_TIME} (apt package 'time'): peak RSS is measured for cairn only (bench/rss.mjs)`);

// ---------- running and measuring ----------
interface Measured {
  ms: number;
  rssMiB: number | null;
  stdout: string;
  stderr: string;
}
let seq = 0;
let WORK = "";

/** Runs argv, timing it (wall) and measuring its peak RSS (the largest single process in its tree). */
function measure(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; cairn?: boolean } = {}): Measured {
  const rssFile = join(WORK, `rss-${++seq}`);
  let file = cmd;
  let a = args;
  if (HAVE_TIME) {
    file = GNU_TIME;
    a = ["-f", "%M", "-o", rssFile, cmd, ...args];
  } else if (o.cairn) {
    a = [join(ROOT, "bench", "rss.mjs"), ...args];
  }
  // Flush dirty pages first, so no command pays for the writeback of the one before it
  // (or of the workload generator): seen making one tool's run twice as long.
  spawnSync("sync");
  const t0 = performance.now();
  const r: SpawnSyncReturns<string> = spawnSync(file, a, { cwd: o.cwd, env: o.env ?? process.env, encoding: "utf8", maxBuffer: 256 * MiB });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${[cmd, ...args].join(" ")} exited ${r.status ?? r.signal}\n${(r.stderr ?? "").slice(-3000)}${(r.stdout ?? "").slice(-1000)}`);
  }
  let rssMiB: number | null = null;
  if (HAVE_TIME) {
    const kb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop());
    rssMiB = kb / 1024;
    rmSync(rssFile, { force: true });
  } else {
    const m = /peak-rss-mib ([\d.]+)/.exec(r.stderr);
    if (m) rssMiB = Number(m[1]);
  }
  return { ms, rssMiB, stdout: r.stdout, stderr: r.stderr };
}

function sh(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, encoding: "utf8", maxBuffer: 64 * MiB });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(" ")} exited ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** Apparent size of everything under `dir` (lstat, recursive): the same measure for every tool. */
function dirBytes(dir: string): number {
  let n = 0;
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else n += st.size;
  };
  if (existsSync(dir)) walk(dir);
  return n;
}

function sha256(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = Buffer.allocUnsafe(4 * MiB);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** SQLite's own content hash: equal for two databases with equal content, whatever their header counters. */
const sha3sum = (db: string) => sh("sqlite3", ["-readonly", db, ".sha3sum"]).trim();

function findFile(dir: string, name: string): string | null {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    } else if (e.name === name) return p;
  }
  return null;
}

/** Changed 4 KiB pages between two database copies, and what they'd take zstd-compressed: the floor for an incremental. */
function pageDelta(prev: string, next: string): { changedBytes: number; changedZstdBytes: number; pages: number } {
  const P = 4096;
  const B = 1024 * P;
  const fa = openSync(prev, "r");
  const fb = openSync(next, "r");
  const a = Buffer.alloc(B);
  const b = Buffer.alloc(B);
  let pages = 0;
  let changed = 0;
  let zBytes = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const flush = () => {
    if (pendingLen) zBytes += zstdCompressSync(Buffer.concat(pending)).length;
    pending = [];
    pendingLen = 0;
  };
  try {
    for (let off = 0; ; off += B) {
      const nb = readSync(fb, b, 0, B, off);
      if (nb <= 0) break;
      a.fill(0);
      const na = readSync(fa, a, 0, B, off);
      for (let p = 0; p < nb; p += P) {
        pages++;
        if (p >= na || a.compare(b, p, p + P, p, p + P) !== 0) {
          changed++;
          pending.push(Buffer.from(b.subarray(p, p + P)));
          pendingLen += P;
          if (pendingLen >= 16 * MiB) flush();
        }
      }
    }
    flush();
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
  return { changedBytes: changed * P, changedZstdBytes: zBytes, pages };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sum = (xs: number[]) => xs.reduce((p, q) => p + q, 0);

// ---------- tools ----------
interface Env {
  work: string;
  live: string; // the live database (cairn's sqlite source reads it)
  snap: string; // the folder restic/borg back up: data/trading_bot.db (.backup copy) + config files
  configFiles: string[]; // relative to snap
  recipient: string;
  identityFile: string;
}
interface Tool {
  name: ToolName;
  repo: string;
  init(): void;
  backup(day: number): Measured;
  /** Restores the latest snapshot into `dir`; returns the restored db path and the folder config files are under. */
  restore(dir: string, day: number): Measured & { db: string; configRoot: string | null };
  /** How the restored database is compared. */
  dbCompare: "sha256" | "sha3sum";
}

function makeTools(e: Env): Tool[] {
  const repos = join(e.work, "repos");
  const tools: Tool[] = [];
  const nodeCli = (args: string[], env: NodeJS.ProcessEnv, cwd?: string) => measure(process.execPath, [CLI, ...args], { env, cwd, cairn: true });

  // cairn: sqlite source on the live DB (it takes its own online .backup), files source on the config files.
  {
    const repo = join(repos, "cairn");
    const cfg = join(e.work, "cairn.yml");
    let writeKey = "";
    tools.push({
      name: "cairn",
      repo,
      dbCompare: "sha3sum",
      init() {
        const out = sh(process.execPath, [CLI, "init", "-r", `local:${repo}`, "-i", e.identityFile]);
        const m = /CAIRN_WRITE_KEY=(\S+)/.exec(out);
        if (!m) throw new Error(`cairn init printed no CAIRN_WRITE_KEY line:\n${out}`);
        writeKey = m[1];
        const files = e.configFiles.map((f) => `      - ${JSON.stringify(join(e.snap, f))}`).join("\n");
        writeFileSync(cfg, `repository: local:${repo}\nsources:\n  - name: trading-db\n    sqlite: ${JSON.stringify(e.live)}\n  - name: settings\n    files:\n${files}\n`);
      },
      backup() {
        const r = nodeCli(["backup", "-c", cfg, "--json"], { ...process.env, CAIRN_WRITE_KEY: writeKey });
        return r;
      },
      restore(dir) {
        const r = nodeCli(["restore", "latest", "-r", `local:${repo}`, "-i", e.identityFile, "--target", dir, "--json"], process.env);
        return { ...r, db: join(dir, "trading-db.sqlite"), configRoot: join(dir, "settings", e.snap) };
      },
    });
  }

  // restic: default compression (auto), password set, cache inside the work dir.
  {
    const repo = join(repos, "restic");
    const env = { ...process.env, RESTIC_PASSWORD: "bench-password", RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(e.work, "restic-cache") };
    tools.push({
      name: "restic",
      repo,
      dbCompare: "sha256",
      init: () => void sh("restic", ["init", "--quiet"], { env }),
      backup: () => measure("restic", ["backup", "--quiet", "--host", "bench", "."], { cwd: e.snap, env }),
      restore(dir) {
        const r = measure("restic", ["restore", "latest", "--quiet", "--target", dir], { env });
        const db = findFile(dir, "trading_bot.db");
        if (!db) throw new Error("restic restore: no trading_bot.db in the restored tree");
        return { ...r, db, configRoot: dirname(dirname(db)) };
      },
    });
  }

  // borg: repokey-blake2 (encrypted, like the others), default lz4; and with the chunker borg recommends for SQLite.
  for (const [name, extra] of [["borg", []], ["borg-sqlite", ["--chunker-params", "buzhash,15,19,17,4095"]]] as [ToolName, string[]][]) {
    const repo = join(repos, name);
    const env = { ...process.env, BORG_PASSPHRASE: "bench-password", BORG_BASE_DIR: join(e.work, `${name}-home`), BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes", BORG_REPO: repo };
    tools.push({
      name,
      repo,
      dbCompare: "sha256",
      init: () => void sh("borg", ["init", "--encryption", "repokey-blake2"], { env }),
      backup: (day) => measure("borg", ["create", "--compression", "lz4", ...extra, `::day-${day}`, "."], { cwd: e.snap, env }),
      restore(dir, day) {
        mkdirSync(dir, { recursive: true });
        const r = measure("borg", ["extract", `::day-${day}`], { cwd: dir, env });
        return { ...r, db: join(dir, "data", "trading_bot.db"), configRoot: dir };
      },
    });
  }

  // naive: a full `sqlite3 .backup | zstd | age` copy every day (the database only).
  {
    const repo = join(repos, "naive");
    tools.push({
      name: "naive",
      repo,
      dbCompare: "sha3sum",
      init: () => mkdirSync(repo, { recursive: true }),
      backup(day) {
        const tmp = join(e.work, "naive-tmp.db");
        const out = join(repo, `day-${day}.db.zst.age`);
        return measure("sh", ["-c", 'set -e; rm -f "$2"; sqlite3 "$1" ".backup \'$2\'"; zstd -q -c "$2" | age -r "$3" > "$4"; rm -f "$2"', "naive", e.live, tmp, e.recipient, out]);
      },
      restore(dir, day) {
        mkdirSync(dir, { recursive: true });
        const db = join(dir, "trading_bot.db");
        const r = measure("sh", ["-c", 'set -e; age -d -i "$1" "$2" | zstd -q -d -o "$3"', "naive", e.identityFile, join(repo, `day-${day}.db.zst.age`), db]);
        return { ...r, db, configRoot: null };
      },
    });
  }
  return tools.filter((t) => TOOLS.includes(t.name));
}

// ---------- one pass: full + N days + restore, every tool ----------
interface DayResult {
  day: number;
  ms: number;
  addedBytes: number;
  rssMiB: number | null;
}
interface ToolPass {
  full: DayResult;
  days: DayResult[];
  repoBytes: number;
  restore: { ms: number; rssMiB: number | null; ok: boolean; detail: string };
  cairnStoredBytes?: number[]; // what cairn --json says it stored, per backup
}
interface WorkloadDay {
  day: number;
  dbBytes: number;
  snapshotMs: number; // the sqlite3 .backup copy restic/borg read
  inserted?: number;
  updated?: number;
  genMs: number;
  genCpuMs?: number;
  changedPageBytes?: number;
  changedPageZstdBytes?: number;
}
interface Pass {
  tools: Partial<Record<ToolName, ToolPass>>;
  workload: WorkloadDay[];
  configFiles: string[];
  ms: number;
}

function runPass(work: string, day0: string | null): { pass: Pass; live: string; day0: string } {
  const t0 = performance.now();
  const live = join(work, "live", "trading_bot.db");
  const snap = join(work, "snap");
  const copy = join(snap, "data", "trading_bot.db");
  const prev = join(work, "prev.db");
  mkdirSync(dirname(live), { recursive: true });
  mkdirSync(dirname(copy), { recursive: true });
  const workload: WorkloadDay[] = [];

  let g = performance.now();
  const cpu0 = process.cpuUsage();
  let built: { bytes: number } | undefined;
  if (day0) copyFileSync(day0, live);
  else {
    log(`building the ${SIZE_MIB} MiB database`);
    built = buildDatabase(live, SIZE_MIB, 42, LAYOUT);
  }
  const genMs0 = performance.now() - g;
  const cpu = process.cpuUsage(cpu0);
  const genCpuMs0 = (cpu.user + cpu.system) / 1000;
  log(`day 0: ${(statSync(live).size / MiB).toFixed(1)} MiB in ${(genMs0 / 1000).toFixed(1)} s (${(genCpuMs0 / 1000).toFixed(1)} s CPU)`);
  void built;
  // Later passes start from the same day 0 (the generator is deterministic, a copy is faster).
  let keptDay0 = day0;
  if (!keptDay0 && REPEAT > 1) {
    keptDay0 = join(dirname(work), "day0.db");
    copyFileSync(live, keptDay0);
  }

  const takeSnapshot = (): number => {
    rmSync(copy, { force: true });
    const s = performance.now();
    sh("sqlite3", [live, `.backup '${copy}'`]);
    return performance.now() - s;
  };

  const configFiles = writeConfig(snap, 0);
  const keyDir = join(work, "keys");
  mkdirSync(keyDir, { recursive: true });
  const identityFile = join(keyDir, "key.txt");
  sh(process.execPath, [CLI, "keygen", "-o", identityFile]);
  const recipient = /age1[0-9a-z]+/.exec(readFileSync(identityFile, "utf8"))?.[0];
  if (!recipient) throw new Error("cairn keygen wrote no public key");
  const env: Env = { work, live, snap, configFiles, recipient, identityFile };
  const tools = makeTools(env);
  for (const t of tools) t.init();

  const result: Partial<Record<ToolName, ToolPass>> = {};
  const stored: Partial<Record<ToolName, number[]>> = {};
  const runDay = (day: number) => {
    // Rotate the order each day so no tool always runs first (cache warmth, neighbours' load).
    const order = tools.map((_, i) => tools[(i + day) % tools.length]);
    for (const t of order) {
      const before = dirBytes(t.repo);
      const m = t.backup(day);
      const after = dirBytes(t.repo);
      const r: DayResult = { day, ms: m.ms, addedBytes: after - before, rssMiB: m.rssMiB };
      if (t.name === "cairn") {
        try {
          (stored.cairn ??= []).push(JSON.parse(m.stdout).stats.storedBytes);
        } catch {
          /* not fatal: the repository size is the figure */
        }
      }
      if (day === 0) result[t.name] = { full: r, days: [], repoBytes: 0, restore: { ms: 0, rssMiB: null, ok: false, detail: "" } };
      else result[t.name]!.days.push(r);
      log(`  ${t.name.padEnd(11)} ${day === 0 ? "full" : `day ${day}`}: ${(m.ms / 1000).toFixed(2)} s, +${(r.addedBytes / MB).toFixed(1)} MB, ${m.rssMiB?.toFixed(0) ?? "?"} MiB RSS`);
    }
  };

  const snapMs0 = takeSnapshot();
  workload.push({ day: 0, dbBytes: statSync(copy).size, snapshotMs: snapMs0, genMs: genMs0, genCpuMs: genCpuMs0 });
  runDay(0);
  for (let d = 1; d <= DAYS; d++) {
    g = performance.now();
    const ch = simulateDay(live, d);
    const genMs = performance.now() - g;
    writeConfig(snap, d);
    renameSync(copy, prev);
    const snapshotMs = takeSnapshot();
    const delta = pageDelta(prev, copy);
    rmSync(prev, { force: true });
    workload.push({ day: d, dbBytes: statSync(copy).size, snapshotMs, inserted: ch.inserted, updated: ch.updated, genMs, changedPageBytes: delta.changedBytes, changedPageZstdBytes: delta.changedZstdBytes });
    log(`day ${d}: +${ch.inserted} rows, ${ch.updated} orders updated, ${(delta.changedBytes / MB).toFixed(1)} MB of pages changed (${(delta.changedZstdBytes / MB).toFixed(1)} MB zstd)`);
    runDay(d);
  }

  // Restore the latest snapshot with each tool and check it equals the source.
  // Restores are cheap: RESTORES rounds in rotating order, the median time
  // (a tool's first restore after the backups was seen taking 1.5x its others).
  const copySha = sha256(copy);
  const copySha3 = sha3sum(copy);
  const restoreRuns = new Map<ToolName, Measured[]>();
  for (let round = 0; round < RESTORES; round++) {
    for (const t of tools.map((_, i) => tools[(i + round) % tools.length])) {
      const dir = join(work, "restore", t.name);
      rmSync(dir, { recursive: true, force: true });
      const r = t.restore(dir, DAYS);
      const runs = restoreRuns.get(t.name) ?? [];
      restoreRuns.set(t.name, [...runs, r]);
      if (round === 0) {
        const problems: string[] = [];
        if (!existsSync(r.db)) problems.push(`no database at ${r.db}`);
        else if (t.dbCompare === "sha256") {
          if (sha256(r.db) !== copySha) problems.push("database sha256 differs from the .backup copy");
        } else if (sha3sum(r.db) !== copySha3) problems.push("database .sha3sum differs from the .backup copy");
        if (r.configRoot) {
          for (const f of configFiles) {
            const p = join(r.configRoot, f);
            if (!existsSync(p) || sha256(p) !== sha256(join(snap, f))) problems.push(`config file ${f} missing or different`);
          }
        }
        const ok = problems.length === 0;
        result[t.name]!.restore = { ms: 0, rssMiB: null, ok, detail: ok ? `${t.dbCompare} of the database${r.configRoot ? ` and ${configFiles.length} config files` : ""} equal` : problems.join("; ") };
      }
      log(`  ${t.name.padEnd(11)} restore ${round + 1}/${RESTORES}: ${(r.ms / 1000).toFixed(2)} s, ${r.rssMiB?.toFixed(0) ?? "?"} MiB RSS${round === 0 ? `, ${result[t.name]!.restore.ok ? "verified" : `BROKEN: ${result[t.name]!.restore.detail}`}` : ""}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const t of tools) {
    const tp = result[t.name]!;
    const runs = restoreRuns.get(t.name)!;
    tp.repoBytes = dirBytes(t.repo);
    tp.restore = { ...tp.restore, ms: median(runs.map((r) => r.ms)), rssMiB: Math.max(...runs.map((r) => r.rssMiB ?? 0)) || null };
    if (stored[t.name]) tp.cairnStoredBytes = stored[t.name];
  }

  return { pass: { tools: result, workload, configFiles, ms: performance.now() - t0 }, live, day0: keptDay0 ?? "" };
}

// ---------- memory figure: cairn peak RSS vs database size ----------
interface MemoryRow {
  sizeMiB: number;
  dbBytes: number;
  buildMs: number;
  backupMs: number;
  backupRssMiB: number | null;
  restoreMs: number;
  restoreRssMiB: number | null;
  ok: boolean;
  from?: string;
}
function memoryFigure(base: string, reuse: { sizeMiB: number; db: string; main?: MemoryRow } | null): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const size of MEMORY_SIZES) {
    if (reuse?.main && reuse.sizeMiB === size) {
      // The main pass already backed up (full) and restored a database of this size.
      log(`memory figure ${size} MiB: taken from the main pass (full backup, restore of the latest snapshot)`);
      rows.push(reuse.main);
      continue;
    }
    const dir = join(base, `mem-${size}`);
    mkdirSync(dir, { recursive: true });
    const db = join(dir, "trading_bot.db");
    const g = performance.now();
    if (reuse && reuse.sizeMiB === size) copyFileSync(reuse.db, db);
    else if (reuse && existsSync(reuse.db) && statSync(reuse.db).size < size * MiB) {
      log(`memory figure: growing the ${reuse.sizeMiB} MiB database to ${size} MiB`);
      growDatabase(reuse.db, db, size);
    } else {
      log(`memory figure: building a ${size} MiB database`);
      buildDatabase(db, size, 42, LAYOUT);
    }
    const buildMs = performance.now() - g;
    const key = join(dir, "key.txt");
    sh(process.execPath, [CLI, "keygen", "-o", key]);
    const recipient = /age1[0-9a-z]+/.exec(readFileSync(key, "utf8"))![0];
    const repo = join(dir, "repo");
    const wk = /CAIRN_WRITE_KEY=(\S+)/.exec(sh(process.execPath, [CLI, "init", "-r", `local:${repo}`, "-i", key]))![1];
    const cfg = join(dir, "cairn.yml");
    writeFileSync(cfg, `repository: local:${repo}\nsources:\n  - { name: trading-db, sqlite: ${JSON.stringify(db)} }\n`);
    const b = measure(process.execPath, [CLI, "backup", "-c", cfg, "--json"], { env: { ...process.env, CAIRN_WRITE_KEY: wk }, cairn: true });
    const target = join(dir, "restored");
    const r = measure(process.execPath, [CLI, "restore", "latest", "-r", `local:${repo}`, "-i", key, "--target", target, "--json"], { cairn: true });
    const ok = sha3sum(join(target, "trading-db.sqlite")) === sha3sum(db);
    const row = { sizeMiB: size, dbBytes: statSync(db).size, buildMs, backupMs: b.ms, backupRssMiB: b.rssMiB, restoreMs: r.ms, restoreRssMiB: r.rssMiB, ok };
    log(`memory figure ${size} MiB: backup ${(b.ms / 1000).toFixed(1)} s ${b.rssMiB?.toFixed(0)} MiB RSS; restore ${(r.ms / 1000).toFixed(1)} s ${r.rssMiB?.toFixed(0)} MiB RSS; ${ok ? "verified" : "RESTORE DIFFERS"}`);
    rows.push(row);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// ---------- SSH pull figure (bench/ssh-throughput.ts, another engineer's) ----------
interface SshRow {
  client: string;
  cipher: string;
  mbps: number;
}
function sshFigure(mib: number): { rows: SshRow[]; ok: boolean; note: string; ms: number } {
  const script = join(ROOT, "bench", "ssh-throughput.ts");
  if (!existsSync(script)) return { rows: [], ok: false, note: "TODO: bench/ssh-throughput.ts is missing; no pull figure", ms: 0 };
  if (!existsSync("/usr/sbin/sshd")) return { rows: [], ok: false, note: "TODO: no /usr/sbin/sshd (apt-get install openssh-server); no pull figure", ms: 0 };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [script, String(mib)], { cwd: ROOT, encoding: "utf8", timeout: 600_000, maxBuffer: 16 * MiB });
  const rows: SshRow[] = [];
  for (const line of (r.stdout ?? "").split("\n")) {
    const m = /^(ssh2 read \(cat\)|ssh2 SFTP stream|OpenSSH ssh cat)\s+(\S+)\s+(\d+(?:\.\d+)?) MB\/s/.exec(line.trim());
    if (m) rows.push({ client: m[1], cipher: m[2], mbps: Number(m[3]) });
  }
  const ms = performance.now() - t0;
  if (!rows.length) return { rows, ok: false, note: `TODO: bench/ssh-throughput.ts did not run (exit ${r.status ?? r.signal}): ${(r.stderr ?? "").trim().split("\n").slice(0, 3).join(" / ")}`, ms };
  const note = r.status === 0 ? `bench/ssh-throughput.ts ${mib} (${mib} MiB of random data, pulled from a test sshd on loopback)` : `bench/ssh-throughput.ts ${mib} printed its figures but exited ${r.status ?? r.signal} (${(r.stderr ?? "").trim().split("\n").find((l) => /Error/.test(l)) ?? "see stderr"})`;
  return { rows, ok: r.status === 0, note, ms };
}

// ---------- versions, machine ----------
function versions(): Record<string, string> {
  const first = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return ((r.stdout || r.stderr) ?? "").trim().split("\n")[0];
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout?.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" }).stdout?.trim();
  return {
    cairn: `${pkg.version} (dist/cli.js; git ${rev || "?"}${dirty ? ", src/ has uncommitted changes" : ""}; dist built ${CLI_BUILT})`,
    node: process.version,
    restic: first("restic", ["version"]),
    borg: first("borg", ["--version"]),
    age: first("age", ["--version"]),
    sqlite3: first("sqlite3", ["--version"]).split(" ").slice(0, 2).join(" "),
    zstd: first("zstd", ["--version"]).replace(/^\*+\s*|\s*\*+$/g, ""),
  };
}

// ---------- report ----------
const s = (ms: number) => (ms / 1000).toFixed(2);
const mb = (b: number) => (b / MB).toFixed(1);
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "–");

interface Summary {
  fullMs: number;
  fullMBps: number;
  fullAddedBytes: number;
  incrMsMedian: number;
  incrAddedMedian: number;
  incrAddedMean: number;
  incrMsPerDay: number[];
  incrAddedPerDay: number[];
  repoBytes: number;
  restoreMs: number;
  backupRssMiB: number | null;
  restoreRssMiB: number | null;
  restoreOk: boolean;
  restoreDetail: string;
}

function summarize(passes: Pass[], name: ToolName, dbBytes: number): Summary | null {
  const tp = passes.map((p) => p.tools[name]).filter((t): t is ToolPass => !!t);
  if (!tp.length) return null;
  const med = (f: (t: ToolPass) => number) => median(tp.map(f));
  const days = tp[0].days.length;
  const perDay = (f: (d: DayResult) => number) => Array.from({ length: days }, (_, i) => median(tp.map((t) => f(t.days[i]))));
  const incrMs = perDay((d) => d.ms);
  const incrAdded = perDay((d) => d.addedBytes);
  const rss = tp.flatMap((t) => [t.full.rssMiB, ...t.days.map((d) => d.rssMiB)]).filter((v): v is number => v !== null);
  const rrss = tp.map((t) => t.restore.rssMiB).filter((v): v is number => v !== null);
  const fullMs = med((t) => t.full.ms);
  return {
    fullMs,
    fullMBps: dbBytes / MB / (fullMs / 1000),
    fullAddedBytes: med((t) => t.full.addedBytes),
    incrMsMedian: median(incrMs),
    incrAddedMedian: median(incrAdded),
    incrAddedMean: sum(incrAdded) / incrAdded.length,
    incrMsPerDay: incrMs,
    incrAddedPerDay: incrAdded,
    repoBytes: med((t) => t.repoBytes),
    restoreMs: med((t) => t.restore.ms),
    backupRssMiB: rss.length ? Math.max(...rss) : null,
    restoreRssMiB: rrss.length ? Math.max(...rrss) : null,
    restoreOk: tp.every((t) => t.restore.ok),
    restoreDetail: tp.map((t) => t.restore.detail).filter((v, i, a) => a.indexOf(v) === i).join("; "),
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  const base = flag("--dir") ? resolve(opt("--dir", "")) : mkdtempSync(join(tmpdir(), "cairn-bench-"));
  mkdirSync(base, { recursive: true });
  WORK = base;
  CLI_BUILT = statSync(DIST_CLI).mtime.toISOString();
  // The entry, the bundle it loads and the worker threads' file beside them.
  mkdirSync(join(base, "dist"), { recursive: true });
  CLI = join(base, "dist", "cli.js");
  for (const f of ["cli.js", "cairn.js", "worker.js"]) copyFileSync(join(ROOT, "dist", f), join(base, "dist", f));
  writeFileSync(join(base, "dist", "package.json"), '{"type":"module"}\n');
  log(`work dir ${base}; ${cpus().length} cores; load ${load0.map((l) => l.toFixed(1)).join(" ")}; ${SIZE_MIB} MiB, ${DAYS} days, repeat ${REPEAT}, tools ${TOOLS.join(",")}`);
  let success = false;
  try {
    const passes: Pass[] = [];
    let day0: string | null = null;
    let lastLive = "";
    for (let i = 0; i < REPEAT; i++) {
      const work = join(base, `pass-${i}`);
      mkdirSync(work, { recursive: true });
      log(`pass ${i + 1}/${REPEAT}`);
      const r = runPass(work, day0);
      passes.push(r.pass);
      day0 = r.day0 || null;
      lastLive = r.live;
      if (i < REPEAT - 1 && !KEEP) rmSync(work, { recursive: true, force: true });
    }
    const mainCairn = passes[passes.length - 1].tools.cairn;
    const w0 = passes[passes.length - 1].workload;
    const main: MemoryRow | undefined = mainCairn && {
      sizeMiB: SIZE_MIB,
      dbBytes: w0[0].dbBytes,
      buildMs: w0[0].genMs,
      backupMs: mainCairn.full.ms,
      backupRssMiB: Math.max(...[mainCairn.full.rssMiB, ...mainCairn.days.map((d) => d.rssMiB)].map((v) => v ?? 0)),
      restoreMs: mainCairn.restore.ms,
      restoreRssMiB: mainCairn.restore.rssMiB,
      ok: mainCairn.restore.ok,
      from: "main pass (backup RSS: max over full and incrementals; restore: latest snapshot)",
    };
    const memory = MEMORY_SIZES.length ? memoryFigure(base, { sizeMiB: SIZE_MIB, db: lastLive, main }) : [];
    if (!KEEP) rmSync(join(base, `pass-${REPEAT - 1}`), { recursive: true, force: true });
    const ssh = SSH ? (log("SSH pull figure (bench/ssh-throughput.ts)"), sshFigure(SSH_MIB)) : { rows: [], ok: false, note: "skipped (--no-ssh)", ms: 0 };

    const workload = passes[0].workload;
    const dbBytes = workload[0].dbBytes;
    const summaries: Partial<Record<ToolName, Summary>> = {};
    for (const t of TOOLS) summaries[t] = summarize(passes, t, dbBytes) ?? undefined;
    const restic = summaries.restic;
    const cairn = summaries.cairn;
    const ratio = (f: (sm: Summary) => number, t: ToolName) => (restic && summaries[t] ? f(summaries[t]!) / f(restic) : NaN);
    const ratios: Partial<Record<ToolName, { full: number; incrAdded: number; incrMs: number; repo: number; restore: number }>> = {};
    for (const t of TOOLS) {
      ratios[t] = { full: ratio((q) => q.fullMs, t), incrAdded: ratio((q) => q.incrAddedMedian, t), incrMs: ratio((q) => q.incrMsMedian, t), repo: ratio((q) => q.repoBytes, t), restore: ratio((q) => q.restoreMs, t) };
    }
    const snapMsMedian = median(workload.map((w) => w.snapshotMs));
    const rssMax = Math.max(...[cairn?.backupRssMiB ?? 0, ...memory.map((m) => m.backupRssMiB ?? 0)]);
    const rssMin = Math.min(...[...(cairn?.backupRssMiB ? [cairn.backupRssMiB] : []), ...memory.map((m) => m.backupRssMiB ?? Infinity)]);
    const maxDayRatio = restic && cairn ? Math.max(...cairn.incrAddedPerDay.map((v, i) => v / restic.incrAddedPerDay[i])) : NaN;
    const sshCairn = ssh.rows.filter((r) => r.client === "ssh2 read (cat)");
    const sshBest = sshCairn.length ? Math.max(...sshCairn.map((r) => r.mbps)) : NaN;
    const targets = [
      { target: "full backup wall time <= restic's (ratio <= 1.0)", value: x(ratios.cairn?.full ?? NaN), met: (ratios.cairn?.full ?? Infinity) <= 1.0 },
      { target: "bytes stored per daily incremental <= 0.4x restic's (median day; worst day in brackets)", value: `${x(ratios.cairn?.incrAdded ?? NaN)} (${x(maxDayRatio)})`, met: (ratios.cairn?.incrAdded ?? Infinity) <= 0.4 },
      { target: "restore wall time <= restic's", value: x(ratios.cairn?.restore ?? NaN), met: (ratios.cairn?.restore ?? Infinity) <= 1.0 },
      {
        target: `peak RSS <= 300 MB, flat from 512 MiB to 2 GiB`,
        value: memory.length ? memory.map((m) => `${m.sizeMiB} MiB: ${m.backupRssMiB?.toFixed(0)} MiB`).join(", ") : `${cairn?.backupRssMiB?.toFixed(0) ?? "?"} MiB (no memory figure run)`,
        met: rssMax > 0 && (rssMax * MiB) / MB <= 300 && (memory.length < 2 || rssMax / rssMin < 1.25),
      },
      { target: "pull over SSH >= 200 MB/s on loopback", value: Number.isFinite(sshBest) ? `${sshBest} MB/s (best ssh2 cipher)` : "not measured", met: sshBest >= 200 },
    ];
    const versionInfo = versions();
    const load1 = loadavg();
    const json = {
      started: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadavgStart: load0, loadavgEnd: load1 },
      versions: versionInfo,
      params: { sizeMiB: SIZE_MIB, days: DAYS, layout: LAYOUT, repeat: REPEAT, tools: TOOLS, memorySizesMiB: MEMORY_SIZES, gnuTime: HAVE_TIME },
      notes: [
        "restic, borg and borg-sqlite back up a folder holding a `sqlite3 DB \".backup COPY\"` copy of the live database (made fresh each day, not timed as part of their backup) plus the config files; cairn points its `sqlite:` source at the live database and takes its own .backup (timed inside its backup); naive runs `sqlite3 .backup` + `zstd | age` on the live database (database only, a full copy each day).",
        "bytes added = apparent size of everything under the tool's repository folder after minus before (recursive lstat), the same measure for every tool; restic's and borg's caches are outside their repositories.",
        `peak RSS = ${HAVE_TIME ? "GNU time %M: the largest single process of the command's tree" : "bench/rss.mjs (cairn only)"}.`,
        "cairn fsyncs every restored file before it reports success; restic, borg and naive leave the restored data in the page cache, so their restore times do not include writing it to disk.",
        `the latest snapshot is restored ${RESTORES} times per tool in rotating order (median time, largest RSS); the first restore is checked: sha256 of the restored database vs the .backup copy (restic, borg), sqlite3 .sha3sum (cairn, naive: their own .backup), and sha256 of every config file.`,
      ],
      workload,
      tools: summaries,
      ratiosVsRestic: ratios,
      passes,
      memory,
      ssh,
      targets,
    };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, "latest.json"), JSON.stringify(json, null, 2) + "\n");

    // markdown
    const L: string[] = [];
    const t = (row: (string | number)[]) => L.push(`| ${row.join(" | ")} |`);
    L.push(`## cairn benchmark: ${mb(dbBytes)} MB trading-bot SQLite database (${LAYOUT} tables), ${DAYS} days of ~1% churn`);
    L.push("");
    L.push(`${started.toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} cores (${cpus()[0]?.model?.trim()}), load average ${load0[0].toFixed(1)} at start / ${load1[0].toFixed(1)} at end${load0[0] > cpus().length || load1[0] > cpus().length ? " (**busy machine**: other work shared these cores; ratios from the same run are the figure to trust)" : ""}; ${REPEAT > 1 ? `medians of ${REPEAT} passes` : "one pass"}; took ${Math.round(json.durationS / 60)} min. Reproduce: \`npm run bench${SIZE_MIB !== 512 || DAYS !== 7 || LAYOUT !== "interleaved" ? ` -- --size-mib ${SIZE_MIB} --days ${DAYS}${LAYOUT !== "interleaved" ? ` --layout ${LAYOUT}` : ""}` : ""}\`.`);
    L.push("");
    L.push(`Versions: ${Object.entries(versionInfo).map(([k, v]) => `${k} ${v.replace(new RegExp(`^${k}\\s*`, "i"), "")}`).join("; ")}.`);
    L.push("");
    t(["tool", "full s", "full MB/s", "full stored MB", "incr s (median)", "incr stored MB (median)", "incr stored MB (mean)", `repo MB after ${DAYS} days`, `restore s (median of ${RESTORES})`, "peak RSS MiB backup / restore", "restore verified"]);
    t(["---", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "---"]);
    for (const name of TOOLS) {
      const q = summaries[name];
      if (!q) continue;
      t([name, s(q.fullMs), q.fullMBps.toFixed(0), mb(q.fullAddedBytes), s(q.incrMsMedian), mb(q.incrAddedMedian), mb(q.incrAddedMean), mb(q.repoBytes), s(q.restoreMs), `${q.backupRssMiB?.toFixed(0) ?? "?"} / ${q.restoreRssMiB?.toFixed(0) ?? "?"}`, q.restoreOk ? "yes" : `**NO**: ${q.restoreDetail}`]);
    }
    if (restic) {
      L.push("");
      L.push("Ratios against restic from this run (lower is better):");
      L.push("");
      t(["tool", "full time", "incr time", "incr stored", "repo size", "restore time"]);
      t(["---", "--:", "--:", "--:", "--:", "--:"]);
      for (const name of TOOLS) {
        const r = ratios[name];
        if (r && summaries[name]) t([name, x(r.full), x(r.incrMs), x(r.incrAdded), x(r.repo), x(r.restore)]);
      }
    }
    L.push("");
    L.push(`restic and borg read a \`sqlite3 .backup\` copy made before them (median ${s(snapMsMedian)} s, not in their times); cairn and naive take their own .backup inside their times. naive stores the database only; the others also the ${passes[0].configFiles.length} config files. The day-0 database was generated in ${s(workload[0].genMs)} s${workload[0].genCpuMs ? ` (${s(workload[0].genCpuMs)} s CPU)` : ""}.`);
    L.push("");
    L.push("Per day: wall s / MB added to the repository. \"changed pages\" is the 4 KiB pages that differ from the day before (and zstd of just those pages: a floor for any tool).");
    L.push("");
    t(["day", "db MB", "rows added / orders updated", "changed pages MB (zstd)", ...TOOLS]);
    t(["--:", "--:", "--:", "--:", ...TOOLS.map(() => "--:")]);
    for (const w of workload) {
      const cells = TOOLS.map((n) => {
        const q = summaries[n];
        if (!q) return "";
        if (w.day === 0) return `${s(q.fullMs)} / ${mb(q.fullAddedBytes)}`;
        return `${s(q.incrMsPerDay[w.day - 1])} / ${mb(q.incrAddedPerDay[w.day - 1])}`;
      });
      t([w.day === 0 ? "0 (full)" : w.day, mb(w.dbBytes), w.day === 0 ? "–" : `${w.inserted} / ${w.updated}`, w.day === 0 ? "–" : `${mb(w.changedPageBytes ?? 0)} (${mb(w.changedPageZstdBytes ?? 0)})`, ...cells]);
    }
    if (memory.length) {
      L.push("");
      L.push("Memory: cairn backing up one database of each size (fresh repository), then restoring it:");
      L.push("");
      t(["database", "backup s", "backup MB/s", "backup peak RSS MiB", "restore s", "restore peak RSS MiB", "verified"]);
      t(["--:", "--:", "--:", "--:", "--:", "--:", "---"]);
      for (const m of memory) t([`${mb(m.dbBytes)} MB${m.from ? " (main pass)" : ""}`, s(m.backupMs), (m.dbBytes / MB / (m.backupMs / 1000)).toFixed(0), m.backupRssMiB?.toFixed(0) ?? "?", s(m.restoreMs), m.restoreRssMiB?.toFixed(0) ?? "?", m.ok ? "yes" : "**NO**"]);
    }
    L.push("");
    L.push(`Pull over SSH: ${ssh.note}.`);
    if (ssh.rows.length) {
      L.push("");
      t(["client", "cipher", "MB/s"]);
      t(["---", "---", "--:"]);
      for (const r of ssh.rows) t([r.client === "ssh2 read (cat)" ? "cairn transport (ssh2, cat)" : r.client, r.cipher, r.mbps]);
    }
    L.push("");
    L.push("Targets (cairn):");
    L.push("");
    t(["target", "this run", "met"]);
    t(["---", "---", "---"]);
    for (const g of targets) t([g.target, g.value, g.met ? "yes" : "**no**"]);
    const md = L.join("\n") + "\n";
    writeFileSync(join(OUT, "latest.md"), md);
    console.log(md);
    log(`wrote ${join(OUT, "latest.md")} and latest.json`);
    const broken = TOOLS.filter((n) => summaries[n] && !summaries[n]!.restoreOk);
    if (broken.length) {
      console.error(`bench: restore did not match the source for ${broken.join(", ")}`);
      process.exitCode = 3;
    }
    success = true;
  } finally {
    if (success && !KEEP && !flag("--dir")) rmSync(base, { recursive: true, force: true });
    else if (!success) log(`left ${base} for inspection`);
  }
}

await main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
