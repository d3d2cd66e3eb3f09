// PostgreSQL and MySQL/MariaDB back onto the server: the dump is loaded with
// psql / mysql into a database. A database that does not exist is created
// and loaded (and dropped again if loading fails, or if another source
// fails). An existing one is replaced only when asked (--replace): the dump
// is loaded into a temporary database first, so a dump that does not load
// changes nothing; at the swap (between the stop and start hooks, restore.ts)
// the current database is renamed to a dated name (kept) and the temporary
// one takes its place. Passwords reach the
// tools as the dumps' do: PGPASSWORD in the secret environment, the MySQL
// option line on stdin; never on a command line.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { SourceError, UsageError } from "../../errors.ts";
import type { Transport } from "../../transport/transport.ts";
import { conninfoValue, optionFileValue, type DbConnection } from "../sqldump.ts";
import { inDocker } from "../stream.ts";
import { run, stamp, type Hooks, type RestoredSource, type RestoreFile, type ServerRestore } from "./restore.ts";

export interface DatabaseOptions {
  /** The database to restore into (default: the one the source dumps). */
  database?: string;
  /** Replace it if it exists (its current data is kept under a dated name). */
  replace?: boolean;
}

/** What differs between PostgreSQL and MySQL: how to run SQL, load a dump, quote. */
interface Engine {
  readonly tool: string;
  /** Runs SQL in the maintenance database (or `db`); its output, tab-separated rows. */
  sql(t: Transport, sql: string, db?: string): Promise<string>;
  /** Loads the dump file into db, in one transaction where the engine can. */
  load(t: Transport, file: string, db: string): Promise<void>;
  ident(name: string): string;
  literal(s: string): string;
  exists(t: Transport, db: string): Promise<boolean>;
  /** Renames current -> dated and temp -> current, all or nothing. */
  swap(t: Transport, current: string, temp: string, dated: string): Promise<void>;
  /** Undoes swap(): the restored data goes to temp, dated back to current. */
  unswap(t: Transport, current: string, temp: string, dated: string): Promise<void>;
  /** Refuses a temporary database the swap cannot move whole. */
  checkMovable?(t: Transport, temp: string): Promise<void>;
  /** How to undo a swap by hand, for the failed-start-hook hint. */
  rollback(current: string, dated: string): string;
  readonly maxName: number;
}

abstract class DatabaseRestore implements ServerRestore {
  abstract readonly kind: string;
  readonly source: string;
  readonly file: RestoreFile;
  readonly hooks: Hooks;
  readonly database: string;
  readonly replace: boolean;
  protected abstract engine: Engine;
  constructor(source: string, file: RestoreFile, hooks: Hooks, defaultDatabase: string, options: DatabaseOptions) {
    this.source = source;
    this.file = file;
    this.hooks = hooks;
    this.database = options.database ?? defaultDatabase;
    this.replace = options.replace ?? false;
    if (/[\0\n\r]/.test(this.database) || this.database.length === 0) throw new UsageError(`--database: ${JSON.stringify(this.database)} is not a database name`);
  }

  private names(when: string) {
    const dated = `${this.database}_before_${when.toLowerCase().replace("t", "_").replace(/z$/, "")}`;
    const temp = `cairn_restore_${randomBytes(4).toString("hex")}`;
    if (dated.length > this.engine.maxName) {
      throw new UsageError(`the database name ${this.database} is too long to keep its current data under ${dated} (${this.engine.maxName} characters at most)`, "restore into a new database with --database NAME");
    }
    return { dated, temp };
  }

  async plan(t: Transport): Promise<RestoredSource> {
    const exists = await this.engine.exists(t, this.database);
    const where = `${this.database} on ${t.description}`;
    if (exists && !this.replace) {
      throw new UsageError(
        `source ${this.source}: the database ${where} exists; replacing its data needs --replace`,
        `pass --replace (its current data is kept under a dated name), or restore into a new database with --database NAME`,
      );
    }
    const { dated } = this.names(stamp());
    const h = this.hooks;
    const steps = exists
      ? [
          `load the dump (${this.file.size} bytes) into a temporary database cairn_restore_XXXXXXXX with ${this.engine.tool}`,
          h.stop ? `run the stop hook: ${h.stop}` : "no stop hook (cairn.yml restore: stop)",
          `rename ${this.database} to ${dated} (kept) and the temporary database to ${this.database}`,
          h.start ? `run the start hook: ${h.start}` : "no start hook (cairn.yml restore: start)",
        ]
      : [`create the database ${this.database}`, `load the dump (${this.file.size} bytes) into it with ${this.engine.tool}`];
    return { source: this.source, kind: this.kind, steps, written: [this.database], kept: exists ? [dated] : [] };
  }

