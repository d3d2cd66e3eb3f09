// SQLite: an online-consistent copy made on the source machine with the
// sqlite3 CLI's `.backup` (the backup API), streamed, and the temp copy
// removed even when the stream is cut. A live database file is never copied.
import { SourceError } from "../errors.ts";
import type { Transport } from "../transport/transport.ts";
import { streamCommand } from "./command.ts";
import type { Logger, Source, SourceDump, SourceEntry } from "./source.ts";

// $1 is the database path: passed as an argument, never pasted into the script.
const SCRIPT = `
set -u
db=$1
[ -f "$db" ] || { echo "cairn: no database file at $db" >&2; exit 66; }
command -v sqlite3 >/dev/null 2>&1 || { echo "cairn: sqlite3 is not installed on this machine" >&2; exit 127; }
t=$(mktemp "\${TMPDIR:-/tmp}/cairn-sqlite.XXXXXX") || exit 1
trap 'rm -f "$t"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
sqlite3 -bail "$db" ".backup '$t'" || exit 1
cat "$t"
`;

export class SqliteSource implements Source {
  readonly kind = "sqlite";
  readonly name: string;
  readonly path: string;
  constructor(name: string, path: string) {
    this.name = name;
    this.path = path;
  }

  dump(transport: Transport, _log: Logger): SourceDump {
    let bytes = 0;
    const { name, path } = this;
    const entry: SourceEntry = {
      path: `${name}.sqlite`,
      mode: 0o600,
      mtimeMs: Date.now(),
      uid: 0,
      gid: 0,
      async *open() {
        bytes = 0;
        for await (const chunk of streamCommand(transport, ["sh", "-c", SCRIPT, "cairn-sqlite", path], `sqlite3 .backup of ${path}`)) {
          bytes += chunk.length;
          yield chunk;
        }
        if (bytes === 0) throw new SourceError(`sqlite3 .backup of ${path} produced no data`);
      },
    };
    return {
      entries: (async function* () {
        yield entry;
      })(),
      info: () => ({ engine: "sqlite", file: path, bytes }),
    };
  }
}
