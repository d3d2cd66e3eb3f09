// Test helpers for fault and lock tests: a temp repository made through the
// CLI (keygen + init), the CLI run as a child process, a generated SQLite
// database, and a byte-for-byte picture of a folder.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const CLI_PATH = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment for a child CLI: no CAIRN_* from the caller, no progress bars. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "1" };
  for (const k of Object.keys(env)) if (k.startsWith("CAIRN_")) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Run `cairn ARGS` as a child process; resolves when it exits (never rejects on a non-zero exit). */
export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: cliEnv(opts.env), cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Start `cairn ARGS` and SIGKILL it after delayMs (unless it ended first). */
export function runCliKilledAfter(args: string[], delayMs: number, opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliResult & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: cliEnv(opts.env), cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      killed = child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
    }, delayMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed: killed && signal === "SIGKILL" });
    });
  });
}

export interface TempRepo {
  /** The temp folder holding everything (identity, repository, sources). */
  dir: string;
  repoPath: string;
  repoUrl: string;
  identityFile: string;
  recipient: string;
  /** "CAIRN-WRITE-KEY-1..." */
  writeKey: string;
  cleanup(): Promise<void>;
}

/** A fresh repository made with `cairn keygen -o` and `cairn init`, in a new temp folder. */
export async function makeRepo(opts: { packSize?: string } = {}): Promise<TempRepo> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-test-"));
  const identityFile = join(dir, "identity.txt");
  const kg = await runCli(["keygen", "-o", identityFile]);
  if (kg.code !== 0) throw new Error(`keygen failed: ${kg.stderr}`);
  const recipient = /# public key: (age1\S+)/.exec(await readFile(identityFile, "utf8"))![1];
  const repoPath = join(dir, "repo");
  const repoUrl = `local:${repoPath}`;
  const init = await runCli(["init", "-r", repoUrl, "--recipient", recipient, ...(opts.packSize ? ["--pack-size", opts.packSize] : [])]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const writeKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
  return { dir, repoPath, repoUrl, identityFile, recipient, writeKey, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function tempDir(prefix = "cairn-test-"): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const execFileP = promisify(execFile);

/** Run SQL on a database with the sqlite3 CLI (waits for a lock rather than failing). */
export async function sqlite(db: string, sql: string): Promise<string> {
  const { stdout } = await execFileP("sqlite3", ["-bail", "-cmd", ".timeout 10000", db, sql], { maxBuffer: 1 << 26 });
  return stdout;
}

/** A database of `rows` rows of `rowBytes` random bytes (about rows * rowBytes bytes on disk). */
export async function makeSqlite(db: string, rows: number, rowBytes = 1000): Promise<void> {
  await sqlite(
    db,
    `PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);` +
      `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<${rows}) INSERT INTO t SELECT i, randomblob(${rowBytes}) FROM c;`,
  );
}

/** SHA3 of the database's content (not its file bytes: a .backup copy has its own header counters). */
export async function sqliteContentHash(db: string): Promise<string> {
  return (await sqlite(db, ".sha3sum")).trim();
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Every regular file under dir (recursive) -> sha256 of its bytes; symlinks as "-> target". */
export async function treeHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(d: string, rel: string): Promise<void> {
    let names;
    try {
      names = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of names) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else if (e.isSymbolicLink()) out.set(r, "symlink");
      else out.set(r, sha256(await readFile(p)));
    }
  }
  await walk(dir, "");
  return out;
}

/** Write a cairn.yml in dir; returns its path. */
export async function writeConfig(dir: string, repoUrl: string, sources: string, file = "cairn.yml"): Promise<string> {
  const path = join(dir, file);
  await writeFile(path, `repository: ${repoUrl}\nsources:\n${sources}`);
  return path;
}

/** Flip one byte of a file in place (XOR 0x01 by default). */
export async function flipByte(path: string, at: number | ((size: number) => number), mask = 0x01): Promise<void> {
  const data = await readFile(path);
  const i = typeof at === "number" ? at : at(data.length);
  data[i] ^= mask;
  await writeFile(path, data);
}