  /** Set by prepare(): the database exists and is being replaced. */
  replaces = false;
  private temp?: string;
  private dated?: string;
  private state: "none" | "prepared" | "swapped" = "none";

  async prepare(t: Transport): Promise<RestoredSource> {
    const plan = await this.plan(t);
    const e = this.engine;
    const db = this.database;
    this.replaces = plan.kept.length > 0;
    if (!this.replaces) {
      // A new database: loaded in place; nothing in use is replaced.
      await e.sql(t, `CREATE DATABASE ${e.ident(db)}`);
      try {
        await e.load(t, this.file.local, db);
      } catch (err) {
        await e.sql(t, `DROP DATABASE ${e.ident(db)}`).catch(() => {});
        throw failed(this.source, err, `the database ${db} was not created`);
      }
      this.state = "prepared";
      return plan;
    }
    const { dated, temp } = this.names(stamp());
    await e.sql(t, `CREATE DATABASE ${e.ident(temp)}`);
    try {
      await e.load(t, this.file.local, temp);
      await e.checkMovable?.(t, temp);
    } catch (err) {
      await e.sql(t, `DROP DATABASE IF EXISTS ${e.ident(temp)}`).catch(() => {});
      throw err instanceof UsageError ? err : failed(this.source, err, `${db} was left as it was`);
    }
    Object.assign(this, { temp, dated, state: "prepared" });
    return { ...plan, kept: [dated], steps: plan.steps.map((x) => x.replace(/cairn_restore_X{8}/, temp).replace(/\S+_before_\d{8}_\d{6}/, dated)) };
  }

  async swap(t: Transport): Promise<{ written: string[]; kept: string[] }> {
    if (this.replaces) await this.engine.swap(t, this.database, this.temp!, this.dated!);
    this.state = "swapped";
    return { written: [this.database], kept: this.replaces ? [this.dated!] : [] };
  }

  async undo(t: Transport): Promise<void> {
    if (this.state !== "swapped") return;
    const e = this.engine;
    if (this.replaces) await e.unswap(t, this.database, this.temp!, this.dated!);
    else await e.sql(t, `DROP DATABASE ${e.ident(this.database)}`);
    this.state = "prepared";
  }

  async discard(t: Transport): Promise<void> {
    if (this.state !== "prepared") return;
    const e = this.engine;
    await e.sql(t, `DROP DATABASE IF EXISTS ${e.ident(this.replaces ? this.temp! : this.database)}`).catch(() => {});
    this.state = "none";
  }

  rollback(): string {
    return this.replaces ? this.engine.rollback(this.database, this.dated!) : `the database ${this.database} is new: drop it`;
  }
}

function failed(source: string, err: unknown, state: string): SourceError {
  return new SourceError(`source ${source}: ${(err as Error).message}; ${state}`, "nothing on the server was changed; fix the cause and run the restore again");
}

