// Test harness: a real OpenSSH sshd on a free loopback port, with temp host
// keys, a temp authorized_keys for the current user (root here) and client
// keys of every kind made with ssh-keygen. Tests start one, connect with the
// SshTransport, and stop it; nothing outside the temp dir is touched except
// /run/sshd, which sshd insists on for privilege separation.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export const SSHD = "/usr/sbin/sshd";

export interface ClientKey {
  type: "ed25519" | "rsa" | "ecdsa" | "ed25519-passphrase";
  path: string;
  text: string;
  passphrase?: string;
}

export interface HostKey {
  path: string;
  /** "ssh-ed25519 AAAA..." */
  publicLine: string;
  /** "SHA256:..." */
  fingerprint: string;
}

export function haveSshd(): boolean {
  return existsSync(SSHD);
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(path: string, type: string, passphrase = "", comment = "cairn-test"): void {
  const args = ["-q", "-t", type, "-N", passphrase, "-C", comment, "-f", path];
  if (type === "rsa") args.push("-b", "3072");
  execFileSync("ssh-keygen", args, { stdio: "ignore" });
}

function hostKey(path: string): HostKey {
  const publicLine = readFileSync(`${path}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  const blob = Buffer.from(publicLine.split(" ")[1], "base64");
  const fingerprint = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
  return { path, publicLine, fingerprint };
}

export interface SshdOptions {
  /** Which host key the server presents: "a" (default) or "b" (for rotation tests). */
  hostKey?: "a" | "b";
  port?: number;
  /** Extra sshd_config lines. */
  extra?: string[];
}

/** Keys and files shared by every sshd a test file starts. */
export class SshFixture {
  readonly dir: string;
  readonly user = userInfo().username;
  readonly clientKeys: Record<ClientKey["type"], ClientKey>;
  readonly hostKeys: { a: HostKey; b: HostKey };

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "cairn-sshd-"));
    const k = (type: ClientKey["type"]): ClientKey => {
      const path = join(this.dir, `id_${type}`);
      const passphrase = type === "ed25519-passphrase" ? "correct horse battery" : undefined;
      keygen(path, type === "ed25519-passphrase" ? "ed25519" : type, passphrase ?? "");
      return { type, path, text: readFileSync(path, "utf8"), passphrase };
    };
    this.clientKeys = { ed25519: k("ed25519"), rsa: k("rsa"), ecdsa: k("ecdsa"), "ed25519-passphrase": k("ed25519-passphrase") };
    const authorized = Object.values(this.clientKeys).map((c) => readFileSync(`${c.path}.pub`, "utf8").trim());
    writeFileSync(join(this.dir, "authorized_keys"), authorized.join("\n") + "\n", { mode: 0o600 });
    keygen(join(this.dir, "host_a"), "ed25519");
    keygen(join(this.dir, "host_b"), "ed25519");
    this.hostKeys = { a: hostKey(join(this.dir, "host_a")), b: hostKey(join(this.dir, "host_b")) };
  }

  async start(options: SshdOptions = {}): Promise<Sshd> {
    const port = options.port ?? (await freePort());
    const key = this.hostKeys[options.hostKey ?? "a"];
    const config = join(this.dir, `sshd_config_${port}`);
    writeFileSync(
      config,
      [
        // sshd takes the first value of each keyword: extras go first.
        ...(options.extra ?? []),
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${key.path}`,
        `PidFile ${join(this.dir, `sshd_${port}.pid`)}`,
        `AuthorizedKeysFile ${join(this.dir, "authorized_keys")}`,
        "PermitRootLogin yes",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "AllowTcpForwarding yes",
        "MaxSessions 100",
        "MaxStartups 100",
        "LogLevel ERROR",
        "Subsystem sftp internal-sftp",
        // bash, as a login shell started by sshd at the top level, sources the
        // user's ~/.bashrc; this machine's root runs `pyenv rehash` there, which
        // waits up to 60 s on a lock that a killed session can leave behind.
        // With SHLVL set, bash skips it: the tests' commands never need it.
        "SetEnv SHLVL=1",
      ].join("\n") + "\n",
    );
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => (log = (log + d).slice(-65536)));
    const sshd = new Sshd(this, child, port, key, () => log);
    await sshd.ready();
    return sshd;
  }

  /** known_hosts line for host:port (127.0.0.1 unless given), plain or hashed (|1|salt|hash) by ssh-keygen -H. */
  knownHostsLine(port: number, key: HostKey, hashed = false, host = "127.0.0.1"): string {
    const name = port === 22 ? host : `[${host}]:${port}`;
    if (!hashed) return `${name} ${key.publicLine}`;
    const file = join(this.dir, `kh_${port}_${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, `${name} ${key.publicLine}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    return readFileSync(file, "utf8").trim();
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class Sshd {
  readonly fixture: SshFixture;
  readonly child: ChildProcess;
  readonly port: number;
  readonly hostKey: HostKey;
  readonly log: () => string;
  constructor(fixture: SshFixture, child: ChildProcess, port: number, hostKey: HostKey, log: () => string) {
    this.fixture = fixture;
    this.child = child;
    this.port = port;
    this.hostKey = hostKey;
    this.log = log;
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`sshd exited (${this.child.exitCode}): ${this.log()}`);
      const banner = await new Promise<string>((resolve) => {
        const sock = connect(this.port, "127.0.0.1");
        sock.setEncoding("utf8");
        sock.once("data", (d: string) => {
          sock.destroy();
          resolve(d);
        });
        sock.once("error", () => resolve(""));
      });
      if (banner.startsWith("SSH-2.0")) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sshd on port ${this.port} did not start: ${this.log()}`);
  }

  /** The known_hosts line that pins this server's key. */
  knownHosts(hashed = false): string {
    return this.fixture.knownHostsLine(this.port, this.hostKey, hashed);
  }

  /** The pids of this sshd's descendants (per-connection sshd processes and the commands they run), with their command lines. */
  descendants(): { pid: number; cmdline: string }[] {
    const children = new Map<number, number[]>();
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
      } catch {
        // raced with an exiting process
      }
    }
    const out: { pid: number; cmdline: string }[] = [];
    const walk = (p: number) => {
      for (const c of children.get(p) ?? []) {
        let cmdline = "";
        try {
          cmdline = readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0").join(" ");
        } catch {
          // gone
        }
        out.push({ pid: c, cmdline });
        walk(c);
      }
    };
    walk(this.child.pid!);
    return out;
  }

  /** Waits until a command whose command line contains every one of `parts` runs under this sshd. */
  async waitForCommand(parts: string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.descendants().some((d) => parts.every((p) => d.cmdline.includes(p)))) {
      if (Date.now() > deadline) throw new Error(`no command with ${parts.join(" ")} ran under sshd within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends sig to the listening sshd and everything under it (SIGSTOP: a server that hangs; SIGCONT undoes it). */
  signalAll(sig: NodeJS.Signals): void {
    for (const pid of [this.child.pid!, ...this.descendants().map((d) => d.pid)]) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Drop every connection: SIGKILL the per-connection sshd processes (not the
   * listener, and not the commands they run, which are left to notice the
   * closed pipe on their own, as after a real network drop).
   */
  dropConnections(): number {
    const pid = this.child.pid!;
    const children = new Map<number, number[]>();
    const comm = new Map<number, string>();
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        const name = stat.slice(stat.indexOf("(") + 1, close);
        const ppid = Number(stat.slice(close + 2).split(" ")[1]);
        comm.set(Number(d), name);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
      } catch {
        // raced with an exiting process
      }
    }
    let killed = 0;
    const walk = (p: number) => {
      for (const c of children.get(p) ?? []) {
        if (!comm.get(c)?.startsWith("sshd")) continue;
        walk(c);
        try {
          process.kill(c, "SIGKILL");
          killed++;
        } catch {
          // already gone
        }
      }
    };
    walk(pid);
    return killed;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}
