// End to end over the test sshd: a real backup (the app layer, unchanged),
// then the settings history as the app layer will record it next round (the
// wiring is written out in backupWithHistory below, and in
// src/history/README.md): change a config on the server, back up, see one
// commit and one pull request with the redacted diff; change again, the same
// pull request is updated; no change, nothing happens.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { backup } from "../../src/app/backup.ts";
import { resolveSettings, type Settings } from "../../src/app/settings.ts";
import type { GitHubContext } from "../../src/github/context.ts";
import { recordSettings, type HistoryReport } from "../../src/history/record.ts";
import type { Logger } from "../../src/log.ts";
import { FilesSource } from "../../src/sources/files.ts";
import { createTransport } from "../../src/transport/open.ts";
import { gitHubWorld, gitIn, type GitHubWorld } from "../helpers/history.ts";
import { cairn } from "../helpers/cli.ts";
import { quietLog } from "../helpers/sources.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const skip = haveSshd() || process.env.CI ? false : "needs sshd";

/**
 * What `cairn backup` will do when cairn.yml has `history:`: back up, then
 * read the files of each `history: true` source (the app will keep the bytes
 * the backup read instead of reading twice) and record them, with a
 * fingerprint key derived from the write key (issue 11 owns that derivation;
 * this HMAC stands in for it).
 */
async function backupWithHistory(settings: Settings, github: GitHubContext, workDir: string, log: Logger): Promise<{ snapshot: string; history: HistoryReport }> {
  const config = settings.config!;
  const { id, snapshot } = await backup(settings, { log });
  const transport = await createTransport(config, settings.ssh);
  try {
    const sources = [];
    for (const s of config.sources) {
      if (s.kind !== "files" || !s.history) continue;
      const read: Array<{ path: string; content: Uint8Array }> = [];
      for await (const entry of new FilesSource(s.name, s.files, s["newer-than"]).dump(transport, log).entries) {
        const parts: Buffer[] = [];
        for await (const c of entry.open()) parts.push(c);
        read.push({ path: "/" + entry.path.slice(s.name.length + 1), content: Buffer.concat(parts) });
      }
      sources.push({ name: s.name, files: read, rules: { secretFiles: s["secret-files"] ?? [], redact: (s.redact ?? []).map((r) => new RegExp(r, "m")), mask: (s.mask ?? []).map((r) => new RegExp(r, "m")) } });
    }
    const history = await recordSettings({
      history: { repository: config.history!.repository, branch: config.history!.branch, base: config.history!.base, pullRequest: config.history!["pull-request"] },
      host: config.host?.address ?? "localhost",
      snapshot: id,
      time: new Date(snapshot.time),
      sources,
      fingerprintKey: createHmac("sha256", settings.writeKey!.text).update("cairn settings history fingerprint").digest(),
      github,
      workDir,
      log,
    });
    return { snapshot: id, history };
  } finally {
    await transport.close();
  }
}

describe("settings history over ssh", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let dir: string;
  let srv: string;
  let world: GitHubWorld;
  let settings: Settings;
  const log = quietLog();

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
    const key = join(dir, "key.txt");
    assert.equal(cairn(["keygen", "-o", key]).code, 0);
    const init = cairn(["init", "-r", `local:${join(dir, "repo")}`, "-i", key]);
    assert.equal(init.code, 0, init.stderr);
    world = gitHubWorld(dir);
    writeFileSync(
      join(dir, "cairn.yml"),
      `repository: local:${join(dir, "repo")}
host: { address: 127.0.0.1, port: ${sshd.port}, user: ${fx.user} }
history: { repository: "github:me/bot-settings" }
sources:
  - { name: settings, files: ["${srv}/config/*.json", "${srv}/.env", "${srv}/security/salt.key"], history: true }
`,
    );
    settings = await resolveSettings(
      { config: join(dir, "cairn.yml") },
      { CAIRN_WRITE_KEY: /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1], CAIRN_SSH_KEY: fx.clientKeys.ed25519.text, CAIRN_KNOWN_HOSTS: sshd.knownHosts() },
    );
  });
  after(async () => {
    await sshd?.stop();
    fx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a change on the server: one commit and one pull request; again: the same one updated; no change: nothing", async () => {
    const workDir = join(dir, "work");
    const first = await backupWithHistory(settings, world.github, workDir, log);
    assert.ok(first.history.changed && first.history.pullRequest?.action === "created");

    writeFileSync(join(srv, "config/config.json"), readFileSync(join(srv, "config/config.json"), "utf8").replace("0.5", "5"));
    const before = gitIn(world.gitDir, "rev-parse", "settings-history");
    const second = await backupWithHistory(settings, world.github, workDir, log);
    assert.equal(gitIn(world.gitDir, "rev-list", "--count", `${before}..settings-history`), "1", "one commit");
    const diff = gitIn(world.gitDir, "diff", before, "settings-history");
    assert.match(diff, /^-  "max_position": 0\.5,\n\+  "max_position": 5,$/m);
    assert.match(gitIn(world.gitDir, "log", "-1", "--format=%B", "settings-history"), new RegExp(`Recorded from snapshot ${second.snapshot}`));
    assert.equal(second.history.pullRequest?.action, "updated");
    assert.equal(second.history.pullRequest?.number, first.history.pullRequest?.number);
    const pulls = world.fake.pulls("me", "bot-settings");
    assert.equal(pulls.length, 1);
    assert.match(pulls[0].body!, new RegExp(`Latest: snapshot \`${second.snapshot}\` of \\*\\*127\\.0\\.0\\.1\\*\\*`));

    writeFileSync(join(srv, ".env"), "API_URL=https://api.example.com\nAPI_KEY=e2e_planted_key_two\n");
    const third = await backupWithHistory(settings, world.github, workDir, log);
    assert.equal(third.history.pullRequest?.action, "updated");
    assert.match(gitIn(world.gitDir, "diff", "settings-history^", "settings-history"), /^-API_KEY=<redacted:hmac:[0-9a-f]{12}>\n\+API_KEY=<redacted:hmac:[0-9a-f]{12}>$/m);

    const calls = world.fake.received.length;
    const tip = gitIn(world.gitDir, "rev-parse", "settings-history");
    const fourth = await backupWithHistory(settings, world.github, workDir, log);
    assert.equal(fourth.history.changed, false);
    assert.equal(gitIn(world.gitDir, "rev-parse", "settings-history"), tip);
    assert.equal(world.fake.received.length, calls);

    const everything = gitIn(world.gitDir, "log", "-p", "--all") + JSON.stringify(world.fake.pulls("me", "bot-settings")) + log.lines.join("\n");
    for (const planted of ["e2e_planted_secret_one", "e2e_planted_key_one", "e2e_planted_key_two", "e2e_planted_salt"]) assert.ok(!everything.includes(planted), planted);
  });
});
