import { createRequire as __cairnRequire } from 'node:module'; import { fileURLToPath as __cairnPath } from 'node:url'; const require = __cairnRequire(import.meta.url); const __filename = __cairnPath(import.meta.url); const __dirname = __cairnPath(new URL('.', import.meta.url));

// src/engine/tasks.ts
import { isMainThread, isMarkedAsUntransferable, parentPort, workerData } from "node:worker_threads";

// src/errors.ts
var EXIT_CODES = [
  { code: 0, name: "ok", meaning: "ok" },
  { code: 1, name: "runtime", meaning: "runtime error: a source, the network, a disk or a backend failed" },
  { code: 2, name: "usage", meaning: "usage, config or setup error: the command cannot run as given (fix it and run again)" },
  { code: 3, name: "integrity", meaning: "integrity problem: stored data is damaged or missing (verify, restore)" },
  { code: 4, name: "incomplete", meaning: "incomplete snapshot: saved, but some files could not be read (they are named)" },
  { code: 5, name: "partial", meaning: "some repositories failed: the backup is in the others (each failed one is named)" },
  { code: 10, name: "repoNotFound", meaning: "repository not found" },
  { code: 11, name: "locked", meaning: "repository locked by another run" },
  { code: 12, name: "noKey", meaning: "no key matches (wrong identity or write key)" },
  { code: 130, name: "cancelled", meaning: "cancelled (SIGINT or SIGTERM): the lock and temporary files were removed" }
];
var ExitCode = Object.fromEntries(EXIT_CODES.map((r) => [r.name, r.code]));
var CairnError = class extends Error {
  exitCode;
  hint;
  constructor(message, exitCode = ExitCode.runtime, hint, options) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
};
var IntegrityError = class extends CairnError {
  constructor(message, hint = "run `cairn verify --read-data` to see every damaged object") {
    super(message, ExitCode.integrity, hint);
  }
};

// src/engine/crypto/keys.ts
import { createHmac as createHmac2, hash, hkdfSync as hkdfSync2 } from "node:crypto";

// src/engine/crypto/age.ts
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  timingSafeEqual
} from "node:crypto";
var SEGMENT = 64 * 1024;
var TAG = 16;
var PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
var SPKI = Buffer.from("302a300506032b656e032100", "hex");
function segmentNonce(counter, last) {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}
function openSegment(key, counter, last, sealed, what) {
  const d = createDecipheriv("chacha20-poly1305", key, segmentNonce(counter, last), { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    const plain = d.update(sealed.subarray(0, sealed.length - TAG));
    const rest = d.final();
    return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
  } catch {
    throw new IntegrityError(`${what}: payload segment ${counter} fails authentication (damaged or truncated)`);
  }
}

// src/engine/crypto/keys.ts
function chunkIdHasher(chunkIdKey) {
  const inner = Buffer.alloc(64 + SCRATCH, 54);
  const outer = Buffer.alloc(64 + 32, 92);
  for (let i = 0; i < chunkIdKey.length; i++) {
    inner[i] ^= chunkIdKey[i];
    outer[i] ^= chunkIdKey[i];
  }
  return (data) => {
    const h = data.length <= SCRATCH ? (inner.set(data, 64), hash("sha256", inner.subarray(0, 64 + data.length), "buffer")) : hash("sha256", Buffer.concat([inner.subarray(0, 64), data]), "buffer");
    outer.set(h, 64);
    return hash("sha256", outer, "buffer");
  };
}
var SCRATCH = 64 * 1024;

// src/engine/pack/frame.ts
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";

// src/engine/chunk/chunker.ts
var CDC_DEFAULT = { min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 };
var SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

// src/engine/pack/frame.ts
var ZSTD_LEVEL = 3;
var FRAME = 512 * 1024;
var MAX_CHUNK = CDC_DEFAULT.max;
var MAX_FRAME_RAW = FRAME + MAX_CHUNK;
function compressFrame(raw) {
  return zstdCompressSync(raw, {
    params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
    pledgedSrcSize: raw.length,
    chunkSize: raw.length + (raw.length >> 7) + 1024
  });
}
function frameContentSize(b) {
  if (b.length < 6 || b[0] !== 40 || b[1] !== 181 || b[2] !== 47 || b[3] !== 253) return void 0;
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const fhd = v[4];
  const single = fhd >> 5 & 1;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
  const pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3];
  if (fcsBytes === 0 || v.length < pos + fcsBytes) return void 0;
  if (fcsBytes === 1) return v[pos];
  if (fcsBytes === 2) return v.readUInt16LE(pos) + 256;
  if (fcsBytes === 4) return v.readUInt32LE(pos);
  return Number(v.readBigUInt64LE(pos));
}
function decompressFrame(pack, offset, stored) {
  const size = frameContentSize(stored);
  if (size !== void 0 && size > MAX_FRAME_RAW) throw new IntegrityError(`pack ${pack}: the frame at ${offset} claims ${size} bytes`);
  try {
    return zstdDecompressSync(stored, { chunkSize: Math.max(size ?? 64 * 1024, 64) + 1, maxOutputLength: MAX_FRAME_RAW });
  } catch {
    throw new IntegrityError(`pack ${pack}: the frame at ${offset} does not decompress`);
  }
}

