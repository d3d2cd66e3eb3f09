// The SSH transport: sources on a server reached with ssh2, nothing installed
// there. Commands run through the server's POSIX shell with every argument
// single-quoted (a file name is always data). Secret environment variables
// travel on the command's stdin and are exported by a tiny sh prelude, so they
// never appear on a command line (`ps`) or in the server's logs. Globs are
// expanded on the server by sh + GNU find; files are streamed with cat.
// Everything streams with ssh2's channel window as backpressure, so memory
// does not grow with what is pulled.
import { PassThrough, type Readable } from "node:stream";
import ssh2, { type ClientChannel, type ConnectConfig } from "ssh2";

const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;
import { ConnectionError, HostKeyError, UsageError } from "../errors.ts";
import { refusalMessage, verifyHostKey, type Verdict } from "./hostkeys.ts";
import type { SshEndpoint, SshSettings } from "./ssh-settings.ts";
import type { ExecOptions, ExecResult, FileInfo, RunningCommand, Transport } from "./transport.ts";

const STDERR_TAIL = 8192;

/**
 * Measured pulling 512 MiB over loopback with ssh2's native binding built for
 * this Node (bench/ssh-throughput.ts; scripts/build-ssh2-binding.sh):
 * aes128-gcm 182 MB/s, aes256-gcm 164, aes128-ctr+HMAC 146, chacha20-poly1305
 * 136. AES-GCM does cipher and MAC in one AES-NI pass, so it goes first.
 */
export const DEFAULT_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"];

