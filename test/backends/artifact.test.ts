// The artifact backend, driven through the real @actions/artifact client and
// REST calls (@octokit/rest) against the local fake of GitHub's services
// (test/helpers/fake-github): the conformance suite, then what only
// artifacts can get wrong: the mapping of files to artifacts, runs, expiry,
// copies, digests, ranges, and what GitHub's refusals turn into.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { ArtifactBackend, artifactName, parseArtifactName } from "../../src/backends/artifact.ts";
import { ExpiredError, FILE_TYPES, type Backend, type FileEntry, type FileType, type Handle } from "../../src/backends/backend.ts";
import { openBackend } from "../../src/backends/open.ts";
import { RetryBackend } from "../../src/backends/retry.ts";
import { ExitCode } from "../../src/errors.ts";
import type { GitHubContext } from "../../src/github/context.ts";
import { GitHubError } from "../../src/github/errors.ts";
import { contextFor, DAY, quietArtifactClient, startFakeGitHub, type FakeGitHub, type FakeGitHubOptions } from "../helpers/fake-github/index.ts";
import { sha256 } from "../helpers/repo.ts";
import { backendSuite, nameFor } from "./suite.ts";

quietArtifactClient();

backendSuite("artifacts (fake GitHub)", async () => {
  const fake = await startFakeGitHub();
  const run = fake.startRun(7001);
  const backend = new ArtifactBackend({ name: "suite", github: contextFor(fake, run), now: () => fake.now() });
  return { backend, cleanup: () => fake.close() };
});

const fakes: FakeGitHub[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

async function fakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const fake = await startFakeGitHub(opts);
  fakes.push(fake);
  return fake;
}

/** The backend a workflow run (runId) or a machine outside Actions (no runId) would open. */
function backendIn(fake: FakeGitHub, runId?: number, extra: Partial<GitHubContext> = {}): ArtifactBackend {
  const run = runId === undefined ? undefined : fake.runs.has(runId) ? { runId, runtime: { token: fake.runs.get(runId)!.token, resultsUrl: `${fake.url}/` } } : fake.startRun(runId);
  return new ArtifactBackend({ name: "bot", github: contextFor(fake, run, extra), now: () => fake.now() });
}

const pack = (s: string): Handle => ({ type: "pack", name: nameFor(s) });
const CONFIG: Handle = { type: "config", name: "" };
const KEYS: Handle = { type: "keys", name: "" };

async function listAll(b: Backend, type: FileType): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const f of b.list(type)) out.push(f);
  return out;
}

/** Live artifacts by name, as the REST API would list them. */
function names(fake: FakeGitHub, runId?: number): string[] {
  return fake
    .visible()
    .filter((a) => runId === undefined || a.runId === runId)
    .map((a) => a.name)
    .sort();
}

async function rejectsWith(p: Promise<unknown>, problem: string, message: RegExp, hint?: RegExp): Promise<GitHubError> {
  let caught: unknown;
  await assert.rejects(p, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof GitHubError, `a GitHubError, not ${String(caught)}`);
  assert.equal(caught.problem, problem, caught.message);
  assert.match(caught.message, message);
  if (hint) assert.match(caught.hint ?? "", hint);
  return caught;
}

