// Helpers for source tests: read a source's whole dump into memory, wrap a
// transport so its commands see a different PATH/TMPDIR (a "server" without
// sqlite3), and talk to the local PostgreSQL and MariaDB.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../src/log.ts";
import type { Source } from "../../src/sources/source.ts";
import type { Transport } from "../../src/transport/transport.ts";

export const quietLog = (): Logger & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`) };
};

export async function collect(source: Source, transport: Transport, log: Logger = quietLog()) {
  const dump = source.dump(transport, log);
  const files = new Map<string, Buffer>();
  for await (const e of dump.entries) {
    const parts: Buffer[] = [];
    for await (const c of e.open()) parts.push(c);
    files.set(e.path, Buffer.concat(parts));
  }
  return { files, info: dump.info() };
}

/** A transport whose commands run under `env VAR=... argv` (only for tests). */
export function withEnv(t: Transport, env: Record<string, string>): Transport {
  const prefix = ["env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return {
    description: t.description,
    host: t.host,
    exec: (argv, o) => t.exec([...prefix, ...argv], o),
    glob: (p) => t.glob(p),
    walk: (d) => t.walk(d),
    stat: (p) => t.stat(p),
    read: (p, o) => t.read(p, o),
    close: () => t.close(),
  };
}

/** A bin dir with the basic tools and, optionally, python3 — but no sqlite3. */
export function binWithout(dir: string, withPython: boolean): string {
  const bin = join(dir, withPython ? "bin-py" : "bin-none");
  mkdirSync(bin, { recursive: true });
  const tools = ["sh", "cat", "mktemp", "rm", "head", "cut", "sed", "printf", "env"];
  for (const t of tools) symlinkSync(execFileSync("sh", ["-c", `command -v ${t}`]).toString().trim() || `/usr/bin/${t}`, join(bin, t));
  if (withPython) symlinkSync("/usr/bin/python3", join(bin, "python3"));
  return bin;
}

export function psql(sql: string, db = "postgres"): string {
  const r = spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

export function psqlFile(text: string, db: string): void {
  const r = spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-q"], { input: text, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
}

export function maria(sql: string, db?: string, input?: string): string {
  const r = spawnSync("mariadb", ["-h", "127.0.0.1", "-u", "root", "-N", "-B", ...(db ? [db] : []), ...(sql ? ["-e", sql] : [])], { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
  return r.stdout.trim();
}

export function pgUp(): boolean {
  return spawnSync("pg_isready", ["-h", "127.0.0.1", "-q"]).status === 0;
}
export function mariaUp(): boolean {
  return spawnSync("mariadb", ["-h", "127.0.0.1", "-u", "root", "-e", "select 1"]).status === 0;
}

export const uniq = () => `cairn_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

/**
 * A throwaway PostgreSQL cluster with password (scram) authentication, for
 * wrong-password tests (the machine's own server trusts loopback). Runs as
 * the postgres user, since initdb refuses root.
 */
export async function scratchPostgres(dir: string, password: string): Promise<{ port: number; stop(): void }> {
  const { readdirSync, chownSync, writeFileSync: write } = await import("node:fs");
  const { freePort } = await import("./sshd.ts");
  const versions = readdirSync("/usr/lib/postgresql").sort();
  const bin = join("/usr/lib/postgresql", versions.at(-1)!, "bin");
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
  mkdirSync(dir, { recursive: true });
  chownSync(dir, uid, gid);
  write(join(dir, "pw"), password);
  chownSync(join(dir, "pw"), uid, gid);
  const data = join(dir, "data");
  const as = (args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", ...args], { stdio: "pipe" });
  as([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${join(dir, "pw")}`]);
  const port = await freePort();
  as([join(bin, "pg_ctl"), "-D", data, "-w", "-l", join(dir, "log"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "start"]);
  return {
    port,
    stop: () => {
      as([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
