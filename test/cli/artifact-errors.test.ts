// GitHub's refusals as the user sees them, through the CLI against the fake
// of GitHub's services: a full storage quota, a used-up REST rate limit, a
// token without `actions: read`, and Actions not allowed in the repository
// each end the run red (a non-zero exit code) with a message naming the
// limit or permission and a hint saying what to do, never a stack trace.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { init } from "../../src/app/init.ts";
import { keygen } from "../../src/app/keygen.ts";
import { resolveSettings } from "../../src/app/settings.ts";
import { runCli } from "../helpers/cli.ts";
import { envFor, quietArtifactClient, startFakeGitHub, type FakeGitHub } from "../helpers/fake-github/index.ts";

quietArtifactClient();

const dir = mkdtempSync(join(tmpdir(), "cairn-artifact-errors-"));
let fake: FakeGitHub;
let env: Record<string, string>;

before(async () => {
  fake = await startFakeGitHub({ retentionDays: 90, visibility: "private" });
  writeFileSync(join(dir, "data.bin"), randomBytes(10_000));
  writeFileSync(join(dir, "cairn.yml"), `repository: artifacts:bot\nsources:\n  - { name: data, files: [${join(dir, "data.bin")}] }\n`);
  const id = await keygen();
  const { writeKey } = await init(await resolveSettings({ repository: "artifacts:bot", identity: id.text }, envFor(fake, fake.startRun(1))), { recipients: [] });
  fake.endRun(1);
  env = { CAIRN_WRITE_KEY: writeKey };
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fails(args: string[], given: Record<string, string>, code: number, message: RegExp, hint: RegExp): Promise<void> {
  // This process's runtime variables (the in-process init wrote them) are not the child's.
  const extraEnv = { ACTIONS_RUNTIME_TOKEN: undefined, ACTIONS_RESULTS_URL: undefined, GITHUB_RUN_ID: undefined, ...given };
  const r = await runCli(args, { env: { ...env, ...extraEnv } });
  assert.equal(r.code, code, r.stderr);
  assert.match(r.stderr, message);
  assert.match(r.stderr, new RegExp(`\\nhint: .*${hint.source}`));
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  const json = await runCli([...args, "--json"], { env: { ...env, ...extraEnv } });
  const last = JSON.parse(json.stderr.trim().split("\n").pop()!) as { error: { code: number; message: string; hint: string } };
  assert.equal(last.error.code, code);
  assert.match(last.error.message, message);
}

test("the account's artifact storage quota is full (GitHub: insufficient usage): exit 1, the plans' sizes, what to do", async () => {
  fake.options.quotaBytes = 1;
  try {
    await fails(
      ["backup", "-c", join(dir, "cairn.yml")],
      envFor(fake, fake.startRun(2)),
      1,
      /artifact storage quota is full \(private repositories: 500 MB on Free, 1 GB on Pro, 2 GB on Team/,
      /remove old snapshots, lower retention-days/,
    );
  } finally {
    fake.options.quotaBytes = undefined;
  }
});

test("the REST rate limit is used up: exit 1, GITHUB_TOKEN's 1,000 an hour and when it resets, what to do", async () => {
  fake.rate = { used: fake.options.restLimit, resetAt: fake.now() + 1_800_000 };
  try {
    await fails(
      ["snapshots", "-r", "artifacts:bot"],
      envFor(fake),
      1,
      /rate limit is used up until 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ \(1000 requests per hour; a workflow's GITHUB_TOKEN gets 1,000 per repository\)/,
      /wait until then/,
    );
  } finally {
    fake.rate = { used: 0, resetAt: 0 };
  }
});

test("a token without actions: read: exit 2, the permission to give", async () => {
  await fails(
    ["snapshots", "-r", "artifacts:bot"],
    { ...envFor(fake), GITHUB_TOKEN: fake.addToken("none") },
    2,
    /the GitHub token may not read this repository's artifacts \(GitHub said: Resource not accessible by integration\)/,
    /permissions: \{ actions: read \}/,
  );
});

test("Actions not allowed in the repository (either of GitHub's wordings): exit 2, where to allow it", async () => {
  for (const said of ["Actions is not allowed here", "Actions has been disabled for this repository."]) {
    fake.options.actionsDisabled = said;
    try {
      await fails(["snapshots", "-r", "artifacts:bot"], envFor(fake), 2, new RegExp(`GitHub Actions is not allowed in octo/bot \\(GitHub said: ${said.replace(".", "\\.")}\\)`), /Settings → Actions → General/);
    } finally {
      fake.options.actionsDisabled = false;
    }
  }
});
