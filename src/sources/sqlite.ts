// SQLite: an online-consistent copy made on the source machine, streamed, and
// the temp copy removed on every path (exit, error, TERM, a dropped
// connection: the script's EXIT trap runs once its `cat` hits the closed
// pipe). The copy is SQLite's backup API run inside one read transaction, so
// it is one consistent snapshot that never restarts; in WAL mode writers are
// not blocked at all, in rollback-journal mode a writer waits while the local
// copy is made (measured in test/sources/consistency.test.ts; use WAL). The tool is
// the sqlite3 CLI, else python3's sqlite3 module; a live file is never copied.
import { SourceError } from "../errors.ts";
import type { Transport } from "../transport/transport.ts";
import { inDocker, infoLines, streamCommand } from "./stream.ts";
import type { Logger } from "../log.ts";
import { dumpEntry, type Source, type SourceDump } from "./source.ts";

// $1 is the database path, $2 the python fallback: arguments, never pasted
// into the script. (String.raw, so no "${" anywhere in it.)
export const SQLITE_SCRIPT = String.raw`
db=$1
case $db in -*) db=./$db ;; esac
[ -f "$db" ] || { echo "cairn: no database file at $1" >&2; exit 66; }
[ -r "$db" ] || { echo "cairn: cannot read $1 (permission denied)" >&2; exit 77; }
if command -v sqlite3 >/dev/null 2>&1; then tool=sqlite3
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import sqlite3' 2>/dev/null; then tool=python3
else
  echo "cairn: this machine has neither the sqlite3 command nor python3 with its sqlite3 module (PATH=$PATH), so no consistent copy of $1 can be made; install sqlite3 there (Debian/Ubuntu: apt-get install sqlite3). cairn never copies a live database file." >&2
  exit 127
fi
tmp=$TMPDIR; [ -n "$tmp" ] || tmp=/tmp
d=$(mktemp -d "$tmp/cairn-sqlite.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
t=$d/copy.db
tab=$(printf '\t')
if [ $tool = sqlite3 ]; then
  printf 'cairn-info\ttool\tsqlite3\ncairn-info\tversion\t%s\n' "$(sqlite3 -version | cut -d' ' -f1)" >&2
  printf '%s\n' '.timeout 30000' 'PRAGMA journal_mode;' 'BEGIN;' 'SELECT count(*) FROM sqlite_master;' ".backup '$t'" 'COMMIT;' |
    sqlite3 -bail -batch "$db" > "$d/out" || exit 1
  printf 'cairn-info\tjournal_mode\t%s\n' "$(head -n 1 "$d/out")" >&2
  sqlite3 -batch "$t" "SELECT 'SELECT ' || quote(name) || ', count(*) FROM \"' || replace(name, '\"', '\"\"') || '\";' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\';" |
    sqlite3 -batch -separator "$tab" "$t" | sed 's/^/cairn-info\ttable\t/' >&2
else
  python3 -c "$2" "$db" "$t" || exit 1
fi
cat "$t"
`;

// The fallback: the same transaction + backup API through python3's module.
export const SQLITE_PYTHON = String.raw`
import sqlite3, sys
db, out = sys.argv[1], sys.argv[2]
info = lambda *f: print("cairn-info\t" + "\t".join(str(x) for x in f), file=sys.stderr)
info("tool", "python3-sqlite3")
info("version", sqlite3.sqlite_version)
src = sqlite3.connect(db, timeout=30, isolation_level=None)
info("journal_mode", src.execute("PRAGMA journal_mode").fetchone()[0])
src.execute("BEGIN")
src.execute("SELECT count(*) FROM sqlite_master").fetchone()
dst = sqlite3.connect(out)
src.backup(dst)
src.execute("COMMIT")
src.close()
for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall():
    info("table", name, dst.execute('SELECT count(*) FROM "%s"' % name.replace('"', '""')).fetchone()[0])
dst.close()
`;

export class SqliteSource implements Source {
  readonly kind = "sqlite";
  readonly name: string;
  readonly path: string;
  readonly container: string | undefined;
  constructor(name: string, path: string, container?: string) {
    this.name = name;
    this.path = path;
    this.container = container;
  }

  argv(): string[] {
    return inDocker(this.container, ["sh", "-c", SQLITE_SCRIPT, "cairn-sqlite", this.path, SQLITE_PYTHON]);
  }

  dump(transport: Transport, log: Logger): SourceDump {
    let bytes = 0;
    let info: Record<string, unknown> = { engine: "sqlite", file: this.path };
    const { name, path, container } = this;
    const argv = this.argv();
    const what = `the SQLite backup of ${path}${container ? ` in container ${container}` : ""}`;
    const entry = dumpEntry(`${name}.sqlite`, async function* () {
        bytes = 0;
        const onResult = (r: { stderr: string }) => {
          const tables: Record<string, number> = {};
          const fields: Record<string, string> = {};
          for (const [k, a, b] of infoLines(r.stderr)) {
            if (k === "table") tables[a] = Number(b);
            else fields[k] = a;
          }
          info = { engine: "sqlite", file: path, tool: fields.tool, version: fields.version, journalMode: fields.journal_mode, tables };
          if (fields.tool && fields.tool !== "sqlite3") log.info(`source ${name}: no sqlite3 command on ${transport.description}; used ${fields.tool}`);
          if (fields.journal_mode && fields.journal_mode !== "wal") {
            log.warn(`source ${name}: ${path} is in ${fields.journal_mode} journal mode, so writers wait while it is copied; WAL mode (PRAGMA journal_mode=WAL) avoids that`);
          }
        };
        for await (const chunk of streamCommand(transport, argv, what, {}, [], onResult)) {
          bytes += chunk.length;
          yield chunk;
        }
        if (bytes === 0) throw new SourceError(`${what} produced no data`);
    });
    return {
      entries: (async function* () {
        yield entry;
      })(),
      info: () => ({ ...info, bytes }),
    };
  }
}
