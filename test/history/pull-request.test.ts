// The pull request flow through @octokit/rest against the strict fake GitHub
// (test/helpers/github.ts) and a real bare repository behind it: create,
// update the same one, no change no call, a new one after a merge, and
// GitHub's refusals turned into errors that say what to change.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Octokit } from "@octokit/rest";
import { BODY_LIMIT } from "../../src/history/body.ts";
import { recordSettings } from "../../src/history/record.ts";
import { files, gitHubWorld, gitIn, request } from "../helpers/history.ts";
import { tempDir } from "../helpers/repo.ts";
import { quietLog } from "../helpers/sources.ts";

const V1 = { "/srv/bot/config/config.json": '{\n  "pair": "ETHUSDT",\n  "max_position": 0.5\n}\n', "/srv/bot/.env": "API_URL=https://api.example.com\nAPI_KEY=k1k1k1k1\n" };
const V2 = { ...V1, "/srv/bot/config/config.json": V1["/srv/bot/config/config.json"].replace("0.5", "5") };
const V3 = { ...V2, "/srv/bot/.env": V1["/srv/bot/.env"].replace("k1k1k1k1", "k2k2k2k2") };

test("create, update the same pull request, no change no call, and a new one after the merge", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const { fake, gitDir, github } = gitHubWorld(tmp.dir);
  // Someone else's pull request: a list that ignored the head filter would find it first.
  fake.addPull("me", "bot-settings", { head: "feature", base: "main", title: "someone else's" });
  const log = quietLog();
  const workDir = join(tmp.dir, "work");

  const first = await recordSettings(request({ sources: [files(V1)], workDir, log, github }));
  assert.equal(first.pullRequestError, undefined);
  assert.equal(first.pullRequest?.action, "created");
  const pr = fake.pulls("me", "bot-settings").find((p) => p.number === first.pullRequest!.number)!;
  assert.deepEqual([pr.head, pr.base, pr.state], ["settings-history", "main", "open"]);
  assert.equal(pr.title, "Settings changed on bot.example.com");
  assert.match(pr.body!, /\*\*2 files changed\*\*, 6 lines added, 0 removed/);
  assert.match(pr.body!, /\| `bot\.example\.com\/settings\/srv\/bot\/\.env` \| added \| \+2 −0 \|/);
  const list = fake.received.find((r) => r.path.endsWith("/pulls") && r.method === "GET")!;
  assert.equal(list.query.head, "me:settings-history", "head is OWNER:BRANCH (a bare branch is ignored by GitHub)");
  assert.deepEqual(fake.violations, []);

  const second = await recordSettings(request({ sources: [files(V2)], workDir, log, github }));
  assert.deepEqual([second.pullRequest?.action, second.pullRequest?.number], ["updated", first.pullRequest!.number]);
  assert.equal(fake.pulls("me", "bot-settings").filter((p) => p.head === "settings-history").length, 1);
  assert.match(pr.body!, /2 backups in this pull request/);
  assert.equal(pr.title, "Settings changed on bot.example.com");
  const other = fake.pulls("me", "bot-settings").find((p) => p.head === "feature")!;
  assert.equal(other.body, null, "the other pull request is untouched");

  const calls = fake.received.length;
  const tip = gitIn(gitDir, "rev-parse", "settings-history");
  const third = await recordSettings(request({ sources: [files(V2)], workDir, log, github }));
  assert.equal(third.changed, false);
  assert.equal(fake.received.length, calls, "no change: no call to GitHub");
  assert.equal(gitIn(gitDir, "rev-parse", "settings-history"), tip, "no change: no commit");

  fake.merge("me", "bot-settings", first.pullRequest!.number);
  const fourth = await recordSettings(request({ sources: [files(V3)], workDir, log, github }));
  assert.equal(fourth.pullRequest?.action, "created");
  assert.notEqual(fourth.pullRequest?.number, first.pullRequest!.number);
  const next = fake.pulls("me", "bot-settings").find((p) => p.number === fourth.pullRequest!.number)!;
  assert.match(next.body!, /\*\*1 file changed\*\*, 1 line added, 1 removed/, "only what changed since the merge");
  assert.equal(gitIn(gitDir, "rev-parse", "settings-history^"), gitIn(gitDir, "rev-parse", "main"), "built on the merged base");
  assert.deepEqual(fake.violations, []);
});

test("a history branch deleted after its merge starts again from the base branch", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const { fake, gitDir, github } = gitHubWorld(tmp.dir);
  const log = quietLog();
  const workDir = join(tmp.dir, "work");
  const first = await recordSettings(request({ sources: [files(V1)], workDir, log, github }));
  fake.merge("me", "bot-settings", first.pullRequest!.number, { deleteBranch: true });
  const same = await recordSettings(request({ sources: [files(V1)], workDir, log, github }));
  assert.equal(same.changed, false, "the merged base already holds these files");
  const next = await recordSettings(request({ sources: [files(V2)], workDir, log, github }));
  assert.equal(next.pullRequest?.action, "created");
  assert.equal(gitIn(gitDir, "rev-parse", "settings-history^"), gitIn(gitDir, "rev-parse", "main"));
});

