// Run the built Action (dist/action.js) exactly as the runner does: node24
// with the inputs as INPUT_<NAME> variables (upper-cased, spaces to
// underscores, hyphens kept: INPUT_SSH-KEY), GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, and GITHUB_WORKSPACE as the working folder.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ACTION = join(ROOT, "dist", "action.js");

/** Build dist/ from the source, as CI does before these tests. */
export function buildDist(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
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
export async function runAction(workspace: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<ActionRun> {
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
