// The workflows users copy (examples/) and the README's tables agree with
// action.yml: every `with:` key a cairn step uses is an input, every output a
// workflow reads exists, and the README lists exactly action.yml's inputs and
// outputs. Plus what each example promises (schedules, queueing, permissions).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { ROOT } from "../helpers/action.ts";

interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  steps?: Step[];
  uses?: string;
  environment?: string;
  if?: string;
}
interface Workflow {
  on: Record<string, unknown>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const action = parse(readFileSync(join(ROOT, "action.yml"), "utf8")) as { inputs: Record<string, { description: string; default?: string }>; outputs: Record<string, { description: string }>; runs: { using: string; main: string } };
const examples = readdirSync(join(ROOT, "examples")).filter((f) => f.endsWith(".yml"));
const workflow = (name: string) => parse(readFileSync(join(ROOT, "examples", name), "utf8")) as Workflow;
const CAIRN = /^OWNER\/cairn@v1$/;

test("action.yml runs the bundle on node24 and says what each input and output is", () => {
  assert.deepEqual(action.runs, { using: "node24", main: "dist/action.js" });
  assert.deepEqual(Object.keys(action.inputs), [
    "command", "config", "repository", "ssh-key", "ssh-passphrase", "known-hosts", "host-fingerprint", "write-key", "identity", "github-token",
    "full", "snapshot", "source", "target", "retention-days", "recipient", "read-data", "dry-run", "replace", "max-age",
  ]);
  assert.equal(action.inputs["github-token"].default, "${{ github.token }}");
  assert.equal(action.inputs.command.default, "backup");
  assert.equal(action.inputs.config.default, "cairn.yml");
  assert.equal(action.inputs.snapshot.default, "latest");
  for (const [name, x] of [...Object.entries(action.inputs), ...Object.entries(action.outputs)]) assert.ok(x.description.length > 20, name);
  for (const o of ["snapshot-id", "bytes-added", "bytes-stored", "repositories", "restore-path", "settings-changed", "pull-request"]) assert.ok(action.outputs[o], o);
});

test("every example parses, and each cairn step uses only inputs action.yml has and outputs it sets", () => {
  assert.deepEqual(examples.sort(), ["backup.yml", "deploy.yml", "restore.yml", "verify.yml"]);
  for (const name of examples) {
    const text = readFileSync(join(ROOT, "examples", name), "utf8");
    const w = workflow(name);
    assert.ok(w.jobs && Object.keys(w.jobs).length > 0, name);
    assert.match(text, /^# cairn: /, `${name} opens with a comment saying what it is`);
    let cairnSteps = 0;
    for (const [jobName, job] of Object.entries(w.jobs)) {
      for (const step of job.steps ?? []) {
        if (!step.uses?.includes("cairn")) continue;
        assert.match(step.uses, CAIRN, `${name} ${jobName}: uses the action by its published path`);
        cairnSteps++;
        for (const key of Object.keys(step.with ?? {})) assert.ok(key in action.inputs, `${name} ${jobName}: with: ${key} is not an input of action.yml`);
        // Secrets go in through secrets, never written in the file.
        for (const key of ["ssh-key", "ssh-passphrase", "write-key", "identity"]) {
          const v = step.with?.[key];
          if (v !== undefined) assert.match(String(v), /^\$\{\{ secrets\.\w+ \}\}$/, `${name}: ${key}`);
        }
        if (step.with?.identity !== undefined) assert.equal(job.environment, "cairn-restore", `${name} ${jobName}: the identity only in the protected environment`);
      }
    }
    assert.ok(cairnSteps > 0, `${name} uses the action`);
    for (const m of text.matchAll(/steps\.cairn\.outputs\.([\w-]+)/g)) assert.ok(m[1] in action.outputs, `${name}: output ${m[1]}`);
  }
});

test("backup.yml: every 6 hours, a weekly full backup on Sunday 03:00, by hand, queued not cancelled, least permissions", () => {
  const w = workflow("backup.yml");
  const crons = (w.on.schedule as { cron: string }[]).map((s) => s.cron);
  assert.ok(crons.some((c) => /^\d+ \*\/6 \* \* \*$/.test(c)), "every 6 hours");
  assert.ok(crons.includes("0 3 * * 0"), "Sunday 03:00");
  assert.ok("workflow_dispatch" in w.on && "workflow_call" in w.on);
  assert.equal(w.concurrency?.["cancel-in-progress"], false);
  assert.deepEqual(w.permissions, { contents: "write", actions: "read" });
  const step = w.jobs.backup.steps!.find((s) => s.uses?.includes("cairn"))!;
  assert.match(String(step.with!.full), /github\.event\.schedule == '0 3 \* \* 0'/, "full on the Sunday schedule");
  assert.equal(String(step.with!.repository).trim().split("\n").length, 2, "two repositories (3-2-1)");
});

test("restore.yml: by default no identity, the encrypted files as an artifact; the identity only behind a protected environment", () => {
  const w = workflow("restore.yml");
  const inputs = (w.on.workflow_dispatch as { inputs: Record<string, { default?: unknown }> }).inputs;
  assert.equal(inputs.snapshot.default, "latest");
  assert.ok("source" in inputs);
  const download = w.jobs.download.steps!;
  const cairn = download.find((s) => s.uses?.includes("cairn"))!;
  assert.equal(cairn.with!.command, "restore");
  assert.equal(cairn.with!.identity, undefined);
  const upload = download.find((s) => s.uses?.startsWith("actions/upload-artifact"))!;
  assert.equal(upload.with!.path, "${{ steps.cairn.outputs.restore-path }}");
  assert.match(readFileSync(join(ROOT, "examples", "restore.yml"), "utf8"), /npx cairn restore latest -r local:\.\/downloaded -i key\.txt/);
  assert.equal(w.jobs.restore.environment, "cairn-restore");
});

test("verify.yml: weekly with the write key; reading data with the identity only by hand, behind the protected environment", () => {
  const w = workflow("verify.yml");
  assert.equal((w.on.schedule as unknown[]).length, 1);
  const weekly = w.jobs.verify.steps!.find((s) => s.uses?.includes("cairn"))!;
  assert.equal(weekly.with!.command, "verify");
  assert.ok(weekly.with!["write-key"] && !weekly.with!.identity);
  assert.equal(w.jobs["read-data"].environment, "cairn-restore");
  assert.match(w.jobs["read-data"].if!, /inputs\.read-data/);
});

test("deploy.yml: the deploy needs the backup", () => {
  const w = workflow("deploy.yml") as Workflow & { jobs: Record<string, Job & { needs?: string }> };
  assert.equal(w.jobs.deploy.needs, "backup");
  assert.ok(w.jobs.backup.steps!.some((s) => s.uses?.includes("cairn")));
});

/** The rows of the README table under `heading`: first cell (without backticks) of each. */
function readmeTable(readme: string, heading: string): string[] {
  const at = readme.indexOf(heading);
  assert.ok(at >= 0, `README has ${heading}`);
  const lines = readme.slice(at).split("\n");
  const start = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    rows.push(l.split("|")[1].trim().replace(/`/g, ""));
  }
  return rows;
}

test("the README's Action tables list exactly action.yml's inputs and outputs", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.deepEqual(readmeTable(readme, "#### Inputs"), Object.keys(action.inputs));
  assert.deepEqual(readmeTable(readme, "#### Outputs"), Object.keys(action.outputs));
  assert.match(readme, /## Set up in five minutes/);
  for (const caveat of [/delayed/, /60 days/, /GITHUB_TOKEN[^.]*start no/]) assert.match(readme, caveat);
});
