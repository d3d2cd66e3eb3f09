// An artifacts: repository through the CLI, against the fake of GitHub's
// services: created and backed up inside workflow runs (the runtime the
// runner gives an action), read from outside Actions with a token. What it
// costs is measured here: a backup downloads only metadata, a restore only
// the packs its snapshot needs (and of those only the spans it reads).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { parseArtifactName } from "../../src/backends/artifact.ts";
import { runCli } from "../helpers/cli.ts";
import { envFor, startFakeGitHub, type FakeGitHub, type FakeStats } from "../helpers/fake-github/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-artifacts-"));
const key = join(dir, "key.txt");
const a = randomBytes(3 << 20);
const b = randomBytes(600 << 10);
let fake: FakeGitHub;
let writeKey: string;
let run1: ReturnType<FakeGitHub["startRun"]>;

/** Run the CLI (a child process: the fake serves it from this one). */
async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await runCli(args, { env: { ...env, CAIRN_WRITE_KEY: writeKey } });
}

function downloaded(s: FakeStats): { type: string; bytes: number; ranged: boolean }[] {
  return s.downloads.map((d) => ({ type: parseArtifactName("bot", d.name)?.type ?? d.name, bytes: d.bytes, ranged: d.ranged }));
}

function report(t: TestContext, what: string, s: FakeStats): void {
  const byType = new Map<string, { n: number; bytes: number }>();
  for (const d of downloaded(s)) {
    const e = byType.get(d.type) ?? { n: 0, bytes: 0 };
    byType.set(d.type, { n: e.n + 1, bytes: e.bytes + d.bytes });
  }
  const twirp = Object.values(s.twirp).reduce((x, y) => x + y, 0);
  t.diagnostic(
    `${what}: ${s.rest} REST requests (${Object.entries(s.restByRoute).map(([k, v]) => `${k} ${v}`).join(", ")}), ` +
      `${twirp} results-service calls, ${s.blobPuts} blob PUTs (${s.blobUploadBytes} bytes), ${s.blobGets} blob GETs (${s.blobDownloadBytes} bytes: ` +
      `${[...byType].map(([k, v]) => `${k} ${v.n}x ${v.bytes}`).join(", ")})`,
  );
}

