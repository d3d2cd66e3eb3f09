// The SSH transport: sources on a server reached with ssh2, nothing installed
// there. Commands run through the server's POSIX shell with every argument
// single-quoted (a file name is always data). Secret environment variables
// travel on the command's stdin and are exported by a tiny sh prelude, so they
// never appear on a command line (`ps`) or in the server's logs. Globs are
// expanded on the server by sh + GNU find (no name is ever taken as one of
// find's options); files are streamed with head/cat, each read reporting the
// file's state right after it in the same command. Everything streams with
// ssh2's channel window as backpressure, so memory does not grow with what is
// pulled.
import { PassThrough, Readable } from "node:stream";
import ssh2, { type ClientChannel, type ConnectConfig } from "ssh2";

const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;
import { ConnectionError, HostKeyError, UsageError } from "../errors.ts";
import { refusalMessage, verifyHostKey, type Verdict } from "./hostkeys.ts";
import { quoteArg } from "./quote.ts";
import type { SshEndpoint, SshSettings } from "./ssh-settings.ts";
import type { ExecOptions, ExecResult, FileInfo, FileRead, Listing, ReadOptions, RunningCommand, Transport } from "./transport.ts";

const STDERR_TAIL = 8192;

/**
 * Measured pulling 512 MiB over loopback with ssh2's native binding built for
 * this Node (bench/ssh-throughput.ts; scripts/build-ssh2-binding.sh):
 * aes128-gcm 182 MB/s, aes256-gcm 164, aes128-ctr+HMAC 146, chacha20-poly1305
 * 136. AES-GCM does cipher and MAC in one AES-NI pass, so it goes first.
 */
export const DEFAULT_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"];

export { quoteArg };

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

// One record per file: type, size, mode (octal), mtime and ctime
// (seconds.fraction), uid, gid, device, inode, path; NUL-ended. (The shell
// word find's -printf gets, quoted.)
const FIND_FORMAT = String.raw`'%y\t%s\t%m\t%T@\t%C@\t%U\t%G\t%D\t%i\t%p\0'`;

// Every path handed to find is absolute or starts with "./", so a name like
// "-fprint", "(" or "!" is never read as an option or an expression; the
// "./" is taken off again in parseFindRecords. IFS is empty so an unquoted
// $p is globbed but never split; `**` falls back to find -path. A listing
// starts with the server's clock (`date +%s`, seconds), as a record of its own.
const NOW = `printf 'now\\t%s\\0' "$(date +%s)"`;
const GLOB_SCRIPT = `
${NOW}
IFS=''
n=$#
for p in "$@"; do
  case $p in /*) ;; *) p=./$p ;; esac
  case $p in
  *'**'*)
    base=\${p%%[*?[]*}; base=\${base%/*}; [ -n "$base" ] || base=/
    [ -d "$base" ] && find "$base" -mindepth 1 -path "$(printf '%s' "$p" | sed 's/\\*\\*/*/g')" -printf ${FIND_FORMAT}
    ;;
  *)
    for f in $p; do
      if [ -e "$f" ] || [ -h "$f" ]; then set -- "$@" "$f"; fi
    done
    ;;
  esac
done
shift $n
[ $# -eq 0 ] || find "$@" -maxdepth 0 -printf ${FIND_FORMAT}
`;

// Everything below $1, and one file ("./"-prefixed when relative, as above).
const WALK_SCRIPT = `${NOW}; d=$1; case $d in /*) ;; *) d=./$d ;; esac; exec find "$d" -mindepth 1 -printf ${FIND_FORMAT}`;
const STAT_SCRIPT = `f=$1; case $f in /*) ;; *) f=./$f ;; esac; exec find "$f" -maxdepth 0 -printf ${FIND_FORMAT}`;

// Reads $1: opens it first, so a missing or unreadable file fails before any
// byte, prints one marker byte, streams the content (at most $2 bytes when
// set), then reports on stderr how the file is now: its find record and, with
// $3, SHA-256 of its first $2 bytes. One round trip for the whole check.
const AFTER_MARK = "cairn-after\t";
const HASH_MARK = "cairn-hash\t";
const READ_SCRIPT = `
exec 3<"$1" || exit 1
printf .
if [ -n "$2" ]; then head -c "$2" <&3 || exit 1; else cat <&3 || exit 1; fi
exec 3<&-
f=$1; case $f in /*) ;; *) f=./$f ;; esac
printf '\\n${AFTER_MARK.replace("\t", "\\t")}' >&2
find "$f" -maxdepth 0 -printf ${FIND_FORMAT} >&2 2>/dev/null
[ -n "$3" ] || exit 0
sum() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256
  else cat >/dev/null; fi
}
printf '\\n${HASH_MARK.replace("\t", "\\t")}' >&2
{ exec 3<"$f" && head -c "$2" <&3 | sum; } >&2 2>/dev/null
exit 0
`;

