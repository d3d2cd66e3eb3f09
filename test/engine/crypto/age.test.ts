// The age format against the real `age` CLI and the age-encryption library, both directions.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { decrypt, decryptPayload, encrypt, openHeader, parseHeader, parseIdentityFile, parseRecipient, payloadKeys, SEGMENT, segmentRange } from "../../../src/engine/crypto/age.ts";
import { IntegrityError, NoKeyError } from "../../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-age-"));
after(() => rmSync(dir, { recursive: true, force: true }));
execFileSync("age-keygen", ["-o", join(dir, "key.txt")], { stdio: "ignore" });
const keyText = readFileSync(join(dir, "key.txt"), "utf8");
const recipient = execFileSync("age-keygen", ["-y", join(dir, "key.txt")]).toString().trim();
const ids = parseIdentityFile(keyText);
const sizes = [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT, 200_000];

test("the age CLI decrypts what cairn encrypts", () => {
  for (const n of sizes) {
    const plain = randomBytes(n);
    writeFileSync(join(dir, "c.age"), encrypt(plain, [parseRecipient(recipient)]));
    const out = execFileSync("age", ["-d", "-i", join(dir, "key.txt"), join(dir, "c.age")], { maxBuffer: 1 << 30 });
    assert.deepEqual(out, plain, `size ${n}`);
  }
});

test("cairn decrypts what the age CLI encrypts", () => {
  for (const n of sizes) {
    const plain = randomBytes(n);
    writeFileSync(join(dir, "p"), plain);
    execFileSync("age", ["-r", recipient, "-o", join(dir, "a.age"), join(dir, "p")]);
    assert.deepEqual(decrypt(readFileSync(join(dir, "a.age")), ids, "test"), plain, `size ${n}`);
  }
});

test("interoperates with the age-encryption library both ways, several recipients", async () => {
  const other = await generateX25519Identity();
  const otherRecipient = await identityToRecipient(other);
  const plain = randomBytes(150_000);
  const ours = encrypt(plain, [parseRecipient(recipient), parseRecipient(otherRecipient)]);
  const d = new Decrypter();
  d.addIdentity(other);
  assert.deepEqual(Buffer.from(await d.decrypt(ours)), plain);
  const e = new Encrypter();
  e.addRecipient(otherRecipient);
  e.addRecipient(recipient);
  assert.deepEqual(decrypt(Buffer.from(await e.encrypt(plain)), ids, "test"), plain);
});

test("decrypts any segment range on its own (random access into packs)", () => {
  const plain = randomBytes(5 * SEGMENT + 123);
  const file = encrypt(plain, [parseRecipient(recipient)]);
  const header = parseHeader(file)!;
  const keys = payloadKeys(openHeader(header, ids, "t"), file.subarray(header.length, header.length + 16), "t");
  const total = Math.ceil((file.length - keys.dataStart) / (SEGMENT + 16));
  for (const [off, len] of [[0, 10], [SEGMENT - 5, 10], [2 * SEGMENT + 7, SEGMENT * 2], [5 * SEGMENT, 123]]) {
    const r = segmentRange(keys, off, len);
    const got = decryptPayload(keys, file.subarray(r.start, r.end), r.first, "t", total);
    const at = off - r.first * SEGMENT;
    assert.deepEqual(got.subarray(at, at + len), plain.subarray(off, off + len));
  }
});

test("a wrong identity is NoKeyError; a flipped or truncated payload is IntegrityError", async () => {
  const plain = randomBytes(3 * SEGMENT);
  const file = encrypt(plain, [parseRecipient(recipient)]);
  const stranger = parseIdentityFile(await generateX25519Identity());
  assert.throws(() => decrypt(file, stranger, "t"), NoKeyError);
  const flipped = Buffer.from(file);
  flipped[flipped.length - 100] ^= 1;
  assert.throws(() => decrypt(flipped, ids, "t"), IntegrityError);
  // Dropping the last segment leaves a stream whose new last segment is not marked final.
  assert.throws(() => decrypt(file.subarray(0, file.length - (SEGMENT + 16)), ids, "t"), IntegrityError);
  const badMac = Buffer.from(file);
  badMac[30] ^= 1; // inside the stanza: unwrapping fails or the MAC does
  assert.throws(() => decrypt(badMac, ids, "t"));
});

