// A repository made through the CLI (keygen + init), generated SQLite
// databases, cairn.yml files, and byte-for-byte pictures of folders: the one
// place tests make repositories and hash files.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { cairn } from "./cli.ts";

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

export interface NewRepo {
  repoPath: string;
  repoUrl: string;
  identityFile: string;
  recipient: string;
  /** "CAIRN-WRITE-KEY-1..." */
  writeKey: string;
}

/** An identity (dir/identity.txt) and a repository (dir/repo) made with `cairn keygen -o` and `cairn init`. */
export function initRepo(dir: string, opts: { packSize?: string } = {}): NewRepo {
  const identityFile = join(dir, "identity.txt");
  const kg = cairn(["keygen", "-o", identityFile]);
  if (kg.code !== 0) throw new Error(`keygen failed: ${kg.stderr}`);
  const recipient = /# public key: (age1\S+)/.exec(readFileSync(identityFile, "utf8"))![1];
  const repoPath = join(dir, "repo");
  const repoUrl = `local:${repoPath}`;
  const init = cairn(["init", "-r", repoUrl, "-i", identityFile, ...(opts.packSize ? ["--pack-size", opts.packSize] : [])]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const writeKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
  return { repoPath, repoUrl, identityFile, recipient, writeKey };
}

/** A fresh repository in a new temp folder. */
export async function makeRepo(opts: { packSize?: string } = {}): Promise<TempRepo> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-test-"));
  return { dir, ...initRepo(dir, opts), cleanup: () => rm(dir, { recursive: true, force: true }) };
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

/** Hex SHA-256, as repository file names are. */
export function sha256(data: Uint8Array | string): string {
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