/** The find records GLOB_SCRIPT, WALK_SCRIPT and STAT_SCRIPT print; paths without the "./" they added. */
export function parseFindRecords(out: string): FileInfo[] {
  const files: FileInfo[] = [];
  // "seconds.fraction" to ms, cut to the microsecond like the local transport's (exact, no float rounding).
  const ms = (s: string) => {
    const [sec, frac = ""] = s.split(".");
    return Number(sec) * 1000 + Number(frac.padEnd(6, "0").slice(0, 6)) / 1000;
  };
  for (const rec of out.split("\0")) {
    if (!rec) continue;
    const f = rec.split("\t");
    if (f.length < 10) continue;
    const printed = f.slice(9).join("\t");
    const t = f[0];
    files.push({
      path: printed.startsWith("./") ? printed.slice(2) : printed,
      type: t === "f" ? "file" : t === "d" ? "dir" : t === "l" ? "symlink" : "other",
      size: Number(f[1]),
      mode: parseInt(f[2], 8),
      mtime: ms(f[3]),
      ctime: ms(f[4]),
      uid: Number(f[5]),
      gid: Number(f[6]),
      id: `${f[7]}:${f[8]}`,
    });
  }
  return files;
}

function isNoSuchFile(msg: string): boolean {
  return /No such file|cannot open|does not exist/i.test(msg);
}

/** Keepalives left unanswered before the connection counts as dead (ssh2's keepaliveCountMax). */
const KEEPALIVE_COUNT_MAX = 3;

/** What to do about a connection that failed after it was made (not about files or permissions). */
export const LOST_HINT =
  "check that the server is up and its sshd running, the network between this machine and the server, and host.keepalive-seconds in cairn.yml (how often a quiet connection is checked); then run again";

