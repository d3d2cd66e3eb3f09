// The SSH transport against a real OpenSSH sshd on loopback: every key kind,
// host key pinning (mismatch, rotation, hashed known_hosts, fingerprints),
// quoting, secrets on stdin, glob/stat/read equal to the local transport, a
// jump host, timeouts and a connection dropped mid-stream.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConnectionError, HostKeyError, UsageError } from "../../src/errors.ts";
import { hostsMatch, verifyHostKey } from "../../src/transport/hostkeys.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { remoteCommand, SshTransport } from "../../src/transport/ssh.ts";
import { resolveSettings } from "../../src/app/settings.ts";
import { sshSettings } from "../../src/transport/ssh-settings.ts";
import type { FileInfo, FileRead, Transport } from "../../src/transport/transport.ts";
import { settingsFor } from "../helpers/ssh-settings.ts";
import { sha256 } from "../helpers/repo.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const skip = !haveSshd() && !process.env.CI ? "sshd is not installed (apt-get install openssh-server)" : false;

/** A whole read's bytes (of a path on t, or of a read already started). */
async function readAll(t: Transport | FileRead, path?: string): Promise<Buffer> {
  const r = "stream" in t ? t : await t.read(path!);
  const chunks: Buffer[] = [];
  for await (const c of r.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function run(t: SshTransport, argv: string[], opts = {}): Promise<{ out: string; code: number | null }> {
  const c = t.exec(argv, opts);
  let out = "";
  for await (const d of c.stdout) out += d;
  return { out, code: (await c.done).code };
}

describe("ssh transport", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  before(async () => {
    fx = new SshFixture();
    sshd = await fx.start();
  });
  after(async () => {
    await sshd?.stop();
    fx?.cleanup();
  });

  for (const type of ["ed25519", "rsa", "ecdsa", "ed25519-passphrase"] as const) {
    test(`logs in with an ${type} key`, async () => {
      const t = await SshTransport.connect(settingsFor(sshd, fx.clientKeys[type]));
      try {
        assert.deepEqual(await run(t, ["echo", "ok"]), { out: "ok\n", code: 0 });
      } finally {
        await t.close();
      }
    });
  }

  test("an encrypted key without its passphrase is a usage error that says so", async () => {
    const k = fx.clientKeys["ed25519-passphrase"];
    await assert.rejects(SshTransport.connect(settingsFor(sshd, k, { passphrase: undefined })), (e: Error) => e instanceof UsageError && /CAIRN_SSH_PASSPHRASE/.test((e as UsageError).hint ?? ""));
    await assert.rejects(SshTransport.connect(settingsFor(sshd, k, { passphrase: "wrong" })), UsageError);
  });

  test("a key the server does not know is refused with a hint", async () => {
    const other = new SshFixture();
    try {
      await assert.rejects(SshTransport.connect(settingsFor(sshd, other.clientKeys.ed25519)), (e: Error) => e instanceof ConnectionError && /refused the SSH key/.test(e.message));
    } finally {
      other.cleanup();
    }
  });

  test("arguments are data: quotes, spaces, $, ;, newlines", async () => {
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      const nasty = ["a'; rm -rf ~ #.json", "$HOME", "`id`", "two words", "line\nbreak", "", "-n", "*"];
      const r = await run(t, ["printf", "%s\\0", ...nasty]);
      assert.deepEqual(r.out.split("\0").slice(0, -1), nasty);
    } finally {
      await t.close();
    }
  });

  test("secret environment arrives via stdin, not the command line; stdin still reaches the command", async () => {
    const secretValue = "p@ss w'rd $x `y` \\z";
    assert.ok(!remoteCommand(["env"], true).includes(secretValue));
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      const r = await run(t, ["sh", "-c", 'printf "%s\\001" "$CAIRN_T_SECRET"; tr -d "\\000" < /proc/$$/cmdline; printf "\\001"; cat'], {
        secretEnv: { CAIRN_T_SECRET: secretValue },
        stdin: "rest of stdin",
      });
      const [value, cmdline, rest] = r.out.split("\x01");
      assert.equal(value, secretValue);
      assert.ok(!cmdline.includes("p@ss"));
      assert.equal(rest, "rest of stdin");
      await assert.rejects(run(t, ["true"], { secretEnv: { "BAD NAME": "x" } }), UsageError);
    } finally {
      await t.close();
    }
  });

  test("glob, stat and read match the local transport (same machine)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-glob-"));
    try {
      mkdirSync(join(dir, "sub/deep"), { recursive: true });
      const names = ["a.json", "b.json", "a'; rm -rf ~ #.json", "space name.json", "x.txt", "sub/c.json", "sub/deep/d.json"];
      for (const [i, n] of names.entries()) writeFileSync(join(dir, n), `content ${i} ${n}\n`.repeat(i + 1), { mode: 0o640 });
      utimesSync(join(dir, "x.txt"), new Date(1_600_000_000_123), new Date(1_600_000_000_123));
      symlinkSync("a.json", join(dir, "link.json"));
      const t = await SshTransport.connect(settingsFor(sshd));
      const local = new LocalTransport();
      try {
        for (const patterns of [[`${dir}/*.json`], [`${dir}/x.txt`, `${dir}/nothing*`], [`${dir}/sub/**`], [`${dir}/[ab].json`, `${dir}/a.json`]]) {
          const [a, b] = [(await t.glob(patterns)).files, (await local.glob(patterns)).files];
          const norm = (l: typeof a) => l.map((f) => ({ ...f, mtime: Math.floor(f.mtime), ctime: Math.floor(f.ctime) }));
          assert.deepEqual(norm(a.filter((f) => f.type !== "dir")), norm(b.filter((f) => f.type !== "dir")), patterns.join(" "));
        }
        const st = await t.stat(`${dir}/x.txt`);
        assert.equal(Math.round(st.mtime), 1_600_000_000_123);
        assert.equal(st.mode, 0o640);
        const norm = (f: FileInfo | undefined) => f && { ...f, mtime: Math.floor(f.mtime), ctime: Math.floor(f.ctime) };
        assert.deepEqual((await t.walk(`${dir}/sub`)).files.map(norm), (await local.walk(`${dir}/sub`)).files.map(norm));
        for (const n of names) {
          const content = `content ${names.indexOf(n)} ${n}\n`.repeat(names.indexOf(n) + 1);
          assert.equal((await readAll(t, join(dir, n))).toString(), content);
          // At most `length` bytes, then the file's stat and the hash of that prefix, as the local transport gives them.
          for (const length of n === "a'; rm -rf ~ #.json" ? [0, 10, content.length + 5] : n === "sub/c.json" ? [20] : []) {
            const [remote, here] = [await t.read(join(dir, n), { length, hashPrefix: true }), await local.read(join(dir, n), { length, hashPrefix: true })];
            const bytes = await readAll(remote);
            assert.equal(bytes.toString(), content.slice(0, length));
            assert.equal((await readAll(here)).toString(), content.slice(0, length));
            const [a, b] = [await remote.after(), await here.after()];
            assert.deepEqual(norm(a.info), norm(b.info), n);
            assert.equal(a.prefixHash, sha256(bytes), n);
            assert.equal(b.prefixHash, sha256(bytes), n);
          }
        }
        const unhashed = await t.read(join(dir, "x.txt"), { length: 3 });
        await readAll(unhashed);
        assert.equal((await unhashed.after()).prefixHash, undefined);
        writeFileSync(join(dir, "empty"), "");
        assert.equal((await readAll(t, join(dir, "empty"))).length, 0);
        await assert.rejects(t.read(join(dir, "missing")), (e: NodeJS.ErrnoException) => e.code === "ENOENT" && e.message.includes("missing"));
        await assert.rejects(t.stat(join(dir, "missing")), (e: NodeJS.ErrnoException) => e.code === "ENOENT");
        // A file gone by the time the read ends: no stat afterwards.
        writeFileSync(join(dir, "going"), "x".repeat(100));
        const going = await t.read(join(dir, "going"));
        rmSync(join(dir, "going"));
        await readAll(going);
        assert.equal((await going.after()).info, undefined);
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("file names that start with -, ( or ! are data, never find options or expressions (a relative glob on the server)", async () => {
    // The login directory holds the attacker's names; a relative glob expands to them first.
    const home = mkdtempSync(join(tmpdir(), "cairn-home-"));
    const server = await fx.start({ extra: [`ForceCommand cd '${home}' && eval "$SSH_ORIGINAL_COMMAND"`] });
    const t = await SshTransport.connect(settingsFor(server));
    try {
      writeFileSync(join(home, "-fprint"), "not an option\n");
      writeFileSync(join(home, "victim.txt"), "precious\n");
      // Before the fix, `find -fprint victim.txt ...` truncated victim.txt on the server.
      const listed = (await t.glob(["*"])).files;
      assert.equal(readFileSync(join(home, "victim.txt"), "utf8"), "precious\n", "the victim is untouched");
      assert.deepEqual(
        listed.map((f) => [f.path, f.type, f.size]),
        [["-fprint", "file", 14], ["victim.txt", "file", 9]],
      );
      const names = ["!", "(", ")", ",", "-name", "-fprint", "victim.txt"];
      for (const n of names.slice(0, 5)) writeFileSync(join(home, n), `file ${n}\n`);
      mkdirSync(join(home, "-dir"));
      writeFileSync(join(home, "-dir", "-inner"), "inner\n");
      assert.deepEqual(
        (await t.glob(["*"])).files.map((f) => f.path),
        ["!", "(", ")", ",", "-dir", "-fprint", "-name", "victim.txt"],
      );
      assert.deepEqual((await t.glob(["-dir/**"])).files.map((f) => f.path), ["-dir/-inner"]);
      assert.deepEqual((await t.glob(["*/**"])).files.map((f) => f.path), ["-dir/-inner"]);
      assert.deepEqual((await t.walk("-dir")).files.map((f) => f.path), ["-dir/-inner"]);
      for (const n of [...names, "-dir/-inner"]) {
        const st = await t.stat(n);
        assert.equal(st.type, "file", n);
        assert.equal((await readAll(t, n)).toString(), readFileSync(join(home, n), "utf8"), n);
        const r = await t.read(n, { length: 3, hashPrefix: true });
        assert.equal((await readAll(r)).toString(), readFileSync(join(home, n), "utf8").slice(0, 3), n);
        assert.equal((await r.after()).info?.size, st.size, n);
      }
      assert.equal(readFileSync(join(home, "victim.txt"), "utf8"), "precious\n", "the victim is untouched");
    } finally {
      await t.close();
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    }
  });

  test("kill stops a remote command", async () => {
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      const c = t.exec(["sleep", "30"]);
      setTimeout(() => c.kill(), 200);
      const t0 = Date.now();
      for await (const _ of c.stdout);
      const r = await c.done;
      assert.notEqual(r.code, 0);
      assert.ok(Date.now() - t0 < 10_000);
    } finally {
      await t.close();
    }
  });

  test("a command silent for longer than the idle timeout is stopped", async () => {
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      const c = t.exec(["sleep", "30"], { idleTimeoutMs: 300 });
      for await (const _ of c.stdout);
      const r = await c.done;
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no output/);
    } finally {
      await t.close();
    }
  });

  test("a connection dropped mid-stream makes the stream fail, not end short", async () => {
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      const c = t.exec(["cat", "/dev/zero"]); // dies of SIGPIPE once the connection is gone
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const d of c.stdout) {
            n += (d as Buffer).length;
            if (n > 1 << 20 && n < (1 << 20) + 70000) sshd.dropConnections();
          }
          await c.done;
        })(),
        (e: Error) => e instanceof ConnectionError && /lost/.test(e.message),
      );
    } finally {
      await t.close();
    }
  });

  test("connect timeout: a port that never speaks SSH", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      await assert.rejects(SshTransport.connect(settingsFor(sshd, undefined, { port, connectTimeoutSeconds: 1 })), ConnectionError);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      silent.close();
    }
  });

  test("jump host: the connection is forwarded through a bastion", async () => {
    const bastion = await fx.start();
    try {
      const s = settingsFor(sshd, undefined, {
        jump: { address: "127.0.0.1", port: bastion.port, user: fx.user },
        knownHosts: `${sshd.knownHosts()}\n${bastion.knownHosts()}\n`,
      });
      const t = await SshTransport.connect(s);
      try {
        assert.equal((await run(t, ["echo", "via bastion"])).out, "via bastion\n");
      } finally {
        await t.close();
      }
      // The bastion's key is pinned too.
      await assert.rejects(SshTransport.connect({ ...s, knownHosts: sshd.knownHosts() }), HostKeyError);
    } finally {
      await bastion.stop();
    }
  });

  describe("host keys", () => {
    test("no pin: refused, and the error shows the key ready to pin", async () => {
      const err = await SshTransport.connect(settingsFor(sshd, undefined, { knownHosts: "" })).then(
        () => assert.fail("connected without a pin"),
        (e: HostKeyError) => e,
      );
      assert.ok(err instanceof HostKeyError);
      assert.match(err.message, /not pinned/);
      assert.ok(err.message.includes(sshd.hostKey.fingerprint));
      assert.ok(err.hint!.includes(`CAIRN_HOST_FINGERPRINT=${sshd.hostKey.fingerprint}`));
      assert.ok(err.hint!.includes(`[127.0.0.1]:${sshd.port} ${sshd.hostKey.publicLine}`));
    });

    test("mismatch: refused", async () => {
      const wrong = fx.knownHostsLine(sshd.port, fx.hostKeys.b);
      await assert.rejects(SshTransport.connect(settingsFor(sshd, undefined, { knownHosts: wrong })), (e: Error) => e instanceof HostKeyError && /does not match/.test(e.message));
      await assert.rejects(SshTransport.connect(settingsFor(sshd, undefined, { knownHosts: "", fingerprints: [fx.hostKeys.b.fingerprint] })), HostKeyError);
      // A key pinned for another port does not count.
      await assert.rejects(SshTransport.connect(settingsFor(sshd, undefined, { knownHosts: fx.knownHostsLine(sshd.port + 1, fx.hostKeys.a) })), HostKeyError);
    });

    test("fingerprint and hashed known_hosts pins are accepted", async () => {
      for (const s of [
        { knownHosts: "", fingerprints: [sshd.hostKey.fingerprint] },
        { knownHosts: `# comment\n${sshd.knownHosts(true)}\n` },
      ]) {
        const t = await SshTransport.connect(settingsFor(sshd, undefined, s));
        await t.close();
      }
    });

    test("rotation: with both keys pinned, the server's new key is accepted", async () => {
      const port = sshd.port;
      const both = `${fx.knownHostsLine(port, fx.hostKeys.a)}\n${fx.knownHostsLine(port, fx.hostKeys.b, true)}\n`;
      const rotated = await (async () => {
        await sshd.stop();
        return await fx.start({ port, hostKey: "b" });
      })();
      try {
        const t = await SshTransport.connect(settingsFor(rotated, undefined, { knownHosts: both }));
        await t.close();
        await assert.rejects(SshTransport.connect(settingsFor(rotated, undefined, { knownHosts: fx.knownHostsLine(port, fx.hostKeys.a) })), HostKeyError);
      } finally {
        await rotated.stop();
        sshd = await fx.start({ port });
      }
    });

    test("known_hosts matching rules", () => {
      assert.ok(hostsMatch("example.com,10.0.0.1", "example.com", 22));
      assert.ok(!hostsMatch("example.com", "example.com", 2222));
      assert.ok(hostsMatch("[example.com]:2222", "example.com", 2222));
      assert.ok(hostsMatch("*.example.com", "bot.example.com", 22));
      assert.ok(!hostsMatch("*.example.com,!bot.example.com", "bot.example.com", 22));
      // Hashed lines hash the lower-cased name (OpenSSH lower-cases it): a name given in capitals still matches.
      for (const port of [22, 2222]) {
        const hashed = fx.knownHostsLine(port, fx.hostKeys.a, true, "bot.example.com").split(" ")[0];
        assert.ok(hostsMatch(hashed, "Bot.Example.COM", port), `hashed, port ${port}`);
        assert.ok(!hostsMatch(hashed, "other.example.com", port));
      }
      const blob = Buffer.from(fx.hostKeys.a.publicLine.split(" ")[1], "base64");
      const revoked = verifyHostKey(blob, "h", 22, { knownHosts: `h ${fx.hostKeys.a.publicLine}\n@revoked * ${fx.hostKeys.a.publicLine}`, fingerprints: [] });
      assert.equal(revoked.ok, false);
    });
  });

  test("settings from the environment", async () => {
    const host = { address: "h", port: 22, user: "u", "keepalive-seconds": 15, "connect-timeout-seconds": 20, "command-timeout-seconds": 600 };
    const fromEnv = async (env: Record<string, string>) => sshSettings(host, (await resolveSettings({ config: undefined }, env)).ssh);
    await assert.rejects(fromEnv({}), (e: UsageError) => /CAIRN_SSH_KEY/.test(e.hint!));
    // No pin is not refused here: the transport connects to show the key it is offered, then refuses.
    assert.deepEqual((await fromEnv({ CAIRN_SSH_KEY: "k" })).fingerprints, []);
    await assert.rejects(fromEnv({ CAIRN_SSH_KEY: "k", CAIRN_HOST_FINGERPRINT: "MD5:aa" }), UsageError);
    await assert.rejects(fromEnv({ CAIRN_SSH_KEY: "k", CAIRN_HOST_FINGERPRINT: `256 MD5:aa root@vm (ED25519)` }), (e: UsageError) => /256 MD5:aa/.test(e.message));
    const s = await fromEnv({ CAIRN_SSH_KEY: "a\\nb", CAIRN_HOST_FINGERPRINT: `${fx.hostKeys.a.fingerprint}=, ${fx.hostKeys.b.fingerprint}`, SSH_AUTH_SOCK: "/s" });
    assert.equal(s.privateKey, "a\nb");
    assert.deepEqual(s.fingerprints, [fx.hostKeys.a.fingerprint, fx.hostKeys.b.fingerprint]);
    // As `ssh-keygen -lf` prints them, one per line (rotation), comment and all.
    const keygen = `256 ${fx.hostKeys.a.fingerprint} root@bot, backup (ED25519)\n3072 ${fx.hostKeys.b.fingerprint} no comment (RSA)\n`;
    assert.deepEqual((await fromEnv({ CAIRN_SSH_KEY: "k", CAIRN_HOST_FINGERPRINT: keygen })).fingerprints.length, 2);
    assert.equal(s.agent, "/s");
  });
});
