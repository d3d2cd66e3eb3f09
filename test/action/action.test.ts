// The Action as the runner runs it (dist/action.js, INPUT_* variables,
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files): init makes a repository in a
// git remote (a local bare repository) with a write key made beforehand; a
// real backup over the test sshd lands there and restores equal, with the
// identity and from the encrypted files downloaded without it; verify and
// snapshots. No secret (SSH key, write key, identity, token) shows anywhere
// the run writes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { actionWorld, leaks, runAction, TOKEN, type ActionRun, type ActionWorld } from "../helpers/action.ts";
import { cairn } from "../helpers/cli.ts";
import { servedGitHubWorld } from "../helpers/history.ts";
import { sqliteContentHash } from "../helpers/repo.ts";
import { haveSshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const skip = haveSshd() || CI ? false : "needs sshd";

describe("the Action, run as the runner runs it", { skip }, () => {
  let w: ActionWorld;
  before(async () => {
    w = await actionWorld();
  });
  after(async () => {
    await w?.stop();
  });

  const noLeaks = (run: ActionRun) => assert.deepEqual(leaks(run, w.secrets), []);
  const green = (run: ActionRun) => assert.equal(run.code, 0, `${run.shown}\n${run.stderr}`);

  test("init creates the repository in the git remote with the write key given (never a new one to print)", async () => {
    const run = await runAction(w.ws, { ...w.inputs, command: "init", recipient: w.repo.recipient });
    green(run);
    noLeaks(run);
    assert.deepEqual(JSON.parse(run.outputs.repositories), [{ repository: w.remote, result: "created" }]);
    assert.match(run.summary, /Created repository [^]*with the write key you gave/);
    // The repository is there, and opens with that write key.
    const r = cairn(["snapshots", "-r", w.remote], { env: { CAIRN_WRITE_KEY: w.repo.writeKey } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no snapshots/);
    // Without a write key, init is refused: a key made here would have to be printed.
    const refused = await runAction(w.ws, { ...w.inputs, command: "init", recipient: w.repo.recipient, "write-key": "" });
    assert.notEqual(refused.code, 0);
    assert.match(refused.errors[0], /write-key: init needs a write key made beforehand/);
  });

  test("a backup over SSH lands: outputs, job summary, every secret masked before use", async () => {
    const first = await runAction(w.ws, { ...w.inputs, ...w.passphraseKey });
    green(first);
    noLeaks(first);
    // Every secret input was masked (the runner then hides it), before any other line.
    const lines = first.stdout.split("\n");
    const firstOther = lines.findIndex((l) => l && !l.startsWith("::add-mask::"));
    for (const s of [w.repo.writeKey, TOKEN, w.passphraseKey["ssh-passphrase"]]) {
      const at = lines.indexOf(`::add-mask::${s}`);
      assert.ok(at >= 0 && at < firstOther, `${s.slice(0, 8)} masked first`);
    }

    // A second backup after a change stores only what changed.
    execFileSync("sqlite3", [join(w.srv, "data", "bot.db"), "UPDATE t SET v = randomblob(1000) WHERE id <= 20"]);
    writeFileSync(join(w.srv, "config", "config.json"), '{"symbol":"BTCUSDT","risk":0.02}\n');
    const run = await runAction(w.ws, w.inputs);
    green(run);
    noLeaks(run);
    assert.match(run.outputs["snapshot-id"], /^[0-9a-f]{64}$/);
    assert.notEqual(run.outputs["snapshot-id"], first.outputs["snapshot-id"]);
    const added = Number(run.outputs["bytes-added"]);
    assert.ok(added > 0 && added < Number(first.outputs["bytes-added"]) / 4, `${added} new of ${first.outputs["bytes-added"]}`);
    assert.ok(Number(run.outputs["bytes-stored"]) > 0);
    assert.deepEqual(JSON.parse(run.outputs.repositories), [{ repository: w.remote, result: "ok", snapshot: run.outputs["snapshot-id"] }]);
    assert.equal(run.outputs["settings-changed"], undefined, "no settings history configured");

    const s = run.summary;
    assert.match(s, new RegExp(`<h2>cairn backup: snapshot ${run.outputs["snapshot-id"].slice(0, 8)}</h2>`));
    assert.match(s, /<td>bot-db<\/td><td>sqlite<\/td><td>1<\/td><td>[\d.]+ (KiB|MiB)<\/td><td>[\d.]+ KiB<\/td>/, "each source with its size and new data");
    assert.match(s, /Deduplication ratio \(data read ÷ new data\): [\d.]+×/);
    assert.match(s, /Duration: [\d.]+ s for the snapshot/);
    assert.match(s, /<h3>Repositories<\/h3>/);
    assert.ok(s.includes(`<td><code>${w.remote}</code></td><td>saved</td>`), s);
    assert.match(s, /<h3>Last 2 of 2 snapshots in/);
    assert.equal((s.match(/<td>(full|incremental)<\/td>/g) ?? []).length, 2);
    assert.deepEqual(run.errors, []);
  });

  test("restore with the identity writes the files equal to the server's, and says where", async () => {
    const run = await runAction(w.ws, { ...w.inputs, command: "restore", identity: w.identity, target: "restored" });
    green(run);
    noLeaks(run);
    const target = join(w.ws, "restored");
    assert.equal(run.outputs["restore-path"], target);
    assert.equal(await sqliteContentHash(join(target, "bot-db.sqlite")), await sqliteContentHash(join(w.srv, "data", "bot.db")));
    const rel = w.srv.replace(/^\//, "");
    for (const f of ["config/config.json", ".env"]) assert.deepEqual(readFileSync(join(target, "settings", rel, f)), readFileSync(join(w.srv, f)), f);
    assert.match(run.summary, /<h2>cairn restore: snapshot [0-9a-f]{8}<\/h2>/);
  });

  test("restore without the identity writes the snapshot's encrypted files, which restore elsewhere with the identity", async () => {
    const run = await runAction(w.ws, { ...w.inputs, command: "restore" });
    green(run);
    noLeaks(run);
    const downloaded = join(w.ws, "cairn-download");
    assert.equal(run.outputs["restore-path"], downloaded);
    assert.match(run.summary, /npx cairn restore [0-9a-f]{8} -r local:\.\/downloaded -i key\.txt/);
    // Nothing in it is plaintext.
    const all = execFileSync("sh", ["-c", `cat $(find '${downloaded}' -type f)`], { maxBuffer: 1 << 28 }).toString("latin1");
    assert.ok(!all.includes("BTCUSDT") && !all.includes("API_KEY"));
    const target = join(w.dir, "restored-elsewhere");
    const r = cairn(["restore", "latest", "-r", `local:${downloaded}`, "-i", w.repo.identityFile, "--target", target]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sqliteContentHash(join(target, "bot-db.sqlite")), await sqliteContentHash(join(w.srv, "data", "bot.db")));
  });

  test("verify and snapshots with the write key: green, a summary and outputs", async () => {
    const v = await runAction(w.ws, { ...w.inputs, command: "verify" });
    green(v);
    noLeaks(v);
    assert.equal(JSON.parse(v.outputs.repositories)[0].result, "ok");
    assert.match(v.summary, /no problems found/);
    const s = await runAction(w.ws, { ...w.inputs, command: "snapshots" });
    green(s);
    assert.match(s.outputs["snapshot-id"], /^[0-9a-f]{64}$/);
    assert.match(s.summary, /Last 2 of 2 snapshots/);
  });

  test("verify with max-age and a slice; forget by cairn.yml's retention: keeps the newest, verify stays green", async () => {
    // A slice of the packs, and freshness: the newest snapshot is minutes old.
    const v = await runAction(w.ws, { ...w.inputs, command: "verify", "read-data": "1/2", "max-age": "1h" });
    green(v);
    noLeaks(v);
    // Forget without a policy in cairn.yml is refused, saying what to add.
    const none = await runAction(w.ws, { ...w.inputs, command: "forget" });
    assert.notEqual(none.code, 0);
    assert.match(none.errors[0], /retention: policy in cairn\.yml/);
    // With one: the newest snapshot is kept, the older removed, and the data only it needed pruned.
    const yml = join(w.ws, "retained.yml");
    writeFileSync(yml, readFileSync(join(w.ws, "cairn.yml"), "utf8") + "retention: { keep-last: 1, prune: true }\n");
    const before = cairn(["snapshots", "-r", w.remote, "--json"], { env: { CAIRN_WRITE_KEY: w.repo.writeKey } });
    const ids = JSON.parse(before.stdout).map((x: { id: string }) => x.id);
    assert.ok(ids.length >= 2, before.stderr);
    const f = await runAction(w.ws, { ...w.inputs, command: "forget", config: "retained.yml" });
    green(f);
    noLeaks(f);
    assert.match(f.summary, new RegExp(`kept 1, removed ${ids.length - 1} snapshot\\(s\\); pruned: `));
    const after = JSON.parse(cairn(["snapshots", "-r", w.remote, "--json"], { env: { CAIRN_WRITE_KEY: w.repo.writeKey } }).stdout);
    assert.deepEqual(after.map((x: { id: string }) => x.id), [ids.at(-1)]);
    // The chain check knows what forget removed: no "a snapshot was deleted".
    const again = await runAction(w.ws, { ...w.inputs, command: "verify", identity: w.identity });
    green(again);
    assert.match(again.summary, /no problems found/);
  });

  test("restore with target server: a dry run changes nothing; with the identity the snapshot goes back, the current data kept", async () => {
    const db = join(w.srv, "data", "bot.db");
    const before = await sqliteContentHash(db);
    const dry = await runAction(w.ws, { ...w.inputs, command: "restore", target: "server", "dry-run": "true" });
    green(dry);
    noLeaks(dry);
    assert.match(dry.summary, /dry run: nothing changed/);
    assert.match(dry.summary, /Source <code>bot-db<\/code> \(sqlite\)/);
    assert.deepEqual(readdirSync(join(w.srv, "data")).filter((f) => f.includes("before-restore")), [], "nothing kept: nothing changed");
    // The server's database changes; the restore puts the snapshot's back and keeps the changed one.
    execFileSync("sqlite3", [db, "UPDATE t SET v = randomblob(10) WHERE id <= 3"]);
    const changed = await sqliteContentHash(db);
    assert.notEqual(changed, before);
    const run = await runAction(w.ws, { ...w.inputs, command: "restore", target: "server", identity: w.identity, source: "bot-db" });
    green(run);
    noLeaks(run);
    assert.equal(await sqliteContentHash(db), before, "the snapshot's database is back");
    const kept = readdirSync(join(w.srv, "data")).filter((f) => /^bot\.db\.before-restore-/.test(f));
    assert.equal(kept.length, 1, readdirSync(join(w.srv, "data")).join(", "));
    assert.equal(await sqliteContentHash(join(w.srv, "data", kept[0])), changed, "the data it replaced is kept");
  });
});
