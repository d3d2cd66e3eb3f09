// A settings history that fails never costs the snapshot: through the CLI
// (local sources, the fake REST API served on 127.0.0.1), GitHub's
// Actions-not-permitted 403 leaves the snapshot saved and the history commit
// on its branch, and ends the run non-zero naming the repository setting and
// the alternative; a history repository that cannot be reached likewise.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn, runCli } from "../helpers/cli.ts";
import { gitIn, servedGitHubWorld } from "../helpers/history.ts";

let dir: string;
let writeKey: string;
let world: Awaited<ReturnType<typeof servedGitHubWorld>>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cairn-history-fail-"));
  mkdirSync(join(dir, "srv"));
  writeFileSync(join(dir, "srv/config.json"), '{ "max_position": 0.5, "api_secret": "fail_planted_secret" }\n');
  assert.equal(cairn(["keygen", "-o", join(dir, "key.txt")]).code, 0);
  const recipient = readFileSync(join(dir, "key.txt"), "utf8").split("\n")[1].split(": ")[1];
  const init = cairn(["init", "-r", `local:${join(dir, "repo")}`, "-i", join(dir, "key.txt")]);
  assert.equal(init.code, 0, init.stderr);
  writeKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
  // A workflow's GITHUB_TOKEN, in a repository where Actions may not create pull requests (the default).
  world = await servedGitHubWorld(dir, { kind: "actions", actionsMayCreatePullRequests: false });
});
after(async () => {
  await world?.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(name: string, repository: string): string {
  const file = join(dir, name);
  writeFileSync(file, `repository: local:${join(dir, "repo")}\nhistory: { repository: "${repository}" }\nsources:\n  - { name: settings, files: [${join(dir, "srv/config.json")}], history: true }\n`);
  return file;
}

async function snapshotCount(): Promise<number> {
  const r = await runCli(["snapshots", "-r", `local:${join(dir, "repo")}`, "--json"], { env: { CAIRN_WRITE_KEY: writeKey } });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).length;
}

test("Actions not permitted to open pull requests: the snapshot is saved, the commit lands, the run fails naming the setting and a PAT or GitHub App token", async () => {
  const cfg = config("github.yml", "github:me/bot-settings");
  const env = { ...world.env, CAIRN_WRITE_KEY: writeKey };
  const before = await snapshotCount();
  const r = await runCli(["backup", "-c", cfg], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^snapshot [0-9a-f]{64} \(number \d+\) of \S+ saved/);
  assert.match(r.stdout, /settings history: 1 file changed, commit [0-9a-f]{12}\n/);
  const tip = gitIn(world.gitDir, "rev-parse", "settings-history");
  assert.match(r.stderr, new RegExp(`^cairn: snapshot [0-9a-f]{8} was saved and the settings history commit ${tip.slice(0, 12)} is on settings-history, but GitHub refused to open a pull request in me/bot-settings: the repository setting "Allow GitHub Actions to create and approve pull requests" is off$`, "m"));
  assert.match(r.stderr, /^hint: .*Settings → Actions → General.*personal access token or GitHub App token/m);
  assert.equal(await snapshotCount(), before + 1, "the snapshot is saved");
  assert.equal(world.fake.pulls("me", "bot-settings").length, 0);

  // Again with a change, as --json: the report on stdout (with the commit), the error as JSON on stderr.
  writeFileSync(join(dir, "srv/config.json"), '{ "max_position": 5, "api_secret": "fail_planted_secret" }\n');
  const j = await runCli(["backup", "-c", cfg, "--json"], { env });
  assert.equal(j.code, 1, j.stderr);
  const report = JSON.parse(j.stdout);
  assert.equal(report.history.changed, true);
  assert.equal(report.history.commit, gitIn(world.gitDir, "rev-parse", "settings-history"));
  assert.equal(report.history.pullRequest, null);
  const error = JSON.parse(j.stderr.trim().split("\n").at(-1)!).error;
  assert.equal(error.code, 1);
  assert.match(error.message, /Allow GitHub Actions to create and approve pull requests/);
  assert.match(error.hint, /personal access token or GitHub App token/);
  assert.equal(await snapshotCount(), before + 2);
  assert.ok(!(r.stdout + r.stderr + j.stdout + j.stderr).includes("fail_planted_secret"));
});

test("a history repository that cannot be reached: the snapshot is saved, the run fails naming history.repository", async () => {
  const cfg = config("missing.yml", `git:${join(dir, "no-such-repository.git")}`);
  const before = await snapshotCount();
  const r = await runCli(["backup", "-c", cfg], { env: { CAIRN_WRITE_KEY: writeKey } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /settings history: not recorded/);
  assert.match(r.stderr, /^cairn: snapshot [0-9a-f]{8} was saved, but the settings history was not recorded: git could not reach /m);
  assert.match(r.stderr, /^hint: check history\.repository in cairn\.yml$/m);
  assert.equal(await snapshotCount(), before + 1);
});
