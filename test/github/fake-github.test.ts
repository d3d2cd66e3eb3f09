// The fake of GitHub's artifact services refuses what GitHub refuses: if it
// accepted anything, the artifact backend's tests would prove nothing. Raw
// HTTP here (no client library to smooth things over), plus the real
// @actions/artifact client where its behaviour on an answer matters.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DAY, FakeGitHub, quietArtifactClient, startFakeGitHub } from "../helpers/fake-github/index.ts";

quietArtifactClient();

const SERVICE = "/twirp/github.actions.results.api.v1.ArtifactService";

interface Run {
  runId: number;
  runtime: { token: string; resultsUrl: string };
}

interface Listing {
  total_count: number;
  artifacts: { expired: boolean; expires_at: string; created_at: string; digest: string }[];
}

/** The backend IDs inside a runtime token (what the client reads from it). */
function ids(run: Run): { workflow_run_backend_id: string; workflow_job_run_backend_id: string } {
  const scp: string = JSON.parse(Buffer.from(run.runtime.token.split(".")[1], "base64url").toString()).scp;
  const [, r, j] = scp.split(" ").find((s) => s.startsWith("Actions.Results:"))!.split(":");
  return { workflow_run_backend_id: r, workflow_job_run_backend_id: j };
}

async function twirp(fake: FakeGitHub, method: string, body: unknown, token?: string, contentType = "application/json"): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(`${fake.url}${SERVICE}/${method}`, {
    method: "POST",
    headers: { "content-type": contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

/** A REST call with the fake's write token, another token, or none (""). */
async function rest(fake: FakeGitHub, path: string, token = fake.token, method = "GET"): Promise<Response> {
  return await fetch(`${fake.url}${path}`, { method, redirect: "manual", headers: token ? { authorization: `token ${token}` } : {} });
}

/** Create, stage blocks (in the order given), commit (in list order) and finalize one artifact by raw HTTP. */
async function uploadRaw(fake: FakeGitHub, run: Run, name: string, blocks: Buffer[], stageOrder: number[]): Promise<number> {
  const created = await twirp(fake, "CreateArtifact", { ...ids(run), name, version: 7 }, run.runtime.token);
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const url = created.json.signed_upload_url;
  const blockIds = blocks.map((_, i) => Buffer.from(`block-${String(i).padStart(4, "0")}`).toString("base64"));
  await Promise.all(
    stageOrder.map(async (i) => {
      const r = await fetch(`${url}&comp=block&blockid=${encodeURIComponent(blockIds[i])}`, { method: "PUT", body: blocks[i] });
      assert.equal(r.status, 201, await r.text());
    }),
  );
  const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${blockIds.map((b) => `<Latest>${b}</Latest>`).join("")}</BlockList>`;
  const committed = await fetch(`${url}&comp=blocklist`, { method: "PUT", body: xml });
  assert.equal(committed.status, 201, await committed.text());
  const whole = Buffer.concat(blocks);
  const { createHash } = await import("node:crypto");
  const fin = await twirp(fake, "FinalizeArtifact", { ...ids(run), name, size: String(whole.length), hash: `sha256:${createHash("sha256").update(whole).digest("hex")}` }, run.runtime.token);
  assert.equal(fin.status, 200, JSON.stringify(fin.json));
  return Number(fin.json.artifact_id);
}

describe("fake GitHub: the results service (Twirp)", () => {
  let fake: FakeGitHub;
  let run: Run;
  before(async () => {
    fake = await startFakeGitHub();
    run = fake.startRun(1);
  });
  after(() => fake.close());

  test("every refusal is JSON {code, msg} with Twirp's status (the client retries anything else for ~30 s)", async () => {
    const cases: [string, unknown, string | undefined, number, string][] = [
      ["NoSuchMethod", { ...ids(run), name: "x" }, run.runtime.token, 404, "bad_route"],
      ["CreateArtifact", { ...ids(run), name: "x", version: 7 }, undefined, 401, "unauthenticated"],
      ["CreateArtifact", { ...ids(run), name: "x", version: 7 }, "not.a.token", 401, "unauthenticated"],
      ["CreateArtifact", "{not json", run.runtime.token, 400, "malformed"],
      ["CreateArtifact", { ...ids(run), name: "x", version: 7, surprise: true }, run.runtime.token, 400, "malformed"],
      ["CreateArtifact", { ...ids(run), name: "x", version: "seven" }, run.runtime.token, 400, "malformed"],
      ["CreateArtifact", { ...ids(run), name: 7, version: 7 }, run.runtime.token, 400, "malformed"],
      ["FinalizeArtifact", { ...ids(run), name: "x", size: "12 bytes" }, run.runtime.token, 400, "malformed"],
      ["ListArtifacts", [ids(run)], run.runtime.token, 400, "malformed"],
      ["CreateArtifact", { ...ids(run), version: 7 }, run.runtime.token, 400, "invalid_argument"],
      ["CreateArtifact", { ...ids(run), name: "a/b", version: 7 }, run.runtime.token, 400, "invalid_argument"],
      ["CreateArtifact", { ...ids(run), name: "x", version: 7, expires_at: new Date(Date.now() + 3_600_000).toISOString() }, run.runtime.token, 400, "invalid_argument"],
      ["CreateArtifact", { workflow_run_backend_id: "other", workflow_job_run_backend_id: ids(run).workflow_job_run_backend_id, name: "x", version: 7 }, run.runtime.token, 403, "permission_denied"],
      ["FinalizeArtifact", { ...ids(run), name: "never-created", size: "0" }, run.runtime.token, 404, "not_found"],
      ["GetSignedArtifactURL", { ...ids(run), name: "never-created" }, run.runtime.token, 404, "not_found"],
      ["DeleteArtifact", { ...ids(run), name: "never-created" }, run.runtime.token, 404, "not_found"],
    ];
    for (const [method, body, token, status, code] of cases) {
      const r = await twirp(fake, method, body, token);
      assert.equal(r.status, status, `${method} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, code, `${method}: code`);
      assert.equal(typeof r.json.msg, "string");
    }
    const wrongType = await twirp(fake, "CreateArtifact", { ...ids(run), name: "x", version: 7 }, run.runtime.token, "text/plain");
    assert.equal(wrongType.status, 404);
    assert.ok(fake.artifacts.every((a) => a.name !== "x"), "nothing was created by a refused call");
  });

  test("a name twice in one run is 409, a finalize without a committed block list 412; the same name in another run is fine", async () => {
    const body = { ...ids(run), name: "twice", version: 7 };
    assert.equal((await twirp(fake, "CreateArtifact", body, run.runtime.token)).status, 200);
    const again = await twirp(fake, "CreateArtifact", body, run.runtime.token);
    assert.deepEqual([again.status, again.json.code], [409, "already_exists"]);
    const fin = await twirp(fake, "FinalizeArtifact", { ...ids(run), name: "twice", size: "0" }, run.runtime.token);
    assert.deepEqual([fin.status, fin.json.code], [412, "failed_precondition"]);
    const other = fake.startRun(2);
    assert.equal((await twirp(fake, "CreateArtifact", { ...ids(other), name: "twice", version: 7 }, other.runtime.token)).status, 200);
  });

  test("blocks staged in parallel, in any order, are assembled in block-list order; size and hash are checked at finalize", async () => {
    const blocks = [Buffer.from("first "), Buffer.from("second "), Buffer.from("third")];
    const id = await uploadRaw(fake, run, "ordered", blocks, [2, 0, 1]);
    const a = fake.artifacts.find((x) => x.id === id)!;
    assert.equal(fake.blobs.get(a.blobKey)!.data!.toString(), "first second third");
    // A lie about the size or the hash is refused.
    const created = await twirp(fake, "CreateArtifact", { ...ids(run), name: "liar", version: 7 }, run.runtime.token);
    const url = created.json.signed_upload_url;
    const bid = Buffer.from("b0").toString("base64");
    await fetch(`${url}&comp=block&blockid=${encodeURIComponent(bid)}`, { method: "PUT", body: "abc" });
    await fetch(`${url}&comp=blocklist`, { method: "PUT", body: `<BlockList><Latest>${bid}</Latest></BlockList>` });
    assert.equal((await twirp(fake, "FinalizeArtifact", { ...ids(run), name: "liar", size: "4" }, run.runtime.token)).status, 400);
    assert.equal((await twirp(fake, "FinalizeArtifact", { ...ids(run), name: "liar", size: "3", hash: "sha256:00" }, run.runtime.token)).status, 400);
    // A block list naming a block never staged is refused.
    const created2 = await twirp(fake, "CreateArtifact", { ...ids(run), name: "missing-block", version: 7 }, run.runtime.token);
    const bad = await fetch(`${created2.json.signed_upload_url}&comp=blocklist`, { method: "PUT", body: `<BlockList><Latest>${bid}</Latest></BlockList>` });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>InvalidBlockList<\/Code>/);
  });

  test("signed URLs: a changed signature, an expired URL, an upload URL used to read or a finalized blob written are refused", async () => {
    const id = await uploadRaw(fake, run, "signed", [Buffer.from("payload")], [0]);
    const signed = await twirp(fake, "GetSignedArtifactURL", { ...ids(run), name: "signed" }, run.runtime.token);
    const url = new URL(signed.json.signed_url);
    assert.ok(url.pathname.split("/").filter(Boolean).length >= 3, "account, container and blob: what the Azure client parses from an IP-host URL");
    assert.equal(await (await fetch(url)).text(), "payload");
    const tampered = new URL(url);
    tampered.searchParams.set("sp", "cw");
    assert.equal((await fetch(tampered)).status, 403);
    const otherBlob = new URL(url);
    otherBlob.pathname += "x";
    assert.equal((await fetch(otherBlob)).status, 403);
    // A finalized artifact's blob cannot be written, even with a write URL.
    const a = fake.artifacts.find((x) => x.id === id)!;
    const write = fake.signedUrl(a.blobKey, "cw", 60_000);
    assert.equal((await fetch(`${write}&comp=block&blockid=${encodeURIComponent(Buffer.from("z").toString("base64"))}`, { method: "PUT", body: "zzz" })).status, 409);
    assert.equal((await fetch(write)).status, 403, "an upload URL does not read");
    fake.advance(61_000);
    assert.equal((await fetch(url)).status, 403, "a download URL lives one minute");
  });

  test("an ended run's token is refused; the real client gets the quota message, and the job's artifact limit", async () => {
    const small = await startFakeGitHub({ quotaBytes: 10, jobLimit: 2 });
    const dir = await mkdtemp(join(tmpdir(), "fake-"));
    try {
      const r = small.startRun(5);
      process.env.ACTIONS_RUNTIME_TOKEN = r.runtime.token;
      process.env.ACTIONS_RESULTS_URL = r.runtime.resultsUrl;
      const { DefaultArtifactClient } = await import("@actions/artifact");
      const client = new DefaultArtifactClient();
      const file = (name: string, size: number) => writeFile(join(dir, name), Buffer.alloc(size, 1)).then(() => [join(dir, name)]);
      await client.uploadArtifact("a", await file("a", 20), dir, { skipArchive: true });
      const started = Date.now();
      await assert.rejects(client.uploadArtifact("b", await file("b", 1), dir, { skipArchive: true }), /storage quota has been hit/);
      assert.ok(Date.now() - started < 5000, "the quota refusal is not retried");
      small.options.quotaBytes = undefined;
      await client.uploadArtifact("c", await file("c", 1), dir, { skipArchive: true });
      await assert.rejects(client.uploadArtifact("d", await file("d", 1), dir, { skipArchive: true }), /\(412\).*maximum number of artifacts \(2\)/);
      small.endRun(5);
      await assert.rejects(client.getArtifact("a"), /\(401\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await small.close();
    }
  });
});

