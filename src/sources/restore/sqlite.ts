// SQLite back onto the server: the restored copy is uploaded beside the
// database, checked there with `PRAGMA integrity_check` (sqlite3, else
// python3's module) before anything is stopped, then renamed over it
// (restore.ts).
// The old file's -wal and -shm go with its dated copy, so a stale write-ahead
// log is never applied to the restored file.
import { SourceError, UsageError } from "../../errors.ts";
import type { Transport } from "../../transport/transport.ts";
import { datedName, FileSwap, FileSwapRestore, remotePath, run, stamp, tempName, type Hooks, type Placement, type RestoredSource, type RestoreFile } from "./restore.ts";

// $1 the uploaded file, $2 the python fallback. Prints the check's verdict on
// failure; removes what opening the file made beside it.
const CHECK_SCRIPT = String.raw`
f=$1
if command -v sqlite3 >/dev/null 2>&1; then r=$(sqlite3 -batch -bail "$f" 'PRAGMA integrity_check;' 2>&1)
elif command -v python3 >/dev/null 2>&1; then r=$(python3 -c "$2" "$f" 2>&1)
else echo "this server has neither sqlite3 nor python3, so the upload cannot be checked; install sqlite3 there" >&2; exit 127; fi
rm -f -- "$f-wal" "$f-shm"
[ "$r" = ok ] || { printf '%s\n' "$r" | head -n 5 >&2; exit 1; }
`;
const CHECK_PYTHON = `import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1].replace("?", "%3f").replace("#", "%23") + "?mode=rw", uri=True)
print("\\n".join(r[0] for r in c.execute("PRAGMA integrity_check").fetchall()))`;

export class SqliteRestore extends FileSwapRestore {
  readonly kind = "sqlite";
  readonly source: string;
  readonly target: string;
  readonly hooks: Hooks;
  readonly file: RestoreFile;
  constructor(source: string, target: string, file: RestoreFile, hooks: Hooks) {
    super();
    this.source = source;
    this.target = target;
    this.file = file;
    this.hooks = hooks;
  }

  async plan(t: Transport): Promise<RestoredSource> {
    let exists = false;
    try {
      const st = await t.stat(this.target);
      if (st.type !== "file") throw new UsageError(`cannot restore source ${this.source}: ${this.target} on ${t.description} is not a regular file (a ${st.type})`, "move it away, or restore with --target and copy by hand");
      exists = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const tool = (await run(t, ["sh", "-c", "command -v sqlite3 || command -v python3 || true"], "looking for sqlite3")).trim();
    if (!tool) throw new UsageError(`cannot restore source ${this.source}: ${t.description} has neither sqlite3 nor python3 to check the upload with`, "install sqlite3 on the server (Debian/Ubuntu: apt-get install sqlite3)");
    const h = this.hooks;
    return {
      source: this.source,
      kind: this.kind,
      steps: [
        `upload ${this.file.size} bytes beside ${this.target} as ${tempName(this.target).replace(/[0-9a-f]{12}$/, "XXXXXXXXXXXX")}`,
        `check it with PRAGMA integrity_check (${tool})`,
        h.stop ? `run the stop hook: ${h.stop}` : "no stop hook (cairn.yml restore: stop)",
        exists ? `keep the current file as ${datedName(this.target, stamp())} (with its -wal and -shm)` : `${this.target} does not exist yet`,
        `rename the upload to ${this.target}`,
        h.start ? `run the start hook: ${h.start}` : "no start hook (cairn.yml restore: start)",
      ],
      written: [this.target],
      kept: exists ? [datedName(this.target, "<time>")] : [],
    };
  }


  async prepare(t: Transport): Promise<RestoredSource> {
    const plan = await this.plan(t);
    const check = async (p: Placement) => {
      try {
        await run(t, ["sh", "-c", CHECK_SCRIPT, "cairn-check", remotePath(p.tmp!), CHECK_PYTHON], `PRAGMA integrity_check of the upload ${p.tmp}`);
      } catch (err) {
        throw new SourceError(`source ${this.source}: the uploaded database failed its check, so ${this.target} was left as it was: ${(err as Error).message}`, "nothing on the server was changed (the upload was removed); run `cairn verify --read-data`, or restore an earlier snapshot");
      }
    };
    this.files = new FileSwap([{ target: this.target, file: this.file, sqlite: true }], check);
    await this.files.prepare(t);
    return plan;
  }
}
