// The local transport: sources on this machine. Commands run without a shell;
// secret environment variables go to the child's environment only.
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { glob, lstat } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ExecOptions, FileInfo, RunningCommand, Transport } from "./transport.ts";

export const STDERR_TAIL = 8192;

export class LocalTransport implements Transport {
  readonly description = "local";

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
    child.stdin.end(options.stdin ?? "");
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

  async glob(patterns: string[]): Promise<FileInfo[]> {
    const seen = new Map<string, FileInfo>();
    for (const pattern of patterns) {
      for await (const path of glob(pattern)) {
        if (!seen.has(path)) seen.set(path, await this.stat(path));
      }
    }
    return [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async stat(path: string): Promise<FileInfo> {
    const st = await lstat(path);
    const type = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
    return { path, type, size: st.size, mode: st.mode & 0o7777, mtime: st.mtimeMs, uid: st.uid, gid: st.gid };
  }

  async read(path: string): Promise<Readable> {
    const stream = createReadStream(path, { highWaterMark: 1 << 20 });
    await new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", reject);
    });
    return stream;
  }

  async close(): Promise<void> {}
}
