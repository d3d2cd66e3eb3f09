// Run the CLI as a user would: a child process with its own environment (no
// CAIRN_* from the caller, CI=1 so no progress bars), from the TypeScript
// source. `cairn` waits for it; `runCli` and `runCliKilledAfter` do not block.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run with this umask (through sh, which sets it before exec). */
  umask?: number;
}

/** The environment for a child CLI: no CAIRN_* from the caller, no progress bars, then `extra` (undefined removes). */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "1" };
  for (const k of Object.keys(env)) if (k.startsWith("CAIRN_")) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Run `cairn ARGS` and wait for it. */
export function cairn(args: string[], opts: CliOptions = {}): CliResult & { code: number } {
  const argv = opts.umask === undefined ? [process.execPath, CLI, ...args] : ["sh", "-c", `umask ${opts.umask.toString(8)} && exec "$0" "$@"`, process.execPath, CLI, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { env: cliEnv(opts.env), cwd: opts.cwd, encoding: "utf8", maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Run `cairn ARGS` as a child process; resolves when it exits (never rejects on a non-zero exit). */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runCliKilledAfter(args, Infinity, opts);
}

/** Start `cairn ARGS`; `done` resolves when it exits. For tests that signal it while it runs. */
export function startCli(args: string[], opts: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(opts.env), cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Start `cairn ARGS` and SIGKILL it after delayMs (unless it ended first). */
export function runCliKilledAfter(args: string[], delayMs: number, opts: CliOptions = {}): Promise<CliResult & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(opts.env), cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = Number.isFinite(delayMs)
      ? setTimeout(() => {
          killed = child.exitCode === null && child.signalCode === null && child.kill("SIGKILL");
        }, delayMs)
      : undefined;
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed: killed && signal === "SIGKILL" });
    });
  });
}
