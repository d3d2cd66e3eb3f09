// PostgreSQL (pg_dump) and MySQL/MariaDB (mysqldump) as sources: one plain
// SQL entry per database, uncompressed so chunking deduplicates it. Both are
// consistent while the database is in use (pg_dump's snapshot; mysqldump
// --single-transaction for InnoDB). Passwords never reach a command line:
// PGPASSWORD travels in the secret environment, the MySQL password in an
// option file fed on stdin. What was dumped (server version, tables, row
// counts for PostgreSQL) is read off the dump as it streams past.
import { SourceError } from "../errors.ts";
import type { Transport } from "../transport/transport.ts";
import { inDocker, streamCommand } from "./stream.ts";
import type { Logger } from "../log.ts";
import { dumpEntry, type Source, type SourceDump, type SourceEntry } from "./source.ts";

export interface DbConnection {
  database: string;
  user?: string;
  host?: string;
  port?: number;
  /** The password itself (resolved from the config's password-env by createSources). */
  password?: string;
}

/**
 * Calls onLine with the first bytes of every line of a stream split into
 * chunks, without building a string per line unless `want` says so (a dump
 * of millions of rows stays cheap to scan).
 */
export class LineScanner {
  private carry: Buffer | undefined;
  private readonly want: (firstByte: number) => boolean;
  private readonly onLine: (head: string) => void;
  constructor(want: (firstByte: number) => boolean, onLine: (head: string) => void) {
    this.want = want;
    this.onLine = onLine;
  }
  push(chunk: Buffer): void {
    let start = 0;
    if (this.carry) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        if (this.carry.length < 512) this.carry = Buffer.concat([this.carry, chunk.subarray(0, 512)]);
        return;
      }
      const line = Buffer.concat([this.carry, chunk.subarray(0, Math.min(nl, 512))]);
      this.carry = undefined;
      if (line.length > 0 && this.want(line[0])) this.onLine(line.subarray(0, 512).toString("utf8"));
      start = nl + 1;
    }
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        this.carry = Buffer.from(chunk.subarray(start, Math.min(chunk.length, start + 512)));
        return;
      }
      if (nl > start && this.want(chunk[start])) this.onLine(chunk.subarray(start, Math.min(nl, start + 512)).toString("utf8"));
      start = nl + 1;
    }
  }
}

abstract class SqlDumpSource implements Source {
  abstract readonly kind: string;
  readonly name: string;
  readonly connection: DbConnection;
  readonly container: string | undefined;
  constructor(name: string, connection: DbConnection, container?: string) {
    this.name = name;
    this.connection = connection;
    this.container = container;
  }

  protected abstract engine: string;
  /** argv, stdin and secret environment of the dump command. */
  abstract command(): { argv: string[]; stdin?: string; secretEnv?: Record<string, string> };
  protected abstract scanner(info: Record<string, unknown>): LineScanner;
  protected extraEntries(_transport: Transport): SourceEntry[] {
    return [];
  }

  dump(transport: Transport, _log: Logger): SourceDump {
    let info: Record<string, unknown> = {};
    let bytes = 0;
    const self = this;
    const { argv, stdin, secretEnv } = this.command();
    const where = `${this.connection.database}${this.container ? ` in container ${this.container}` : ""}`;
    const what = `${this.kind === "postgres" ? "pg_dump" : "mysqldump"} of ${where}`;
    const mask = this.connection.password ? [this.connection.password] : [];
    const entry = dumpEntry(`${this.name}.sql`, async function* () {
        bytes = 0;
        info = { engine: self.engine, database: self.connection.database };
        const scan = self.scanner(info);
        for await (const chunk of streamCommand(transport, argv, what, { stdin, secretEnv }, mask)) {
          bytes += chunk.length;
          scan.push(chunk);
          yield chunk;
        }
        if (bytes === 0) throw new SourceError(`${what} produced no output`);
        self.check(info, what);
    });
    return {
      entries: (async function* () {
        yield entry;
        yield* self.extraEntries(transport);
      })(),
      info: () => ({ ...info, bytes }),
    };
  }

  /** A dump that ends without the tool's completion line was cut off. */
  protected abstract check(info: Record<string, unknown>, what: string): void;
}

