// The Action writing an artifacts: repository, against the fake of GitHub's
// artifact services (what only a workflow run can do): init with the write
// key made beforehand (it carries its repository's config), two backups in two runs with their
// retention, verify, and restore without the identity into a folder that
// restores elsewhere equal. The token and keys show nowhere.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildDist, leaks, runAction, type ActionRun } from "../helpers/action.ts";
import { cairn } from "../helpers/cli.ts";
import { envFor, startFakeGitHub, type FakeGitHub } from "../helpers/fake-github/index.ts";
import { initRepo, type NewRepo } from "../helpers/repo.ts";

let fake: FakeGitHub;
let dir: string;
let ws: string;
let repo: NewRepo;
let secrets: string[];
let inputs: Record<string, string>;
// Large enough that the chunks a 1,000-byte append changes (at most one of up to 1 MiB, and the new tail) stay under a quarter.
const data = randomBytes(6 << 20);

/** The step's env in workflow run `runId`: the runtime the runner gives a JavaScript action, without GITHUB_TOKEN (the token comes as the github-token input). */
function runEnv(runId: number): Record<string, string> {
  const env = envFor(fake, fake.startRun(runId));
  delete env.GITHUB_TOKEN;
  return env;
}

const green = (run: ActionRun) => assert.equal(run.code, 0, `${run.shown}\n${run.stderr}`);

before(async () => {
  buildDist();
  fake = await startFakeGitHub({ retentionDays: 90 });
  dir = mkdtempSync(join(tmpdir(), "cairn-action-artifacts-"));
  ws = join(dir, "workspace");
  mkdirSync(join(ws, "srv"), { recursive: true });
  writeFileSync(join(ws, "srv", "data.bin"), data);
  writeFileSync(join(ws, "cairn.yml"), "sources:\n  - { name: data, files: [srv/data.bin] }\n");
  repo = initRepo(dir);
  secrets = [repo.writeKey, fake.token];
  inputs = { repository: "artifacts:bot", "write-key": repo.writeKey, "github-token": fake.token, command: "backup", config: "cairn.yml", full: "false", snapshot: "latest" };
});
after(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("init, two backups in two runs, verify and a download restore through the Action, into artifacts", async () => {
  const init = await runAction(ws, { ...inputs, command: "init" }, runEnv(301));
  green(init);
  assert.equal(JSON.parse(init.outputs.repositories)[0].result, "created");

  const first = await runAction(ws, { ...inputs, "retention-days": "30" }, runEnv(302));
  green(first);
  writeFileSync(join(ws, "srv", "data.bin"), Buffer.concat([data, randomBytes(1000)]));
  const second = await runAction(ws, { ...inputs, "retention-days": "7" }, runEnv(303));
  green(second);
  assert.ok(Number(second.outputs["bytes-added"]) < data.length / 4, `${second.outputs["bytes-added"]} new`);
  assert.match(second.summary, /Last 2 of 2 snapshots in <code>artifacts:bot<\/code>/);
  assert.ok(fake.visible().some((x) => x.runId === 303 && x.name.startsWith("bot.snapshot.")), "the second run's snapshot is an artifact of that run");

  const verify = await runAction(ws, { ...inputs, command: "verify" }, runEnv(304));
  green(verify);
  assert.match(verify.summary, /no problems found/);

  const download = await runAction(ws, { ...inputs, command: "restore" }, runEnv(305));
  green(download);
  const target = join(dir, "restored");
  const r = cairn(["restore", "latest", "-r", `local:${download.outputs["restore-path"]}`, "-i", repo.identityFile, "--target", target]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(join(target, "data", ws.slice(1), "srv", "data.bin")), readFileSync(join(ws, "srv", "data.bin")));

  for (const run of [init, first, second, verify, download]) assert.deepEqual(leaks(run, secrets), []);
});
