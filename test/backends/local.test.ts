// The conformance suite for the in-memory and local-folder backends, and what
// only the local folder can get wrong (temp files, strays in its folders).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FILE_TYPES, type FileEntry, type FileType } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { openBackend } from "../../src/backends/open.ts";
import { backendSuite, nameFor } from "./suite.ts";

backendSuite("memory", async () => ({ backend: new MemoryBackend(), cleanup: async () => {} }));

backendSuite("local", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cairn-local-"));
  return { backend: new LocalBackend(join(dir, "repo")), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

async function listAll(b: LocalBackend, type: FileType): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const f of b.list(type)) out.push(f);
  return out;
}

describe("local backend", () => {
  const withLocal = (fn: (b: LocalBackend, root: string) => Promise<void>) => async () => {
    const dir = await mkdtemp(join(tmpdir(), "cairn-local-"));
    try {
      await fn(new LocalBackend(join(dir, "repo")), join(dir, "repo"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  test("the layout is the documented one and no temp file is left after saves", withLocal(async (b, root) => {
    const pack = nameFor("p");
    const idx = nameFor("i");
    const snap = nameFor("s");
    const lock = nameFor("l");
    await b.save({ type: "config", name: "" }, Buffer.from("{}"));
    await b.save({ type: "keys", name: "" }, Buffer.from("k"));
    await b.save({ type: "pack", name: pack }, Buffer.alloc(100_000, 7));
    await b.save({ type: "pack", name: pack }, Buffer.alloc(100_000, 7)); // twice
    await b.save({ type: "index", name: idx }, Buffer.from("i"));
    await b.save({ type: "snapshot", name: snap }, Buffer.from("s"));
    await b.save({ type: "lock", name: lock }, Buffer.from("l"));
    assert.deepEqual(await walk(root), ["config", `index/${idx}`, "keys", `locks/${lock}`, `packs/${pack.slice(0, 2)}/${pack}`, `snapshots/${snap}`].sort());
  }));

  test("a save that fails (the target is a folder) leaves no temp file", withLocal(async (b, root) => {
    const name = nameFor("dir");
    await mkdir(join(root, "snapshots", name), { recursive: true });
    await assert.rejects(b.save({ type: "snapshot", name }, Buffer.from("x")));
    assert.deepEqual(await readdir(join(root, "snapshots")), [name], "only the folder that was there");
  }));

  test("stray temp files and junk in the folders are not listed", withLocal(async (b, root) => {
    const pack = nameFor("real pack");
    const snap = nameFor("real snapshot");
    await b.save({ type: "pack", name: pack }, Buffer.from("pack"));
    await b.save({ type: "snapshot", name: snap }, Buffer.from("snap"));
    const pdir = join(root, "packs", pack.slice(0, 2));
    await writeFile(join(pdir, ".tmp-0123456789abcdef"), "half a pack");
    await writeFile(join(pdir, `${pack}.partial`), "x");
    await writeFile(join(pdir, pack.toUpperCase()), "x");
    await writeFile(join(root, "packs", "README"), "x");
    await mkdir(join(root, "packs", "zz"));
    await writeFile(join(root, "packs", "zz", nameFor("zz")), "x");
    await writeFile(join(root, "snapshots", ".tmp-aaaaaaaaaaaaaaaa"), "half a snapshot");
    await writeFile(join(root, "snapshots", "notes.txt"), "x");
    await writeFile(join(root, "snapshots", ".DS_Store"), "x");
    await mkdir(join(root, "index"), { recursive: true });
    await writeFile(join(root, "index", "abc"), "x");
    await mkdir(join(root, "locks"), { recursive: true });
    await writeFile(join(root, "locks", ".tmp-bbbbbbbbbbbbbbbb"), "x");
    assert.deepEqual(await listAll(b, "pack"), [{ name: pack, size: 4 }]);
    assert.deepEqual(await listAll(b, "snapshot"), [{ name: snap, size: 4 }]);
    assert.deepEqual(await listAll(b, "index"), []);
    assert.deepEqual(await listAll(b, "lock"), []);
  }));

  test("every listed pack can be loaded (a pack file in the wrong prefix folder is not listed)", withLocal(async (b, root) => {
    const good = nameFor("good");
    await b.save({ type: "pack", name: good }, Buffer.from("good"));
    // A pack copied by hand into another prefix folder: load() would look elsewhere.
    let misplaced = nameFor("misplaced");
    for (let i = 0; misplaced.slice(0, 2) === good.slice(0, 2); i++) misplaced = nameFor(`misplaced ${i}`);
    await writeFile(join(root, "packs", good.slice(0, 2), misplaced), "lost");
    for (const f of await listAll(b, "pack")) {
      const st = await b.stat({ type: "pack", name: f.name });
      assert.equal(st.size, f.size, `listed pack ${f.name} must stat`);
    }
  }));

  test("a folder that is not there yet lists nothing (a fresh repository)", withLocal(async (b) => {
    for (const t of FILE_TYPES) assert.deepEqual(await listAll(b, t), [], t);
    await assert.rejects(b.load({ type: "config", name: "" }), (err: unknown) => b.isNotExist(err));
  }));

  test("files are written readable by the owner only", withLocal(async (b, root) => {
    const { stat } = await import("node:fs/promises");
    const name = nameFor("mode");
    await b.save({ type: "index", name }, Buffer.from("x"));
    assert.equal((await stat(join(root, "index", name))).mode & 0o077, 0);
  }));

  test("openBackend: local:PATH gives a local backend; other URLs are usage errors", () => {
    const b = openBackend("local:/tmp/some/where");
    assert.equal(b.properties.location, "local:/tmp/some/where");
    assert.throws(() => openBackend("/tmp/no-scheme"), /invalid repository URL/);
    assert.throws(() => openBackend("s4:bucket"), /unknown repository kind/);
    assert.throws(() => openBackend("local:"), /invalid repository URL/);
  });
});
