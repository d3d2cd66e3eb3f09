// FORMAT.md, checked against the bytes of a real repository. Keys are derived
// here from the documented HKDF labels, independently of src/engine/keys.ts.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import { bech32 } from "@scure/base";
import { cairn } from "../helpers/cli.ts";
import { makeFixture } from "../helpers/fixture.ts";
import { sha256 } from "../helpers/repo.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-format-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const derive = (w: Uint8Array, info: string) => Buffer.from(hkdfSync("sha256", w, new Uint8Array(0), info, 32));
const ageDecrypt = (key: string, file: string) => execFileSync("age", ["-d", "-i", key, file], { maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "pipe"] });

test("the repository's bytes follow FORMAT.md", () => {
  const f = makeFixture(dir, 30000); // ~1000 pages: its chunk list goes to a list file
  const b = cairn(["backup", "-c", f.config, "--json"], { env: f.env });
  assert.equal(b.code, 0, b.stderr);
  const snapId = JSON.parse(b.stdout).id;

  // Write key: Bech32 with HRP cairn-write-key-: version 2, W, SHA-256 of the config, the config's JSON.
  const decoded = bech32.decode(f.env.CAIRN_WRITE_KEY.toLowerCase() as `${string}1${string}`, false);
  assert.equal(decoded.prefix, "cairn-write-key-");
  const wk = Buffer.from(bech32.fromWords(decoded.words));
  assert.ok(wk.length > 65);
  assert.equal(wk[0], 2);
  assert.equal(typeof JSON.parse(wk.subarray(65).toString("utf8")).salt, "string", "the config travels in the key");
  const w = wk.subarray(1, 33);
  const macKey = derive(w, "cairn mac");
  const idKey = derive(w, "cairn chunk id");

  // config: plaintext JSON; the owner MAC over the listed fields in order, under a key only the owner's identity gives.
  const config = JSON.parse(readFileSync(join(f.repo, "config"), "utf8"));
  const { version, id, created, packSize, salt, owner, writeRecipient, recipients } = config;
  assert.deepEqual(Object.keys(config), ["version", "id", "created", "packSize", "salt", "owner", "writeRecipient", "recipients", "mac"]);
  assert.equal(version, 2);
  assert.match(salt, /^[0-9a-f]{64}$/);
  const secret = bech32.decodeToBytes(readFileSync(f.key, "utf8").split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!.toLowerCase()).bytes;
  const r = Buffer.from(hkdfSync("sha256", secret, Buffer.from(salt, "hex"), "cairn repository", 32));
  assert.deepEqual(derive(r, "cairn write key"), w, "W comes from the owner's identity and the salt");
  const body = JSON.stringify({ version, id, created, packSize, salt, owner, writeRecipient, recipients });
  assert.equal(config.mac, createHmac("sha256", derive(r, "cairn owner mac")).update("config\n").update(body).digest("hex"));
  assert.deepEqual(recipients, [f.recipient]);
  assert.equal(owner, f.recipient);
  assert.deepEqual(wk.subarray(33, 65), createHash("sha256").update(JSON.stringify({ ...JSON.parse(body), mac: config.mac })).digest(), "the write key names its config");
  assert.deepEqual(JSON.parse(wk.subarray(65).toString("utf8")), config, "and carries it");
  const shown = JSON.parse(cairn(["key", "show", "-r", `local:${f.repo}`, "--json"], { env: f.env }).stdout);
  assert.equal(shown.fingerprint, sha256(`cairn repository\n${JSON.stringify([id, salt, owner, writeRecipient])}`).slice(0, 32));

  // keys: age file to the recipients, holding the write key.
  assert.equal(JSON.parse(ageDecrypt(f.key, join(f.repo, "keys")).toString()).writeKey, f.env.CAIRN_WRITE_KEY);

  // The metadata identity's recipient is config.writeRecipient.
  const metaSecret = derive(w, "cairn metadata x25519");
  const metaIdentity = bech32.encodeFromBytes("age-secret-key-", metaSecret).toUpperCase();
  const metaKeyFile = join(dir, "meta.key");
  execFileSync("sh", ["-c", `printf '%s\\n' "$1" > "$2"`, "sh", metaIdentity, metaKeyFile]);
  assert.equal(execFileSync("age-keygen", ["-y", metaKeyFile]).toString().trim(), writeRecipient);

  // Metadata objects: named by SHA-256; skippable MAC frame + zstd JSON; readable by both keys.
  function meta(type: "index" | "snapshot" | "list", name: string): string {
    const file = join(f.repo, { index: "index", snapshot: "snapshots", list: "lists" }[type], name);
    assert.equal(sha256(readFileSync(file)), name);
    const plain = ageDecrypt(f.key, file);
    assert.deepEqual(ageDecrypt(metaKeyFile, file), plain);
    assert.equal(plain.readUInt32LE(0), 0x184d2a50);
    assert.equal(plain.readUInt32LE(4), 32);
    const json = zstdDecompressSync(plain.subarray(40));
    assert.deepEqual(plain.subarray(8, 40), createHmac("sha256", macKey).update(`${type}\n`).update(json).digest());
    return json.toString();
  }
  const [indexName] = readdirSync(join(f.repo, "index"));
  const indexText = meta("index", indexName);
  assert.match(indexText, /^\{"version":1,"packs":\[\n\{"id":"[0-9a-f]{64}","size":\d+,"chunks":\[\n\["[0-9a-f]{64}",\d+,\d+,\d+,\d+\]/);
  const index = JSON.parse(indexText);
  const snapText = meta("snapshot", snapId);
  const snapshot = JSON.parse(snapText);
  // A large entry's chunk list is a list file (the first snapshot: no changes against it).
  assert.match(snapText.split("\n")[1], /^\{"source":"trading-db","path":"trading-db\.sqlite",.*"chunks":\{"base":"[0-9a-f]{64}","count":\d+,"changes":\[\]\}\},$/);
  const dbRef = snapshot.entries[0].chunks;
  const listText = meta("list", dbRef.base);
  assert.match(listText, /^\{"version":1,"chunks":\["[0-9a-f]{64}"(,"[0-9a-f]{64}")*\]\}\n$/);
  assert.equal(JSON.parse(listText).chunks.length, dbRef.count);
  snapshot.entries[0].chunks = JSON.parse(listText).chunks;
  assert.equal(snapText.split("\n").length - 1, snapshot.entries.length + 1);

  // Packs: named by SHA-256 under packs/<2 hex>/; plaintext = zstd frames, trailer, uint32 LE length.
  const chunkPlain = new Map<string, Buffer>();
  for (const p of index.packs) {
    const file = join(f.repo, "packs", p.id.slice(0, 2), p.id);
    const data = readFileSync(file);
    assert.equal(sha256(data), p.id);
    assert.equal(data.length, p.size);
    const plain = ageDecrypt(f.key, file);
    const tlen = plain.readUInt32LE(plain.length - 4);
    const trailer = JSON.parse(plain.subarray(plain.length - 4 - tlen, plain.length - 4).toString());
    assert.deepEqual(trailer.chunks, p.chunks);
    for (const [cid, offset, length, raw, inner] of p.chunks) {
      const frame = zstdDecompressSync(plain.subarray(offset, offset + length));
      const chunk = frame.subarray(inner, inner + raw);
      assert.equal(chunk.length, raw);
      assert.equal(createHmac("sha256", idKey).update(chunk).digest("hex"), cid);
      chunkPlain.set(cid, chunk);
    }
    // The write key's metadata identity cannot open a pack.
    assert.throws(() => ageDecrypt(metaKeyFile, file));
  }

  // Frames tile the pack's plaintext up to the trailer: consecutive chunks share a frame.
  for (const p of index.packs) {
    const frames = [...new Map<number, number>(p.chunks.map((c: number[]) => [c[1], c[2]])).entries()].sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [offset, length] of frames) {
      assert.equal(offset, at);
      at += length;
    }
  }
  assert.ok(index.packs.some((p: { chunks: unknown[][] }) => p.chunks.some((c) => c[4] !== 0)), "small chunks share frames");

  // A file's content is its chunks concatenated; SQLite cut into 4 KiB pages.
  const dbEntry = snapshot.entries.find((e: { path: string }) => e.path === "trading-db.sqlite");
  const content = Buffer.concat(dbEntry.chunks.map((c: string) => chunkPlain.get(c)!));
  assert.equal(content.length, dbEntry.size);
  assert.equal(dbEntry.chunker, "sqlite");
  for (const c of dbEntry.chunks) assert.equal(chunkPlain.get(c)!.length, 4096);
  assert.deepEqual(new Set(snapshot.packs), new Set(index.packs.map((p: { id: string }) => p.id)));
});
