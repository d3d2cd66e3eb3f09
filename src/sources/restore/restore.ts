// Restore onto the server: putting sources back where they were read from.
// Every source is first prepared without touching what is in use: each file
// uploaded beside its target under a temporary name and checked (size and
// SHA-256, and for SQLite `PRAGMA integrity_check`), a dump loaded into a
// temporary database. Then the stop hooks run (each distinct one once), every
// source is swapped in (a file renamed over its target, the current one kept
// as a dated copy; a database renamed), and the start hooks run. A failure
// before the last swap undoes the swaps made, removes what was prepared and
// runs the start hooks again, so the server is as it was. Remote paths come
// from cairn.yml only; snapshot paths are only matched against them.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { CairnError, SourceError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { quoteArg } from "../../transport/quote.ts";
import type { Transport } from "../../transport/transport.ts";

/** A file of the snapshot to put on the server: its metadata, and where its restored bytes are on this machine. */
export interface RestoreFile {
  /** The path in the snapshot (already checked to be a plain relative path). */
  path: string;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  size: number;
  /** The restored bytes on this machine (exists only when restoring, not for a dry run). */
  local: string;
}

/** The user's commands around the swap (cairn.yml `restore: { stop, start }`), run with sh -c on the server. */
export interface Hooks {
  stop?: string;
  start?: string;
}

/** What a source's restore did, or (dry run) would do. */
export interface RestoredSource {
  source: string;
  kind: string;
  /** One line per step, in the order they run. */
  steps: string[];
  /** Paths (or databases) written on the server. */
  written: string[];
  /** Previous versions kept: dated copies of files, renamed databases. */
  kept: string[];
}

export interface ServerRestore {
  readonly source: string;
  readonly kind: string;
  readonly hooks: Hooks;
  /** Looks at the server and says what will be done; changes nothing. Refuses (UsageError) what prepare() would refuse. */
  plan(t: Transport): Promise<RestoredSource>;
  /** Everything short of replacing what is in use; a failure leaves the server as it was. Returns the plan. */
  prepare(t: Transport): Promise<RestoredSource>;
  /** After prepare(): whether swap() replaces something in use, so the hooks must run around it. */
  readonly replaces: boolean;
  /** Puts the prepared data in place: all of this source or none of it. */
  swap(t: Transport): Promise<{ written: string[]; kept: string[] }>;
  /** After swap(): puts back what it replaced (a later source failed). */
  undo(t: Transport): Promise<void>;
  /** After prepare(), before or instead of swap(): removes what prepare() made. Best effort. */
  discard(t: Transport): Promise<void>;
  /** After swap(): how to roll back by hand. */
  rollback(): string;
}

