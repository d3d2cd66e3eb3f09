// Files back onto the server. A snapshot's path is never trusted: each file's
// place on the server is its path under the source's folder, written only
// when one of the source's patterns in cairn.yml names it (or a folder above
// it). Each file is uploaded under a temporary name beside its target and
// renamed over it, with its mode and mtime; the current version is kept as a
// dated copy. Files on the server that the snapshot lacks are left alone.
import { matchesGlob } from "node:path";
import { UsageError } from "../../errors.ts";
import type { Transport } from "../../transport/transport.ts";
import { datedName, FileSwap, FileSwapRestore, stamp, type Hooks, type Placement, type RestoredSource, type RestoreFile } from "./restore.ts";

/** Does a pattern of cairn.yml name this path (or a folder above it)? As the backup expanded it: sh globs, find -path for "**". */
export function named(path: string, pattern: string): boolean {
  const matches = (p: string) => {
    if (p === pattern) return true;
    if (!pattern.includes("**")) return matchesGlob(p, pattern);
    // find -path: "*" and "?" match "/" too.
    const re = pattern.replace(/\*\*/g, "*").replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    try {
      return new RegExp(`^${re}$`, "s").test(p);
    } catch {
      return false;
    }
  };
  for (let p = path; p.length > 0; p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) {
    if (matches(p)) return true;
    if (!p.includes("/")) break;
  }
  return false;
}

/** Where a snapshot file of a files source goes on the server, or undefined when cairn.yml names no such path. */
export function serverPath(source: string, path: string, patterns: string[]): string | undefined {
  if (!path.startsWith(`${source}/`)) return undefined;
  const rest = path.slice(source.length + 1);
  for (const pattern of patterns) {
    const candidate = pattern.startsWith("/") ? `/${rest}` : rest;
    if (named(candidate, pattern)) return candidate;
  }
  return undefined;
}

export class FilesRestore extends FileSwapRestore {
  readonly kind = "files";
  readonly source: string;
  readonly hooks: Hooks;
  readonly places: Placement[];
  constructor(source: string, patterns: string[], files: RestoreFile[], hooks: Hooks) {
    super();
    this.source = source;
    this.hooks = hooks;
    const outside = files.filter((f) => serverPath(source, f.path, patterns) === undefined);
    if (outside.length > 0) {
      throw new UsageError(
        `cannot restore source ${source} onto the server: the snapshot has ${outside.length} file(s) that no pattern of the source in cairn.yml names: ${outside
          .slice(0, 5)
          .map((f) => f.path)
          .join(", ")}${outside.length > 5 ? ", ..." : ""}`,
        "only paths cairn.yml names are written on the server; restore with --target and copy those by hand, or name them in the source's files:",
      );
    }
    // As a restore into a folder: never set-user-ID or set-group-ID (the snapshot is not trusted).
    this.places = files.map((f) => ({ target: serverPath(source, f.path, patterns)!, file: f, mode: (f.mode & 0o1777).toString(8) }));
  }

  async plan(t: Transport): Promise<RestoredSource> {
    const when = stamp();
    const steps: string[] = [];
    const kept: string[] = [];
    for (const p of this.places) {
      let current = "new";
      try {
        const st = await t.stat(p.target);
        if (st.type !== "file") {
          throw new UsageError(`cannot restore ${p.target} on ${t.description}: it is a ${st.type === "dir" ? "folder" : st.type}, not a regular file`, "move it away, or restore with --target and copy by hand");
        }
        current = `replaces the current file, kept as ${datedName(p.target, when)}`;
        kept.push(datedName(p.target, when));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      steps.push(`write ${p.target} (${p.file.size} bytes, mode ${p.mode}): ${current}`);
    }
    const h = this.hooks;
    return {
      source: this.source,
      kind: this.kind,
      steps: [
        `upload ${this.places.length} file(s), each beside its target under a temporary name`,
        h.stop ? `run the stop hook: ${h.stop}` : "no stop hook (cairn.yml restore: stop)",
        ...steps,
        h.start ? `run the start hook: ${h.start}` : "no start hook (cairn.yml restore: start)",
      ],
      written: this.places.map((p) => p.target),
      kept,
    };
  }


  async prepare(t: Transport): Promise<RestoredSource> {
    const plan = await this.plan(t);
    this.files = new FileSwap(this.places.map((p) => ({ ...p })));
    await this.files.prepare(t);
    return plan;
  }
}
