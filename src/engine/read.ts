// Reading a few small entries of a snapshot into memory: what `cairn diff`
// needs to show a settings file's redacted text diff. Every chunk is checked
// against its keyed ID, as on restore.
import { IntegrityError } from "../errors.ts";
import { Index } from "./repository/chunk-index.ts";
import { withLock } from "./repository/lock.ts";
import { ChunkReader } from "./repository/reader.ts";
import type { Repository } from "./repository/repository.ts";
import { SALT, type SnapshotEntry, type SnapshotRef } from "./snapshot/snapshot.ts";

/** The contents of `entries` (entries of `ref`), in order. Needs the identity. */
export async function readEntries(repo: Repository, ref: SnapshotRef, entries: SnapshotEntry[]): Promise<Buffer[]> {
  if (entries.length === 0) return [];
  return withLock(repo, false, async () => {
    const reader = new ChunkReader(repo, await Index.load(repo), new Set(ref.snapshot.packs));
    const out: Buffer[] = [];
    for (const e of entries) {
      const parts: Buffer[] = [];
      // A salted entry's chunks start with salt that is not content (snapshot.ts).
      for await (const batch of reader.read(reader.locateAll(e.chunks, e.salted ? SALT : 0))) parts.push(...batch);
      const data = Buffer.concat(parts);
      if (data.length !== e.size) throw new IntegrityError(`snapshot ${ref.id.slice(0, 8)}: ${e.path}: read ${data.length} bytes, the snapshot says ${e.size}`);
      out.push(data);
    }
    return out;
  });
}
