// Helpers for the git backend's tests: a backend whose every read has made the
// round trip through the remote, and a short round trip of every file type.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { FILE_TYPES, type Backend, type CallOptions, type FileType, type Handle, type Range } from "../../src/backends/backend.ts";
import { GitBackend } from "../../src/backends/git.ts";

/**
 * Writes go to one backend and are pushed before the next read; reads come
 * from a second backend opened afresh after each push, so every file read
 * has made the round trip through the remote.
 */
export class ThroughRemote implements Backend {
  private reader: GitBackend | undefined;
  private dirty = false;
  private readonly opened: GitBackend[] = [];
  private readonly writer: GitBackend;
  private readonly open: () => GitBackend;
  constructor(writer: GitBackend, open: () => GitBackend) {
    this.writer = writer;
    this.open = open;
  }
  get properties() {
    return this.writer.properties;
  }
  private async read(): Promise<Backend> {
    if (this.dirty || !this.reader) {
      await this.writer.flush();
      this.dirty = false;
      this.reader = this.open();
      this.opened.push(this.reader);
    }
    return this.reader;
  }
  async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions) {
    await this.writer.save(h, data, opts);
    this.dirty = true;
  }
  async load(h: Handle, range?: Range, opts?: CallOptions) {
    // Locks stay in the process that holds them (see git.ts).
    return await (h.type === "lock" ? this.writer : await this.read()).load(h, range, opts);
  }
  async stat(h: Handle, opts?: CallOptions) {
    return await (h.type === "lock" ? this.writer : await this.read()).stat(h, opts);
  }
  async *list(type: FileType, opts?: CallOptions) {
    yield* (type === "lock" ? this.writer : await this.read()).list(type, opts);
  }
  async remove(h: Handle, opts?: CallOptions) {
    await this.writer.remove(h, opts);
    this.dirty = true;
  }
  flush(opts?: CallOptions) {
    return this.writer.flush(opts);
  }
  isNotExist(err: unknown) {
    return this.writer.isNotExist(err);
  }
  isRetryable(err: unknown) {
    return this.writer.isRetryable(err);
  }
  async dispose() {
    for (const b of [this.writer, ...this.opened]) await b.dispose();
  }
}
const hex = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/**
 * Every file type saved (several sizes, one pack above the push limit given
 * to open), pushed, read back from a backend opened afresh (whole and
 * ranges, stat, list); then some removed, pushed, and gone for a third backend.
 */
export async function roundTrip(open: () => GitBackend): Promise<void> {
  const writer = open();
  const files = new Map<string, { h: Handle; data: Buffer }>();
  for (const type of FILE_TYPES) {
    if (type === "lock") continue;
    for (const size of type === "config" || type === "keys" ? [300] : [0, 1, 4097, 3 * (1 << 20) + 7]) {
      const data = randomBytes(size);
      const h = { type, name: type === "config" || type === "keys" ? "" : hex(data + type) };
      await writer.save(h, data);
      files.set(`${type}/${h.name}`, { h, data });
    }
  }
  await writer.flush();
  const reader = open();
  for (const { h, data } of files.values()) {
    assert.ok((await reader.load(h)).equals(data), `${h.type} ${h.name}: content`);
    assert.equal((await reader.stat(h)).size, data.length);
    if (data.length > 100) assert.ok((await reader.load(h, { offset: data.length - 100, length: 50 })).equals(data.subarray(data.length - 100, data.length - 50)));
  }
  for (const type of FILE_TYPES) {
    const listed: string[] = [];
    for await (const f of reader.list(type)) listed.push(f.name);
    const want = [...files.values()].filter((f) => f.h.type === type).map((f) => f.h.name);
    assert.deepEqual(listed.sort(), want.sort(), `list ${type}`);
  }
  const removed = [...files.values()].filter((f) => f.h.type === "pack" || f.h.type === "index").slice(0, 3);
  for (const { h } of removed) await reader.remove(h);
  await reader.flush();
  const third = open();
  for (const { h } of removed) await assert.rejects(third.load(h), (err: unknown) => third.isNotExist(err), `${h.type} ${h.name} removed`);
  const kept = [...files.values()].find((f) => f.h.type === "pack" && !removed.includes(f))!;
  assert.ok((await third.load(kept.h)).equals(kept.data));
  for (const b of [writer, reader, third]) await b.dispose();
}