describe("fake GitHub: retention and visibility", () => {
  test("the repository's setting caps what a run asks; public repositories keep 1-90 days and have no quota, private ones up to 400", async () => {
    for (const [visibility, days] of [["public", 91], ["public", 0], ["private", 401], ["private", 7.5]] as const) {
      assert.throws(() => new FakeGitHub({ visibility, retentionDays: days }), /retention is 1-(90|400) days/, `${visibility} ${days}`);
    }
    const pub = await startFakeGitHub({ visibility: "public", retentionDays: 30, quotaBytes: 1 });
    const priv = await startFakeGitHub({ visibility: "private", retentionDays: 400 });
    const dir = await mkdtemp(join(tmpdir(), "fake-"));
    try {
      const { DefaultArtifactClient } = await import("@actions/artifact");
      const upload = async (fake: FakeGitHub, runId: number, name: string, retentionDays?: number) => {
        const r = fake.startRun(runId);
        process.env.ACTIONS_RUNTIME_TOKEN = r.runtime.token;
        process.env.ACTIONS_RESULTS_URL = r.runtime.resultsUrl;
        await writeFile(join(dir, name), Buffer.alloc(100, 1));
        await new DefaultArtifactClient().uploadArtifact(name, [join(dir, name)], dir, { skipArchive: true, retentionDays });
        const a = fake.visible().find((x) => x.name === name)!;
        return Math.round((a.expiresAt - a.createdAt) / DAY);
      };
      assert.equal(await upload(pub, 1, "asked-90", 90), 30, "capped by the repository's setting");
      assert.equal(await upload(pub, 2, "asked-7", 7), 7);
      assert.equal(await upload(pub, 3, "default"), 30, "no retention asked: the setting");
      assert.equal(await upload(pub, 4, "free"), 30, "a public repository has no storage quota");
      assert.equal(await upload(priv, 5, "asked-400", 400), 400);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await pub.close();
      await priv.close();
    }
  });
});

