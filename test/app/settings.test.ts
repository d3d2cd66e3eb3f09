// The GitHub part of the settings: what the runner's variables and the
// Action's inputs become (the artifact backend reads only this, never the
// environment).
import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveSettings } from "../../src/app/settings.ts";

const RUN = {
  GITHUB_TOKEN: "ghs_x",
  GITHUB_REPOSITORY: "octo/bot",
  GITHUB_RUN_ID: "42",
  GITHUB_RETENTION_DAYS: "90",
  ACTIONS_RUNTIME_TOKEN: "rt",
  ACTIONS_RESULTS_URL: "https://results.example/",
};

test("inside a workflow run: the runtime, the run and the repository's retention; retention-days is a number of days", async () => {
  const s = await resolveSettings({ retentionDays: "7" }, RUN);
  assert.deepEqual(
    { ...s.github },
    { token: "ghs_x", apiUrl: "https://api.github.com", serverUrl: "https://github.com", repository: "octo/bot", runId: 42, runtime: { token: "rt", resultsUrl: "https://results.example/" }, retentionDays: 7, maxRetentionDays: 90 },
  );
  assert.equal((await resolveSettings({}, RUN)).github.retentionDays, undefined, "no input: the repository's setting");
  for (const bad of ["0", "401", "7.5", "a week", "-3"]) {
    await assert.rejects(resolveSettings({ retentionDays: bad }, RUN), (err: Error & { exitCode?: number }) => err.exitCode === 2 && err.message.includes(JSON.stringify(bad)), bad);
  }
});

test("outside a workflow run: no runtime (artifacts are then read only), and an unusable GITHUB_RETENTION_DAYS is unknown", async () => {
  const s = await resolveSettings({}, { GITHUB_TOKEN: "t", GITHUB_RETENTION_DAYS: "lots", ACTIONS_RUNTIME_TOKEN: "rt" });
  assert.equal(s.github.runtime, undefined, "the runtime needs both variables");
  assert.equal(s.github.maxRetentionDays, undefined);
  assert.equal(s.github.runId, undefined);
});

test("retention-days from the flag or input, else CAIRN_RETENTION_DAYS, else the repository's maximum; a bad value names where it came from", async () => {
  assert.equal((await resolveSettings({}, { ...RUN, CAIRN_RETENTION_DAYS: "14" })).github.retentionDays, 14);
  assert.equal((await resolveSettings({ retentionDays: "3" }, { ...RUN, CAIRN_RETENTION_DAYS: "14" })).github.retentionDays, 3, "the flag wins");
  assert.equal((await resolveSettings({ retentionDays: "" }, { ...RUN, CAIRN_RETENTION_DAYS: "" })).github.retentionDays, undefined, "empty: the repository's maximum");
  await assert.rejects(resolveSettings({}, { ...RUN, CAIRN_RETENTION_DAYS: "forever" }), (err: Error & { exitCode?: number; hint?: string }) => {
    return err.exitCode === 2 && /^CAIRN_RETENTION_DAYS: "forever" is not a number of days from 1 to 400/.test(err.message) && /repository's maximum/.test(err.hint ?? "");
  });
  await assert.rejects(resolveSettings({ retentionDays: "0" }, RUN), /^UsageError: retention-days: "0"|retention-days: "0"/);
});

test("repositories: a list in cairn.yml (relative paths against cairn.yml), lines of CAIRN_REPOSITORY, or a list given; the first is the one other commands use", async () => {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), "cairn-settings-"));
  try {
    const cfg = join(dir, "cairn.yml");
    await writeFile(cfg, "repository:\n  - local:backups\n  - git:mirror.git#nightly\n  - git:git@example.com:me/b.git\n  - github:me/b\nsources:\n  - { name: s, files: [a] }\n");
    const s = await resolveSettings({ config: cfg, retryLock: "1m30s" }, {});
    assert.deepEqual(s.repositories, [`local:${join(dir, "backups")}`, `git:${join(dir, "mirror.git")}#nightly`, "git:git@example.com:me/b.git", "github:me/b"]);
    assert.equal(s.repository, s.repositories[0]);
    assert.equal(s.retryLockMs, 90_000);
    assert.deepEqual((await resolveSettings({ config: cfg }, { CAIRN_REPOSITORY: "local:/a\n\ngit:/b\n" })).repositories, ["local:/a", "git:/b"]);
    assert.deepEqual((await resolveSettings({ config: cfg, repository: ["local:/x", "local:/x", "local:/y"] }, {})).repositories, ["local:/x", "local:/y"]);
    await assert.rejects(resolveSettings({ retryLock: "5 minutes" }, {}), /--retry-lock: "5 minutes" is not a duration/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