before(async () => {
  fake = await startFakeGitHub({ retentionDays: 90 });
  mkdirSync(join(dir, "srv"));
  writeFileSync(join(dir, "srv", "a.bin"), a);
  writeFileSync(join(dir, "srv", "b.bin"), b);
  writeFileSync(join(dir, "a.yml"), `repository: artifacts:bot\nsources:\n  - { name: a, files: [srv/a.bin] }\n`);
  writeFileSync(join(dir, "b.yml"), `repository: artifacts:bot\nsources:\n  - { name: b, files: [srv/b.bin] }\n`);
  const kg = await runCli(["keygen", "-o", key]);
  assert.equal(kg.code, 0, kg.stderr);
  run1 = fake.startRun(101);
  const init = await runCli(["init", "-r", "artifacts:bot", "-i", key, "--pack-size", "1MiB"], { env: envFor(fake, run1) });
  assert.equal(init.code, 0, init.stderr);
  writeKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

test("backups run inside workflow runs; the second downloads only metadata, never a pack", async (t) => {
  const first = await cli(["backup", "-c", join(dir, "a.yml")], envFor(fake, run1));
  assert.equal(first.code, 0, first.stderr);
  fake.endRun(101);
  const packsOfRun1 = fake.visible().filter((x) => x.runId === 101 && x.name.startsWith("bot.pack.")).length;
  // A pack is sealed once it reaches 1 MiB, so 3 MiB of random data make two or three.
  assert.ok(packsOfRun1 >= 2, `3 MiB in 1 MiB packs: ${packsOfRun1} pack artifacts`);

  fake.resetStats();
  const second = await cli(["backup", "-c", join(dir, "b.yml")], envFor(fake, fake.startRun(102)));
  assert.equal(second.code, 0, second.stderr);
  const s = fake.resetStats();
  report(t, "second backup (600 KiB new)", s);
  const types = new Set(downloaded(s).map((d) => d.type));
  assert.ok(!types.has("pack"), `no pack was downloaded: ${[...types]}`);
  assert.ok(types.has("index") && types.has("snapshot"), "the index and the previous snapshot were");
  assert.ok(downloaded(s).every((d) => !d.ranged), "metadata is downloaded whole (and checked against its digest)");
});

test("from outside Actions: snapshots and a restore of the second snapshot, which downloads only its own pack", async (t) => {
  const outside = envFor(fake);
  fake.resetStats();
  const list = await cli(["snapshots", "-r", "artifacts:bot", "--json"], outside);
  assert.equal(list.code, 0, list.stderr);
  const listing = fake.resetStats();
  report(t, "snapshots (2 snapshots)", listing);
  assert.ok(!listing.downloads.some((d) => d.name.startsWith("bot.pack.")), "listing snapshots downloads no pack");
  const snaps = JSON.parse(list.stdout) as { id: string; sources: { name: string }[] }[];
  assert.deepEqual(snaps.map((x) => x.sources.map((y) => y.name).join()), ["a", "b"]);

  const packsOfRun2 = new Set(fake.visible().filter((x) => x.runId === 102 && x.name.startsWith("bot.pack.")).map((x) => x.name));
  assert.equal(packsOfRun2.size, 1, "600 KiB fits one pack");
  const packSize = fake.visible().find((x) => packsOfRun2.has(x.name))!.size;
  fake.resetStats();
  const target = join(dir, "restored");
  const r = await cli(["restore", snaps[1].id, "-r", "artifacts:bot", "-i", key, "--target", target], outside);
  assert.equal(r.code, 0, r.stderr);
  const s = fake.resetStats();
  report(t, "restore of the 600 KiB snapshot", s);
  assert.ok(readFileSync(join(target, "b", join(dir, "srv", "b.bin"))).equals(b), "restored byte for byte");
  const packs = s.downloads.filter((d) => d.name.startsWith("bot.pack."));
  assert.ok(packs.length > 0 && packs.every((d) => packsOfRun2.has(d.name)), `only the snapshot's pack: ${packs.map((d) => d.name)}`);
  // The restore reads the pack's header (its first 4 KiB), then the span of frames it needs.
  const packBytes = packs.reduce((n, d) => n + d.bytes, 0);
  assert.ok(packs.every((d) => d.ranged), "in ranges, not whole");
  assert.ok(packBytes <= packSize + 4096, `pack bytes downloaded ${packBytes} <= the pack's ${packSize} + its header read again`);
  assert.equal(s.blobPuts, 0, "a restore uploads nothing");
});

test("verify reads every pack from outside Actions; a write from outside Actions is refused with what to do", async () => {
  const outside = envFor(fake);
  const v = await cli(["verify", "-r", "artifacts:bot", "--read-data", "-i", key], outside);
  assert.equal(v.code, 0, v.stderr + v.stdout);
  const refused = await cli(["backup", "-c", join(dir, "b.yml")], outside);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /written only from inside a workflow run, by the cairn Action/);
  assert.doesNotMatch(refused.stderr, /\n\s+at /, "no stack trace");
});

test("RECOVERY.md: the artifacts, downloaded as they are and sorted into a folder, restore with only age and zstd", async () => {
  const doc = readFileSync(new URL("../../RECOVERY.md", import.meta.url), "utf8");
  const sort = /<!-- artifacts-to-folder -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  const recover = /<!-- recovery-script -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(sort && recover, "RECOVERY.md has both marked scripts");
  const dl = join(dir, "dl");
  mkdirSync(dl);
  for (const x of fake.visible()) {
    const res = await fetch(`${fake.url}/repos/octo/bot/actions/artifacts/${x.id}/zip`, { headers: { authorization: `token ${fake.token}` } });
    assert.equal(res.status, 200);
    writeFileSync(join(dl, x.name), Buffer.from(await res.arrayBuffer()));
  }
  const repo = join(dir, "sorted");
  execFileSync("sh", ["-c", sort], { env: { ...process.env, NAME: "bot", DL: dl, REPO: repo } });
  const outside = envFor(fake);
  const snaps = JSON.parse((await cli(["snapshots", "-r", "artifacts:bot", "--json"], outside)).stdout) as { id: string }[];
  const out = join(dir, "recovered");
  mkdirSync(out);
  execFileSync("sh", ["-c", recover], { env: { ...process.env, REPO: repo, KEY: key, SNAP: snaps[0].id, OUT: out }, stdio: "pipe" });
  assert.ok(readFileSync(join(out, "a", join(dir, "srv", "a.bin"))).equals(a), "the 3 MiB file of the first snapshot, from its packs");
});

test("snapshots shows each snapshot's expiry; verify exits 3 naming a file that expires before the snapshot needing it", async () => {
  const outside = envFor(fake);
  const before = JSON.parse((await cli(["snapshots", "-r", "artifacts:bot", "--json"], outside)).stdout) as { id: string; expires: string }[];
  for (const s of before) {
    const own = fake.visible().find((x) => x.name === `bot.snapshot.${s.id}`)!;
    assert.ok(Math.abs(Date.parse(s.expires) - own.expiresAt) < 3_600_000, `snapshot ${s.id} expires with its files: ${s.expires}`);
  }
  // Someone shortens the life of the second snapshot's pack by hand (a dependency that now expires first).
  const pack = fake.visible().find((x) => x.runId === 102 && x.name.startsWith("bot.pack."))!;
  pack.expiresAt = fake.now() + 2 * 86_400_000;
  const text = await cli(["snapshots", "-r", "artifacts:bot"], outside);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout.split("\n")[0], /\bExpires$/);
  const day = new Date(pack.expiresAt).toISOString().slice(0, 10);
  assert.match(text.stdout, new RegExp(`^${before[1].id.slice(0, 8)} .* ${day} \\d\\d:\\d\\d:\\d\\dZ$`, "m"), text.stdout);
  const v = await cli(["verify", "-r", "artifacts:bot"], outside);
  assert.equal(v.code, 3, v.stderr + v.stdout);
  const packId = parseArtifactName("bot", pack.name)!.name;
  assert.match(v.stdout, new RegExp(`error: snapshot ${before[1].id} depends on pack ${packId}, which expires on ${day}.*an expiring dependency`));
  assert.doesNotMatch(v.stdout, new RegExp(`snapshot ${before[0].id}`), "the first snapshot is fine");
  assert.match(v.stderr, /hint: a snapshot with an expiring dependency can be restored only until that file expires: back up again now/);
});