describe("fake GitHub: the REST API", () => {
  let fake: FakeGitHub;
  let run: Run;
  let id: number;
  before(async () => {
    fake = await startFakeGitHub({ retentionDays: 7, restLimit: 40 });
    run = fake.startRun(10);
    id = await uploadRaw(fake, run, "kept", [Buffer.from("kept content")], [0]);
  });
  after(() => fake.close());

  test("unknown routes and other repositories are 404; no token on a private repository is 404, a wrong one 401", async () => {
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artefacts`)).status, 404);
    assert.equal((await rest(fake, `/repos/octo/other/actions/artifacts`)).status, 404);
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artifacts/${id}/tar`)).status, 404);
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artifacts`, "")).status, 404);
    const wrong = await rest(fake, `/repos/octo/bot/actions/artifacts`, "ghs_wrong");
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { message: string }).message, "Bad credentials");
  });

  test("permissions: actions: read to list and download, actions: write to delete", async () => {
    const none = fake.addToken("none");
    const read = fake.addToken("read");
    const denied = await rest(fake, `/repos/octo/bot/actions/artifacts`, none);
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { message: string }).message, "Resource not accessible by integration");
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artifacts`, read)).status, 200);
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artifacts/${id}`, read, "DELETE")).status, 403);
    assert.ok(fake.visible().some((a) => a.id === id), "a refused delete deletes nothing");
  });

  test("list by name across runs, with expiry; download is a 302 to a URL that reads the bytes, and 410 once expired", async () => {
    const listed = (await (await rest(fake, `/repos/octo/bot/actions/artifacts?name=kept&per_page=100`)).json()) as Listing;
    assert.equal(listed.total_count, 1);
    const a = listed.artifacts[0];
    assert.equal(a.expired, false);
    assert.ok(Math.abs(Date.parse(a.expires_at) - Date.parse(a.created_at) - 7 * DAY) < 2000, "the repository's retention applies");
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
    const dl = await rest(fake, `/repos/octo/bot/actions/artifacts/${id}/zip`);
    assert.equal(dl.status, 302);
    const location = dl.headers.get("location")!;
    assert.equal(await (await fetch(location)).text(), "kept content");
    const ranged = await fetch(location, { headers: { range: "bytes=5-11" } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("content-range"), "bytes 5-11/12");
    assert.equal(await ranged.text(), "content");
    fake.advance(7 * DAY + 1000);
    const gone = (await (await rest(fake, `/repos/octo/bot/actions/artifacts?name=kept`)).json()) as Listing;
    assert.equal(gone.artifacts[0].expired, true, "an expired artifact is still listed");
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artifacts/${id}/zip`)).status, 410);
  });

  test("the hourly limit: x-ratelimit-* on every answer, then 403 'API rate limit exceeded' until the hour resets", async () => {
    const first = await rest(fake, `/repos/octo/bot/actions/artifacts`);
    const limit = Number(first.headers.get("x-ratelimit-limit"));
    assert.equal(limit, 40);
    let remaining = Number(first.headers.get("x-ratelimit-remaining"));
    while (remaining > 0) remaining = Number((await rest(fake, `/repos/octo/bot/actions/artifacts`)).headers.get("x-ratelimit-remaining"));
    const refused = await rest(fake, `/repos/octo/bot/actions/artifacts`);
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("x-ratelimit-remaining"), "0");
    assert.match(((await refused.json()) as { message: string }).message, /API rate limit exceeded/);
    fake.advance(3_600_000);
    assert.equal((await rest(fake, `/repos/octo/bot/actions/artifacts`)).status, 200);
  });

  test("deleting a workflow run deletes its artifacts; Actions disabled is 422", async () => {
    fake.deleteRun(10);
    const listed = (await (await rest(fake, `/repos/octo/bot/actions/artifacts`)).json()) as Listing;
    assert.equal(listed.total_count, 0);
    fake.options.actionsDisabled = true;
    const r = await rest(fake, `/repos/octo/bot/actions/artifacts`);
    assert.equal(r.status, 422);
    assert.match(((await r.json()) as { message: string }).message, /Actions has been disabled/);
    fake.options.actionsDisabled = false;
  });
});