test("cairn keygen writes an identity the age CLI uses", () => {
  const key = join(dir, "cairn-key.txt");
  execFileSync(process.execPath, ["src/cli/main.ts", "keygen", "-o", key], { stdio: "ignore" });
  const text = readFileSync(key, "utf8");
  assert.match(text, /^# created: .+\n# public key: age1[0-9a-z]{58}\nAGE-SECRET-KEY-1[0-9A-Z]{58}\n$/);
  const r = execFileSync("age-keygen", ["-y", key]).toString().trim();
  assert.equal(r, text.split("\n")[1].slice("# public key: ".length));
  writeFileSync(join(dir, "p"), "hello");
  execFileSync("age", ["-r", r, "-o", join(dir, "k.age"), join(dir, "p")]);
  assert.equal(decrypt(readFileSync(join(dir, "k.age")), parseIdentityFile(text), "t").toString(), "hello");
});

/** An age file made by hand (someone who knows the file key can make any header): these stanza lines, then one to `to`. */
function crafted(stanzas: string, to: string, plain: Buffer): Buffer {
  const fileKey = randomBytes(16);
  const hk = (ikm: Buffer, salt: Buffer, info: string) => Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));
  const SPKI = Buffer.from("302a300506032b656e032100", "hex");
  const them = parseRecipient(to);
  const eph = generateKeyPairSync("x25519");
  const share = Buffer.from(eph.publicKey.export({ format: "der", type: "spki" })).subarray(12);
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: createPublicKey({ key: Buffer.concat([SPKI, them]), format: "der", type: "spki" }) });
  const wrap = createCipheriv("chacha20-poly1305", hk(shared, Buffer.concat([share, them]), "age-encryption.org/v1/X25519"), Buffer.alloc(12), { authTagLength: 16 });
  const body = Buffer.concat([wrap.update(fileKey), wrap.final(), wrap.getAuthTag()]);
  const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  const head = `age-encryption.org/v1\n${stanzas}-> X25519 ${b64(share)}\n${b64(body)}\n---`;
  const mac = createHmac("sha256", hk(fileKey, Buffer.alloc(0), "header")).update(head, "latin1").digest();
  const nonce = randomBytes(16);
  const seal = createCipheriv("chacha20-poly1305", hk(fileKey, nonce, "payload"), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), { authTagLength: 16 });
  return Buffer.concat([Buffer.from(`${head} ${b64(mac)}\n`, "latin1"), nonce, seal.update(plain), seal.final(), seal.getAuthTag()]);
}

test("crafted files: an empty or non-printable stanza argument and a low-order X25519 share abort decryption, in cairn as in age", () => {
  const plain = Buffer.from("secret\n");
  const file = join(dir, "crafted.age");
  const ageDecrypts = (data: Buffer) => {
    writeFileSync(file, data);
    return spawnSync("age", ["-d", "-i", join(dir, "key.txt"), file]).status === 0;
  };
  // The control: a well-formed file with an unknown stanza type first decrypts in both.
  const ok = crafted("-> grease x\n\n", recipient, plain);
  assert.ok(ageDecrypts(ok));
  assert.deepEqual(decrypt(ok, ids, "t"), plain);
  const zero = Buffer.alloc(32).toString("base64").replace(/=+$/, "");
  const bad: [string, string][] = [
    ["an empty argument", "-> grease  x\n\n"],
    ["a trailing empty argument", "-> grease \n\n"],
    ["a non-printable argument", "-> grease a\x01b\n\n"],
    ["a low-order share", `-> X25519 ${zero}\n${randomBytes(32).toString("base64").replace(/=+$/, "")}\n`],
  ];
  for (const [what, stanza] of bad) {
    const data = crafted(stanza, recipient, plain);
    assert.equal(ageDecrypts(data), false, `age refuses ${what}`);
    assert.throws(() => decrypt(data, ids, "t"), IntegrityError, `cairn refuses ${what}`);
  }
});