// src/engine/pack/unpack.ts
import { createSecretKey as createSecretKey2 } from "node:crypto";
import { writevSync } from "node:fs";
var MAX_WRITE = 4 * 1024 * 1024;
var writeAll = (fd, buffers, position) => {
  let left = buffers.reduce((n, b) => n + b.length, 0);
  let at = position;
  while (left > 0) {
    const n = writevSync(fd, buffers, at);
    left -= n;
    at += n;
    if (left > 0) buffers = dropBytes(buffers, n);
  }
};
function dropBytes(buffers, n) {
  const out = [];
  for (const b of buffers) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(b.subarray(n));
      n = 0;
    }
  }
  return out;
}
var Segments = class _Segments {
  sealed;
  key;
  first;
  total;
  what;
  openNo = -1;
  open = Buffer.alloc(0);
  static scratch = Buffer.alloc(0);
  constructor(job, what) {
    this.sealed = Buffer.from(job.sealed.buffer, job.sealed.byteOffset, job.sealed.byteLength);
    this.key = createSecretKey2(job.key);
    this.first = job.first;
    this.total = job.totalSegments;
    this.what = what;
  }
  segment(counter) {
    if (counter !== this.openNo) {
      const at = (counter - this.first) * (SEGMENT + TAG);
      const sealed = this.sealed.subarray(at, at + SEGMENT + TAG);
      if (at < 0 || sealed.length <= TAG) throw new IntegrityError(`${this.what}: shorter than the index says`);
      this.open = openSegment(this.key, counter, counter === this.total - 1, sealed, this.what);
      this.openNo = counter;
    }
    return this.open;
  }
  /** Plaintext bytes [offset, offset+length) of the pack, valid until the next call. */
  read(offset, length) {
    if (_Segments.scratch.length < length) _Segments.scratch = Buffer.allocUnsafe(Math.max(length, 2 * 1024 * 1024));
    const out = _Segments.scratch.subarray(0, length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const seg = this.segment(Math.floor(at / SEGMENT));
      const n = seg.copy(out, done, at % SEGMENT, Math.min(seg.length, at % SEGMENT + length - done));
      if (n === 0) throw new IntegrityError(`${this.what}: shorter than the index says`);
      done += n;
    }
    return out;
  }
};
function unpack(job, chunkId, write = writeAll) {
  const what = `pack ${job.pack}`;
  const segments = new Segments(job, what);
  const { frames, chunks, positions, ids, skips } = job;
  let frameNo = -1;
  let frame = Buffer.alloc(0);
  let run = [];
  let runFd = -1;
  let runStart = 0;
  let runEnd = 0;
  let bytes = 0;
  let checkedFrame = -1;
  let checkedInner = -1;
  let checkedId = -1;
  const flush = () => {
    if (run.length > 0) write(runFd, run, runStart);
    run = [];
  };
  const n = positions.length;
  for (let c = 0; c < n; c++) {
    const f = chunks[c * 4];
    const inner = chunks[c * 4 + 1];
    const length = chunks[c * 4 + 2];
    const fd = chunks[c * 4 + 3];
    if (f !== frameNo) {
      frame = decompressFrame(job.pack, frames[f * 2], segments.read(frames[f * 2], frames[f * 2 + 1]));
      frameNo = f;
    }
    const stored = frame.subarray(inner, inner + length);
    const id = ids.subarray(c * 32, c * 32 + 32);
    const same = f === checkedFrame && inner === checkedInner && Buffer.compare(id, ids.subarray(checkedId * 32, checkedId * 32 + 32)) === 0;
    if (!same) {
      if (stored.length !== length || length < skips[c] || !chunkId(stored).equals(id)) {
        throw new IntegrityError(`chunk ${Buffer.from(id).toString("hex")} in ${what} does not match its ID`);
      }
      checkedFrame = f;
      checkedInner = inner;
      checkedId = c;
    }
    const piece = skips[c] ? stored.subarray(skips[c]) : stored;
    const position = positions[c];
    if (fd !== runFd || position !== runEnd || runEnd - runStart >= MAX_WRITE) {
      flush();
      runFd = fd;
      runStart = position;
    } else {
      const last = run[run.length - 1];
      if (last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
        run[run.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + piece.length);
        runEnd = position + piece.length;
        bytes += piece.length;
        continue;
      }
    }
    run.push(piece);
    runEnd = position + piece.length;
    bytes += piece.length;
  }
  flush();
  return bytes;
}

