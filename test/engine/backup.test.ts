// What a failed backup leaves behind: a source that fails after several packs
// were saved creates no snapshot and leaves the repository byte for byte as
// it was ("a source that fails creates no snapshot and leaves the repository
// as it was", README).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { FaultyBackend } from "../../src/backends/faulty.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { backup } from "../../src/engine/backup.ts";
import { identityFromSecret } from "../../src/engine/crypto/age.ts";
import { parseWriteKey } from "../../src/engine/crypto/keys.ts";
import { Repository } from "../../src/engine/repository/repository.ts";
import { silentLogger } from "../../src/log.ts";
import { CommandSource } from "../../src/sources/command.ts";
import { FilesSource } from "../../src/sources/files.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { sha256 } from "../helpers/repo.ts";

function picture(m: MemoryBackend): Map<string, string> {
  return new Map([...m.files].map(([k, v]) => [k, sha256(v)]));
}

test("a source that fails after several packs were saved leaves the repository as it was, byte for byte", async () => {
  const mem = new MemoryBackend();
  const id = identityFromSecret(randomBytes(32));
  // Packs of 1 MiB: 30 MB of random data fills several before the source fails
  // (the first ~6 MiB are still in the chunker and hasher when it does).
  const { writeKey } = await Repository.init(mem, id, { packSize: 1 << 20 });
  const faulty = new FaultyBackend(mem);
  const repo = await Repository.open(faulty, { writeKey: parseWriteKey(writeKey) });
  const transport = new LocalTransport();
  const settings = new FilesSource("settings", [new URL("../../package.json", import.meta.url).pathname]);
  await backup(repo, { sources: [settings], transport, log: silentLogger });
  const before = picture(mem);

  const failing = new CommandSource("dump", ["sh", "-c", "head -c 30000000 /dev/urandom; exit 3"]);
  faulty.calls.length = 0;
  await assert.rejects(backup(repo, { sources: [settings, failing], transport, log: silentLogger }), /exited with code 3/);
  const packsSaved = faulty.calls.filter((c) => c.startsWith("save pack")).length;
  assert.ok(packsSaved >= 3, `the failing backup saved ${packsSaved} pack(s) before the source failed; the test needs several`);
  assert.deepEqual(picture(mem), before, "every file the failed backup wrote is gone, and nothing else changed");
});

test("a backend with a file size limit (git) gets packs below it, whatever pack size the repository asks for", async () => {
  const mem = new MemoryBackend();
  const limited = Object.assign(Object.create(mem), { properties: { ...mem.properties, maxFileSize: 5 << 20 } }) as MemoryBackend;
  const id = identityFromSecret(randomBytes(32));
  const { writeKey } = await Repository.init(mem, id, { packSize: 64 << 20 });
  const repo = await Repository.open(limited, { writeKey: parseWriteKey(writeKey) });
  const dump = new CommandSource("dump", ["sh", "-c", "head -c 12000000 /dev/urandom"]);
  await backup(repo, { sources: [dump], transport: new LocalTransport(), log: silentLogger });
  const packs = [...mem.files].filter(([k]) => k.startsWith("pack/")).map(([, v]) => v.length);
  assert.ok(packs.length >= 3, `12 MB of random data in packs of at most 5 MiB: ${packs.join(", ")}`);
  assert.ok(packs.every((n) => n <= 5 << 20), `every pack within the limit: ${packs.join(", ")}`);
});