export class PostgresRestore extends DatabaseRestore {
  readonly kind = "postgres";
  protected engine: Engine;
  constructor(source: string, file: RestoreFile, hooks: Hooks, connection: DbConnection, container: string | undefined, options: DatabaseOptions) {
    super(source, file, hooks, connection.database, options);
    const conn = [
      ...(connection.host ? ["--host", connection.host] : []),
      ...(connection.port ? ["--port", String(connection.port)] : []),
      ...(connection.user ? ["--username", connection.user] : []),
      "--no-password",
      "--no-psqlrc",
      "--quiet",
      "--set=ON_ERROR_STOP=1",
    ];
    const secretEnv = connection.password ? { PGPASSWORD: connection.password } : undefined;
    const mask = connection.password ? [connection.password] : [];
    const psql = (db: string, extra: string[]) => inDocker(container, ["psql", ...conn, ...extra, `--dbname=dbname=${conninfoValue(db)}`], Object.keys(secretEnv ?? {}));
    const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const sql = (t: Transport, text: string, db = "postgres") => run(t, psql(db, ["--no-align", "--tuples-only", "--field-separator=\t"]), `psql (${text.split(" ").slice(0, 3).join(" ")} ...)`, { stdin: text, secretEnv, mask });
    this.engine = {
      tool: "psql",
      maxName: 63,
      ident,
      literal,
      sql,
      exists: async (t, db) => (await sql(t, `SELECT 1 FROM pg_database WHERE datname = ${literal(db)}`)).trim() === "1",
      load: async (t, file, db) => {
        const input = createReadStream(file, { highWaterMark: 1 << 20 });
        try {
          const cmd = t.exec(psql(db, ["--single-transaction", "--output=/dev/null"]), { stdin: Readable.from(restricted(input)), secretEnv });
          cmd.stdout.resume();
          const r = await cmd.done;
          if (/invalid command \\restrict/.test(r.stderr)) {
            throw new SourceError(
              `the psql on ${t.description} is too old to load a dump safely: it lacks \\restrict, which stops a dump from running commands on the server`,
              "update the PostgreSQL client there (13.22, 14.19, 15.14, 16.10, 17.6 or later)",
            );
          }
          if (r.code !== 0) throw new SourceError(`loading the dump into ${db} with psql failed (exit ${r.code ?? r.signal})${maskTail(r.stderr, mask)}`);
        } finally {
          input.destroy();
        }
      },
      // One transaction: both renames or neither. (Fails while anyone is connected to the current database.)
      swap: async (t, current, temp, dated) => {
        await sql(t, `BEGIN; ALTER DATABASE ${ident(current)} RENAME TO ${ident(dated)}; ALTER DATABASE ${ident(temp)} RENAME TO ${ident(current)}; COMMIT;`);
      },
      unswap: async (t, current, temp, dated) => {
        await sql(t, `BEGIN; ALTER DATABASE ${ident(current)} RENAME TO ${ident(temp)}; ALTER DATABASE ${ident(dated)} RENAME TO ${ident(current)}; COMMIT;`);
      },
      rollback: (current, dated) =>
        `in psql: ALTER DATABASE ${ident(current)} RENAME TO ${ident(`${current}_restored`)}; ALTER DATABASE ${ident(dated)} RENAME TO ${ident(current)};`,
    };
  }
}

