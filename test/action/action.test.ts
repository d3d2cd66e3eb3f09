// The Action as the runner runs it (dist/action.js, INPUT_* variables,
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files): init makes a repository in a
// git remote (a local bare repository) with a write key made beforehand; a
// real backup over the test sshd lands there and restores equal, with and
// without the identity; a wrong
// input, a refused host key and a missing repository each make a red run
// with the reason as an ::error annotation; no secret (SSH key, write key,
// identity, token) shows anywhere the run writes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildDist, leaks, runAction, type ActionRun } from "../helpers/action.ts";
import { cairn } from "../helpers/cli.ts";
import { initRepo, makeSqlite, sqliteContentHash, type NewRepo } from "../helpers/repo.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const skip = haveSshd() || CI ? false : "needs sshd";
const TOKEN = "ghs_fakeTokenForTheActionTest0123456789abcd";

describe("the Action, run as the runner runs it", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let dir: string;
  let ws: string;
  let srv: string;
  let repo: NewRepo;
  /** git:<bare repository>: where the Action's backups go. */
  let remote: string;
  let identity: string;
  let secrets: string[];
  let inputs: Record<string, string>;
  let passphraseKey: Record<string, string>;

  before(async () => {
    buildDist();
    dir = mkdtempSync(join(tmpdir(), "cairn-action-"));
    ws = join(dir, "workspace");
    srv = join(dir, "srv");
    for (const d of [ws, join(srv, "data"), join(srv, "config")]) mkdirSync(d, { recursive: true });
    await makeSqlite(join(srv, "data", "bot.db"), 2000);
    writeFileSync(join(srv, "config", "config.json"), '{"symbol":"BTCUSDT","risk":0.01}\n');
    writeFileSync(join(srv, ".env"), "API_KEY=abc\n", { mode: 0o600 });
    fx = new SshFixture();
    sshd = await fx.start();
    // The user's machine: an identity and a write key (`cairn init` into a throwaway local repository).
    repo = initRepo(dir);
    const bare = join(dir, "backups.git");
    execFileSync("git", ["init", "-q", "--bare", bare]);
    remote = `git:${bare}`;
    identity = readFileSync(repo.identityFile, "utf8");
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
    passphraseKey = { "ssh-key": withPassphrase.text, "ssh-passphrase": withPassphrase.passphrase! };
    secrets = [key.text, withPassphrase.text, withPassphrase.passphrase!, repo.writeKey, identity.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!, TOKEN];
    inputs = {
      repository: remote,
      "ssh-key": key.text,
      "known-hosts": sshd.knownHosts(),
      "write-key": repo.writeKey,
      "github-token": TOKEN,
      // What the runner fills from action.yml's defaults.
      command: "backup",
      config: "cairn.yml",
      full: "false",
      snapshot: "latest",
    };
  });

  after(async () => {
    await sshd?.stop();
    fx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const noLeaks = (run: ActionRun) => assert.deepEqual(leaks(run, secrets), []);
  const green = (run: ActionRun) => assert.equal(run.code, 0, `${run.shown}\n${run.stderr}`);

  test("init creates the repository in the git remote with the write key given (never a new one to print)", async () => {
    const run = await runAction(ws, { ...inputs, command: "init", recipient: repo.recipient });
    green(run);
    noLeaks(run);
    assert.deepEqual(JSON.parse(run.outputs.repositories), [{ repository: remote, result: "created" }]);
    assert.match(run.summary, /Created repository [^]*with the write key you gave/);
    // The repository is there, and opens with that write key.
    const r = cairn(["snapshots", "-r", remote], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no snapshots/);
    // Without a write key, init is refused: a key made here would have to be printed.
    const refused = await runAction(ws, { ...inputs, command: "init", recipient: repo.recipient, "write-key": "" });
    assert.notEqual(refused.code, 0);
    assert.match(refused.errors[0], /write-key: init needs a write key made beforehand/);
  });

  test("a backup over SSH lands: outputs, job summary, every secret masked before use", async () => {
    const first = await runAction(ws, { ...inputs, ...passphraseKey });
    green(first);
    noLeaks(first);
    // Every secret input was masked (the runner then hides it), before any other line.
    const lines = first.stdout.split("\n");
    const firstOther = lines.findIndex((l) => l && !l.startsWith("::add-mask::"));
    for (const s of [repo.writeKey, TOKEN, passphraseKey["ssh-passphrase"]]) {
      const at = lines.indexOf(`::add-mask::${s}`);
      assert.ok(at >= 0 && at < firstOther, `${s.slice(0, 8)} masked first`);
    }

    // A second backup after a change stores only what changed.
    execFileSync("sqlite3", [join(srv, "data", "bot.db"), "UPDATE t SET v = randomblob(1000) WHERE id <= 20"]);
    writeFileSync(join(srv, "config", "config.json"), '{"symbol":"BTCUSDT","risk":0.02}\n');
    const run = await runAction(ws, inputs);
    green(run);
    noLeaks(run);
    assert.match(run.outputs["snapshot-id"], /^[0-9a-f]{64}$/);
    assert.notEqual(run.outputs["snapshot-id"], first.outputs["snapshot-id"]);
    const added = Number(run.outputs["bytes-added"]);
    assert.ok(added > 0 && added < Number(first.outputs["bytes-added"]) / 4, `${added} new of ${first.outputs["bytes-added"]}`);
    assert.ok(Number(run.outputs["bytes-stored"]) > 0);
    assert.deepEqual(JSON.parse(run.outputs.repositories), [{ repository: remote, result: "ok", snapshot: run.outputs["snapshot-id"] }]);
    assert.equal(run.outputs["settings-changed"], undefined, "no settings history configured");

    const s = run.summary;
    assert.match(s, new RegExp(`<h2>cairn backup: snapshot ${run.outputs["snapshot-id"].slice(0, 8)}</h2>`));
    assert.match(s, /<td>bot-db<\/td><td>sqlite<\/td><td>1<\/td><td>[\d.]+ (KiB|MiB)<\/td><td>[\d.]+ KiB<\/td>/, "each source with its size and new data");
    assert.match(s, /Deduplication ratio \(data read ÷ new data\): [\d.]+×/);
    assert.match(s, /Duration: [\d.]+ s for the snapshot/);
    assert.match(s, /<h3>Repositories<\/h3>/);
    assert.ok(s.includes(`<td><code>${remote}</code></td><td>saved</td>`), s);
    assert.match(s, /<h3>Last 2 of 2 snapshots in/);
    assert.equal((s.match(/<td>(full|incremental)<\/td>/g) ?? []).length, 2);
    assert.deepEqual(run.errors, []);
  });

  test("restore with the identity writes the files equal to the server's, and says where", async () => {
    const run = await runAction(ws, { ...inputs, command: "restore", identity, target: "restored" });
    green(run);
    noLeaks(run);
    const target = join(ws, "restored");
    assert.equal(run.outputs["restore-path"], target);
    assert.equal(await sqliteContentHash(join(target, "bot-db.sqlite")), await sqliteContentHash(join(srv, "data", "bot.db")));
    const rel = srv.replace(/^\//, "");
    for (const f of ["config/config.json", ".env"]) assert.deepEqual(readFileSync(join(target, "settings", rel, f)), readFileSync(join(srv, f)), f);
    assert.match(run.summary, /<h2>cairn restore: snapshot [0-9a-f]{8}<\/h2>/);
  });

  test("restore without the identity writes the snapshot's encrypted files, which restore elsewhere with the identity", async () => {
    const run = await runAction(ws, { ...inputs, command: "restore" });
    green(run);
    noLeaks(run);
    const downloaded = join(ws, "cairn-download");
    assert.equal(run.outputs["restore-path"], downloaded);
    assert.match(run.summary, /npx cairn restore [0-9a-f]{8} -r local:\.\/downloaded -i key\.txt/);
    // Nothing in it is plaintext.
    const all = execFileSync("sh", ["-c", `cat $(find '${downloaded}' -type f)`], { maxBuffer: 1 << 28 }).toString("latin1");
    assert.ok(!all.includes("BTCUSDT") && !all.includes("API_KEY"));
    const target = join(dir, "restored-elsewhere");
    const r = cairn(["restore", "latest", "-r", `local:${downloaded}`, "-i", repo.identityFile, "--target", target]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sqliteContentHash(join(target, "bot-db.sqlite")), await sqliteContentHash(join(srv, "data", "bot.db")));
  });

  test("verify and snapshots with the write key: green, a summary and outputs", async () => {
    const v = await runAction(ws, { ...inputs, command: "verify" });
    green(v);
    noLeaks(v);
    assert.equal(JSON.parse(v.outputs.repositories)[0].result, "ok");
    assert.match(v.summary, /no problems found/);
    const s = await runAction(ws, { ...inputs, command: "snapshots" });
    green(s);
    assert.match(s.outputs["snapshot-id"], /^[0-9a-f]{64}$/);
    assert.match(s.summary, /Last 2 of 2 snapshots/);
  });

  test("a wrong input: a red run naming the input, the problem and the form expected", async () => {
    for (const [bad, name, expected] of [
      [{ command: "bakup" }, "command", /one of backup, restore, verify, snapshots, init/],
      [{ full: "yes please" }, "full", /true or false/],
      [{ "ssh-key": repo.writeKey }, "ssh-key", /PRIVATE KEY/],
      [{ "write-key": "CAIRN-WRITE-KEY-1 oops " + TOKEN }, "write-key", /CAIRN-WRITE-KEY-1/],
      [{ "host-fingerprint": "MD5:aa:bb" }, "host-fingerprint", /SHA256:/],
      [{ "retention-days": "forever" }, "retention-days", /1 to 400/],
      [{ repository: `${repo.repoUrl}\nsomewhere` }, "repository", /line 2/],
      [{ command: "init", recipient: "" }, "recipient", /age1/],
    ] as const) {
      const run = await runAction(ws, { ...inputs, ...bad });
      assert.notEqual(run.code, 0, name);
      assert.equal(run.errors.length, 1, run.shown);
      assert.match(run.errors[0], new RegExp(`\\b${name}\\b`), run.errors[0]);
      assert.match(run.errors[0], expected, run.errors[0]);
      assert.match(run.summary, /What failed/);
      noLeaks(run);
    }
  });

  test("a refused host key: a red run saying so, and no snapshot", async () => {
    const before = JSON.parse(cairn(["snapshots", "-r", remote, "-i", repo.identityFile, "--json"]).stdout).length;
    const run = await runAction(ws, { ...inputs, "known-hosts": fx.knownHostsLine(sshd.port, fx.hostKeys.b) });
    assert.equal(run.code, 2, run.shown);
    assert.equal(run.errors.length, 1, run.shown);
    assert.match(run.errors[0], /host key/i);
    assert.match(run.errors[0], /does not match/);
    assert.ok(run.errors[0].includes(sshd.hostKey.fingerprint), "the fingerprint to check");
    assert.deepEqual(JSON.parse(run.outputs.repositories), [{ repository: remote, result: "failed", error: JSON.parse(run.outputs.repositories)[0].error }]);
    assert.match(run.summary, /cairn backup failed: no snapshot was saved/);
    noLeaks(run);
    assert.equal(JSON.parse(cairn(["snapshots", "-r", remote, "-i", repo.identityFile, "--json"]).stdout).length, before);
  });

  test("an unreachable remote of two: the other gets its snapshot, the run is red and names the unreachable one", async () => {
    const missing = `git:${join(dir, "no-such-remote.git")}`;
    const run = await runAction(ws, { ...inputs, repository: `${missing}\n${repo.repoUrl}` });
    assert.notEqual(run.code, 0, run.shown);
    assert.equal(run.errors.length, 1, run.shown);
    assert.ok(run.errors[0].includes(join(dir, "no-such-remote.git")), run.errors[0]);
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
});