test("with Actions not permitted to create pull requests, the commit lands and the error names the setting and the way out", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const { gitDir, github } = gitHubWorld(tmp.dir, { kind: "actions", actionsMayCreatePullRequests: false });
  const r = await recordSettings(request({ sources: [files(V1)], workDir: join(tmp.dir, "w"), log: quietLog(), github }));
  assert.equal(r.changed, true);
  assert.equal(gitIn(gitDir, "rev-parse", "settings-history"), r.commit, "the commit landed");
  assert.equal(r.pullRequest, undefined);
  assert.match(r.pullRequestError!.message, /"Allow GitHub Actions to create and approve pull requests" is off/);
  assert.match(r.pullRequestError!.hint!, /personal access token or GitHub App token/);
  assert.match(r.pullRequestError!.hint!, /commit is already on its branch/);
});

test("missing permissions and a missing token are named (and Octokit prints nothing of its own)", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const printed: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const original = console.error;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    printed.push(String(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  console.error = (...args: unknown[]) => printed.push(args.join(" "));
  t.after(() => {
    process.stderr.write = write;
    console.error = original;
  });
  const read = gitHubWorld(join(tmp.dir, "a"), { kind: "actions", pullRequests: "read", actionsMayCreatePullRequests: true });
  const r1 = await recordSettings(request({ sources: [files(V1)], workDir: join(tmp.dir, "w1"), log: quietLog(), github: read.github }));
  assert.match(r1.pullRequestError!.message, /refused to open a pull request in me\/bot-settings \(403: Resource not accessible by integration\)/);
  assert.match(r1.pullRequestError!.hint!, /permissions: pull-requests: write/);
  assert.match(r1.pullRequestError!.hint!, /contents: write/);

  const none = gitHubWorld(join(tmp.dir, "b"));
  const r2 = await recordSettings(request({ sources: [files(V1)], workDir: join(tmp.dir, "w2"), log: quietLog(), github: { ...none.github, token: undefined } }));
  assert.match(r2.pullRequestError!.message, /did not accept the token .* \(401: Requires authentication\)/);
  assert.match(r2.pullRequestError!.hint!, /GITHUB_TOKEN/);
  assert.deepEqual(printed.filter((l) => /repos\/me/.test(l)), [], "no request lines on stderr");
});

test("a pull request body stays under GitHub's 65,536 characters, and says when GitHub will not show a diff", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const { fake, github } = gitHubWorld(tmp.dir);
  // 1,500 files with long paths: the file table alone is far over the limit.
  const many: Record<string, string> = {};
  for (let i = 0; i < 1500; i++) many[`/srv/bot/conf.d/${"long-directory-name-".repeat(3)}${i}/settings-file-${i}.ini`] = `[s]\nvalue = ${i}\n`;
  // Three files of ~500 KB each (under the 512 KiB cairn records as text): over 500 KB of diff each, over 1 MB in all.
  const big = Array.from({ length: 13000 }, (_, i) => `line_${i} = ${"x".repeat(25)}`).join("\n") + "\n";
  for (let i = 0; i < 3; i++) many[`/srv/bot/big${i}.conf`] = big;
  const r = await recordSettings(request({ sources: [files(many)], workDir: join(tmp.dir, "w"), log: quietLog(), github }));
  assert.equal(r.pullRequestError, undefined, r.pullRequestError?.message);
  const body = fake.pulls("me", "bot-settings")[0].body!;
  assert.ok(body.length <= BODY_LIMIT, `${body.length}`);
  assert.match(body, /more files not listed: GitHub limits a pull request body to 65,536 characters/);
  assert.match(body, /GitHub shows at most 1 MB of a pull request's diff/);
  assert.match(body, /GitHub shows no diff over 500 KB for one file: `bot\.example\.com\/settings\/srv\/bot\/big0\.conf`/);
  assert.deepEqual(fake.violations, []);
});

test("the fake refuses what GitHub refuses: a body over 65,536 characters, a second pull request for the same branch, an unknown field", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const { fake, gitDir, github } = gitHubWorld(tmp.dir);
  gitIn(gitDir, "update-ref", "refs/heads/topic", gitIn(gitDir, "commit-tree", gitIn(gitDir, "rev-parse", "main^{tree}"), "-p", "main", "-m", "x"));
  const octokit = new Octokit({ auth: github.token, baseUrl: github.apiUrl, request: { fetch: fake.fetch } });
  const base = { owner: "me", repo: "bot-settings", head: "topic", base: "main", title: "t" };
  await assert.rejects(octokit.rest.pulls.create({ ...base, body: "x".repeat(BODY_LIMIT + 1) }), (e: { status: number; message: string }) => e.status === 422 && /body is too long/.test(e.message));
  await octokit.rest.pulls.create({ ...base, body: "ok" });
  await assert.rejects(octokit.rest.pulls.create({ ...base, body: "again" }), (e: { status: number; message: string }) => e.status === 422 && /A pull request already exists for me:topic/.test(e.message));
  await assert.rejects(octokit.request("POST /repos/{owner}/{repo}/pulls", { ...base, head: "topic", colour: "red" }), (e: { status: number }) => e.status === 422);
  assert.match(fake.violations.at(-1)!, /unknown field colour/);
  const all = await octokit.rest.pulls.list({ owner: "me", repo: "bot-settings", head: "topic" });
  assert.equal(all.data.length, 1);
  await octokit.rest.pulls.create({ ...base, head: "main", base: "topic", body: "reverse" }).catch(() => {});
  assert.equal((await octokit.rest.pulls.list({ owner: "me", repo: "bot-settings", head: "nonexistent" })).data.length, fake.pulls("me", "bot-settings").filter((p) => p.state === "open").length, "a head without OWNER: is ignored");
});
