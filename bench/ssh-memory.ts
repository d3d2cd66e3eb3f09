// Peak memory while pulling a file of N MiB over SSH with read() and a slow
// consumer (backpressure): it must not grow with N.
// Usage: node bench/ssh-memory.ts [MiB=512]
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { SshTransport } from "../src/transport/ssh.ts";
import { SshFixture } from "../test/helpers/sshd.ts";
import { settingsFor } from "../test/helpers/ssh-settings.ts";

const mib = Number(process.argv[2] ?? 512);
const fx = new SshFixture();
const file = join(fx.dir, "big.bin");
execFileSync("sh", ["-c", `head -c ${mib}M /dev/urandom > ${file}`]);
const sshd = await fx.start();
try {
  const t = await SshTransport.connect(settingsFor(sshd));
  const rss0 = process.memoryUsage().rss;
  let n = 0;
  let i = 0;
  const t0 = performance.now();
  for await (const c of (await t.read(file)).stream) {
    n += (c as Buffer).length;
    // A consumer slower than the network now and then (like a busy chunker).
    if (++i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  const s = (performance.now() - t0) / 1000;
  await t.close();
  console.log(`${mib} MiB in ${s.toFixed(1)} s (${(n / 1e6 / s).toFixed(0)} MB/s); RSS at start ${(rss0 / 1048576).toFixed(0)} MiB, peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  await sshd.stop();
  fx.cleanup();
}
