// History commits against real bare git repositories: one commit per change
// on the history branch (built on the base branch), none when nothing
// changed, one line per changed value, deletions, and two runs racing to
// push both landing without a force push.
import assert from "node:assert/strict";
import { test } from "node:test";
import { join } from "node:path";
import { recordSettings } from "../../src/history/record.ts";
import { bareRepo, files, gitIn, request } from "../helpers/history.ts";
import { tempDir } from "../helpers/repo.ts";
import { quietLog } from "../helpers/sources.ts";

const SETTINGS = {
  "/srv/bot/.env": "API_URL=https://api.example.com\nBINANCE_SECRET=envSecret1\nMAX_POSITION=0.5\n",
  "/srv/bot/config/config.json": '{\n  "pair": "ETHUSDT",\n  "max_position": 0.5,\n  "api": { "secret": "jsonSecret1" }\n}\n',
  "/srv/bot/config/bot.yml": "risk:\n  max_position: 0.5\n  password: yamlSecret1\n",
  "/srv/bot/config/bot.toml": '[risk]\nmax_position = 0.5\ntoken = "tomlSecret1"\n',
  "/etc/mysql/my.cnf": "[client]\nuser = bot\nmax_position = 0.5\npassword = iniSecret1\n",
  "/etc/redis/redis.conf": "maxmemory 0.5gb\nrequirepass textSecret1\n",
};

test("one commit per change on the history branch, built on the base branch; nothing changed, no commit", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const remote = bareRepo(join(tmp.dir, "remote.git"));
  const log = quietLog();
  const workDir = join(tmp.dir, "work");
  const main = gitIn(remote, "rev-parse", "main");

  const first = await recordSettings(request({ sources: [files(SETTINGS)], workDir, log }, { repository: `git:${remote}` }));
  assert.equal(first.changed, true);
  assert.equal(gitIn(remote, "rev-parse", "settings-history"), first.commit);
  assert.equal(gitIn(remote, "rev-parse", "settings-history^"), main, "the first commit is built on the base branch");
  const tree = gitIn(remote, "ls-tree", "-r", "--name-only", "settings-history").split("\n");
  assert.ok(tree.includes("README.md") && tree.includes("bot.example.com/settings/srv/bot/.env") && tree.includes("bot.example.com/settings/etc/mysql/my.cnf"), tree.join(" "));
  const msg = gitIn(remote, "log", "-1", "--format=%B", "settings-history");
  assert.match(msg, /^Settings changed on bot\.example\.com: /);
  assert.match(msg, /Recorded from snapshot 0\d{3}(ab12)+ at 2026-11-30T12:\d\d:00Z/);
  assert.match(msg, /A bot\.example\.com\/settings\/srv\/bot\/config\/config\.json \(\+5 -0\)/);
  assert.match(msg, /Cairn-Snapshot: /);
  assert.equal(first.files.length, 6);

  const again = await recordSettings(request({ sources: [files(SETTINGS)], workDir, log }, { repository: `git:${remote}` }));
  assert.equal(again.changed, false);
  assert.equal(gitIn(remote, "rev-parse", "settings-history"), first.commit, "no commit when nothing changed");

  // One value changed in every format, a secret in two: six one-line changes in one commit.
  const changed = Object.fromEntries(Object.entries(SETTINGS).map(([p, text]) => [p, text.replace("0.5", "5").replace("Secret1", "Secret2")]));
  const second = await recordSettings(request({ sources: [files(changed)], workDir, log }, { repository: `git:${remote}` }));
  assert.equal(gitIn(remote, "rev-list", "--count", `${first.commit}..settings-history`), "1");
  const numstat = gitIn(remote, "diff", "--numstat", first.commit!, second.commit!).split("\n").map((l) => l.split("\t").slice(0, 2).join(" "));
  // Each file: its max_position line, and its secret's line (the fingerprint changed).
  assert.deepEqual(numstat, Array(6).fill("2 2"));
  const diff = gitIn(remote, "diff", first.commit!, second.commit!);
  assert.match(diff, /^-MAX_POSITION=0\.5$/m);
  assert.match(diff, /^\+MAX_POSITION=5$/m);
  const fp = (sign: string) => new RegExp(`^\\${sign}BINANCE_SECRET=<redacted:hmac:([0-9a-f]{12})>$`, "m").exec(diff)?.[1];
  assert.ok(fp("-") && fp("+") && fp("-") !== fp("+"), "a changed secret shows as a changed fingerprint");
  assert.ok(!/Secret[12]/.test(diff));

  // A file gone from the server is a deletion; another source's folder is left alone.
  const { "/etc/redis/redis.conf": _gone, ...rest } = changed;
  const third = await recordSettings(request({ sources: [files(rest)], workDir, log }, { repository: `git:${remote}` }));
  assert.deepEqual(third.files.map((f) => [f.path, f.status]), [["bot.example.com/settings/etc/redis/redis.conf", "deleted"]]);
});