export class SshTransport implements Transport {
  readonly description: string;
  readonly host: string;
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
    this.host = settings.address;
    this.description = `ssh ${settings.user}@${settings.address}${settings.port === 22 ? "" : `:${settings.port}`}`;
    const onLost = (err?: Error) => {
      if (this.closed || this.lost) return;
      const where = `${settings.address}:${settings.port}`;
      this.lost =
        err?.message === "Keepalive timeout"
          ? new ConnectionError(`the server ${where} stopped answering (no reply to ${KEEPALIVE_COUNT_MAX} keepalives, one every ${settings.keepaliveSeconds} s); the SSH connection was dropped`, LOST_HINT)
          : new ConnectionError(`the SSH connection to ${where} was lost${err ? `: ${err.message}` : ""}`, LOST_HINT);
    };
    client.on("error", onLost);
    client.on("close", () => onLost());
  }

  /** Connects (through the jump host when set), verifies the host key against the pins, logs in. */
  static async connect(settings: SshSettings): Promise<SshTransport> {
    let privateKey: string | undefined;
    if (settings.privateKey) {
      const from = settings.privateKeyFrom ?? "CAIRN_SSH_KEY";
      const parsed = utils.parseKey(settings.privateKey, settings.passphrase);
      if (parsed instanceof Error) {
        const encrypted = /passphrase|encrypted|decrypt/i.test(parsed.message);
        throw new UsageError(
          `cannot use the SSH key in ${from}: ${parsed.message}`,
          encrypted
            ? "set CAIRN_SSH_PASSPHRASE to the key's passphrase"
            : `${from.replace(/=.*/s, "")} must ${from.includes("_FILE") ? "name a file holding" : "hold"} the whole private key (-----BEGIN ... -----END ...)`,
        );
      }
      if (!parsed.isPrivateKey()) {
        throw new UsageError(
          `${from} holds a public key (${parsed.type}), not a private key`,
          "give the private key (the file without .pub, which starts with -----BEGIN); the .pub line belongs in the server's authorized_keys",
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
      const upload = options.stdin instanceof Readable ? options.stdin : undefined;
      try {
        command = remoteCommand(argv, secretEnv !== undefined);
        const given = upload ? "" : ((options.stdin as string | Buffer | undefined) ?? "");
        input = secretEnv ? Buffer.concat([Buffer.from(secretEnvBlock(secretEnv)), Buffer.from(given)]) : given;
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
          const e = this.lost ?? new ConnectionError(`the SSH connection to ${this.settings.address}:${this.settings.port} was lost`, LOST_HINT);
          if (!stdout.destroyed && !stdout.writableEnded) stdout.destroy(e);
          reject(e);
        });
        ch.on("error", () => {}); // surfaced through close
        if (upload) {
          // Streamed with the channel's window as backpressure; a failed input stops the command.
          upload.on("error", (e) => {
            stderr += `\n(reading its input failed: ${e.message}; stopped)`;
            kill();
          });
          if (input.length > 0) ch.write(input);
          upload.pipe(ch);
        } else ch.end(input);
      });
    });
    done.catch(() => {}); // the caller sees the rejection through stdout or done
    return { stdout, done, kill };
  }

  /** Runs a small command to completion: its stdout as text, and how it ended. */
  async capture(argv: string[]): Promise<{ out: string } & ExecResult> {
    const cmd = this.exec(argv);
    const chunks: Buffer[] = [];
    for await (const c of cmd.stdout) chunks.push(c as Buffer);
    return { out: Buffer.concat(chunks).toString("utf8"), ...(await cmd.done) };
  }

  /**
   * Runs a find script. find goes on past a folder it cannot read, says so
   * on stderr and exits 1: those folders are reported, anything else fails.
   */
  private async find(script: string, args: string[], what: string): Promise<Listing> {
    const r = await this.capture(["sh", "-c", script, "cairn-find", ...args]);
    const unreadable: Listing["unreadable"] = [];
    let other = "";
    for (const line of r.stderr.split("\n")) {
      const m = /^find: ['‘](.*)['’]: (.*)$/.exec(line);
      if (m) unreadable.push({ path: m[1].startsWith("./") ? m[1].slice(2) : m[1], reason: m[2] });
      else if (line.trim()) other += `${line}\n`;
    }
    if (r.code !== 0 && (r.code !== 1 || other || unreadable.length === 0)) {
      const err = new Error(`${what} on ${this.description} failed (${r.code === null ? `signal ${r.signal}` : `exit ${r.code}`}): ${(other || r.stderr).trim()}`) as NodeJS.ErrnoException;
      if (isNoSuchFile(r.stderr)) err.code = "ENOENT";
      else if (/Permission denied/i.test(r.stderr)) err.code = "EACCES";
      throw err;
    }
    const seen = new Map<string, FileInfo>();
    for (const f of parseFindRecords(r.out)) seen.set(f.path, f);
    const now = /^now\t(\d+)\0/.exec(r.out);
    return { files: [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), unreadable, now: now ? Number(now[1]) * 1000 : Date.now() };
  }

  async glob(patterns: string[]): Promise<Listing> {
    if (patterns.length === 0) return { files: [], unreadable: [], now: Date.now() };
    return await this.find(GLOB_SCRIPT, patterns, `listing ${patterns.join(", ")}`);
  }

  async walk(dir: string): Promise<Listing> {
    return await this.find(WALK_SCRIPT, [dir], `listing ${dir}`);
  }

  async stat(path: string): Promise<FileInfo> {
    // A missing or unreachable file is find's "cannot look into" line.
    const { files, unreadable } = await this.find(STAT_SCRIPT, [path], `stat of ${path}`);
    if (files.length !== 1) {
      const why = unreadable[0]?.reason ?? "no such file";
      throw Object.assign(new Error(`cannot stat ${path} on ${this.description}: ${why}`), { code: isNoSuchFile(why) ? "ENOENT" : /Permission denied/i.test(why) ? "EACCES" : undefined });
    }
    return { ...files[0], path };
  }

  async read(path: string, options: ReadOptions = {}): Promise<FileRead> {
    const { length, hashPrefix } = options;
    const cmd = this.exec(["sh", "-c", READ_SCRIPT, "cairn-read", path, length === undefined ? "" : String(length), hashPrefix ? "hash" : ""]);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    let started = false;
    const stream = await new Promise<Readable>((resolve, reject) => {
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
            const msg = r.stderr.slice(0, r.stderr.indexOf(AFTER_MARK) >>> 0).trim().replace(/^sh: \d+: /, "") || `exit ${r.code ?? r.signal}`;
            const err = new Error(`cannot read ${path} on ${this.description}: ${msg}`) as NodeJS.ErrnoException;
            if (isNoSuchFile(msg)) err.code = "ENOENT";
            else if (/Permission denied/i.test(msg)) err.code = "EACCES";
            fail(err);
          }
        },
        (err: Error) => fail(err),
      );
    });
    return {
      stream,
      after: async () => {
        const { stderr } = await cmd.done;
        const at = stderr.lastIndexOf(AFTER_MARK);
        const tail = at < 0 ? "" : stderr.slice(at + AFTER_MARK.length);
        const hashAt = tail.indexOf(HASH_MARK);
        const [info] = parseFindRecords(hashAt < 0 ? tail : tail.slice(0, hashAt));
        const hex = hashAt < 0 ? null : /^[0-9a-f]{64}\b/.exec(tail.slice(hashAt + HASH_MARK.length));
        return { info: info && { ...info, path }, prefixHash: hex?.[0] };
      },
    };
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
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
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
