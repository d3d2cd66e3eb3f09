// The app layer's backup records the settings history from the bytes the
// backup read (local sources, a local bare history repository): a file over
// 512 KiB is recorded by fingerprint only, and a change past its first
// 512 KiB still changes that fingerprint; a listed file that is gone
// (the snapshot is incomplete) keeps its last recorded version.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { backup, backupError } from "../../src/app/backup.ts";
import { resolveSettings } from "../../src/app/settings.ts";
import { gitIn } from "../helpers/history.ts";
import { makeRepo } from "../helpers/repo.ts";
import { quietLog } from "../helpers/sources.ts";

test("large files by fingerprint, changes past 512 KiB seen; a file that is gone keeps its recorded version", async (t) => {
  const repo = await makeRepo();
  t.after(repo.cleanup);
  const history = join(repo.dir, "history.git");
  execFileSync("git", ["init", "--bare", "-q", history]);
  const big = Buffer.alloc(600 * 1024, "a");
  writeFileSync(join(repo.dir, "big.conf"), big);
  writeFileSync(join(repo.dir, "app.ini"), "[risk]\nmax_position = 0.5\n");
  writeFileSync(
    join(repo.dir, "cairn.yml"),
    `repository: ${repo.repoUrl}\nhistory: { repository: "git:${history}" }\nsources:\n  - { name: settings, files: [${join(repo.dir, "big.conf")}, ${join(repo.dir, "app.ini")}], history: true }\n`,
  );
  const settings = await resolveSettings({ config: join(repo.dir, "cairn.yml") }, { CAIRN_WRITE_KEY: repo.writeKey });
  const log = quietLog();
  let host = "";
  const at = (name: string) => `settings-history:${host}/settings${join(repo.dir, name)}`;

  const first = await backup(settings, { log });
  host = first.snapshot.host;
  assert.equal(first.history?.changed, true);
  assert.match(gitIn(history, "show", at("big.conf")), /^# cairn: larger than 512 KiB; its content is not recorded here\n<redacted:hmac:[0-9a-f]{12}>$/);

  big[big.length - 1] = 0x62;
  writeFileSync(join(repo.dir, "big.conf"), big);
  const second = await backup(settings, { log });
  assert.deepEqual(second.history?.files, [{ path: `${first.snapshot.host}/settings${join(repo.dir, "big.conf")}`, change: "changed" }]);

  rmSync(join(repo.dir, "app.ini"));
  const third = await backup(settings, { log });
  assert.equal(third.snapshot.incomplete?.length, 1);
  assert.deepEqual(third.history, { changed: false, files: [] });
  assert.equal(gitIn(history, "show", at("app.ini")), "[risk]\nmax_position = 0.5");
  assert.equal(backupError(third)?.exitCode, 4, "incomplete, and the history went well");
});