/** The time in dated names: 20261130T164500Z. */
export function stamp(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** A path handed to a remote command, never read as an option. */
export function remotePath(p: string): string {
  return p.startsWith("-") ? `./${p}` : p;
}

/** The temporary name a file is uploaded to: beside the target, hidden, random. */
export function tempName(target: string): string {
  const slash = target.lastIndexOf("/");
  return `${target.slice(0, slash + 1)}.${target.slice(slash + 1)}.cairn-restore-${randomBytes(6).toString("hex")}`;
}

/** Where the current version of a target is kept. */
export function datedName(target: string, when: string): string {
  return `${target}.before-restore-${when}`;
}

/** Runs a small command on the server; its stdout as text. Fails naming `what` with the command's stderr. */
export async function run(t: Transport, argv: string[], what: string, options: { stdin?: string; secretEnv?: Record<string, string>; mask?: string[] } = {}): Promise<string> {
  const cmd = t.exec(argv, { stdin: options.stdin, secretEnv: options.secretEnv });
  const out: Buffer[] = [];
  for await (const c of cmd.stdout) out.push(c as Buffer);
  const r = await cmd.done;
  if (r.code !== 0) throw new SourceError(`${what} on ${t.description} failed (${r.code === null ? `signal ${r.signal}` : `exit ${r.code}`})${tail(r.stderr, options.mask)}`);
  return Buffer.concat(out).toString("utf8");
}

function tail(stderr: string, mask: string[] = []): string {
  let s = stderr.trim();
  for (const m of mask) if (m) s = s.split(m).join("***");
  return s ? `: ${s.split("\n").slice(-8).join("\n")}` : "";
}

/** Runs a hook (the user's shell command) on the server. */
export async function runHook(t: Transport, command: string, which: "stop" | "start"): Promise<void> {
  await run(t, ["sh", "-c", command], `the ${which} hook \`${command}\``);
}

// Uploads stdin to $1 (created, never replacing anything: set -C), making
// the missing folders above it first and naming the topmost on stderr. The
// bytes are checked against $2 (size) and $3 (SHA-256, when the server has a
// tool for it); then the owner of $5 (the target) when it exists, else $6
// (only root can give files away), mode $4 (else the target's) and mtime $7. On any failure, or a dropped connection (cat sees the end of its
// input early), the file and the folders made are removed.
const STAGE_SCRIPT = String.raw`
t=$1
case $t in */*) p=${"$"}{t%/*} ;; *) p=. ;; esac
top=
d=$p
while [ -n "$d" ] && [ ! -d "$d" ]; do top=$d; case $d in */*) d=${"$"}{d%/*} ;; *) d= ;; esac; done
ok=
clean() {
  [ -n "$ok" ] && return
  rm -f -- "$t"
  [ -n "$top" ] || return
  d=$p
  while rmdir -- "$d" 2>/dev/null && [ "$d" != "$top" ]; do d=${"$"}{d%/*}; done
}
trap clean EXIT
trap 'exit 129' HUP; trap 'exit 141' PIPE; trap 'exit 143' TERM
if [ -n "$top" ]; then mkdir -p -- "$p" || exit 1; printf 'cairn-made\t%s\n' "$top" >&2; fi
umask 077
set -C
: > "$t" || exit 73
set +C
cat >> "$t" || exit 74
n=$(wc -c < "$t")
[ "$n" -eq "$2" ] || { echo "the upload of $t ended after $n of $2 bytes" >&2; exit 75; }
if [ -n "$3" ] && command -v sha256sum >/dev/null 2>&1; then
  s=$(sha256sum < "$t" | cut -c1-64)
  [ "$s" = "$3" ] || { echo "the upload of $t arrived changed (SHA-256 $s, sent $3)" >&2; exit 76; }
fi
if [ -n "$5" ] && [ -f "$5" ]; then
  chown --reference="$5" -- "$t" 2>/dev/null
  [ -n "$4" ] || chmod --reference="$5" -- "$t" || exit 1
elif [ -n "$6" ]; then chown -- "$6" "$t" 2>/dev/null; fi
[ -z "$4" ] || chmod -- "$4" "$t" || exit 1
[ -z "$7" ] || touch -m -d "@$7" "$t" 2>/dev/null || true
ok=1
`;

// Removes what a stage left when a later step failed: $1 the uploaded file,
// $2 the topmost folder made for it ("" when none).
const UNSTAGE_SCRIPT = String.raw`
rm -f -- "$1"
[ -n "$2" ] || exit 0
case $1 in */*) d=${"$"}{1%/*} ;; *) exit 0 ;; esac
while rmdir -- "$d" 2>/dev/null && [ "$d" != "$2" ]; do d=${"$"}{d%/*}; done
exit 0
`;

// Swaps one file: $1 the target, $2 the uploaded file, $3 the dated copy's
// name, $4 "wal" for SQLite (its -wal and -shm go with the dated copy). The
// current file is kept by a hard link (a copy across file systems that do not
// link), so the target is never missing: `mv` renames over it atomically.
// Prints "kept" when there was a current file.
const SWAP_SCRIPT = String.raw`
t=$1; n=$2; d=$3
had=
if [ -e "$t" ] || [ -h "$t" ]; then
  { [ -f "$t" ] && [ ! -h "$t" ]; } || { echo "$t is not a regular file" >&2; exit 65; }
  { [ ! -e "$d" ] && [ ! -h "$d" ]; } || { echo "$d already exists" >&2; exit 73; }
  ln -- "$t" "$d" 2>/dev/null || cp -p -- "$t" "$d" || exit 1
  had=1
  if [ -n "$4" ]; then for x in -wal -shm; do if [ -e "$t$x" ]; then mv -f -- "$t$x" "$d$x" || exit 1; fi; done; fi
fi
if ! mv -f -- "$n" "$t"; then
  if [ -n "$had" ]; then
    [ -z "$4" ] || for x in -wal -shm; do if [ -e "$d$x" ]; then mv -f -- "$d$x" "$t$x"; fi; done
    rm -f -- "$d"
  fi
  exit 1
fi
[ -z "$had" ] || echo kept
`;

// Undoes a swap: $1 the target, $2 its dated copy ("" when there was no
// current file: the restored one is removed), $3 "wal" as above.
const UNSWAP_SCRIPT = String.raw`
if [ -z "$2" ]; then rm -f -- "$1"; exit 0; fi
mv -f -- "$2" "$1" || exit 1
[ -z "$3" ] || for x in -wal -shm; do rm -f -- "$1$x"; if [ -e "$2$x" ]; then mv -f -- "$2$x" "$1$x"; fi; done
`;

/** One file on its way to the server. */
export interface Placement {
  /** The path on the server (from cairn.yml). */
  target: string;
  file: RestoreFile;
  /** chmod to this (octal text); undefined: the current file's mode, else 600. */
  mode?: string;
  /** SQLite: its -wal and -shm go with the dated copy. */
  sqlite?: boolean;
  tmp?: string;
  madeTop?: string;
  dated?: string;
  swapped?: boolean;
}

/** Uploads each file beside its target under a temporary name; on failure removes every upload so far. */
export async function stage(t: Transport, places: Placement[]): Promise<void> {
  try {
    for (const p of places) {
      const tmp = tempName(p.target);
      const f = p.file;
      const sha256 = await fileHash(f.local);
      const input = createReadStream(f.local, { highWaterMark: 1 << 20 });
      let cmd;
      try {
        // The file opens before the command starts: a missing local file fails here.
        await new Promise<void>((resolve, reject) => input.once("open", () => resolve()).once("error", reject));
        cmd = t.exec(
          [
            "sh",
            "-c",
            STAGE_SCRIPT,
            "cairn-upload",
            remotePath(tmp),
            String(f.size),
            sha256,
            p.mode ?? "",
            remotePath(p.target),
            p.sqlite ? "" : `${f.uid}:${f.gid}`,
            p.sqlite ? "" : String(Math.floor(f.mtime / 1000)),
          ],
          { stdin: input },
        );
        cmd.stdout.resume();
        const r = await cmd.done;
        const made = /^cairn-made\t(.*)$/m.exec(r.stderr);
        if (r.code !== 0) {
          const why = r.stderr.replace(/^cairn-made\t.*\n/m, "").trim();
          throw new SourceError(`cannot upload ${p.target} to ${t.description}${why ? `: ${why}` : ` (exit ${r.code ?? r.signal})`}`, "nothing on the server was changed (the upload was removed); run the restore again");
        }
        p.tmp = tmp;
        p.madeTop = made?.[1];
      } finally {
        input.destroy();
      }
    }
  } catch (err) {
    await unstage(t, places);
    throw err;
  }
}

async function fileHash(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest("hex");
}

/** Removes the uploads (and the folders made for them); best effort: the connection may be gone. */
export async function unstage(t: Transport, places: Placement[]): Promise<void> {
  for (const p of places) {
    if (!p.tmp || p.swapped) continue;
    await run(t, ["sh", "-c", UNSTAGE_SCRIPT, "cairn-unstage", remotePath(p.tmp), p.madeTop ? remotePath(p.madeTop) : ""], `removing ${p.tmp}`).catch(() => {});
    p.tmp = undefined;
  }
}

/**
 * Renames every upload over its target, keeping each current file as a dated
 * copy. A failure part way puts back the files already swapped, so either all
 * are restored or none; only a connection lost in between can leave some
 * swapped, and the error then names them and their dated copies.
 */
export async function swap(t: Transport, places: Placement[], when: string): Promise<void> {
  for (const p of places) {
    const dated = datedName(p.target, when);
    try {
      const out = await run(t, ["sh", "-c", SWAP_SCRIPT, "cairn-swap", remotePath(p.target), remotePath(p.tmp!), remotePath(dated), p.sqlite ? "wal" : ""], `replacing ${p.target}`);
      p.swapped = true;
      if (out.trim() === "kept") p.dated = dated;
    } catch (err) {
      const undone: string[] = [];
      const left: string[] = [];
      for (const q of places.filter((x) => x.swapped)) {
        try {
          await run(t, ["sh", "-c", UNSWAP_SCRIPT, "cairn-unswap", remotePath(q.target), q.dated ? remotePath(q.dated) : "", q.sqlite ? "wal" : ""], `putting back ${q.target}`);
          q.swapped = false;
          undone.push(q.target);
        } catch {
          left.push(q.dated ? `${q.target} (previous: ${q.dated})` : `${q.target} (new)`);
        }
      }
      if (left.length > 0) {
        throw new SourceError(
          `${(err as Error).message}; and ${left.length} file(s) already replaced could not be put back: ${left.join(", ")}`,
          "move each dated copy back over its file (mv -f -- DATED FILE) once the server is reachable",
        );
      }
      throw new SourceError(`${(err as Error).message}`, `nothing on the server was changed${undone.length ? ` (${undone.length} file(s) already replaced were put back)` : ""}`);
    }
  }
}

/** The files of a files or SQLite source, through prepare / swap / undo / discard. */
/**
 * A source put back as files (SQLite, files): prepare() uploads them beside
 * their targets (FileSwap), and swap, undo, discard and rollback are FileSwap's.
 */
export abstract class FileSwapRestore implements ServerRestore {
  abstract readonly source: string;
  abstract readonly kind: string;
  abstract readonly hooks: Hooks;
  abstract plan(t: Transport): Promise<RestoredSource>;
  abstract prepare(t: Transport): Promise<RestoredSource>;
  readonly replaces = true;
  protected files?: FileSwap;

  swap(t: Transport) {
    return this.files!.swap(t);
  }
  undo(t: Transport) {
    return this.files!.undo(t);
  }
  async discard(t: Transport) {
    await this.files?.discard(t);
  }
  rollback() {
    return this.files!.rollback();
  }
}

export class FileSwap {
  readonly places: Placement[];
  private readonly check?: (p: Placement) => Promise<void>;
  constructor(places: Placement[], check?: (p: Placement) => Promise<void>) {
    this.places = places;
    this.check = check;
  }

  async prepare(t: Transport): Promise<void> {
    await stage(t, this.places);
    try {
      if (this.check) for (const p of this.places) await this.check(p);
    } catch (err) {
      await unstage(t, this.places);
      throw err;
    }
  }

  async swap(t: Transport): Promise<{ written: string[]; kept: string[] }> {
    await swap(t, this.places, stamp());
    return { written: this.places.map((p) => p.target), kept: this.places.filter((p) => p.dated).map((p) => p.dated!) };
  }

  async undo(t: Transport): Promise<void> {
    for (const q of this.places.filter((x) => x.swapped).reverse()) {
      await run(t, ["sh", "-c", UNSWAP_SCRIPT, "cairn-unswap", remotePath(q.target), q.dated ? remotePath(q.dated) : "", q.sqlite ? "wal" : ""], `putting back ${q.target}`);
      q.swapped = false;
    }
  }

  async discard(t: Transport): Promise<void> {
    await unstage(t, this.places);
  }

  rollback(): string {
    return this.places.map((p) => (p.dated ? `mv -f -- ${quoteArg(p.dated)} ${quoteArg(p.target)}` : `rm -- ${quoteArg(p.target)}`)).join("; ");
  }
}

const distinct = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => !!x))];

