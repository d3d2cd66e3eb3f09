// Measures pull throughput over loopback SSH: ssh2 with each cipher, reading
// through `cat` (our read()) and through SFTP, against OpenSSH's own client.
// Usage: node bench/ssh-throughput.ts [MiB=512]  (starts its own sshd)
import { execFileSync, spawnSync } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import ssh2 from "ssh2";
import { SshTransport } from "../src/transport/ssh.ts";
import { SshFixture } from "../test/helpers/sshd.ts";
import { settingsFor } from "../test/helpers/ssh-settings.ts";

const mib = Number(process.argv[2] ?? 512);
const fx = new SshFixture();
const file = join(fx.dir, "big.bin");
{
  const out = createWriteStream(file);
  const block = randomBytes(1 << 20);
  for (let i = 0; i < mib; i++) if (!out.write(block)) await new Promise<void>((r) => out.once("drain", () => r()));
  await new Promise<void>((r) => out.end(() => r()));
}
const sshd = await fx.start();
const mbps = (bytes: number, ms: number) => ((bytes / 1e6) / (ms / 1000)).toFixed(0);
const rows: string[] = [];
try {
  for (const cipher of ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"]) {
    const t = await SshTransport.connect(settingsFor(sshd, undefined, { ciphers: [cipher] }));
    const t0 = performance.now();
    let n = 0;
    for await (const c of (await t.read(file)).stream) n += (c as Buffer).length;
    const ms = performance.now() - t0;
    rows.push(`ssh2 read (cat)  ${cipher.padEnd(30)} ${mbps(n, ms)} MB/s`);
    await t.close();
  }
  // SFTP (ssh2's sequential read stream): ~3 MB/s here, so only on request.
  if (process.env.SFTP) {
    const k = fx.clientKeys.ed25519;
    const c = new ssh2.Client();
    await new Promise<void>((res, rej) => {
      c.once("ready", () => res()).once("error", rej).connect({ host: "127.0.0.1", port: sshd.port, username: fx.user, privateKey: k.text, hostVerifier: () => true, algorithms: { cipher: ["aes128-gcm@openssh.com"] } });
    });
    const sftp = await new Promise<ssh2.SFTPWrapper>((res, rej) => c.sftp((e, s) => (e ? rej(e) : res(s))));
    const t0 = performance.now();
    let n = 0;
    const stream = sftp.createReadStream(file, { highWaterMark: 256 * 1024 } as never);
    stream.on("error", () => {});
    for await (const chunk of stream) n += (chunk as Buffer).length;
    rows.push(`ssh2 SFTP stream  aes128-gcm@openssh.com          ${mbps(n, performance.now() - t0)} MB/s`);
    c.end();
  }
  for (const cipher of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"]) {
    const t0 = performance.now();
    const r = spawnSync("sh", ["-c", `ssh -q -c ${cipher} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i ${fx.clientKeys.ed25519.path} -p ${sshd.port} ${fx.user}@127.0.0.1 cat ${file} > /dev/null`]);
    if (r.status !== 0) throw new Error(String(r.stderr));
    rows.push(`OpenSSH ssh cat   ${cipher.padEnd(30)} ${mbps(mib * 1048576, performance.now() - t0)} MB/s`);
  }
  rows.push(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (file ${mib} MiB)`);
  console.log(rows.join("\n"));
} finally {
  await sshd.stop();
  rmSync(file, { force: true });
  fx.cleanup();
  void execFileSync;
}