/** POSIX sh single-quoting: the result is one word, taken literally. */
export function quoteArg(s: string): string {
  if (/^[A-Za-z0-9_\/.,:=+@%^-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line sent to the server for argv (no secrets ever go here). */
export function remoteCommand(argv: string[], hasSecretEnv: boolean): string {
  if (argv.length === 0) throw new Error("empty argv");
  return ["sh", "-c", hasSecretEnv ? WRAPPER_ENV : WRAPPER, "cairn", ...argv].map(quoteArg).join(" ");
}

// Every command runs under a tiny sh wrapper that first reports its PID on
// stderr (sshd does not deliver signal requests for root logins, so kill()
// may need `kill PID` on a second channel), then execs argv. With secrets it
// also reads NAME=value lines from stdin up to an empty line and exports
// them; `read` takes a pipe one byte at a time, so the command inherits the
// rest of stdin untouched.
const PID_MARK = "cairn-pid\t";
const WRAPPER = `printf 'cairn-pid\\t%s\\n' "$$" >&2; exec "$@"`;
const WRAPPER_ENV = `printf 'cairn-pid\\t%s\\n' "$$" >&2; while IFS= read -r cairn_l && [ -n "$cairn_l" ]; do export "$cairn_l" || exit 125; done; unset cairn_l; exec "$@"`;

/** The stdin block that carries secretEnv to WRAPPER_ENV. */
export function secretEnvBlock(env: Record<string, string>): string {
  let out = "";
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`secret variable name ${JSON.stringify(k)} is not a valid environment variable name`);
    if (/[\n\r\0]/.test(v)) throw new UsageError(`the value of ${k} contains a line break or NUL`, "secrets sent over SSH must be a single line");
    out += `${k}=${v}\n`;
  }
  return out + "\n";
}

// Expands patterns on the server. IFS is empty so an unquoted $p is globbed
// but never split; `**` falls back to find -path. One record per path:
// type, size, mode (octal), mtime (seconds.fraction), uid, gid, path; NUL-ended.
const GLOB_SCRIPT = `
IFS=''
n=$#
for p in "$@"; do
  case $p in
  *'**'*)
    base=\${p%%[*?[]*}; base=\${base%/*}; [ -n "$base" ] || base=/
    [ -d "$base" ] && find "$base" -mindepth 1 -path "$(printf '%s' "$p" | sed 's/\\*\\*/*/g')" -printf '%y\\t%s\\t%m\\t%T@\\t%U\\t%G\\t%p\\0'
    ;;
  *)
    for f in $p; do
      if [ -e "$f" ] || [ -h "$f" ]; then set -- "$@" "$f"; fi
    done
    ;;
  esac
done
shift $n
[ $# -eq 0 ] || find "$@" -maxdepth 0 -printf '%y\\t%s\\t%m\\t%T@\\t%U\\t%G\\t%p\\0'
`;

// Opens the file first, so a missing or unreadable file fails before any
// byte, then prints one marker byte and streams the content.
const READ_SCRIPT = `exec 3<"$1" || exit 1; printf .; exec cat <&3 3<&-`;

export function parseFindRecords(out: string): FileInfo[] {
  const files: FileInfo[] = [];
  for (const rec of out.split("\0")) {
    if (!rec) continue;
    const f = rec.split("\t");
    if (f.length < 7) continue;
    const path = f.slice(6).join("\t");
    const t = f[0];
    files.push({
      path,
      type: t === "f" ? "file" : t === "d" ? "dir" : t === "l" ? "symlink" : "other",
      size: Number(f[1]),
      mode: parseInt(f[2], 8),
      mtime: Math.round(Number(f[3]) * 1e6) / 1e3,
      uid: Number(f[4]),
      gid: Number(f[5]),
    });
  }
  return files;
}

function isNoSuchFile(msg: string): boolean {
  return /No such file|cannot open|does not exist/i.test(msg);
}

export class SshTransport implements Transport {
  readonly description: string;
  readonly settings: SshSettings;
  private client: Client;
  private jumpClient: Client | undefined;
  private lost: Error | undefined;
  private closed = false;
  /** kill()s still being delivered; close() waits for them so no command outlives the backup. */
  private pendingKills = new Set<Promise<unknown>>();

  private constructor(settings: SshSettings, client: Client, jumpClient: Client | undefined) {
    this.settings = settings;
    this.client = client;
    this.jumpClient = jumpClient;
    this.description = `ssh ${settings.user}@${settings.address}${settings.port === 22 ? "" : `:${settings.port}`}`;
    const onLost = (err?: Error) => {
      if (!this.closed && !this.lost) this.lost = new ConnectionError(`the SSH connection to ${settings.address}:${settings.port} was lost${err ? `: ${err.message}` : ""}`);
    };
    client.on("error", onLost);
    client.on("close", () => onLost());
  }

  /** Connects (through the jump host when set), verifies the host key against the pins, logs in. */
  static async connect(settings: SshSettings): Promise<SshTransport> {
    let privateKey: string | undefined;
    if (settings.privateKey) {
      const parsed = utils.parseKey(settings.privateKey, settings.passphrase);
      if (parsed instanceof Error) {
        const encrypted = /passphrase|encrypted|decrypt/i.test(parsed.message);
        throw new UsageError(
          `cannot use the SSH key in ${settings.privateKeyFrom ?? "CAIRN_SSH_KEY"}: ${parsed.message}`,
          encrypted ? "set CAIRN_SSH_PASSPHRASE to the key's passphrase" : "CAIRN_SSH_KEY must hold the whole private key file (-----BEGIN ... -----END ...)",
        );
      }
      privateKey = settings.privateKey;
    }
    let jumpClient: Client | undefined;
    let sock: Readable | undefined;
    if (settings.jump) {
      jumpClient = await openClient(settings, settings.jump, privateKey);
      sock = await new Promise<Readable>((resolve, reject) => {
        jumpClient!.forwardOut("127.0.0.1", 0, settings.address, settings.port, (err, stream) => {
          if (err) reject(new ConnectionError(`the jump host ${settings.jump!.address} could not reach ${settings.address}:${settings.port}: ${err.message}`, "check AllowTcpForwarding on the jump host and the host's address as the jump host sees it"));
          else resolve(stream);
        });
      }).catch((err) => {
        jumpClient!.end();
        throw err;
      });
    }
    try {
      const client = await openClient(settings, settings, privateKey, sock);
      return new SshTransport(settings, client, jumpClient);
    } catch (err) {
      jumpClient?.end();
      throw err;
    }
  }

  exec(argv: string[], options: ExecOptions = {}): RunningCommand {
    const stdout = new PassThrough({ highWaterMark: 1 << 20 });
    const secretEnv = options.secretEnv && Object.keys(options.secretEnv).length > 0 ? options.secretEnv : undefined;
    let channel: ClientChannel | undefined;
    let killed = false;
    let stderr = "";
    let idle: NodeJS.Timeout | undefined;
    const idleMs = options.idleTimeoutMs ?? this.settings.commandTimeoutSeconds * 1000;
    let pid: number | undefined;
    let killSent = false;
    const kill = () => {
      killed = true;
      if (!channel || killSent) return;
      killSent = true;
      sendSignal(channel, "TERM");
      if (pid !== undefined && !this.lost && !this.closed) {
        // Its process group (sshd makes each session one), else the process.
        const k = this.exec(["sh", "-c", 'kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null; true', "cairn-kill", String(pid)]);
        k.stdout.on("error", () => {}).resume();
        const p = k.done.then(
          () => channel?.close(),
          () => channel?.close(),
        );
        this.pendingKills.add(p);
        void p.finally(() => this.pendingKills.delete(p));
      } else channel.close();
    };
    const done = new Promise<ExecResult>((resolve, reject) => {
      let command: string;
      let input: string | Buffer;
      try {
        command = remoteCommand(argv, secretEnv !== undefined);
        input = secretEnv ? Buffer.concat([Buffer.from(secretEnvBlock(secretEnv)), Buffer.from(options.stdin ?? "")]) : (options.stdin ?? "");
      } catch (err) {
        stdout.destroy(err as Error);
        reject(err);
        return;
      }
      if (this.lost || this.closed) {
        const err = this.lost ?? new ConnectionError(`${this.description} is closed`);
        stdout.destroy(err);
        reject(err);
        return;
      }
      this.client.exec(command, (err, ch) => {
        if (err) {
          const e = new ConnectionError(`cannot run ${argv[0]} on ${this.description}: ${err.message}`, "the server may limit sessions (MaxSessions)");
          stdout.destroy(e);
          reject(e);
          return;
        }
        channel = ch;
        if (killed) kill();
        let code: number | null = null;
        let signal: string | null = null;
        let exited = false;
        const arm = () => {
          if (!idleMs) return;
          clearTimeout(idle);
          idle = setTimeout(() => {
            stderr += `\n(no output for ${Math.round(idleMs / 1000)} s; stopped)`;
            kill();
          }, idleMs);
          idle.unref();
        };
        arm();
        ch.on("data", arm);
        ch.pipe(stdout);
        ch.stderr.setEncoding("utf8");
        let head = true;
        ch.stderr.on("data", (d: string) => {
          if (head) {
            // The wrapper's first line is its PID, not the command's stderr.
            stderr += d;
            const nl = stderr.indexOf("\n");
            if (nl < 0) return;
            head = false;
            if (stderr.startsWith(PID_MARK)) {
              pid = Number(stderr.slice(PID_MARK.length, nl));
              stderr = stderr.slice(nl + 1);
            }
            return;
          }
          stderr = (stderr + d).slice(-STDERR_TAIL);
        });
        ch.on("exit", (c: number | null, sig?: string) => {
          exited = true;
          code = c;
          signal = sig ?? null;
        });
        ch.on("close", () => {
          clearTimeout(idle);
          if (exited || killed) {
            resolve({ code, signal: signal ?? (killed && !exited ? "TERM" : null), stderr });
            return;
          }
          const e =
            this.lost ??
            new ConnectionError(`the SSH connection to ${this.description} was lost while running ${argv[0]}`, "check the network and the server; the backup can simply be run again");
          if (!stdout.destroyed && !stdout.writableEnded) stdout.destroy(e);
          reject(e);
        });
        ch.on("error", () => {}); // surfaced through close
        ch.end(input);
      });
    });
    done.catch(() => {}); // the caller sees the rejection through stdout or done
    return { stdout, done, kill };
  }

  /** Runs a small command to completion and returns its stdout as text. */
  async capture(argv: string[], what: string): Promise<string> {
    const cmd = this.exec(argv);
    const chunks: Buffer[] = [];
    for await (const c of cmd.stdout) chunks.push(c as Buffer);
    const r = await cmd.done;
    if (r.code !== 0) throw new ConnectionError(`${what} on ${this.description} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim()}`);
    return Buffer.concat(chunks).toString("utf8");
  }

  async glob(patterns: string[]): Promise<FileInfo[]> {
    if (patterns.length === 0) return [];
    const out = await this.capture(["sh", "-c", GLOB_SCRIPT, "cairn-glob", ...patterns], `listing ${patterns.join(", ")}`);
    const seen = new Map<string, FileInfo>();
    for (const f of parseFindRecords(out)) seen.set(f.path, f);
    return [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async stat(path: string): Promise<FileInfo> {
    const cmd = this.exec(["find", path.startsWith("-") ? `./${path}` : path, "-maxdepth", "0", "-printf", "%y\\t%s\\t%m\\t%T@\\t%U\\t%G\\t%p\\0"]);
    const chunks: Buffer[] = [];
    for await (const c of cmd.stdout) chunks.push(c as Buffer);
    const r = await cmd.done;
    const [info] = parseFindRecords(Buffer.concat(chunks).toString("utf8"));
    if (r.code !== 0 || !info) {
      const err = new Error(`cannot stat ${path} on ${this.description}: ${r.stderr.trim() || `exit ${r.code}`}`) as NodeJS.ErrnoException;
      if (isNoSuchFile(r.stderr)) err.code = "ENOENT";
      throw err;
    }
    return { ...info, path };
  }

  async read(path: string): Promise<Readable> {
    const cmd = this.exec(["sh", "-c", READ_SCRIPT, "cairn-read", path]);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    let started = false;
    return await new Promise<Readable>((resolve, reject) => {
      const fail = (err: Error) => {
        if (!started) reject(err);
        else out.destroy(err);
      };
      cmd.stdout.on("data", (chunk: Buffer) => {
        if (!started) {
          started = true;
          if (chunk[0] !== 0x2e) {
            fail(new Error(`unexpected reply reading ${path} on ${this.description}`));
            cmd.kill();
            return;
          }
          resolve(out);
          chunk = chunk.subarray(1);
          if (chunk.length === 0) return;
        }
        if (!out.write(chunk)) {
          cmd.stdout.pause();
          out.once("drain", () => cmd.stdout.resume());
        }
      });
      cmd.stdout.on("error", (err) => fail(err));
      out.on("close", () => {
        if (!out.writableFinished) cmd.kill(); // the reader gave up
      });
      cmd.done.then(
        (r) => {
          if (r.code === 0 && started) out.end();
          else {
            const msg = r.stderr.trim().replace(/^sh: \d+: /, "") || `exit ${r.code ?? r.signal}`;
            const err = new Error(`cannot read ${path} on ${this.description}: ${msg}`) as NodeJS.ErrnoException;
            if (isNoSuchFile(msg)) err.code = "ENOENT";
            else if (/Permission denied/i.test(msg)) err.code = "EACCES";
            fail(err);
          }
        },
        (err: Error) => fail(err),
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pendingKills.size > 0) await Promise.race([Promise.allSettled([...this.pendingKills]), new Promise((r) => setTimeout(r, 3000))]);
    this.closed = true;
    await endClient(this.client);
    if (this.jumpClient) await endClient(this.jumpClient);
  }
}

/**
 * ssh2's channel.signal() sends nothing once our side of the channel is ended
 * (after stdin was sent), so ask the protocol directly; sshd then kills the
 * command's process group.
 */
function sendSignal(ch: ClientChannel, name: string): void {
  const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, name: string): void } } };
  try {
    if ((c.outgoing?.state === "open" || c.outgoing?.state === "eof") && c._client?._protocol) c._client._protocol.signal(c.outgoing.id, name);
  } catch {
    // the connection is already gone
  }
}

async function endClient(c: Client): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    c.once("close", () => {
      clearTimeout(t);
      resolve();
    });
    c.end();
  });
}