export class MysqlRestore extends DatabaseRestore {
  readonly kind = "mysql";
  protected engine: Engine;
  constructor(source: string, file: RestoreFile, hooks: Hooks, connection: DbConnection, container: string | undefined, options: DatabaseOptions) {
    super(source, file, hooks, connection.database, options);
    const c = connection;
    if (c.password && /[\n\r]/.test(c.password)) throw new SourceError(`source ${source}: the MySQL password contains a line break`);
    const conn = [...(c.host ? [`--host=${c.host}`] : []), ...(c.port ? [`--port=${c.port}`] : []), ...(c.user ? [`--user=${c.user}`] : []), "--batch", "--skip-column-names"];
    // The option line arrives first on stdin; a here-document hands it to
    // mysql as a file (fd 3), and the rest of stdin (SQL, a dump) follows.
    const argv = (extra: string[]) =>
      inDocker(container, c.password ? ["sh", "-c", MYSQL_WITH_PASSWORD, "cairn-mysql", ...conn, ...extra] : ["mysql", ...conn, ...extra]);
    const head = c.password ? `password=${optionFileValue(c.password)}\n` : "";
    const mask = c.password ? [c.password] : [];
    const ident = (s: string) => `\`${s.replace(/`/g, "``")}\``;
    const literal = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
    const sql = (t: Transport, text: string, db?: string) => run(t, argv(db ? [`--database=${db}`] : []), `mysql (${text.split(" ").slice(0, 3).join(" ")} ...)`, { stdin: head + text, mask });
    const tables = async (t: Transport, db: string) =>
      (await sql(t, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${literal(db)} AND TABLE_TYPE = 'BASE TABLE'`)).split("\n").filter((l) => l !== "");
    this.engine = {
      tool: "mysql",
      maxName: 64,
      ident,
      literal,
      sql,
      exists: async (t, db) => Number((await sql(t, `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(db)}`)).trim()) > 0,
      load: async (t, file, db) => {
        const input = createReadStream(file, { highWaterMark: 1 << 20 });
        try {
          // --binary-mode: the client runs none of its own commands (\\! runs a shell) found in a dump.
          const cmd = t.exec(argv(["--binary-mode", `--database=${db}`]), { stdin: head ? concatStreams(head, input) : input });
          cmd.stdout.resume();
          const r = await cmd.done;
          if (r.code !== 0) throw new SourceError(`loading the dump into ${db} with mysql failed (exit ${r.code ?? r.signal})${maskTail(r.stderr, mask)}`);
        } finally {
          input.destroy();
        }
      },
      // RENAME TABLE moves tables between databases atomically: all of them or none.
      checkMovable: async (t, temp) => {
        const n = Number(
          (
            await sql(
              t,
              `SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${literal(temp)}) + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${literal(temp)}) + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${literal(temp)}) + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${literal(temp)})`,
            )
          ).trim(),
        );
        if (n > 0) {
          throw new UsageError(
            `the dump has views, routines, triggers or events, which --replace cannot move into ${this.database} (it moves tables with RENAME TABLE)`,
            "restore into a new database with --database NAME, then point the application at it",
          );
        }
      },
      swap: async (t, current, temp, dated) => {
        const moves = [...(await tables(t, current)).map((n) => `${ident(current)}.${ident(n)} TO ${ident(dated)}.${ident(n)}`), ...(await tables(t, temp)).map((n) => `${ident(temp)}.${ident(n)} TO ${ident(current)}.${ident(n)}`)];
        await sql(t, `CREATE DATABASE ${ident(dated)}`);
        try {
          if (moves.length > 0) await sql(t, `RENAME TABLE ${moves.join(", ")}`);
        } catch (err) {
          await sql(t, `DROP DATABASE ${ident(dated)}`).catch(() => {});
          throw err;
        }
        await sql(t, `DROP DATABASE ${ident(temp)}`).catch(() => {});
      },
      unswap: async (t, current, temp, dated) => {
        const moves = [...(await tables(t, current)).map((n) => `${ident(current)}.${ident(n)} TO ${ident(temp)}.${ident(n)}`), ...(await tables(t, dated)).map((n) => `${ident(dated)}.${ident(n)} TO ${ident(current)}.${ident(n)}`)];
        await sql(t, `CREATE DATABASE IF NOT EXISTS ${ident(temp)}`);
        if (moves.length > 0) await sql(t, `RENAME TABLE ${moves.join(", ")}`);
        await sql(t, `DROP DATABASE ${ident(dated)}`).catch(() => {});
      },
      rollback: (current, dated) => `move the tables back with RENAME TABLE ${ident(dated)}.<table> TO ${ident(current)}.<table> (after moving the restored ones away)`,
    };
  }
}

const MYSQL_WITH_PASSWORD = `IFS= read -r p
exec mysql --defaults-extra-file=/dev/fd/3 "$@" 3<<END_OF_OPTIONS
[client]
$p
END_OF_OPTIONS`;

function maskTail(stderr: string, mask: string[]): string {
  let s = stderr.trim();
  for (const m of mask) if (m) s = s.split(m).join("***");
  return s ? `: ${s.split("\n").slice(-8).join("\n")}` : "";
}

/** `head` then the stream's bytes, as one stream. */
function concatStreams(head: string, rest: NodeJS.ReadableStream) {
  return Readable.from(
    (async function* () {
      yield Buffer.from(head);
      for await (const c of rest) yield c as Buffer;
    })(),
  );
}

/**
 * The dump, behind psql's `\restrict KEY` with a key the dump cannot know:
 * psql then refuses every backslash command in it (`\! cmd` would run a shell
 * command on the server), so a forged snapshot cannot run anything there.
 * pg_dump's own `\restrict` / `\unrestrict` lines (recent versions write
 * them) are left out, since psql refuses a second `\restrict`.
 */
export async function* restricted(dump: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  yield Buffer.from(`\\restrict ${randomBytes(24).toString("hex")}\n`);
  let theirs: string | undefined;
  let carry: Buffer = Buffer.alloc(0);
  let offset = 0;
  const lines = function* (b: Buffer): Generator<Buffer> {
    // latin1 maps bytes one to one, so string offsets are buffer offsets.
    const text = b.toString("latin1");
    const re = /^\\(un)?restrict ([A-Za-z0-9]+)\r?\n/gm;
    let at = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      // pg_dump writes \restrict right after its header; later, such a line is COPY data (\r is an escaped CR).
      const drop = m[1] ? m[2] === theirs : theirs === undefined && offset + m.index < 65536;
      if (!drop) continue;
      if (!m[1]) theirs = m[2];
      if (m.index > at) yield b.subarray(at, m.index);
      at = m.index + m[0].length;
    }
    if (at < b.length) yield b.subarray(at);
    offset += b.length;
  };
  for await (const chunk of dump) {
    const b = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const last = b.lastIndexOf(10);
    if (last < 0) {
      carry = b;
      continue;
    }
    yield* lines(b.subarray(0, last + 1));
    carry = b.subarray(last + 1);
  }
  if (carry.length > 0) yield* lines(Buffer.concat([carry, Buffer.from("\n")]));
}
