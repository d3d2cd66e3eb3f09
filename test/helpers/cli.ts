// Run the CLI as a user would: a child process with its own environment.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cairn(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Run {
  const env: Record<string, string | undefined> = { ...process.env, CAIRN_IDENTITY: undefined, CAIRN_WRITE_KEY: undefined, CAIRN_REPOSITORY: undefined, ...opts.env };
  const r = spawnSync(process.execPath, [CLI, ...args], { env: env as NodeJS.ProcessEnv, cwd: opts.cwd, encoding: "utf8", maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
