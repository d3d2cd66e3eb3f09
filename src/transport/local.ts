// The local transport: sources on this machine. Commands run without a shell;
// secret environment variables go to the child's environment only.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { glob, lstat, opendir } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ExecOptions, FileInfo, FileRead, Listing, ReadOptions, RunningCommand, Transport } from "./transport.ts";

export const STDERR_TAIL = 8192;

const byPath = (a: FileInfo, b: FileInfo) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

export class LocalTransport implements Transport {
  readonly description = "local";
  readonly host = hostname();

  exec(argv: string[], options: ExecOptions = {}): RunningCommand {
    const child = spawn(argv[0], argv.slice(1), {
      // The child inherits this process's environment (PATH, HOME, PG*) like any
      // command would; cairn's own settings never come from here.
      env: { ...process.env, ...options.secretEnv },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      stderr = (stderr + d).slice(-STDERR_TAIL);
    });
    child.stdin.on("error", () => {}); // a command that exits without reading stdin
    const input = options.stdin;
    if (input instanceof Readable) {
      input.on("error", (err) => {
        stderr += `\n(reading its input failed: ${err.message}; stopped)`;
        child.kill("SIGTERM");
      });
      input.pipe(child.stdin);
    } else child.stdin.end(input ?? "");
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      if (!options.idleTimeoutMs) return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        stderr += `\n(no output for ${options.idleTimeoutMs} ms; stopped)`;
        child.kill("SIGTERM");
      }, options.idleTimeoutMs);
    };
    arm();
    child.stdout.on("data", arm);
    const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve, reject) => {
      child.on("error", (err) => {
        clearTimeout(idle);
        reject(err);
      });
      child.on("close", (code, signal) => {
        clearTimeout(idle);
        resolve({ code, signal, stderr });
      });
    });
    return { stdout: child.stdout, done, kill: () => child.kill("SIGTERM") };
  }

  async glob(patterns: string[]): Promise<Listing> {
    const now = Date.now();
    const seen = new Map<string, FileInfo>();
    for (const pattern of patterns) {
      for await (const path of glob(pattern)) {
        if (!seen.has(path)) seen.set(path, await this.stat(path));
      }
    }
    return { files: [...seen.values()].sort(byPath), unreadable: [], now };
  }

  async walk(dir: string): Promise<Listing> {
    const now = Date.now();
    const files: FileInfo[] = [];
    const unreadable: Listing["unreadable"] = [];
    const visit = async (d: string) => {
      let entries;
      try {
        entries = await opendir(d);
      } catch (err) {
        // In find's words, as the SSH transport reports it.
        const code = (err as NodeJS.ErrnoException).code;
        unreadable.push({ path: d, reason: code === "EACCES" ? "Permission denied" : code === "ENOENT" ? "No such file or directory" : (err as Error).message });
        return;
      }
      for await (const e of entries) {
        const info = await this.stat(join(d, e.name));
        files.push(info);
        if (info.type === "dir") await visit(info.path);
      }
    };
    await visit(dir);
    return { files: files.sort(byPath), unreadable, now };
  }

  async stat(path: string): Promise<FileInfo> {
    const st = await lstat(path, { bigint: true });
    const type = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
    const ms = (ns: bigint) => Number(ns / 1000n) / 1000;
    return {
      path,
      type,
      size: Number(st.size),
      mode: Number(st.mode & 0o7777n),
      mtime: ms(st.mtimeNs),
      ctime: ms(st.ctimeNs),
      uid: Number(st.uid),
      gid: Number(st.gid),
      id: `${st.dev}:${st.ino}`,
    };
  }

  async read(path: string, options: ReadOptions = {}): Promise<FileRead> {
    const stream = await openStream(path, options.length);
    return {
      stream,
      after: async () => {
        const info = await this.stat(path).catch(() => undefined);
        if (!options.hashPrefix || !info) return { info };
        const hash = createHash("sha256");
        try {
          for await (const chunk of await openStream(path, options.length)) hash.update(chunk as Buffer);
        } catch {
          return { info };
        }
        return { info, prefixHash: hash.digest("hex") };
      },
    };
  }

  async close(): Promise<void> {}
}

/** A file's first `length` bytes (all when undefined), once it is open: opening fails first. */
async function openStream(path: string, length: number | undefined): Promise<Readable> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20, end: length === undefined ? undefined : Math.max(0, length - 1) });
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  if (length === 0) {
    // `end` is inclusive, so nothing at all is read here.
    stream.destroy();
    return Readable.from([]);
  }
  return stream;
}
