// Which index entries a backup deduplicates against (src/engine/repository/dedup.ts):
// none in a missing or wrongly sized pack, a pack two index files list, or
// frames that overlap; a chunk in two trusted packs only from the latest
// snapshot's packs. Entries are planted as the write key can: index files.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MemoryBackend } from "../../../src/backends/memory.ts";
import { backup } from "../../../src/engine/backup.ts";
import { encrypt, identityFromSecret } from "../../../src/engine/crypto/age.ts";
import { parseWriteKey } from "../../../src/engine/crypto/keys.ts";
import { Index, indexText } from "../../../src/engine/repository/chunk-index.ts";
import { DedupIndex } from "../../../src/engine/repository/dedup.ts";
import { Repository, sha256 } from "../../../src/engine/repository/repository.ts";
import type { ChunkRecord } from "../../../src/engine/pack/trailer.ts";
import { silentLogger } from "../../../src/log.ts";
import { FilesSource } from "../../../src/sources/files.ts";
import { LocalTransport } from "../../../src/transport/local.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-dedup-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function repoWithData() {
  const backend = new MemoryBackend();
  const { writeKey } = await Repository.init(backend, identityFromSecret(randomBytes(32)), { packSize: 1 << 20 });
  const repo = await Repository.open(backend, { writeKey: parseWriteKey(writeKey) });
  const file = join(dir, `data-${randomBytes(4).toString("hex")}.bin`);
  writeFileSync(file, randomBytes(600_000)); // several chunks: not salted
  const { snapshot } = await backup(repo, { sources: [new FilesSource("files", [file])], transport: new LocalTransport(), log: silentLogger });
  const index = await Index.load(repo);
  const [i, loc] = index.locations().next().value!;
  const id = Buffer.from(i); // the generator reuses its ID buffer
  return { repo, id, loc, honest: loc.pack, parent: new Set(snapshot.packs) };
}

/** A pack file of `size` bytes that age opens (its contents do not matter here). */
async function plantPack(repo: Repository, size = 300): Promise<{ name: string; size: number }> {
  const data = encrypt(randomBytes(Math.max(0, size - 250)), repo.dataRecipients);
  const name = sha256(data);
  await repo.backend.save({ type: "pack", name }, data);
  return { name, size: data.length };
}

const plantIndex = (repo: Repository, id: string, size: number, chunks: ChunkRecord[]) => repo.saveMeta("index", () => indexText([{ id, size, chunks }]));

test("entries in a missing pack, a wrongly sized pack, or overlapping frames are not deduplicated against", async () => {
  const { repo, id, loc, honest } = await repoWithData();
  const other = randomBytes(32);
  const missing = randomBytes(32).toString("hex");
  await plantIndex(repo, missing, 1000, [[other.toString("hex"), 0, 10, 10, 0]]);
  const wrong = await plantPack(repo);
  const wrongId = randomBytes(32);
  await plantIndex(repo, wrong.name, wrong.size + 1, [[wrongId.toString("hex"), 0, 10, 10, 0]]);
  const overlap = await plantPack(repo, 1000);
  const overlapId = randomBytes(32);
  await plantIndex(repo, overlap.name, overlap.size, [
    [overlapId.toString("hex"), 0, 100, 10, 0],
    [randomBytes(32).toString("hex"), 50, 100, 10, 0],
  ]);
  const d = await DedupIndex.load(repo, new Set());
  assert.equal(d.lookup(other), undefined, "missing pack");
  assert.equal(d.lookup(wrongId), undefined, "wrongly sized pack");
  assert.equal(d.lookup(overlapId), undefined, "overlapping frames");
  assert.match(d.distrusted.get(missing)!, /missing/);
  assert.match(d.distrusted.get(wrong.name)!, /bytes, its index says/);
  assert.match(d.distrusted.get(overlap.name)!, /overlap/);
  assert.equal(d.lookup(id)?.pack, honest, "honest entries still deduplicate");
  assert.equal(d.lookup(id)?.offset, loc.offset);
});

test("a pack listed by two index files is not trusted; a chunk in two trusted packs comes from the latest snapshot's, or is stored again", async () => {
  const { repo, id, loc, honest, parent } = await repoWithData();
  // A second pack that exists with the size its index gives, claiming the same chunk (same size): it disagrees on where.
  const planted = await plantPack(repo, 1000);
  await plantIndex(repo, planted.name, planted.size, [[id.toString("hex"), 0, 100, loc.rawLength, 0]]);
  assert.equal((await DedupIndex.load(repo, parent)).lookup(id)?.pack, honest, "the latest snapshot's pack wins");
  assert.equal((await DedupIndex.load(repo, new Set())).lookup(id), undefined, "no snapshot decides: stored again");
  // Two sizes for one chunk: neither is believed, even from the latest snapshot's pack.
  const sized = await plantPack(repo, 1000);
  await plantIndex(repo, sized.name, sized.size, [[id.toString("hex"), 0, 100, loc.rawLength + 1, 0]]);
  assert.equal((await DedupIndex.load(repo, parent)).lookup(id), undefined);

  // The honest pack listed again by another index file: not trusted.
  const fresh = await repoWithData();
  await plantIndex(fresh.repo, fresh.honest, (await fresh.repo.backend.stat({ type: "pack", name: fresh.honest })).size, [[fresh.id.toString("hex"), fresh.loc.offset, fresh.loc.length, fresh.loc.rawLength, fresh.loc.inner]]);
  const d = await DedupIndex.load(fresh.repo, fresh.parent);
  assert.equal(d.lookup(fresh.id), undefined);
  assert.match(d.distrusted.get(fresh.honest)!, /both list it/);
});
