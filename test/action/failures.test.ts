// The Action's red runs and its settings history, run as the runner runs
// it: a wrong input, a refused host key and an unreachable repository each
// make a red run with the reason as an ::error annotation; with a settings
// history, settings-changed and pull-request; a secret from the step's env
// reaches its source, masked. No secret shows anywhere.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { actionWorld, leaks, runAction, TOKEN, type ActionRun, type ActionWorld } from "../helpers/action.ts";
import { cairn } from "../helpers/cli.ts";
import { servedGitHubWorld } from "../helpers/history.ts";
import { sqliteContentHash } from "../helpers/repo.ts";
import { haveSshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const skip = haveSshd() || CI ? false : "needs sshd";

describe("the Action's red runs, and its settings history", { skip }, () => {
  let w: ActionWorld;
  before(async () => {
    w = await actionWorld();
  });
  after(async () => {
    await w?.stop();
  });

  const noLeaks = (run: ActionRun) => assert.deepEqual(leaks(run, w.secrets), []);
  const green = (run: ActionRun) => assert.equal(run.code, 0, `${run.shown}\n${run.stderr}`);

  test("with a settings history: settings-changed, the pull request, and the changed files in the summary", async () => {
    const world = await servedGitHubWorld(w.dir, { kind: "actions", actionsMayCreatePullRequests: true });
    try {
      writeFileSync(
        join(w.ws, "cairn-history.yml"),
        `host: { address: 127.0.0.1, port: ${w.sshd.port}, user: ${w.fx.user} }
history: { repository: "github:me/bot-settings" }
sources:
  - { name: settings, files: ["${w.srv}/config/*.json", "${w.srv}/.env"], history: true }
`,
      );
      const token = world.env.GITHUB_TOKEN;
      const step = { ...w.inputs, repository: w.repo.repoUrl, config: "cairn-history.yml", "github-token": token };
      const env = { GITHUB_API_URL: world.env.GITHUB_API_URL, GITHUB_SERVER_URL: world.env.GITHUB_SERVER_URL, GITHUB_REPOSITORY: "me/bot-settings" };
      const run = await runAction(w.ws, step, env);
      green(run);
      assert.deepEqual(leaks(run, [...w.secrets, token]), []);
      assert.equal(run.outputs["settings-changed"], "true");
      assert.match(run.outputs["pull-request"], /^https:\/\/github\.test\/me\/bot-settings\/pull\/\d+$/);
      assert.match(run.summary, /<h3>Settings history<\/h3>/);
      assert.match(run.summary, /config\/config\.json<\/code> added/);
      assert.ok(run.summary.includes(run.outputs["pull-request"]));
      const again = await runAction(w.ws, step, env);
      green(again);
      assert.equal(again.outputs["settings-changed"], "false");
      assert.match(again.summary, /No settings changed since the last backup/);
    } finally {
      await world.close();
    }
  });

  test("a wrong input: a red run naming the input, the problem and the form expected", async () => {
    for (const [bad, name, expected] of [
      [{ command: "bakup" }, "command", /one of backup, restore, verify, snapshots, forget, init/],
      [{ full: "yes please" }, "full", /true or false/],
      [{ "ssh-key": w.repo.writeKey }, "ssh-key", /PRIVATE KEY/],
      [{ "write-key": "CAIRN-WRITE-KEY-1 oops " + TOKEN }, "write-key", /CAIRN-WRITE-KEY-1/],
      [{ "host-fingerprint": "MD5:aa:bb" }, "host-fingerprint", /SHA256:/],
      [{ "retention-days": "forever" }, "retention-days", /1 to 400/],
      [{ repository: `${w.repo.repoUrl}\nsomewhere` }, "repository", /line 2/],
      [{ command: "verify", "read-data": "8/7" }, "read-data", /slice n\/t/],
      [{ command: "verify", "max-age": "a day" }, "max-age", /26h/],
      [{ "known-hosts": w.fx.clientKeys.ed25519.text }, "known-hosts", /private key/],
      [{ "known-hosts": "just-one-field" }, "known-hosts", /line 1 has 1 field/],
      [{ repository: `https://x:${TOKEN}@github.com/me/b.git` }, "repository", /line 1, "https:\/\/\*\*\*@github\.com/],
    ] as const) {
      const run = await runAction(w.ws, { ...w.inputs, ...bad });
      assert.notEqual(run.code, 0, name);
      assert.equal(run.errors.length, 1, run.shown);
      assert.match(run.errors[0], new RegExp(`\\b${name}\\b`), run.errors[0]);
      assert.match(run.errors[0], expected, run.errors[0]);
      assert.match(run.summary, /What failed/);
      noLeaks(run);
    }
  });

  test("a refused host key: a red run saying so, and no snapshot", async () => {
    const before = JSON.parse(cairn(["snapshots", "-r", w.repo.repoUrl, "-i", w.repo.identityFile, "--json"]).stdout).length;
    const run = await runAction(w.ws, { ...w.inputs, repository: w.repo.repoUrl, "known-hosts": w.fx.knownHostsLine(w.sshd.port, w.fx.hostKeys.b) });
    assert.equal(run.code, 2, run.shown);
    assert.equal(run.errors.length, 1, run.shown);
    assert.match(run.errors[0], /host key/i);
    assert.match(run.errors[0], /does not match/);
    assert.ok(run.errors[0].includes(w.sshd.hostKey.fingerprint), "the fingerprint to check");
    assert.deepEqual(JSON.parse(run.outputs.repositories), [{ repository: w.repo.repoUrl, result: "failed", error: JSON.parse(run.outputs.repositories)[0].error }]);
    assert.match(run.summary, /cairn backup failed: no snapshot was saved/);
    noLeaks(run);
    assert.equal(JSON.parse(cairn(["snapshots", "-r", w.repo.repoUrl, "-i", w.repo.identityFile, "--json"]).stdout).length, before);
  });

  test("an unreachable remote of two: the other gets its snapshot, the run is red and names the unreachable one", async () => {
    const missing = `git:${join(w.dir, "no-such-remote.git")}`;
    const run = await runAction(w.ws, { ...w.inputs, repository: `${missing}\n${w.repo.repoUrl}` });
    assert.equal(run.code, 5, run.shown);
    assert.equal(run.errors.length, 1, run.shown);
    assert.ok(run.errors[0].includes(join(w.dir, "no-such-remote.git")), run.errors[0]);
    const results = JSON.parse(run.outputs.repositories);
    assert.deepEqual(
      results.map((r: { result: string }) => r.result),
      ["failed", "ok"],
    );
    assert.equal(results[1].snapshot, run.outputs["snapshot-id"]);
    assert.match(run.summary, /\(1 of 2 repositories failed\)/);
    assert.match(run.summary, /What failed/);
    noLeaks(run);
  });

  test("a repository URL holding a password: refused, and the password shows nowhere", async () => {
    const password = "pw_in_the_url_7f3a9c1e5b";
    const url = `git:https://x-access-token:${password}@127.0.0.1:9/me/backups.git`;
    const run = await runAction(w.ws, { ...w.inputs, repository: url });
    assert.notEqual(run.code, 0);
    assert.equal(run.errors.length, 1, run.shown);
    assert.match(run.errors[0], /password/);
    assert.deepEqual(JSON.parse(run.outputs.repositories).map((r: { repository: string }) => r.repository), ["git:https://***@127.0.0.1:9/me/backups.git"]);
    assert.deepEqual(leaks(run, [...w.secrets, password]), []);
  });

  test("a secret from the step's env (named by secret-env in cairn.yml) reaches the source, masked and shown nowhere", async () => {
    const secret = "db_pw_from_step_env_5e8d2b";
    writeFileSync(
      join(w.ws, "cairn-env.yml"),
      `sources:
  - { name: token-hash, command: "printf %s \\"$API_TOKEN\\" | sha256sum", filename: hash.txt, secret-env: { API_TOKEN: BOT_API_TOKEN } }
`,
    );
    const run = await runAction(w.ws, { ...w.inputs, repository: w.repo.repoUrl, config: "cairn-env.yml" }, { BOT_API_TOKEN: secret });
    green(run);
    assert.ok(run.stdout.split("\n").includes(`::add-mask::${secret}`), "masked");
    assert.deepEqual(leaks(run, [...w.secrets, secret]), []);
    const target = join(w.dir, "env-restored");
    const r = cairn(["restore", run.outputs["snapshot-id"], "-r", w.repo.repoUrl, "-i", w.repo.identityFile, "--target", target]);
    assert.equal(r.code, 0, r.stderr);
    const expected = execFileSync("sha256sum", { input: secret }).toString();
    assert.equal(readFileSync(join(target, "token-hash", "hash.txt"), "utf8"), expected);
  });

  test("cancelled (the runner's SIGINT): the backup stops, its lock is removed, exit 130 with the reason as an annotation", async () => {
    const marker = join(w.dir, "dump-started");
    // (A local command is not stopped with the run today: the local transport's close does nothing. The sleep ends by itself.)
    writeFileSync(join(w.ws, "cairn-slow.yml"), `sources:\n  - { name: slow, command: "touch ${marker}; sleep 15; echo late", filename: slow.txt }\n`);
    const before = JSON.parse(cairn(["snapshots", "-r", w.repo.repoUrl, "-i", w.repo.identityFile, "--json"]).stdout).length;
    const run = await runAction(w.ws, { ...w.inputs, repository: w.repo.repoUrl, config: "cairn-slow.yml" }, {}, (child) => {
      const poll = setInterval(() => {
        if (existsSync(marker)) {
          clearInterval(poll);
          child.kill("SIGINT");
        }
      }, 50);
      child.on("close", () => clearInterval(poll));
    });
    assert.equal(run.code, 130, run.shown);
    assert.match(run.errors.join("\n"), /cancelled by SIGINT/);
    assert.deepEqual(readdirSync(join(w.repo.repoPath, "locks")), [], "no lock left");
    assert.equal(JSON.parse(cairn(["snapshots", "-r", w.repo.repoUrl, "-i", w.repo.identityFile, "--json"]).stdout).length, before);
  });
});
