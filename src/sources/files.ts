// Files by glob (expanded on the source machine by the transport): each
// regular file becomes an entry under <source>/<its path>, with mode, owner
// and mtime. A file that changes while it is read is detected (size or mtime
// moved) and read again by the engine; one that cannot be read is an error
// naming it. `newer-than` keeps only recently modified files (logs).
import { ChangedWhileReadingError, SourceError } from "../errors.ts";
import type { FileInfo, Transport } from "../transport/transport.ts";
import type { Logger } from "../log.ts";
import type { Source, SourceDump, SourceEntry } from "./source.ts";

export class FilesSource implements Source {
  readonly kind = "files";
  readonly name: string;
  readonly patterns: string[];
  readonly newerThanMs: number | undefined;
  constructor(name: string, patterns: string[], newerThanMs?: number) {
    this.name = name;
    this.patterns = patterns;
    this.newerThanMs = newerThanMs;
  }

  dump(transport: Transport, log: Logger): SourceDump {
    let files = 0;
    let bytes = 0;
    const self = this;
    async function* entries(): AsyncGenerator<SourceEntry> {
      const found = new Map<string, FileInfo>();
      for (const pattern of self.patterns) {
        const matches = await transport.glob([pattern]);
        if (matches.length === 0) log.warn(`source ${self.name}: ${pattern} matches nothing on ${transport.description}`);
        for (const m of matches) {
          if (m.type === "dir") {
            for (const inner of await transport.glob([`${m.path.replace(/\/+$/, "")}/**`])) found.set(inner.path, inner);
          } else found.set(m.path, m);
        }
      }
      const cutoff = self.newerThanMs === undefined ? -Infinity : Date.now() - self.newerThanMs;
      const list = [...found.values()]
        .filter((f) => {
          if (f.type === "symlink" || f.type === "other") {
            log.warn(`source ${self.name}: skipped ${f.path} (a ${f.type === "symlink" ? "symbolic link" : "special file"})`);
            return false;
          }
          return f.type === "file" && f.mtime >= cutoff;
        })
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      if (found.size === 0) {
        throw new SourceError(
          `source ${self.name}: no file matches ${self.patterns.join(", ")} on ${transport.description}`,
          "check the paths in cairn.yml",
        );
      }
      for (const f of list) {
        files++;
        yield fileEntry(transport, self.name, f, (n) => (bytes += n));
      }
    }
    return { entries: entries(), info: () => ({ files, bytes }) };
  }
}

export function fileEntry(transport: Transport, source: string, info: FileInfo, count: (n: number) => void): SourceEntry {
  let opened = 0;
  const entry: SourceEntry = {
    path: `${source}/${info.path.replace(/^\/+/, "")}`,
    mode: info.mode,
    mtime: info.mtime,
    uid: info.uid,
    gid: info.gid,
    async *open() {
      const cannot = (err: unknown) =>
        new SourceError(
          `cannot read ${info.path} on ${transport.description}: ${(err as Error).message}`,
          "give the backup user read access, or leave the file out",
          { cause: err },
        );
      // The listing's stat serves the first read (one round trip less per
      // file over SSH); a re-read after a change stats afresh.
      let before = info;
      if (opened++ > 0) {
        try {
          before = await transport.stat(info.path);
        } catch (err) {
          throw cannot(err);
        }
      }
      entry.mode = before.mode;
      entry.mtime = before.mtime;
      let n = 0;
      try {
        for await (const chunk of await transport.read(info.path)) {
          n += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      } catch (err) {
        throw err instanceof SourceError ? err : cannot(err);
      }
      const after = await transport.stat(info.path).catch((err) => {
        throw cannot(err);
      });
      if (n !== before.size || after.size !== before.size || after.mtime !== before.mtime) {
        throw new ChangedWhileReadingError(info.path, `size ${before.size} -> ${after.size}, read ${n} bytes`);
      }
      count(n);
    },
  };
  return entry;
}
