// Run the built Action (dist/action.js) exactly as the runner does: node24
// with the inputs as INPUT_<NAME> variables (upper-cased, spaces to
// underscores, hyphens kept: INPUT_SSH-KEY), GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, and GITHUB_WORKSPACE as the working folder.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initRepo, makeSqlite, type NewRepo } from "./repo.ts";
import { SshFixture, type Sshd } from "./sshd.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ACTION = join(ROOT, "dist", "action.js");

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  return t;
}

/**
 * Build dist/ from the source when it is older than the source (CI builds it
 * first, in check-dist). Test files run in parallel and other tests read
 * dist/ too: a lock folder keeps two builds from writing at once, and a fresh
 * dist/ is never rewritten under a running test.
 */
export function buildDist(): void {
  const fresh = () => existsSync(ACTION) && statSync(ACTION).mtimeMs >= Math.max(newest(join(ROOT, "src")), statSync(join(ROOT, "scripts", "build.mjs")).mtimeMs);
  if (fresh()) return;
  const lock = join(ROOT, "dist", ".build-lock");
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} is held; remove it if no build runs`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!fresh()) execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** The ::error annotations' messages (with their %0A escapes undone). */
  errors: string[];
  /** stdout without the ::add-mask:: commands (the runner consumes them; they never show in the log). */
  shown: string;
}

/** GITHUB_OUTPUT's name<<DELIMITER / value / DELIMITER records. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
    out[m[1]] = value.join("\n");
  }
  return out;
}

export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, "_").toUpperCase()}`, v]));
}

/** Run the Action with these inputs in `workspace`; `env` adds step variables (env: in the workflow). */
export async function runAction(workspace: string, inputs: Record<string, string>, env: Record<string, string> = {}, onStart?: (child: ChildProcess) => void): Promise<ActionRun> {
  const files = mkdtempSync(join(tmpdir(), "cairn-runner-"));
  const output = join(files, "output");
  const summary = join(files, "summary");
  writeFileSync(output, "");
  writeFileSync(summary, "");
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(CAIRN_|INPUT_|GITHUB_|ACTIONS_|RUNNER_)/.test(k)) base[k] = v;
  const child = spawn(process.execPath, [ACTION], {
    cwd: workspace,
    env: { ...base, CI: "true", GITHUB_ACTIONS: "true", GITHUB_WORKSPACE: workspace, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, ...inputEnv(inputs), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  onStart?.(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c));
  });
  const run: ActionRun = {
    code,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(output, "utf8")),
    summary: readFileSync(summary, "utf8"),
    errors: stdout
      .split("\n")
      .filter((l) => l.startsWith("::error"))
      .map((l) => l.replace(/^::error[^:]*::/, "").replace(/%0A/g, "\n").replace(/%0D/g, "\r").replace(/%25/g, "%")),
    shown: stdout
      .split("\n")
      .filter((l) => !l.startsWith("::add-mask::"))
      .join("\n"),
  };
  rmSync(files, { recursive: true, force: true });
  return run;
}

/**
 * Every place a secret could leak: the log as shown (stdout less the runner's
 * mask commands, stderr), the outputs and the summary. Each secret is looked
 * for whole and line by line (a key's body lines).
 */
export function leaks(run: ActionRun, secrets: string[]): string[] {
  const places = { log: run.shown, stderr: run.stderr, outputs: JSON.stringify(run.outputs), summary: run.summary };
  const found: string[] = [];
  for (const s of secrets) {
    const parts = [s, ...s.split("\n").map((l) => l.trim()).filter((l) => l.length >= 16 && !/^-----/.test(l))];
    for (const [where, text] of Object.entries(places)) for (const p of parts) if (text.includes(p)) found.push(`${where} holds ${p.slice(0, 12)}...`);
  }
  return found;
}

export const TOKEN = "ghs_fakeTokenForTheActionTest0123456789abcd";

/** A server (the test sshd) with a SQLite database and settings files, a workspace with cairn.yml, and the user's keys. */
export interface ActionWorld {
  fx: SshFixture;
  sshd: Sshd;
  dir: string;
  /** GITHUB_WORKSPACE: holds cairn.yml. */
  ws: string;
  /** The server's files. */
  srv: string;
  /** The user's identity and write key, and a local repository made with them. */
  repo: NewRepo;
  /** git:<an empty bare repository>. */
  remote: string;
  /** The identity file's text. */
  identity: string;
  /** Every secret a run is given: none may show anywhere it writes. */
  secrets: string[];
  /** A backup's inputs, with the defaults the runner fills from action.yml. */
  inputs: Record<string, string>;
  /** ssh-key and ssh-passphrase of a passphrase-protected key. */
  passphraseKey: Record<string, string>;
  stop(): Promise<void>;
}

export async function actionWorld(): Promise<ActionWorld> {
  buildDist();
  const dir = mkdtempSync(join(tmpdir(), "cairn-action-"));
  const ws = join(dir, "workspace");
  const srv = join(dir, "srv");
  for (const d of [ws, join(srv, "data"), join(srv, "config")]) mkdirSync(d, { recursive: true });
  await makeSqlite(join(srv, "data", "bot.db"), 2000);
  writeFileSync(join(srv, "config", "config.json"), '{"symbol":"BTCUSDT","risk":0.01}\n');
  writeFileSync(join(srv, ".env"), "API_KEY=abc\n", { mode: 0o600 });
  const fx = new SshFixture();
  const sshd = await fx.start();
  // The user's machine: an identity and a write key (`cairn init`).
  const repo = initRepo(dir);
  const bare = join(dir, "backups.git");
  execFileSync("git", ["init", "-q", "--bare", bare]);
  const identity = readFileSync(repo.identityFile, "utf8");
  writeFileSync(
    join(ws, "cairn.yml"),
    `host: { address: 127.0.0.1, port: ${sshd.port}, user: ${fx.user} }
sources:
  - { name: bot-db, sqlite: ${srv}/data/bot.db }
  - { name: settings, files: ["${srv}/config/*.json", "${srv}/.env"] }
`,
  );
  const key = fx.clientKeys.ed25519;
  const withPassphrase = fx.clientKeys["ed25519-passphrase"];
  return {
    fx,
    sshd,
    dir,
    ws,
    srv,
    repo,
    remote: `git:${bare}`,
    identity,
    secrets: [key.text, withPassphrase.text, withPassphrase.passphrase!, repo.writeKey, identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!, TOKEN],
    inputs: {
      repository: `git:${bare}`,
      "ssh-key": key.text,
      "known-hosts": sshd.knownHosts(),
      "write-key": repo.writeKey,
      "github-token": TOKEN,
      command: "backup",
      config: "cairn.yml",
      full: "false",
      snapshot: "latest",
    },
    passphraseKey: { "ssh-key": withPassphrase.text, "ssh-passphrase": withPassphrase.passphrase! },
    async stop() {
      await sshd.stop();
      fx.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