/**
 * Restores the sources together: prepares each, runs the stop hooks (each
 * distinct command once, in the sources' order), swaps each in, runs the
 * start hooks. A failure before the last swap puts back the swaps made,
 * removes what was prepared and runs the start hooks again if a stop hook
 * ran: the server is as it was. A start hook that fails after the swaps says
 * how to roll back.
 */
export async function restoreAll(t: Transport, restores: ServerRestore[], log: Logger): Promise<RestoredSource[]> {
  const plans: RestoredSource[] = [];
  try {
    for (const r of restores) plans.push(await r.prepare(t));
  } catch (err) {
    for (const r of restores.slice(0, plans.length)) await r.discard(t).catch(() => {});
    throw err;
  }
  const hooked = restores.filter((r) => r.replaces);
  const stops = distinct(hooked.map((r) => r.hooks.stop));
  const starts = distinct(hooked.map((r) => r.hooks.start));
  const results: { written: string[]; kept: string[] }[] = [];
  let stopped = false;
  try {
    for (const stop of stops) {
      log.info(`running the stop hook: ${stop}`);
      stopped = true;
      await runHook(t, stop, "stop");
    }
    for (const r of restores) results.push(await r.swap(t));
  } catch (err) {
    const left: string[] = [];
    for (const r of restores.slice(0, results.length).reverse()) {
      try {
        await r.undo(t);
      } catch {
        left.push(`${r.source} (${r.rollback()})`);
      }
    }
    for (const r of restores) await r.discard(t).catch(() => {});
    if (stopped) {
      for (const start of starts) {
        log.info(`nothing was replaced; running the start hook again: ${start}`);
        await runHook(t, start, "start").catch((e: Error) => log.warn(e.message));
      }
    }
    if (left.length > 0) {
      throw new SourceError(`${(err as Error).message}; and what was already replaced could not be put back: ${left.join("; ")}`, "put those back by hand with the commands shown, once the server is reachable");
    }
    if (err instanceof CairnError && err.hint) throw err;
    throw new SourceError((err as Error).message, `nothing on the server was changed (what was uploaded or loaded was removed${results.length ? `, and ${results.length} source(s) already swapped were put back` : ""})`, { cause: err });
  }
  const done = restores.map((r, i) => ({ ...plans[i], ...results[i] }));
  for (const start of starts) {
    log.info(`running the start hook: ${start}`);
    try {
      await runHook(t, start, "start");
    } catch (err) {
      const kept = done.flatMap((d) => d.kept);
      throw new SourceError(
        `${done.map((d) => d.source).join(", ")} restored, but ${(err as Error).message}`,
        `the previous version${kept.length === 1 ? " is" : "s are"} kept${kept.length ? `: ${kept.join(", ")}` : " (there was none)"}; to roll back, run the stop hook, then: ${restores.map((r) => r.rollback()).join("; ")}; then start the service`,
      );
    }
  }
  return done;
}