function openClient(settings: SshSettings, ep: SshEndpoint, privateKey: string | undefined, sock?: Readable): Promise<Client> {
  const client = new Client();
  let verdict: Verdict | undefined;
  const where = `${ep.user}@${ep.address}:${ep.port}`;
  const config: ConnectConfig = {
    host: ep.address,
    port: ep.port,
    username: ep.user,
    sock,
    privateKey,
    passphrase: settings.passphrase,
    agent: settings.agent,
    readyTimeout: settings.connectTimeoutSeconds * 1000,
    keepaliveInterval: settings.keepaliveSeconds * 1000,
    keepaliveCountMax: 3,
    algorithms: { cipher: (settings.ciphers ?? DEFAULT_CIPHERS) as never },
    hostVerifier: (key: Buffer) => {
      verdict = verifyHostKey(key, ep.address, ep.port, { knownHosts: settings.knownHosts, fingerprints: settings.fingerprints });
      return verdict.ok;
    },
  };
  return new Promise<Client>((resolve, reject) => {
    const onError = (err: Error & { level?: string }) => {
      client.removeListener("ready", onReady);
      client.on("error", () => {}); // teardown may report more; the first error is the one that counts
      client.end();
      if (verdict && !verdict.ok) {
        const { message, hint } = refusalMessage(verdict, ep.address, ep.port);
        reject(new HostKeyError(message, hint));
      } else if (err.level === "client-authentication") {
        reject(
          new ConnectionError(
            `the server ${where} refused the SSH key${settings.agent ? " and the agent's keys" : ""}`,
            `add the public key to ~${ep.user}/.ssh/authorized_keys on the server, and check the user name`,
          ),
        );
      } else if (err.level === "client-timeout") {
        reject(new ConnectionError(`no SSH handshake with ${where} within ${settings.connectTimeoutSeconds} s`, "check the address and port, and that a firewall lets the runner in"));
      } else {
        reject(new ConnectionError(`cannot connect to ${where}: ${err.message}`, "check the address, port and network", { cause: err }));
      }
    };
    const onReady = () => {
      client.removeListener("error", onError);
      client.on("error", () => {}); // later errors surface as a lost connection
      resolve(client);
    };
    client.once("error", onError);
    client.once("ready", onReady);
    client.connect(config);
  });
}
