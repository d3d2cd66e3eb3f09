// The conformance suite for the git backend: against a local bare repository
// (plain, and with a flush after every change read back by a second backend,
// so every call goes through the remote), and against one reached over the
// test sshd (ssh:// with the test host key pinned).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Backend, CallOptions, FileType, Handle, Range } from "../../src/backends/backend.ts";
import { GitBackend, parseGitUrl } from "../../src/backends/git.ts";
import { backendSuite } from "./suite.ts";

async function bareRemote(): Promise<{ dir: string; remote: string }> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-gitremote-"));
  const remote = join(dir, "remote.git");
  execFileSync("git", ["init", "--bare", "-q", remote]);
  return { dir, remote };
}

backendSuite("git (local bare repository)", async () => {
  const { dir, remote } = await bareRemote();
  const backend = new GitBackend({ remote: parseGitUrl(`git:${remote}`, undefined) });
  return { backend, cleanup: async () => (await backend.dispose(), await rm(dir, { recursive: true, force: true })) };
});

/**
 * Writes go to one backend and are pushed before the next read; reads come
 * from a second backend opened afresh after each push, so every file read
 * has made the round trip through the remote.
 */
class ThroughRemote implements Backend {
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

backendSuite("git (local bare repository, every read through the remote)", async () => {
  const { dir, remote } = await bareRemote();
  const open = () => new GitBackend({ remote: parseGitUrl(`git:${remote}#backups/main`, undefined), pushLimit: 2 << 20 });
  const backend = new ThroughRemote(open(), open);
  return { backend, cleanup: async () => (await backend.dispose(), await rm(dir, { recursive: true, force: true })) };
});
