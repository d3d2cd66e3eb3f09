// Restore reads each pack once and writes chunks at their offsets from worker
// threads, in batches of open files: many files (more than one batch), empty
// files, files sharing chunks, and a file whose chunks sit in several packs
// all come back byte for byte, each with its mode.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { makeRepo, runCli, treeHashes, writeConfig, type TempRepo } from "./helpers/repo.ts";

let r: TempRepo;
before(async () => {
  r = await makeRepo({ packSize: "1MiB" });
});
after(async () => r.cleanup());

test("300 files (over one batch of open files), empty and repeated ones, and a 3 MiB file across packs restore byte for byte", async () => {
  const src = join(r.dir, "src");
  await mkdir(join(src, "many"), { recursive: true });
  const shared = randomBytes(5000);
  for (let i = 0; i < 300; i++) {
    const body = i % 50 === 0 ? Buffer.alloc(0) : i % 7 === 0 ? shared : randomBytes(1 + ((i * 37) % 3000));
    await writeFile(join(src, "many", `f${String(i).padStart(3, "0")}.txt`), body, { mode: i % 2 ? 0o640 : 0o600 });
  }
  await writeFile(join(src, "big.bin"), Buffer.concat([randomBytes(2 << 20), Buffer.alloc(1 << 20, 7)]));
  const config = await writeConfig(r.dir, r.repoUrl, `  - name: files\n    files: ["${src}/many/*", "${src}/big.bin"]\n`);
  const b = await runCli(["backup", "-c", config, "--json"], { env: { CAIRN_WRITE_KEY: r.writeKey } });
  assert.equal(b.code, 0, b.stderr);
  const target = join(r.dir, "out");
  const res = await runCli(["restore", "-r", r.repoUrl, "-i", r.identityFile, "latest", "--target", target, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).files, 301);
  const want = await treeHashes(src);
  const got = await treeHashes(join(target, "files", src.slice(1)));
  assert.equal(got.size, 301);
  assert.deepEqual(got, want);
  assert.equal((await stat(join(target, "files", src.slice(1), "many", "f001.txt"))).mode & 0o777, 0o640);
  assert.equal((await stat(join(target, "files", src.slice(1), "many", "f002.txt"))).mode & 0o777, 0o600);
});