test("two runs pushing at once both land, one on top of the other, with no force push", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const remote = bareRepo(join(tmp.dir, "remote.git"));
  const log = quietLog();
  const [a, b] = await Promise.all([
    recordSettings(request({ sources: [files({ "/a.env": "A=1\n" }, {}, "alpha")], workDir: join(tmp.dir, "w1"), log }, { repository: `git:${remote}` })),
    recordSettings(request({ sources: [files({ "/b.env": "B=1\n" }, {}, "beta")], workDir: join(tmp.dir, "w2"), log }, { repository: `git:${remote}` })),
  ]);
  assert.ok(a.changed && b.changed);
  const tree = gitIn(remote, "ls-tree", "-r", "--name-only", "settings-history");
  assert.match(tree, /bot\.example\.com\/alpha\/a\.env/);
  assert.match(tree, /bot\.example\.com\/beta\/b\.env/);
  const chain = gitIn(remote, "rev-list", "--first-parent", "settings-history").split("\n");
  assert.ok(chain.includes(a.commit!) && chain.includes(b.commit!), "both commits are in the branch's history");
});

test("when another run pushes between our fetch and our push, cairn fetches and builds on top of it", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const remote = bareRepo(join(tmp.dir, "remote.git"));
  // The remote's pre-receive hook plays the other run: the first time, it
  // moves the branch itself, so our push (expecting the old tip) is refused.
  const { writeFileSync, chmodSync } = await import("node:fs");
  const hook = join(remote, "hooks", "pre-receive");
  writeFileSync(
    hook,
    `#!/bin/sh
[ -e "$GIT_DIR/raced" ] && exit 0
touch "$GIT_DIR/raced"
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
blob=$(printf 'OTHER=1\\n' | git hash-object -w --stdin)
inner=$(printf '100644 blob %s\\tother.env\\n' "$blob" | git mktree)
src=$(printf '040000 tree %s\\tother\\n' "$inner" | git mktree)
host=$(printf '040000 tree %s\\tbot.example.com\\n' "$src" | git mktree)
c=$(GIT_AUTHOR_NAME=o GIT_AUTHOR_EMAIL=o@x GIT_COMMITTER_NAME=o GIT_COMMITTER_EMAIL=o@x git commit-tree "$host" -p refs/heads/main -m other)
git update-ref refs/heads/settings-history "$c"
`,
  );
  chmodSync(hook, 0o755);
  const log = quietLog();
  const r = await recordSettings(request({ sources: [files({ "/a.env": "A=1\n" })], workDir: join(tmp.dir, "w"), log }, { repository: `git:${remote}` }));
  assert.ok(log.lines.some((l) => /moved on the remote; building on top of it/.test(l)), log.lines.join("\n"));
  assert.equal(gitIn(remote, "rev-parse", "settings-history"), r.commit);
  assert.equal(gitIn(remote, "log", "-1", "--format=%s", "settings-history^"), "other", "built on the other run's commit");
  const tree = gitIn(remote, "ls-tree", "-r", "--name-only", "settings-history");
  assert.match(tree, /bot\.example\.com\/other\/other\.env/);
  assert.match(tree, /bot\.example\.com\/settings\/a\.env/);
});

test("a file the backup could not read keeps its recorded version; one that is gone is deleted", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const remote = bareRepo(join(tmp.dir, "remote.git"));
  const log = quietLog();
  const workDir = join(tmp.dir, "work");
  const two = { "/srv/bot/.env": "MAX_POSITION=0.5\n", "/srv/bot/config/bot.yml": "risk: 1\n" };
  await recordSettings(request({ sources: [files(two)], workDir, log }, { repository: `git:${remote}` }));
  const unreadable = { ...files({ "/srv/bot/config/bot.yml": "risk: 2\n" }), unread: ["/srv/bot/.env"] };
  const r = await recordSettings(request({ sources: [unreadable], workDir, log }, { repository: `git:${remote}` }));
  assert.deepEqual(r.files.map((f) => `${f.status} ${f.path}`), ["modified bot.example.com/settings/srv/bot/config/bot.yml"]);
  assert.equal(gitIn(remote, "show", "settings-history:bot.example.com/settings/srv/bot/.env"), "MAX_POSITION=0.5");
  const gone = await recordSettings(request({ sources: [files({ "/srv/bot/config/bot.yml": "risk: 2\n" })], workDir, log }, { repository: `git:${remote}` }));
  assert.deepEqual(gone.files.map((f) => `${f.status} ${f.path}`), ["deleted bot.example.com/settings/srv/bot/.env"]);
});
