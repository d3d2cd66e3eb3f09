// End to end over the test sshd, through the CLI as a user runs it: the fake
// GitHub REST API served on 127.0.0.1 (GITHUB_API_URL), the history
// repository a real bare git repository (GITHUB_SERVER_URL). Back up: one
// commit and one pull request; change a config on the server and back up:
// one more commit with the redacted diff, the same pull request updated;
// back up with no change: nothing. Then `cairn history` and `cairn diff`
// over those snapshots, and no planted secret anywhere.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cairn, runCli, type CliResult } from "../helpers/cli.ts";
import { gitIn, servedGitHubWorld } from "../helpers/history.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const skip = haveSshd() || process.env.CI ? false : "needs sshd";

const PLANTED = ["e2e_planted_secret_one", "e2e_planted_key_one", "e2e_planted_key_two", "e2e_planted_salt"];

describe("settings history over ssh, through the CLI", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let dir: string;
  let srv: string;
  let world: Awaited<ReturnType<typeof servedGitHubWorld>>;
  let env: Record<string, string>;
  let keyFile: string;
  const outputs: CliResult[] = [];
  const run = async (args: string[], withEnv: Record<string, string> = env): Promise<CliResult> => {
    const r = await runCli(args, { env: withEnv });
    outputs.push(r);
    return r;
  };
  const backup = async () => {
    const r = await run(["backup", "-c", join(dir, "cairn.yml"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { id: string; history: { changed: boolean; files: { path: string; change: string }[]; commit: string | null; pullRequest: string | null } };
  };
  const snapshots: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-history-ssh-"));
    srv = join(dir, "srv");
    mkdirSync(join(srv, "config"), { recursive: true });
    mkdirSync(join(srv, "security"), { recursive: true });
    writeFileSync(join(srv, "config/config.json"), '{\n  "pair": "ETHUSDT",\n  "max_position": 0.5,\n  "api_secret": "e2e_planted_secret_one"\n}\n');
    writeFileSync(join(srv, ".env"), "API_URL=https://api.example.com\nAPI_KEY=e2e_planted_key_one\n");
    writeFileSync(join(srv, "security/salt.key"), "e2e_planted_salt\n");
    fx = new SshFixture();
    sshd = await fx.start();
    keyFile = join(dir, "key.txt");
    assert.equal(cairn(["keygen", "-o", keyFile]).code, 0);
    const init = cairn(["init", "-r", `local:${join(dir, "repo")}`, "-i", keyFile]);
    assert.equal(init.code, 0, init.stderr);
    world = await servedGitHubWorld(dir);
    writeFileSync(
      join(dir, "cairn.yml"),
      `repository: local:${join(dir, "repo")}
host: { address: 127.0.0.1, port: ${sshd.port}, user: ${fx.user} }
history: { repository: "github:me/bot-settings" }
sources:
  - { name: settings, files: ["${srv}/config/*.json", "${srv}/.env", "${srv}/security/salt.key"], history: true }
`,
    );
    env = {
      ...world.env,
      CAIRN_WRITE_KEY: /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1],
      CAIRN_SSH_KEY: fx.clientKeys.ed25519.text,
      CAIRN_KNOWN_HOSTS: sshd.knownHosts(),
    };
  });
  after(async () => {
    await world?.close();
    await sshd?.stop();
    fx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a change on the server: one commit and one pull request; again: the same one updated; no change: nothing", async () => {
    const first = await backup();
    snapshots.push(first.id);
    assert.equal(first.history.changed, true);
    assert.deepEqual(first.history.files.map((f) => f.change), ["added", "added", "added"]);
    assert.equal(first.history.commit, gitIn(world.gitDir, "rev-parse", "settings-history"));
    assert.equal(world.fake.pulls("me", "bot-settings").length, 1);
    assert.equal(first.history.pullRequest, "https://github.test/me/bot-settings/pull/1");

    // One value, one secret and the key file change on the server.
    writeFileSync(join(srv, "config/config.json"), readFileSync(join(srv, "config/config.json"), "utf8").replace("0.5", "5"));
    writeFileSync(join(srv, ".env"), "API_URL=https://api.example.com\nAPI_KEY=e2e_planted_key_two\n");
    writeFileSync(join(srv, "security/salt.key"), "e2e_planted_salt_two\n");
    const tip = gitIn(world.gitDir, "rev-parse", "settings-history");
    const second = await backup();
    snapshots.push(second.id);
    assert.equal(gitIn(world.gitDir, "rev-list", "--count", `${tip}..settings-history`), "1", "one commit");
    assert.deepEqual(second.history.files, [
      { path: `127.0.0.1/settings${srv}/.env`, change: "changed" },
      { path: `127.0.0.1/settings${srv}/config/config.json`, change: "changed" },
      { path: `127.0.0.1/settings${srv}/security/salt.key`, change: "changed" },
    ]);
    const diff = gitIn(world.gitDir, "diff", tip, "settings-history");
    assert.match(diff, /^-  "max_position": 0\.5,\n\+  "max_position": 5,$/m);
    assert.match(diff, /^-API_KEY=<redacted:hmac:([0-9a-f]{12})>\n\+API_KEY=<redacted:hmac:(?!\1)[0-9a-f]{12}>$/m);
    assert.match(gitIn(world.gitDir, "log", "-1", "--format=%B", "settings-history"), new RegExp(`Recorded from snapshot ${second.id}`));
    const pulls = world.fake.pulls("me", "bot-settings");
    assert.equal(pulls.length, 1, "the same pull request");
    assert.equal(second.history.pullRequest, first.history.pullRequest);
    assert.match(pulls[0].body!, new RegExp(`Latest: snapshot \`${second.id}\` of \\*\\*127\\.0\\.0\\.1\\*\\*`));
    assert.ok(world.fake.received.some((r) => r.method === "PATCH"), "updated");

    const calls = world.fake.received.length;
    const unchanged = gitIn(world.gitDir, "rev-parse", "settings-history");
    const third = await backup();
    snapshots.push(third.id);
    assert.deepEqual(third.history, { changed: false, files: [], commit: null, pullRequest: null });
    assert.equal(gitIn(world.gitDir, "rev-parse", "settings-history"), unchanged);
    assert.equal(world.fake.received.length, calls, "no request to GitHub");
    assert.deepEqual(world.fake.violations, []);
  });

  test("cairn history lists each change: time, host, snapshot, files", async () => {
    const r = await run(["history", "-c", join(dir, "cairn.yml"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const log = JSON.parse(r.stdout) as { time: string; host: string; snapshot: string; files: { path: string; change: string }[] }[];
    assert.deepEqual(log.map((c) => c.snapshot), [snapshots[1], snapshots[0]], "newest first; the backup with no change made none");
    assert.deepEqual(log.map((c) => c.host), ["127.0.0.1", "127.0.0.1"]);
    assert.deepEqual(log[0].files.map((f) => `${f.change} ${f.path}`), [
      `changed 127.0.0.1/settings${srv}/.env`,
      `changed 127.0.0.1/settings${srv}/config/config.json`,
      `changed 127.0.0.1/settings${srv}/security/salt.key`,
    ]);
    assert.equal(log[1].files.length, 3);
    const text = await run(["history", "-c", join(dir, "cairn.yml"), "--source", "settings"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^\\S+Z  127\\.0\\.0\\.1  snapshot ${snapshots[1].slice(0, 8)}  commit [0-9a-f]{12}\\n  changed +127\\.0\\.0\\.1/settings${srv}/\\.env \\(\\+1 -1\\)$`, "m"));
    const none = await run(["history", "-c", join(dir, "cairn.yml"), "--source", "logs"]);
    assert.match(none.stdout, /^no settings changes recorded for source logs/);
  });

  test("cairn diff: the files from snapshot metadata; with the identity, the redacted text diff", async () => {
    const [a, b, c] = snapshots;
    const names = await run(["diff", a.slice(0, 8), b.slice(0, 8), "-c", join(dir, "cairn.yml"), "--json"]);
    assert.equal(names.code, 0, names.stderr);
    const listed = JSON.parse(names.stdout) as { from: string; to: string; files: { path: string; change: string; diff: string | null }[] };
    assert.equal(listed.from, a);
    assert.deepEqual(listed.files.map((f) => [f.change, f.path, f.diff]), [
      ["changed", `settings${srv}/.env`, null],
      ["changed", `settings${srv}/config/config.json`, null],
      ["changed", `settings${srv}/security/salt.key`, null],
    ]);

    const text = await run(["diff", a, b, "-c", join(dir, "cairn.yml"), "-i", keyFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^-  "max_position": 0\.5,\n\+  "max_position": 5,$/m);
    assert.match(text.stdout, /^-API_KEY=<redacted:hmac:[0-9a-f]{12}>\n\+API_KEY=<redacted:hmac:[0-9a-f]{12}>$/m);
    // The same redaction as the history: the fingerprints are the ones on the branch.
    const recorded = gitIn(world.gitDir, "show", `settings-history:127.0.0.1/settings${srv}/.env`);
    assert.ok(text.stdout.includes(`+${recorded.split("\n")[1]}`), recorded);
    assert.match(text.stdout, new RegExp(`^diff --git a/settings${srv}/config/config\\.json b/settings${srv}/config/config\\.json$`, "m"));
    // The key file: only its fingerprint, as in the history.
    assert.match(text.stdout, /^ # cairn: a key file; its content is not recorded here\n-<redacted:hmac:[0-9a-f]{12}>\n\+<redacted:hmac:[0-9a-f]{12}>$/m);

    const same = await run(["diff", b, c, "-c", join(dir, "cairn.yml"), "-i", keyFile]);
    assert.match(same.stdout, /no files differ/);
    // Without the identity, salted files (one chunk: new IDs every backup) of the same size cannot be compared: it says so.
    const unsure = await run(["diff", b, c, "-c", join(dir, "cairn.yml")]);
    assert.match(unsure.stdout, /salted and the same size, so the write key cannot tell whether it changed/);
    const other = await run(["diff", a, b, "-c", join(dir, "cairn.yml"), "-i", keyFile, "--source", "logs", "--json"]);
    assert.deepEqual(JSON.parse(other.stdout).files, []);
  });

  test("no planted secret in the history's objects, the pull requests, GitHub's requests or any output", () => {
    const objects = gitIn(world.gitDir, "cat-file", "--batch-all-objects", "--batch");
    const everything = [
      objects,
      gitIn(world.gitDir, "log", "-p", "--all"),
      JSON.stringify(world.fake.pulls("me", "bot-settings")),
      world.fake.received.map((r) => r.raw).join("\n"),
      ...outputs.map((o) => o.stdout + o.stderr),
    ].join("\n");
    assert.ok(outputs.length >= 8);
    for (const planted of PLANTED) assert.ok(!everything.includes(planted), planted);
  });
});