describe("artifact backend: files and artifacts", () => {
  test("one raw artifact per file, named NAME.<type>[.<id>], holding exactly the file's bytes", async () => {
    const fake = await fakeGitHub();
    const b = backendIn(fake, 1);
    const files = new Map<string, Buffer>();
    for (const type of FILE_TYPES) {
      const data = randomBytes(100 + type.length);
      const h = { type, name: type === "config" || type === "keys" ? "" : sha256(data) };
      await b.save(h, data);
      files.set(artifactName("bot", h), data);
    }
    assert.deepEqual(names(fake), [...files.keys()].sort());
    for (const a of fake.visible()) {
      assert.ok(fake.blobs.get(a.blobKey)!.data!.equals(files.get(a.name)!), `${a.name} is stored raw, not zipped`);
      assert.equal(a.digest, `sha256:${sha256(files.get(a.name)!)}`);
      assert.doesNotMatch(a.name, /["<>|*?\r\n\\/:]/, "within GitHub's rules for artifact names");
    }
  });

  test("artifact names parse back to their file; other artifacts and junk are not files", () => {
    const id = nameFor("x");
    assert.deepEqual(parseArtifactName("bot", `bot.pack.${id}`), { type: "pack", name: id, n: 0 });
    assert.deepEqual(parseArtifactName("bot", `bot.lock.${id}.12`), { type: "lock", name: id, n: 12 });
    assert.deepEqual(parseArtifactName("bot", "bot.config"), { type: "config", name: "", n: 0 });
    assert.deepEqual(parseArtifactName("bot", "bot.keys.2"), { type: "keys", name: "", n: 2 });
    for (const junk of [`botx.pack.${id}`, `other.pack.${id}`, `bot.pack.${id.slice(1)}`, `bot.packs.${id}`, `bot.pack.${id}.0`, `bot.pack.${id}.x`, `bot.pack.${id}.1.2`, "bot.config.abc", "bot", "coverage-report", `bot.pack.${id.toUpperCase()}`]) {
      assert.equal(parseArtifactName("bot", junk), undefined, junk);
    }
  });

  test("other artifacts in the repository are not listed as files", async () => {
    const fake = await fakeGitHub();
    const other = new ArtifactBackend({ name: "botx", github: contextFor(fake, fake.startRun(1)) });
    await other.save(pack("theirs"), Buffer.from("not ours"));
    const b = backendIn(fake, 2);
    await b.save(pack("ours"), Buffer.from("ours"));
    assert.deepEqual(await listAll(b, "pack").then((l) => l.map((f) => f.name)), [nameFor("ours")]);
  });

  test("the repository name must make valid artifact names; openBackend gives artifacts:NAME", async () => {
    const fake = await fakeGitHub();
    const github = contextFor(fake);
    for (const bad of ["a.b", "a/b", "a:b", "", "x".repeat(41), "sp ace"]) {
      assert.throws(() => new ArtifactBackend({ name: bad, github }), (err: Error & { exitCode?: number }) => err.exitCode === ExitCode.usage && /invalid artifacts repository name/.test(err.message), bad);
    }
    const b = openBackend("artifacts:backup-1", { github });
    assert.ok(b instanceof RetryBackend && b.inner instanceof ArtifactBackend);
    assert.equal(b.properties.location, "artifacts:backup-1 (octo/bot)");
    assert.throws(() => openBackend("artifacts:backup-1"), /needs the GitHub context/);
  });
});

describe("artifact backend: runs", () => {
  test("written in one run, read in later runs and from outside Actions; written only inside a run", async () => {
    const fake = await fakeGitHub();
    const data = randomBytes(70_000);
    await backendIn(fake, 1).save(pack("p"), data);
    fake.endRun(1);
    assert.ok((await backendIn(fake, 2).load(pack("p"))).equals(data), "a later run reads it");
    const outside = backendIn(fake);
    assert.ok((await outside.load(pack("p"))).equals(data), "the REST API reads it from anywhere");
    assert.ok((await outside.load(pack("p"), { offset: 1000, length: 10 })).equals(data.subarray(1000, 1010)));
    const before = names(fake);
    const err = await rejectsWith(outside.save(pack("q"), Buffer.from("x")), "not-in-a-run", /written only from inside a workflow run, by the cairn Action/, /cairn Action/);
    assert.equal(err.exitCode, ExitCode.usage);
    assert.deepEqual(names(fake), before, "nothing was written");
  });

  test("a run whose token has ended cannot write; GitHub Enterprise Server is refused by name", async () => {
    const fake = await fakeGitHub();
    const b = backendIn(fake, 1);
    fake.endRun(1);
    await rejectsWith(b.save(pack("late"), Buffer.from("x")), "auth", /runtime token was refused/);
    const ghes = backendIn(fake, 2, { serverUrl: "https://github.example.com" });
    const err = await rejectsWith(ghes.save(pack("x"), Buffer.from("x")), "unsupported-server", /Enterprise Server/, /git or local/);
    assert.equal(err.exitCode, ExitCode.usage);
  });

  test("an upload that broke half way holds its name in the run: the next attempt stores a numbered copy, which reads back", async () => {
    const fake = await fakeGitHub();
    const b = backendIn(fake, 1);
    const data = randomBytes(5000);
    fake.faults.commits = 1;
    await assert.rejects(b.save(pack("p"), data));
    await b.save(pack("p"), data);
    assert.deepEqual(names(fake), [`bot.pack.${nameFor("p")}.1`]);
    assert.ok((await backendIn(fake).load(pack("p"))).equals(data), "another reader finds the numbered copy");
    assert.deepEqual((await listAll(backendIn(fake), "pack")).map((f) => f.name), [nameFor("p")]);
  });

  test("a second process in the same run (init, then backup) adopts the artifact the first one stored", async () => {
    const fake = await fakeGitHub();
    await backendIn(fake, 1).save(CONFIG, Buffer.from("config"));
    const second = backendIn(fake, 1);
    await second.save(CONFIG, Buffer.from("config"));
    assert.deepEqual(names(fake), ["bot.config"], "no second copy");
    await assert.rejects(backendIn(fake, 1).save(CONFIG, Buffer.from("other")), /other content|already|conflict/i);
  });

  test("a lock's renewal is a new copy; the older one goes; every reader sees one lock with the newest content", async () => {
    const fake = await fakeGitHub();
    const b = backendIn(fake, 1);
    const lock: Handle = { type: "lock", name: nameFor("lock") };
    await b.save(lock, Buffer.from("lease 1"));
    await b.save(lock, Buffer.from("lease two"));
    await b.save(lock, Buffer.from("lease three"));
    assert.deepEqual(names(fake), [`bot.lock.${nameFor("lock")}.2`]);
    const reader = backendIn(fake);
    assert.equal((await reader.load(lock)).toString(), "lease three");
    assert.deepEqual((await listAll(reader, "lock")).map((f) => [f.name, f.size]), [[lock.name, 11]]);
    await b.remove(lock);
    assert.deepEqual(names(fake), []);
    assert.deepEqual(await listAll(reader, "lock"), []);
  });

  test("removing another run's file needs actions: write; this run's own files need no REST permission", async () => {
    const fake = await fakeGitHub();
    const readOnly = fake.addToken("read");
    await backendIn(fake, 1).save(pack("old"), Buffer.from("old"));
    const b = backendIn(fake, 2, { token: readOnly });
    await b.save(pack("new"), Buffer.from("new"));
    await b.remove(pack("new"));
    await rejectsWith(b.remove(pack("old")), "permission", /may not delete/, /actions: write/);
    assert.deepEqual(names(fake), [`bot.pack.${nameFor("old")}`]);
    await backendIn(fake, 3).remove(pack("old"));
    assert.deepEqual(names(fake), []);
  });
});

describe("artifact backend: expiry", () => {
  test("each file's expiry is its artifact's; expired files are not listed and load as expired (a not-exist error that says when)", async () => {
    const fake = await fakeGitHub({ retentionDays: 90 });
    const b = backendIn(fake, 1, { retentionDays: 7 });
    const t0 = fake.now();
    assert.ok(Math.abs(b.properties.expiry!.newFiles().getTime() - (t0 + 7 * DAY)) < 1000);
    await b.save(pack("p"), Buffer.from("seven days"));
    const st = await b.stat(pack("p"));
    assert.ok(Math.abs(st.expires!.getTime() - (t0 + 7 * DAY)) < 60_000, `expires ${st.expires?.toISOString()}`);
    fake.advance(6 * DAY);
    assert.equal((await listAll(backendIn(fake), "pack")).length, 1);
    fake.advance(DAY + 60_000);
    const reader = backendIn(fake);
    assert.deepEqual(await listAll(reader, "pack"), []);
    for (const call of [reader.load(pack("p")), reader.load(pack("p"), { offset: 0, length: 1 }), reader.stat(pack("p"))]) {
      await assert.rejects(call, (err) => err instanceof ExpiredError && reader.isNotExist(err) && /expired on 20\d\d-/.test(err.message));
    }
  });

  test("a reader whose clock lags learns of the expiry from the download's 410", async () => {
    const fake = await fakeGitHub({ retentionDays: 3 });
    await backendIn(fake, 1).save(pack("p"), Buffer.from("three days"));
    const lagging = new ArtifactBackend({ name: "bot", github: contextFor(fake), now: Date.now });
    assert.equal((await listAll(lagging, "pack")).length, 1);
    fake.advance(4 * DAY);
    fake.resetStats();
    await assert.rejects(lagging.load(pack("p")), (err) => err instanceof ExpiredError);
    assert.equal(fake.stats.restByRoute["GET download"], 1, "the download was refused (410)");
  });

  test("newFiles() is an upper bound until GitHub shows this run's real expiry (the repository's setting caps what is asked)", async () => {
    const fake = await fakeGitHub({ retentionDays: 10 });
    const b = backendIn(fake, 1, { retentionDays: 30 });
    const t0 = fake.now();
    assert.ok(Math.abs(b.properties.expiry!.newFiles().getTime() - (t0 + 30 * DAY)) < 1000, "asked 30 days; the cap is not known yet");
    await b.save(pack("p"), Buffer.from("x"));
    const st = await b.stat(pack("p"));
    assert.ok(Math.abs(st.expires!.getTime() - (t0 + 10 * DAY)) < 60_000, "GitHub kept it 10 days");
    assert.ok(b.properties.expiry!.newFiles().getTime() <= t0 + 10 * DAY + 60_000, "and newFiles() now says so");
    const capped = backendIn(fake, 2, { retentionDays: 30, maxRetentionDays: 10 });
    assert.ok(capped.properties.expiry!.newFiles().getTime() <= fake.now() + 10 * DAY, "GITHUB_RETENTION_DAYS caps it from the start");
  });

  test("a run that writes data renews the config and keys when their copies would expire first; readers take the longest-lived copy", async () => {
    const fake = await fakeGitHub({ retentionDays: 90 });
    const first = backendIn(fake, 1, { retentionDays: 7 });
    await first.save(CONFIG, Buffer.from("the config"));
    await first.save(KEYS, Buffer.from("the keys"));
    fake.advance(3 * DAY);
    // A run that only takes a lock (a restore) copies nothing.
    await backendIn(fake, 2, { retentionDays: 7 }).save({ type: "lock", name: nameFor("l") }, Buffer.from("lock"));
    assert.deepEqual(names(fake).filter((n) => !n.includes(".lock.")), ["bot.config", "bot.keys"]);
    await backendIn(fake, 3, { retentionDays: 7 }).save(pack("p"), Buffer.from("data"));
    assert.deepEqual(names(fake, 3), ["bot.config", "bot.keys", `bot.pack.${nameFor("p")}`]);
    fake.advance(5 * DAY); // run 1's copies have expired
    const reader = backendIn(fake);
    assert.equal((await reader.load(CONFIG)).toString(), "the config");
    assert.equal((await reader.load(KEYS)).toString(), "the keys");
    const [cfg] = await listAll(reader, "config");
    const packEntry = (await listAll(reader, "pack"))[0];
    assert.ok(cfg.expires!.getTime() >= packEntry.expires!.getTime() - 60_000, "the config lives as long as the data written with it");
    // A run with a shorter retention than the copies' remaining life copies nothing.
    await backendIn(fake, 4, { retentionDays: 1 }).save(pack("q"), Buffer.from("short"));
    assert.deepEqual(names(fake, 4), [`bot.pack.${nameFor("q")}`]);
  });

  test("copies of the config that differ are refused (exit 3): a file is never rewritten", async () => {
    const fake = await fakeGitHub();
    await backendIn(fake, 1).save(CONFIG, Buffer.from("mine"));
    await backendIn(fake, 2).save(CONFIG, Buffer.from("someone else's"));
    await assert.rejects(backendIn(fake).load(CONFIG), (err: Error & { exitCode?: number }) => err.exitCode === ExitCode.integrity && /differ/.test(err.message));
  });
});

describe("artifact backend: downloads", () => {
  test("a whole download is checked against the digest recorded at upload (exit 3 when it differs)", async () => {
    const fake = await fakeGitHub();
    const h: Handle = { type: "index", name: nameFor("i") };
    await backendIn(fake, 1).save(h, Buffer.from("index bytes"));
    const blob = fake.blobs.get(fake.visible()[0].blobKey)!;
    blob.data = Buffer.from("index bytez");
    await assert.rejects(backendIn(fake).load(h), (err: Error & { exitCode?: number }) => err.exitCode === ExitCode.integrity && /not what was uploaded/.test(err.message));
  });

  test("a ranged load downloads only its bytes, and signed URLs are reused while they live", async () => {
    const fake = await fakeGitHub();
    const data = randomBytes(1 << 20);
    await backendIn(fake, 1).save(pack("p"), data);
    const reader = backendIn(fake);
    await reader.stat(pack("p"));
    fake.resetStats();
    assert.ok((await reader.load(pack("p"), { offset: 4096, length: 65536 })).equals(data.subarray(4096, 4096 + 65536)));
    assert.ok((await reader.load(pack("p"), { offset: 900_000, length: 1000 })).equals(data.subarray(900_000, 901_000)));
    let s = fake.resetStats();
    assert.equal(s.blobDownloadBytes, 65536 + 1000, "only the ranges crossed the wire");
    assert.deepEqual(s.restByRoute, { "GET download": 1 }, "one signed URL for both ranges");
    fake.advance(120_000); // the URL has expired
    assert.ok((await reader.load(pack("p"), { offset: 0, length: 10 })).equals(data.subarray(0, 10)));
    s = fake.resetStats();
    assert.equal(s.restByRoute["GET download"], 1, "a new URL once the old one expired");
  });

  test("when the blob host ignores Range, a file is downloaded whole once, checked, and its ranges served from it", async () => {
    const fake = await fakeGitHub({ ranges: false });
    const data = randomBytes(300_000);
    await backendIn(fake, 1).save(pack("p"), data);
    const reader = backendIn(fake);
    await reader.stat(pack("p"));
    fake.resetStats();
    for (const [offset, length] of [[0, 4096], [100_000, 50_000], [299_990, 10]]) {
      assert.ok((await reader.load(pack("p"), { offset, length })).equals(data.subarray(offset, offset + length)));
    }
    assert.equal(fake.resetStats().blobDownloadBytes, data.length, "one whole download");
    // And that whole download is checked, even for a ranged load.
    fake.blobs.get(fake.visible()[0].blobKey)!.data![5] ^= 1;
    await assert.rejects(backendIn(fake).load(pack("p"), { offset: 0, length: 1 }), /not what was uploaded/);
  });
});

describe("artifact backend: GitHub's refusals, each saying what to do", () => {
  test("storage quota full: named, with the plans' sizes and what to do; not retried", async () => {
    const fake = await fakeGitHub({ quotaBytes: 100 });
    const b = backendIn(fake, 1);
    await b.save(pack("a"), randomBytes(200));
    const err = await rejectsWith(b.save(pack("b"), Buffer.from("x")), "quota", /storage quota is full \(private repositories: 500 MB on Free/, /remove old snapshots|retention-days/);
    assert.equal(b.isRetryable(err), false);
  });

  test("the REST rate limit: named with the limit and the reset time; not retried", async () => {
    const fake = await fakeGitHub({ restLimit: 5 });
    await backendIn(fake, 1).save(pack("a"), Buffer.from("a"));
    const reader = backendIn(fake);
    let err: unknown;
    try {
      for (let i = 0; i < 10; i++) await listAll(reader, "lock");
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof GitHubError && err.problem === "rate-limit", String(err));
    assert.match(err.message, /rate limit is used up until 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ \(5 requests per hour; a workflow's GITHUB_TOKEN gets 1,000 per repository\)/);
    assert.equal(reader.isRetryable(err), false);
  });

  test("a token without actions: read, a wrong token, no token, and Actions not allowed", async () => {
    const fake = await fakeGitHub();
    await backendIn(fake, 1).save(pack("a"), Buffer.from("a"));
    await rejectsWith(listAll(backendIn(fake, undefined, { token: fake.addToken("none") }), "pack"), "permission", /may not read this repository's artifacts \(GitHub said: Resource not accessible by integration\)/, /permissions: \{ actions: read \}/);
    await rejectsWith(backendIn(fake, undefined, { token: "ghs_revoked" }).load(pack("a")), "auth", /refused the token \(Bad credentials/, /GITHUB_TOKEN/);
    const none = await rejectsWith(backendIn(fake, undefined, { token: undefined }).stat(pack("a")), "auth", /needs a GitHub token/, /actions: read/);
    assert.equal(none.exitCode, ExitCode.usage);
    fake.options.actionsDisabled = true;
    await rejectsWith(listAll(backendIn(fake), "pack"), "actions-disabled", /Actions is not allowed in octo\/bot/, /Settings → Actions/);
  });

  test("the job's artifact limit: named, with what to do", async () => {
    const fake = await fakeGitHub({ jobLimit: 2 });
    const b = backendIn(fake, 1);
    await b.save(pack("a"), Buffer.from("a"));
    await b.save(pack("b"), Buffer.from("b"));
    await rejectsWith(b.save(pack("c"), Buffer.from("c")), "job-limit", /limit on artifacts per job was reached/, /larger packs/);
  });

  test("a server error is retryable and the retry wrapper gets through it; a missing file is not retried", async () => {
    const fake = await fakeGitHub();
    await backendIn(fake, 1).save(pack("a"), Buffer.from("a"));
    const inner = backendIn(fake);
    fake.faults.rest = { status: 502, count: 1 };
    const err = await rejectsWith(listAll(inner, "pack"), "transient", /502/);
    assert.equal(inner.isRetryable(err), true);
    fake.faults.rest = { status: 503, count: 2 };
    const retried = new RetryBackend(backendIn(fake), { delayMs: 1 });
    assert.equal((await retried.load(pack("a"))).toString(), "a");
    fake.resetStats();
    await assert.rejects(retried.load(pack("never")), (e) => retried.isNotExist(e) && !retried.isRetryable(e));
  });
});