// src/engine/workers/pool.ts
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
var WorkerPool = class _WorkerPool {
  idle = [];
  waiting = [];
  pending = /* @__PURE__ */ new Map();
  workers = [];
  broken;
  closing = false;
  constructor(script, options) {
    const revive = options.revive ?? ((e) => new Error(e.message));
    const size = options.size ?? _WorkerPool.defaultSize();
    for (let i = 0; i < size; i++) {
      const w = new Worker(script, { workerData: options.workerData });
      w.on("message", (m) => {
        const p = this.pending.get(w);
        this.pending.delete(w);
        this.release(w);
        if (!p) return;
        if ("result" in m) p.resolve(m.result);
        else p.reject(revive(m.error));
      });
      w.on("error", (err) => this.fail(new CairnError(`a worker thread failed: ${err.message}`, ExitCode.runtime, options.startHint)));
      w.on("exit", (code) => {
        if (!this.closing) this.fail(new CairnError(`a worker thread stopped (exit code ${code})`, ExitCode.runtime));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }
  static defaultSize() {
    return Math.max(1, Math.min(availableParallelism(), 4));
  }
  /** Messages that can run at once. */
  get size() {
    return this.workers.length;
  }
  async run(message, transfer = []) {
    if (this.broken) throw this.broken;
    const w = this.idle.pop() ?? await new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.broken) throw this.broken;
    return new Promise((resolve, reject) => {
      this.pending.set(w, { resolve, reject });
      w.postMessage(message, transfer);
    });
  }
  async close() {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
  fail(err) {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(this.broken);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w.reject(this.broken);
  }
  release(w) {
    const next = this.waiting.shift();
    if (next) next.resolve(w);
    else this.idle.push(w);
  }
};

// src/engine/tasks.ts
function runTask(task, chunkId) {
  if (task.kind === "unpack") return { done: { kind: "unpack", bytes: unpack(task.job, chunkId) }, transfer: [] };
  if (task.kind === "hash") {
    const ids = Buffer.allocUnsafeSlow(task.sizes.length * 32);
    let at = 0;
    task.sizes.forEach((size, k) => {
      ids.set(chunkId(task.data.subarray(at, at + size)), k * 32);
      at += size;
    });
    return { done: { kind: "hash", data: task.data, ids }, transfer: [task.data.buffer, ids.buffer].filter(owned) };
  }
  const frame = compressFrame(task.raw.subarray(0, task.length));
  return { done: { kind: "compress", frame, raw: task.raw }, transfer: [frame.buffer, task.raw.buffer].filter(owned) };
}
function owned(b) {
  return b instanceof ArrayBuffer && !isMarkedAsUntransferable(b);
}
function movable(b) {
  const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && owned(b.buffer);
  return own ? b : new Uint8Array(b);
}
var asBuffer = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
var SCRIPT = new URL(import.meta.url.endsWith(".ts") ? "./tasks.ts" : "./worker.js", import.meta.url);
var Workers = class {
  pool;
  constructor(chunkIdKey, size) {
    this.pool = new WorkerPool(SCRIPT, {
      workerData: { cairnTasks: true, chunkIdKey },
      size,
      revive: (e) => e.kind === "integrity" ? new IntegrityError(e.message) : new Error(e.message),
      startHint: "dist/worker.js must sit beside cairn's bundle (cairn.js); reinstall cairn if it is missing"
    });
  }
  /** Tasks that can run at once. */
  get size() {
    return this.pool.size;
  }
  /** One zstd frame of raw[0..length); raw comes back for reuse. */
  async compress(raw, length) {
    const moved = movable(raw);
    const done = await this.pool.run({ kind: "compress", raw: moved, length }, [moved.buffer]);
    if (done.kind !== "compress") throw new Error("a worker answered the wrong task");
    return { frame: asBuffer(done.frame), raw: asBuffer(done.raw) };
  }
  /** The chunk IDs of the chunks laid out back to back in data (sizes in order); data comes back for reuse. */
  async hash(data, sizes) {
    const moved = movable(data);
    const done = await this.pool.run({ kind: "hash", data: moved, sizes }, [moved.buffer]);
    if (done.kind !== "hash") throw new Error("a worker answered the wrong task");
    return { data: asBuffer(done.data), ids: asBuffer(done.ids) };
  }
  /** Decrypt, decompress, check and write one span's chunks; the bytes written. */
  async unpack(job) {
    const sealed = movable(job.sealed);
    const done = await this.pool.run({ kind: "unpack", job: { ...job, sealed } }, [sealed.buffer]);
    if (done.kind !== "unpack") throw new Error("a worker answered the wrong task");
    return done.bytes;
  }
  close() {
    return this.pool.close();
  }
};
if (!isMainThread && workerData?.cairnTasks) {
  const chunkId = chunkIdHasher(workerData.chunkIdKey);
  parentPort.on("message", (task) => {
    try {
      const { done, transfer } = runTask(task, chunkId);
      parentPort.postMessage({ result: done }, transfer);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      parentPort.postMessage({ error: { message, kind: err instanceof IntegrityError ? "integrity" : void 0 } });
    }
  });
}
export {
  Workers
};