/** A libpq conninfo value: single-quoted, so a name containing '=' or spaces stays a name. */
export function conninfoValue(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export class PostgresSource extends SqlDumpSource {
  readonly kind = "postgres";
  protected engine = "postgresql";
  readonly globals: boolean;
  constructor(name: string, connection: DbConnection & { globals?: boolean }, container?: string) {
    super(name, connection, container);
    this.globals = connection.globals ?? false;
  }

  private connArgs(): string[] {
    const c = this.connection;
    return [...(c.host ? ["--host", c.host] : []), ...(c.port ? ["--port", String(c.port)] : []), ...(c.user ? ["--username", c.user] : []), "--no-password"];
  }
  private secret(): Record<string, string> | undefined {
    return this.connection.password ? { PGPASSWORD: this.connection.password } : undefined;
  }

  command() {
    const secretEnv = this.secret();
    const argv = ["pg_dump", "--format=plain", ...this.connArgs(), `--dbname=dbname=${conninfoValue(this.connection.database)}`];
    return { argv: inDocker(this.container, argv, Object.keys(secretEnv ?? {})), secretEnv };
  }

  globalsCommand() {
    const secretEnv = this.secret();
    const argv = ["pg_dumpall", "--globals-only", ...this.connArgs(), `--dbname=dbname=${conninfoValue(this.connection.database)}`];
    return { argv: inDocker(this.container, argv, Object.keys(secretEnv ?? {})), secretEnv };
  }

  protected override extraEntries(transport: Transport): SourceEntry[] {
    if (!this.globals) return [];
    const { argv, secretEnv } = this.globalsCommand();
    const mask = this.connection.password ? [this.connection.password] : [];
    return [
      dumpEntry(`${this.name}.globals.sql`, async function* () {
        yield* streamCommand(transport, argv, `pg_dumpall --globals-only (roles, tablespaces)`, { secretEnv }, mask);
      }),
    ];
  }

  protected scanner(info: Record<string, unknown>): LineScanner {
    const tables: Record<string, number> = {};
    info.tables = tables;
    let copying: string | undefined;
    // In COPY text format every row is one line (newlines are escaped), and "\." ends it.
    return new LineScanner(
      (b) => copying !== undefined || b === 45 /* - */ || b === 67 /* C */,
      (head) => {
        if (copying !== undefined) {
          if (head === "\\.") copying = undefined;
          else tables[copying]++;
          return;
        }
        let m: RegExpExecArray | null;
        if ((m = /^COPY (.+?) (?:\(.*\) )?FROM stdin;$/.exec(head))) {
          copying = m[1];
          tables[copying] = 0;
        } else if ((m = /^-- Dumped from database version (.+)$/.exec(head))) info.version = m[1];
        else if ((m = /^-- Dumped by pg_dump version (.+)$/.exec(head))) info.tool = `pg_dump ${m[1]}`;
        else if (head === "-- PostgreSQL database dump complete") info.complete = true;
      },
    );
  }

  protected check(info: Record<string, unknown>, what: string): void {
    if (!info.complete) throw new SourceError(`${what} ended without pg_dump's "dump complete" line: the dump is cut off`);
    delete info.complete;
  }
}

/** A MySQL option file value: double-quoted with backslash escapes. */
export function optionFileValue(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

const MYSQL_WITH_PASSWORD = `IFS= read -r p; printf '[client]\\n%s\\n' "$p" | exec mysqldump --defaults-extra-file=/dev/stdin "$@"`;

export class MysqlSource extends SqlDumpSource {
  readonly kind = "mysql";
  protected engine = "mysql";

  command() {
    const c = this.connection;
    if (c.password && /[\n\r]/.test(c.password)) throw new SourceError(`source ${this.name}: the MySQL password contains a line break`);
    const argv = [
      "--single-transaction",
      "--routines",
      "--triggers",
      "--events",
      "--quick",
      "--hex-blob",
      "--no-tablespaces",
      ...(c.host ? [`--host=${c.host}`] : []),
      ...(c.port ? [`--port=${c.port}`] : []),
      ...(c.user ? [`--user=${c.user}`] : []),
      "--",
      c.database,
    ];
    if (!c.password) return { argv: inDocker(this.container, ["mysqldump", ...argv]) };
    // The option file line arrives on stdin and is piped into mysqldump by
    // builtins (read, printf), so the password is on no command line. A pipe,
    // because /dev/stdin cannot be opened when stdin is a socket.
    return {
      argv: inDocker(this.container, ["sh", "-c", MYSQL_WITH_PASSWORD, "cairn-mysqldump", ...argv]),
      stdin: `password=${optionFileValue(c.password)}\n`,
    };
  }

  protected scanner(info: Record<string, unknown>): LineScanner {
    const tables: string[] = [];
    info.tables = tables;
    return new LineScanner(
      (b) => b === 45 /* - */ || b === 67 /* C */,
      (head) => {
        let m: RegExpExecArray | null;
        if ((m = /^CREATE TABLE `((?:[^`]|``)+)`/.exec(head))) tables.push(m[1].replace(/``/g, "`"));
        else if ((m = /^-- Server version\s+(.+)$/.exec(head))) {
          info.version = m[1].trim();
          if (/mariadb/i.test(info.version as string)) info.engine = "mariadb";
        } else if ((m = /^-- (?:MySQL|MariaDB) dump (.+)$/.exec(head))) info.tool = `mysqldump ${m[1].trim()}`;
        else if (/^-- Dump completed/.test(head)) info.complete = true;
      },
    );
  }

  protected check(info: Record<string, unknown>, what: string): void {
    if (!info.complete) throw new SourceError(`${what} ended without mysqldump's "Dump completed" line: the dump is cut off`);
    delete info.complete;
  }
}
