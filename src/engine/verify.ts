// Verify: structure first (every index and snapshot file matches its checksum
// and MAC; every chunk a snapshot needs is indexed; every indexed pack exists
// with its size), then optionally the data: packs re-hashed against their
// names and, with the identity, decrypted and every chunk checked against its
// keyed ID. Problems are collected, not thrown, so one run names them all.
import { randomInt } from "node:crypto";
import { errorMessage, IntegrityError } from "../errors.ts";
import { decrypt } from "./crypto/age.ts";
import { Index } from "./repository/chunk-index.ts";
import { withLock } from "./repository/lock.ts";
import { sha256, type Repository } from "./repository/repository.ts";
import { ChunkReader } from "./repository/reader.ts";
import { decompressFrame } from "./pack/frame.ts";
import { parseTrailer } from "./pack/trailer.ts";
import { expiringDependencies, goneReason } from "./snapshot/expiry.ts";
import { loadSnapshot } from "./snapshot/snapshot.ts";

export interface VerifyOptions {
  /** Percentage of packs whose data is read (0: structure only). */
  readData: number;
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyResult {
  errors: string[];
  notes: string[];
  snapshots: number;
  packs: number;
  packsRead: number;
  chunksChecked: number;
  /** Whether data was decrypted (an identity was given) or only checksummed. */
  decrypted: boolean;
}

export async function verify(repo: Repository, opts: VerifyOptions): Promise<VerifyResult> {
  return withLock(repo, false, async () => {
    const errors: string[] = [];
    const notes: string[] = [];
    const stored = new Map<string, number>();
    for await (const f of repo.backend.list("pack")) stored.set(f.name, f.size);

    try {
      const keys = await repo.backend.load({ type: "keys", name: "" });
      if (sha256(keys) !== repo.config.keys) errors.push("the keys file does not match its checksum in the config (it is damaged)");
    } catch (err) {
      errors.push(`the keys file: ${errorMessage(err)}`);
    }

    const index = new Index();
    let damagedIndex = false;
    for (const name of await repo.listNames("index")) {
      try {
        index.addBytes(name, await repo.loadMetaBytes("index", name));
      } catch (err) {
        damagedIndex = true;
        errors.push(prefixed(`index ${name}`, err));
      }
    }
    for (const [id, p] of index.packs) {
      const size = stored.get(id);
      if (size === undefined) errors.push(`pack ${id} (listed in index ${p.indexFile}) is missing`);
      else if (size !== p.size) errors.push(`pack ${id} has ${size} bytes, the index says ${p.size}`);
    }
    const loose = [...stored.keys()].filter((id) => !index.packs.has(id));
    if (loose.length) {
      notes.push(
        damagedIndex
          ? `${loose.length} pack(s) are in no readable index (a damaged index file lists them, or an interrupted backup left them)`
          : `${loose.length} pack(s) are in no index (left by an interrupted backup; harmless)`,
      );
    }

    let snapshots = 0;
    const snapshotNames = await repo.listNames("snapshot");
    for (const name of snapshotNames) {
      try {
        const s = await loadSnapshot(repo, name);
        snapshots++;
        const packs = new Set(s.packs);
        for (const e of s.entries) {
          for (const id of e.chunks) {
            const loc = index.lookup(id, packs);
            if (!loc) {
              errors.push(`snapshot ${name}: ${e.path} needs chunk ${id.toString("hex")}, which is in no index`);
              break;
            }
            if (!packs.has(loc.pack)) {
              errors.push(`snapshot ${name}: chunk ${id.toString("hex")} is in pack ${loc.pack}, not in the snapshot's pack list`);
              break;
            }
          }
        }
        for (const p of packs) if (!stored.has(p)) errors.push(`snapshot ${name} needs pack ${p}, which ${await goneReason(repo, { type: "pack", name: p })}`);
      } catch (err) {
        errors.push(prefixed(`snapshot ${name}`, err));
      }
    }

    // Where files expire, no snapshot may depend on a file that expires before it.
    errors.push(...(await expiringDependencies(repo, index, snapshotNames)));

    let packsRead = 0;
    let chunksChecked = 0;
    if (opts.readData > 0) {
      const all = [...stored.keys()].sort();
      const count = opts.readData >= 100 ? all.length : Math.max(1, Math.ceil((all.length * opts.readData) / 100));
      // A random subset: repeated partial runs cover everything over time.
      const chosen = opts.readData >= 100 ? all : shuffle(all).slice(0, Math.min(count, all.length));
      const reader = repo.canReadData ? new ChunkReader(repo, index) : undefined;
      if (!reader) notes.push("no identity given: packs were checked against their checksums, not decrypted");
      for (const id of chosen) {
        opts.onProgress?.(packsRead, chosen.length);
        try {
          const data = await repo.backend.load({ type: "pack", name: id });
          if (sha256(data) !== id) {
            errors.push(`pack ${id}: checksum mismatch (the file is damaged)`);
            continue;
          }
          if (reader && index.packs.has(id)) {
            // The pack's own trailer lists its chunks; each must decompress,
            // match its ID, and be where the index says.
            const plain = decrypt(data, repo.keys.identities, `pack ${id}`);
            const trailer = parseTrailer(id, plain);
            const frames = new Map<number, Buffer>();
            const only = new Set([id]);
            for (const [chunk, offset, length, rawLength, inner] of trailer) {
              const loc = index.lookup(Buffer.from(chunk, "hex"), only);
              if (!loc || loc.pack !== id || loc.offset !== offset || loc.inner !== inner) {
                throw new IntegrityError(`pack ${id} holds chunk ${chunk}, which the index does not list there`);
              }
              if (!frames.has(offset)) frames.set(offset, decompressFrame(id, offset, plain.subarray(offset, offset + length)));
              reader.check(Buffer.from(chunk, "hex"), { pack: id, offset, length, rawLength, inner }, frames.get(offset)!);
              chunksChecked++;
            }
          }
        } catch (err) {
          errors.push(prefixed(`pack ${id}`, err));
        }
        packsRead++;
      }
      opts.onProgress?.(packsRead, chosen.length);
    }
    return { errors, notes, snapshots, packs: stored.size, packsRead, chunksChecked, decrypted: !!repo.canReadData && opts.readData > 0 };
  });
}

/** "what: message", unless the message already starts with what. */
function prefixed(what: string, err: unknown): string {
  const m = errorMessage(err);
  return m.startsWith(what) ? m : `${what}: ${m}`;
}

function shuffle<T>(a: T[]): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [b[i], b[j]] = [b[j], b[i]];
  }
  return b;
}
