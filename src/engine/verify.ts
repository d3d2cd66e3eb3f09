// Verify: structure first (every index and snapshot file matches its checksum
// and MAC; every chunk a snapshot needs is indexed; every indexed pack exists
// with its size, is listed once, and its frames do not overlap), then
// optionally the data: packs re-hashed against their names and, with the
// identity, decrypted, every chunk checked against its keyed ID, and every
// index entry checked against its pack's trailer. Problems are collected, not thrown, so one run names them all.
import { randomInt } from "node:crypto";
import { errorMessage, IntegrityError } from "../errors.ts";
import { decrypt, parseHeader } from "./crypto/age.ts";
import { Index } from "./repository/chunk-index.ts";
import { framesProblems } from "./repository/dedup.ts";
import { withLock } from "./repository/lock.ts";
import { configHash, sha256, type Repository } from "./repository/repository.ts";
import { parseWriteKey } from "./crypto/keys.ts";
import { ChunkReader } from "./repository/reader.ts";
import { decompressFrame } from "./pack/frame.ts";
import { parseTrailer } from "./pack/trailer.ts";
import { expiringDependencies, goneReason } from "./snapshot/expiry.ts";
import { chainProblems, loadSnapshot, loadSnapshots } from "./snapshot/snapshot.ts";

export interface VerifyOptions {
  /** Percentage of packs whose data is read (0: structure only). */
  readData: number;
  /** Read only slice n of t instead (packs whose ID's first byte modulo t is n-1, as restic's --read-data-subset n/t): t scheduled runs cover everything. */
  subset?: { n: number; t: number };
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyResult {
  /** Who new data is encrypted to (the config, as the key checked it). */
  recipients: string[];
  errors: string[];
  notes: string[];
  snapshots: number;
  packs: number;
  packsRead: number;
  chunksChecked: number;
  /** Whether data was decrypted (an identity was given) or only checksummed. */
  decrypted: boolean;
  /** Time of the newest readable snapshot. */
  newest?: string;
}

export async function verify(repo: Repository, opts: VerifyOptions): Promise<VerifyResult> {
  return withLock(repo, false, async () => {
    const errors: string[] = [];
    const notes: string[] = [];
    const stored = new Map<string, number>();
    for await (const f of repo.backend.list("pack")) stored.set(f.name, f.size);

    // The keys file gives recipients who are not the owner the write key: with an identity, check it is this config's.
    try {
      const keys = await repo.backend.load({ type: "keys", name: "" });
      // The write key cannot open it (it is for the recipients): only its form is checked then.
      if (!repo.canReadData && !parseHeader(keys)) errors.push("the keys file is not an age file (it is damaged)");
      if (repo.canReadData) {
        const text = decrypt(keys, repo.keys.identities, "the keys file").toString("utf8");
        const wk = parseWriteKey(String(JSON.parse(text).writeKey));
        if (!wk.w.equals(repo.keys.writeKey) || !wk.config.equals(configHash(repo.config))) errors.push("the keys file does not hold this config's write key (recipients who are not the owner cannot open the repository)");
      }
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
    for (const [id, others] of index.listedTwice) errors.push(`pack ${id} is listed by more than one index file (${[index.packs.get(id)!.indexFile, ...others].join(", ")}): one of them was not written by a backup`);
    for (const [id, why] of framesProblems(index)) errors.push(`pack ${id}: the index lists ${why}`);
    const loose = [...stored.keys()].filter((id) => !index.packs.has(id));
    if (loose.length) {
      notes.push(
        damagedIndex
          ? `${loose.length} pack(s) are in no readable index (a damaged index file lists them, or an interrupted backup left them)`
          : `${loose.length} pack(s) are in no index (left by an interrupted backup; harmless)`,
      );
    }

    let snapshots = 0;
    let newest: string | undefined;
    const snapshotNames = await repo.listNames("snapshot");
    for (const name of snapshotNames) {
      try {
        const s = await loadSnapshot(repo, name);
        snapshots++;
        if (!newest || s.time > newest) newest = s.time;
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
    // A snapshot deleted from the middle, or one dated in the future.
    try {
      errors.push(...(await chainProblems(repo, await loadSnapshots(repo))));
    } catch {
      // an unreadable snapshot is named above
    }

    let packsRead = 0;
    let chunksChecked = 0;
    if (opts.readData > 0 || opts.subset) {
      const all = [...stored.keys()].sort();
      const count = opts.readData >= 100 ? all.length : Math.max(1, Math.ceil((all.length * opts.readData) / 100));
      // A random subset: repeated partial runs cover everything over time.
      const sub = opts.subset;
      const chosen = sub ? all.filter((id) => parseInt(id.slice(0, 2), 16) % sub.t === sub.n - 1) : opts.readData >= 100 ? all : shuffle(all).slice(0, Math.min(count, all.length));
      const reader = repo.canReadData ? new ChunkReader(repo, index) : undefined;
      // Every index entry, by pack: each must be a record of its pack's trailer (so every chunk a snapshot resolves to is checked).
      const listed = new Map<string, Set<string>>();
      if (reader) {
        for (const [id, l] of index.locations()) {
          let set = listed.get(l.pack);
          if (!set) listed.set(l.pack, (set = new Set()));
          set.add(JSON.stringify([id.toString("hex"), l.offset, l.length, l.rawLength, l.inner]));
        }
      }
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
            const expected = listed.get(id) ?? new Set();
            for (const [chunk, offset, length, rawLength, inner] of trailer) {
              const loc = index.lookup(Buffer.from(chunk, "hex"), only);
              if (!loc || loc.pack !== id || loc.offset !== offset || loc.inner !== inner) {
                throw new IntegrityError(`pack ${id} holds chunk ${chunk}, which the index does not list there`);
              }
              expected.delete(JSON.stringify([chunk, offset, length, rawLength, inner]));
              if (!frames.has(offset)) frames.set(offset, decompressFrame(id, offset, plain.subarray(offset, offset + length)));
              reader.check(Buffer.from(chunk, "hex"), { pack: id, offset, length, rawLength, inner }, frames.get(offset)!);
              chunksChecked++;
            }
            for (const e of [...expected].slice(0, 3)) {
              const [chunk, offset] = JSON.parse(e);
              errors.push(`pack ${id}: the index lists chunk ${chunk} at offset ${offset}, where the pack's own list (its trailer) does not have it: a wrong or planted index entry`);
            }
            if (expected.size > 3) errors.push(`pack ${id}: and ${expected.size - 3} more index entries its trailer does not have`);
          }
        } catch (err) {
          errors.push(prefixed(`pack ${id}`, err));
        }
        packsRead++;
      }
      opts.onProgress?.(packsRead, chosen.length);
    }
    return { recipients: repo.config.recipients, errors, notes, snapshots, packs: stored.size, packsRead, chunksChecked, decrypted: !!repo.canReadData && (opts.readData > 0 || !!opts.subset), newest };
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
