// A repository kept in a git remote (git:URL[#BRANCH], github:OWNER/REPO[#BRANCH]),
// driven through the git CLI from a bare scratch repository in a temp folder.
//
// Layout on the remote:
//   refs/heads/BRANCH           metadata: config, keys, index/, snapshots/,
//                               lists/, and packs/ab/<id> (a pack's locator:
//                               its size, "<bytes>\n"); one commit per flush
//   refs/cairn-packs/BRANCH/<id>  one root commit per pack, whose tree holds
//                               the pack as the file <id>
//
// Why: a backup fetches the metadata branch only (depth 1, no history), so
// what it downloads does not grow with the packs stored; a restore fetches
// exactly the pack refs its snapshot names. Pack commits are made with fixed
// dates, so the same pack is always the same commit and pushing it twice is
// a no-op.
//
// Every flush is one commit pushed fast-forward. If another run pushed first,
// the branch is fetched again and this run's changes are put on top (files
// are content-addressed, so that is a union) and pushed again; never forced.
// The union is refused when either side removed files another side may need
// (a prune meanwhile): then the run fails and is run again. That check, not
// a lock file, keeps a prune from racing a backup on git: lock files live
// in this process only (pushing each lease would be a commit a minute).
//
// Packs are pushed before the metadata that names them, in pushes of at most
// pushLimit bytes (GitHub refuses a push over 2 GB); a removed pack's ref is
// deleted after the metadata without it has landed.
//
// A token reaches git only through the child's environment (http.extraHeader
// by GIT_CONFIG_COUNT/KEY/VALUE, scoped to the server): never an argument, a
// URL, or a file in the scratch repository.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { appendFile, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CairnError, UsageError } from "../errors.ts";
import { checkHandle, isValidName, NotExistError, type Backend, type BackendProperties, type CallOptions, type FileEntry, type FileType, type Handle, type Range } from "./backend.ts";
import { readRangeOf } from "./local.ts";

export const DEFAULT_BRANCH = "cairn";
/** GitHub warns at 50 MB per file and refuses 100 MB; packs (16 MiB by default) stay far below. */
export const MAX_FILE_SIZE = 45 * 1000 * 1000;
/** GitHub refuses a push over 2 GB: packs go in pushes of at most this many bytes. */
export const PUSH_LIMIT = 1024 * 1024 * 1024;
/** Pack refs per push command (keeps the argument list short). */
const REFS_PER_PUSH = 100;
/** Times a flush fetches and retries when another run pushed first. */
const RACE_ATTEMPTS = 20;

const DIRS: Record<FileType, string> = { config: "", keys: "", index: "index", snapshot: "snapshots", list: "lists", pack: "packs", lock: "locks", forgotten: "forgotten" };
const IDENTITY = { GIT_AUTHOR_NAME: "cairn", GIT_AUTHOR_EMAIL: "cairn@localhost", GIT_COMMITTER_NAME: "cairn", GIT_COMMITTER_EMAIL: "cairn@localhost" };

export interface GitRemote {
  /** What git is given: a URL or an absolute path, never holding a secret. */
  url: string;
  branch: string;
  /** For messages: "git:URL#BRANCH". */
  location: string;
  /** Environment for git commands that talk to the remote (the token's header). */
  env: Record<string, string>;
  /** Strings never to show (the token, and its header value). */
  secrets: string[];
}

export interface GitContext {
  /** A token for HTTPS on the GitHub server. */
  token?: string;
  /** GitHub's web and git base, e.g. https://github.com. */
  serverUrl: string;
}

const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*\.lock(\/|$))[A-Za-z0-9._\/-]{1,200}(?<![./])$/;

/**
 * `git:URL[#BRANCH]` (any URL or path git accepts) or `github:OWNER/REPO[#BRANCH]`
 * (the GitHub server, with the token). An HTTPS URL on the GitHub server gets the token too.
 */
export function parseGitUrl(repository: string, gh: GitContext | undefined): GitRemote {
  const server = (gh?.serverUrl ?? "https://github.com").replace(/\/+$/, "");
  const hash = repository.lastIndexOf("#");
  const head = hash < 0 ? repository : repository.slice(0, hash);
  const branch = hash < 0 ? DEFAULT_BRANCH : repository.slice(hash + 1);
  if (!BRANCH.test(branch)) {
    throw new UsageError(`invalid branch ${JSON.stringify(branch)} in ${JSON.stringify(repository)}`, "use letters, digits, '.', '_', '-' and '/' after '#' (default: cairn)");
  }
  let url: string;
  let onServer = false;
  const short = /^github:([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?$/.exec(head);
  if (short) {
    url = `${server}/${short[1]}/${short[2]}.git`;
    onServer = true;
  } else if (head.startsWith("github:")) {
    throw new UsageError(`invalid GitHub repository ${JSON.stringify(repository)}`, "use github:OWNER/REPO or github:OWNER/REPO#BRANCH");
  } else if (head.startsWith("git:") && head.length > 4) {
    url = head.slice(4);
    if (url.startsWith("-")) throw new UsageError(`invalid git URL ${JSON.stringify(url)}`, "a git URL does not start with '-'");
    // A path (no scheme, no host:) is made absolute: git runs from a scratch folder.
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^[^/]*:/.test(url)) url = resolve(url);
    onServer = url.startsWith(`${server}/`);
  } else {
    throw new UsageError(`invalid git repository URL ${JSON.stringify(repository)}`, "use git:URL[#BRANCH] (https://..., ssh://..., git@host:path, file:///..., a path) or github:OWNER/REPO[#BRANCH]");
  }
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url)) {
    throw new UsageError("the repository URL holds a password", "remove it: cairn passes the GitHub token (GITHUB_TOKEN, the github-token input) to git itself; other servers use git's credential helpers or SSH keys");
  }
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  if (onServer && gh?.token && /^https?:/.test(server)) {
    const basic = Buffer.from(`x-access-token:${gh.token}`).toString("base64");
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = `http.${server}/.extraheader`;
    env.GIT_CONFIG_VALUE_0 = `AUTHORIZATION: basic ${basic}`;
    secrets.push(gh.token, basic);
  }
  const shown = short ? `github:${short[1]}/${short[2]}` : `git:${url}`;
  return { url, branch, location: `${shown}#${branch}`, env, secrets };
}

// --- running git --------------------------------------------------------------

interface Run {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** What a failed git command means for the user. */
type Cause = "auth" | "notFound" | "unreachable" | "protected" | "hostKey" | "other";

const CAUSES: [Cause, RegExp][] = [
  ["hostKey", /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .*host key is known/i],
  ["protected", /protected branch|GH006|GH013|pre-receive hook declined|hook declined|denying (non-fast-forward|ref deletion)/i],
  ["auth", /Authentication failed|could not read (Username|Password)|Invalid username or password|HTTP (Basic: )?Access denied|returned error: 40[13]|The requested URL returned error: 40[13]|Permission denied|Permission to .* denied|terminal prompts disabled|403 Forbidden|401 Unauthorized|Write access to repository not granted/i],
  ["notFound", /Repository not found|does not appear to be a git repository|not a git repository|returned error: 404|No such file or directory|does not exist/i],
  ["unreachable", /Could not resolve host|Connection refused|Connection timed out|timed out|Network is unreachable|Connection reset|Connection closed|unexpected disconnect|early EOF|hung up unexpectedly|RPC failed|returned error: 5\d\d|Empty reply from server|Failed to connect|SSL_ERROR|TLS|Broken pipe|Could not read from remote repository/i],
];

const HINTS: Record<Cause, string | undefined> = {
  auth: "check the credentials: for github: and HTTPS on GitHub, a token with contents: write on the repository (a workflow needs `permissions: contents: write`); for SSH, a key the server accepts",
  notFound: "check the repository URL; the repository must exist (an empty one is fine) and the token or key must be allowed to read it",
  unreachable: "the git server could not be reached: check the URL's host and the network, then run again",
  protected: "the branch is protected: use a branch without protection rules (git:URL#BRANCH, default cairn), or allow this token to push to it",
  hostKey: "the git server's host key is not known: add it to ~/.ssh/known_hosts (or the file GIT_SSH_COMMAND's UserKnownHostsFile names)",
  other: undefined,
};

/** A git command that failed; its message says what failed and, where known, what to do. Holds no token. */
export class GitError extends CairnError {
  readonly reason: Cause;
  readonly retryable: boolean;
  readonly stderr: string;
  constructor(what: string, stderr: string, secrets: readonly string[]) {
    const clean = redact(stderr, secrets);
    const cause = CAUSES.find(([, re]) => re.test(clean))?.[0] ?? "other";
    super(`${what} failed: ${lastLines(clean)}`, undefined, HINTS[cause]);
    this.reason = cause;
    this.retryable = cause === "unreachable";
    this.stderr = clean;
  }
}

/** Another run changed the repository in a way this run's changes cannot be put on top of. */
export class GitConflictError extends CairnError {
  constructor(message: string) {
    super(message, undefined, "another run (a prune?) changed the repository meanwhile; run this command again");
  }
}

function redact(s: string, secrets: readonly string[]): string {
  for (const x of secrets) if (x) s = s.split(x).join("***");
  return s;
}

function lastLines(s: string): string {
  const lines = s
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^(hint:|Done$|To )/.test(l));
  return lines.slice(-3).join(" / ") || "(no message)";
}

interface RunOptions {
  input?: Buffer | string;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** stdout goes to this file instead of memory. */
  outFile?: string;
  allowFail?: boolean;
}

// --- the backend --------------------------------------------------------------

interface Entry {
  /** The blob: the file's bytes (metadata) or its locator (pack); "" for a pack saved here whose locator is not written yet. */
  oid: string;
  size: number;
}

interface LocalPack {
  /** The pack's blob in the scratch repository. */
  blob: string;
  size: number;
}

export interface GitBackendOptions {
  remote: GitRemote;
  /** Largest push of packs, bytes (tests make it small). */
  pushLimit?: number;
  /** Where the scratch repository goes (default: the system's temp folder). */
  tmpRoot?: string;
}

// No compression (everything stored is encrypted), no automatic gc, fetched
// packs kept as they came, protocol v2 (a fetch names the refs it wants).
const SCRATCH_CONFIG = `[core]
\tcompression = 0
\tbigFileThreshold = 1m
[gc]
\tauto = 0
[maintenance]
\tauto = false
[fetch]
\tunpackLimit = 1
[transfer]
\tunpackLimit = 1
[protocol]
\tversion = 2
`;

const scratchDirs = new Set<string>();
let exitHook = false;

export class GitBackend implements Backend {
  readonly properties: BackendProperties;
  readonly remote: GitRemote;
  private readonly pushLimit: number;
  private readonly tmpRoot: string;
  private scratch: Promise<string> | undefined;
  /** The remote branch's commit this backend builds on; null: the branch does not exist yet. */
  private base: string | null = null;
  private synced: Promise<void> | undefined;
  /** The metadata tree at `base`, by path (a pack's entry: its locator, with the pack's size). */
  private tree = new Map<string, Entry>();
  /** Changes since `base`: a new entry, or null for a removal. */
  private pending = new Map<string, Entry | null>();
  /** Packs saved here and not pushed yet, by id. */
  private newPacks = new Map<string, LocalPack>();
  /** Pushed packs removed here: their refs go once the metadata without them has landed. */
  private dropRefs = new Set<string>();
  /** Packs whose bytes are in the scratch folder, by id: the file. */
  private cached = new Map<string, string>();
  private readonly locks = new Map<string, Buffer>();
  /** Serialises what changes the scratch repository's refs (fetch, flush). */
  private queue: Promise<unknown> = Promise.resolve();
  /** Packs asked for and not fetched yet: the next fetch takes them all. */
  private wanted = new Map<string, { resolve: (file: string) => void; reject: (err: unknown) => void }[]>();

  constructor(opts: GitBackendOptions) {
    this.remote = opts.remote;
    this.pushLimit = opts.pushLimit ?? PUSH_LIMIT;
    this.tmpRoot = opts.tmpRoot ?? tmpdir();
    this.properties = { location: opts.remote.location, atomicWrites: true, maxFileSize: MAX_FILE_SIZE };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async git(args: string[], opts: RunOptions = {}): Promise<Run> {
    const dir = await this.dir();
    return runGit(dir, args, { ...opts, env: { ...this.remote.env, ...opts.env } }, this.remote.secrets);
  }

  private async text(args: string[], opts: RunOptions = {}): Promise<string> {
    return (await this.git(args, opts)).stdout.toString("utf8").trim();
  }

  /** The scratch repository: bare, no compression (everything stored is encrypted), no automatic gc. */
  private dir(): Promise<string> {
    this.scratch ??= (async () => {
      const dir = await mkdtemp(join(this.tmpRoot, "cairn-git-"));
      scratchDirs.add(dir);
      if (!exitHook) {
        exitHook = true;
        process.once("exit", () => {
          for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
        });
      }
      const repo = join(dir, "repo.git");
      await runGit(undefined, ["init", "--bare", "-q", repo], {}, []);
      await appendFile(join(repo, "config"), SCRATCH_CONFIG);
      return repo;
    })();
    return this.scratch;
  }

  /** Remove the scratch folder (also done when the process exits). */
  async dispose(): Promise<void> {
    if (!this.scratch) return;
    const repo = await this.scratch.catch(() => undefined);
    if (!repo) return;
    const dir = join(repo, "..");
    scratchDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    this.scratch = undefined;
  }

  /** The scratch folder, for tests that look inside it. */
  async scratchDir(): Promise<string> {
    return join(await this.dir(), "..");
  }

  private ready(signal?: AbortSignal): Promise<void> {
    if (!this.synced) {
      const synced = this.serial(() => this.fetchTip(signal));
      this.synced = synced;
      synced.catch(() => {
        if (this.synced === synced) this.synced = undefined; // tried again by the next call
      });
    }
    return this.synced;
  }

  private packRef(id: string): string {
    return `refs/cairn-packs/${this.remote.branch}/${id}`;
  }

  /** Fetch the branch's tip (depth 1: metadata only, no history) and read its tree. */
  private async fetchTip(signal?: AbortSignal): Promise<void> {
    const r = await this.git(["fetch", "--depth=1", "--no-tags", "--no-write-fetch-head", "--quiet", "--", this.remote.url, `+refs/heads/${this.remote.branch}:refs/cairn/tip`], {
      signal,
      allowFail: true,
    });
    if (r.code !== 0) {
      if (!/couldn't find remote ref/i.test(r.stderr)) throw new GitError(`fetching ${this.remote.location}`, r.stderr, this.remote.secrets);
      this.base = null;
      this.tree = new Map();
      return;
    }
    this.base = await this.text(["rev-parse", "--verify", "refs/cairn/tip^{commit}"]);
    this.tree = await this.readTree(this.base);
  }

  private async readTree(commit: string): Promise<Map<string, Entry>> {
    const out = (await this.git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit])).stdout.toString("utf8");
    const tree = new Map<string, Entry>();
    const locators: [string, string][] = [];
    for (const line of out.split("\0")) {
      const m = /^\d+ blob ([0-9a-f]+) +(\d+)\t(.+)$/s.exec(line);
      if (!m) continue;
      const [, oid, size, path] = m;
      if (!parsePath(path)) continue; // not a repository file: ignored, kept as it is
      if (path.startsWith("packs/")) locators.push([path, oid]);
      else tree.set(path, { oid, size: Number(size) });
    }
    if (locators.length > 0) {
      const sizes = (await this.git(["cat-file", "--batch"], { input: locators.map(([, oid]) => oid).join("\n") + "\n" })).stdout;
      let at = 0;
      for (const [path, oid] of locators) {
        const nl = sizes.indexOf(10, at);
        const [, , len] = sizes.subarray(at, nl).toString("utf8").split(" ");
        const body = sizes.subarray(nl + 1, nl + 1 + Number(len)).toString("utf8");
        at = nl + 1 + Number(len) + 1;
        const size = Number(body.trim());
        if (/^\d+\n?$/.test(body) && Number.isSafeInteger(size)) tree.set(path, { oid, size });
      }
    }
    return tree;
  }

  private view(path: string): Entry | undefined {
    const p = this.pending.get(path);
    if (p !== undefined) return p ?? undefined;
    return this.tree.get(path);
  }

  async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    const path = filePath(h);
    const pieces = Buffer.isBuffer(data) ? [data] : data;
    const size = pieces.reduce((n, b) => n + b.length, 0);
    if (h.type === "lock") {
      this.locks.set(h.name, Buffer.concat(pieces));
      return;
    }
    if (size > MAX_FILE_SIZE) {
      throw new UsageError(
        `${h.type} ${h.name} is ${size} bytes: too large for a git repository (GitHub warns at 50 MB per file)`,
        "make a repository with smaller packs (`cairn init --pack-size 16M`, the default) for git remotes",
      );
    }
    await this.ready(opts?.signal);
    if (h.type === "pack") {
      // Into the scratch repository only; read back from there if loaded before it is pushed.
      const blob = await this.text(["hash-object", "-w", "--stdin"], { input: Buffer.concat(pieces), signal: opts?.signal });
      this.dropRefs.delete(h.name);
      if (this.tree.get(path)?.size === size && this.pending.get(path) === undefined) return; // already pushed
      this.newPacks.set(h.name, { blob, size });
      this.pending.set(path, { oid: "", size });
      return;
    }
    const oid = await this.text(["hash-object", "-w", "--stdin"], { input: Buffer.concat(pieces), signal: opts?.signal });
    if (this.tree.get(path)?.oid === oid) this.pending.delete(path);
    else this.pending.set(path, { oid, size });
  }

  async load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer> {
    opts?.signal?.throwIfAborted();
    const path = filePath(h);
    if (h.type === "lock") {
      const data = this.locks.get(h.name);
      if (!data) throw new NotExistError(h);
      return Buffer.from(range ? data.subarray(range.offset, range.offset + range.length) : data);
    }
    await this.ready(opts?.signal);
    const e = this.view(path);
    if (!e) throw new NotExistError(h);
    if (h.type === "pack") {
      const local = this.newPacks.get(h.name);
      const file = this.cached.get(h.name) ?? (local ? await this.extract(h.name, local.blob, opts?.signal) : await this.fetchPack(h, opts?.signal));
      return await readRange(file, range ?? { offset: 0, length: e.size });
    }
    const data = (await this.git(["cat-file", "blob", e.oid], { signal: opts?.signal })).stdout;
    return range ? data.subarray(range.offset, range.offset + range.length) : data;
  }

  /** A pack's blob from the scratch repository into a file, for ranged reads. */
  private async extract(id: string, blob: string, signal?: AbortSignal): Promise<string> {
    const file = join(await this.scratchDir(), `pack-${id}`);
    await this.git(["cat-file", "blob", blob], { outFile: file, signal });
    this.cached.set(id, file);
    return file;
  }

  /** The pack's bytes in a scratch file: fetched with every other pack asked for meanwhile, in one fetch. */
  private fetchPack(h: Handle, signal?: AbortSignal): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const waiting = this.wanted.get(h.name);
      if (waiting) waiting.push({ resolve, reject });
      else {
        this.wanted.set(h.name, [{ resolve, reject }]);
        void this.serial(() => this.fetchWanted(signal));
      }
    });
  }

  private async fetchWanted(signal?: AbortSignal): Promise<void> {
    const batch = new Map(this.wanted);
    this.wanted.clear();
    if (batch.size === 0) return;
    const ids = [...batch.keys()];
    const settle = (id: string, err: unknown, file?: string) => {
      for (const w of batch.get(id) ?? []) {
        if (err) w.reject(err);
        else w.resolve(file!);
      }
    };
    // Fetched into a repository of their own, removed once the packs are
    // copied out: a restore's temp space holds each pack once.
    let batchDir: string | undefined;
    const fetch = async (group: string[]) => {
      const specs = group.map((id) => `+${this.packRef(id)}:refs/cairn/packs/${id}`);
      return await runGit(batchDir, ["fetch", "--no-tags", "--no-write-fetch-head", "--quiet", "--", this.remote.url, ...specs], { signal, allowFail: true, env: this.remote.env }, this.remote.secrets);
    };
    try {
      batchDir = await mkdtemp(join(await this.scratchDir(), "fetch-"));
      await runGit(undefined, ["init", "--bare", "-q", batchDir], {}, []);
      await appendFile(join(batchDir, "config"), SCRATCH_CONFIG);
      let r = await fetch(ids);
      const single = r.code !== 0 && /couldn't find remote ref/i.test(r.stderr);
      for (const id of ids) {
        if (single) r = await fetch([id]);
        if (r.code !== 0) {
          settle(id, /couldn't find remote ref/i.test(r.stderr) ? new NotExistError({ type: "pack", name: id }) : new GitError(`fetching pack ${id.slice(0, 8)} from ${this.remote.location}`, r.stderr, this.remote.secrets));
          continue;
        }
        try {
          const file = join(await this.scratchDir(), `pack-${id}`);
          await runGit(batchDir, ["cat-file", "blob", `refs/cairn/packs/${id}:${id}`], { outFile: file, signal }, this.remote.secrets);
          this.cached.set(id, file);
          settle(id, undefined, file);
        } catch (err) {
          settle(id, err);
        }
      }
    } catch (err) {
      for (const id of ids) settle(id, err);
    } finally {
      if (batchDir) await rm(batchDir, { recursive: true, force: true });
    }
  }

  async stat(h: Handle, opts?: CallOptions): Promise<FileEntry> {
    opts?.signal?.throwIfAborted();
    const path = filePath(h);
    if (h.type === "lock") {
      const data = this.locks.get(h.name);
      if (!data) throw new NotExistError(h);
      return { name: h.name, size: data.length };
    }
    await this.ready(opts?.signal);
    const e = this.view(path);
    if (!e) throw new NotExistError(h);
    return { name: h.name, size: e.size };
  }

  async *list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry> {
    opts?.signal?.throwIfAborted();
    if (type === "lock") {
      for (const [name, data] of [...this.locks]) yield { name, size: data.length };
      return;
    }
    await this.ready(opts?.signal);
    const found: FileEntry[] = [];
    for (const path of new Set([...this.tree.keys(), ...this.pending.keys()])) {
      const f = parsePath(path);
      if (!f || f.type !== type) continue;
      const e = this.view(path);
      if (e) found.push({ name: f.name, size: e.size });
    }
    found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const f of found) {
      opts?.signal?.throwIfAborted();
      // Removed meanwhile (a caller removing while listing): skipped.
      if (this.view(filePath({ type, name: f.name }))) yield f;
    }
  }

  async remove(h: Handle, opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    const path = filePath(h);
    if (h.type === "lock") {
      if (!this.locks.delete(h.name)) throw new NotExistError(h);
      return;
    }
    await this.ready(opts?.signal);
    if (!this.view(path)) throw new NotExistError(h);
    if (this.tree.has(path)) this.pending.set(path, null);
    else this.pending.delete(path);
    if (h.type === "pack") {
      this.newPacks.delete(h.name);
      if (this.tree.has(path)) this.dropRefs.add(h.name);
      const file = this.cached.get(h.name);
      this.cached.delete(h.name);
      if (file) await rm(file, { force: true });
    }
  }

  /** One commit with everything saved and removed since the last flush, pushed fast-forward (put on top of another run's commit when needed). */
  async flush(opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    if (this.pending.size === 0 && this.newPacks.size === 0 && this.dropRefs.size === 0) return;
    await this.ready(opts?.signal);
    await this.serial(async () => {
      await this.pushPacks(opts?.signal);
      if (this.pending.size > 0) await this.pushMetadata(opts?.signal);
      await this.deleteDroppedRefs(opts?.signal);
    });
  }

  /** Every new pack as its own root commit under refs/cairn-packs/BRANCH/, in pushes of at most pushLimit bytes. */
  private async pushPacks(signal?: AbortSignal): Promise<void> {
    const packs = [...this.newPacks].sort(([a], [b]) => (a < b ? -1 : 1));
    let group: { id: string; commit: string }[] = [];
    let bytes = 0;
    const push = async () => {
      if (group.length === 0) return;
      const specs = group.map(({ id, commit }) => `${commit}:${this.packRef(id)}`);
      const r = await this.git(["push", "--porcelain", "--quiet", "--", this.remote.url, ...specs], { signal, allowFail: true });
      for (const { id } of group) {
        // A rejected pack ref already holds a pack of this name: the same bytes (names are their SHA-256).
        if (r.code === 0 || new RegExp(`:${this.packRef(id)}\\t\\[rejected\\]`).test(r.stdout.toString("utf8"))) this.newPacks.delete(id);
      }
      if (r.code !== 0 && [...group].some(({ id }) => this.newPacks.has(id))) {
        throw new GitError(`pushing packs to ${this.remote.location}`, r.stderr + r.stdout.toString("utf8"), this.remote.secrets);
      }
      group = [];
      bytes = 0;
    };
    const commits = await this.packCommits(packs, signal);
    for (const [id, p] of packs) {
      if (group.length > 0 && (bytes + p.size > this.pushLimit || group.length >= REFS_PER_PUSH)) await push();
      group.push({ id, commit: commits.get(id)! });
      bytes += p.size;
    }
    await push();
  }

  /** One root commit per pack (tree: the file <id>), dated 0 so one pack is always one commit; made by one git fast-import. */
  private async packCommits(packs: [string, LocalPack][], signal?: AbortSignal): Promise<Map<string, string>> {
    const marks = join(await this.scratchDir(), `marks-${Math.random().toString(36).slice(2)}`);
    const stream = packs
      .map(([id, p], i) => {
        const message = `cairn pack ${id}\n`;
        return `commit refs/cairn/new\nmark :${i + 1}\nauthor cairn <cairn@localhost> 0 +0000\ncommitter cairn <cairn@localhost> 0 +0000\ndata ${message.length}\n${message}deleteall\nM 100644 ${p.blob} ${id}\n\nreset refs/cairn/new\nfrom ${"0".repeat(40)}\n\n`;
      })
      .join("");
    try {
      await this.git(["fast-import", "--quiet", "--force", `--export-marks=${marks}`], { input: stream, signal });
      const byMark = new Map((await readFile(marks, "utf8")).trim().split("\n").map((l) => l.split(" ") as [string, string]));
      return new Map(packs.map(([id], i) => [id, byMark.get(`:${i + 1}`)!]));
    } finally {
      await rm(marks, { force: true });
    }
  }

  /** The metadata commit: the pending changes on top of the branch's tip, pushed without force. */
  private async pushMetadata(signal?: AbortSignal): Promise<void> {
    // Pack locators ("<size>\n") for packs saved here.
    for (const [path, e] of this.pending) {
      if (e && e.oid === "") e.oid = await this.text(["hash-object", "-w", "--stdin"], { input: `${e.size}\n`, signal });
    }
    for (let attempt = 1; ; attempt++) {
      const commit = await this.commitPending(signal);
      const r = await this.git(["push", "--porcelain", "--quiet", "--", this.remote.url, `${commit}:refs/heads/${this.remote.branch}`], { signal, allowFail: true });
      if (r.code === 0) {
        for (const [path, e] of this.pending) {
          if (e) this.tree.set(path, e);
          else this.tree.delete(path);
        }
        this.pending.clear();
        this.base = commit;
        return;
      }
      const out = r.stdout.toString("utf8") + r.stderr;
      // Rejected as not a fast-forward, or the ref moved while the server updated it (a push landing at the same moment).
      const raced = /\[rejected\].*\((fetch first|non-fast-forward|stale info)\)|cannot lock ref .*(is at|but expected|reference already exists)|incorrect old value|failed to update ref/.test(out);
      if (!raced || attempt >= RACE_ATTEMPTS) throw new GitError(`pushing to ${this.remote.location}`, out, this.remote.secrets);
      await this.rebase(signal);
    }
  }

  /** Another run pushed first: take its tip as the new base, if this run's changes can go on top of it. */
  private async rebase(signal?: AbortSignal): Promise<void> {
    const before = this.tree;
    await this.fetchTip(signal);
    const after = this.tree;
    const theirRemovals = [...before.keys()].filter((p) => !after.has(p));
    const theirAdditions = [...after.keys()].filter((p) => !before.has(p));
    const ourRemovals = [...this.pending].filter(([p, e]) => e === null && before.has(p)).map(([p]) => p);
    if (theirRemovals.length > 0) {
      throw new GitConflictError(`another run removed ${theirRemovals.length === 1 ? "1 file" : `${theirRemovals.length} files`} from ${this.remote.location} while this one ran (e.g. ${theirRemovals[0]}): this run's changes were not pushed`);
    }
    if (ourRemovals.length > 0 && theirAdditions.length > 0) {
      throw new GitConflictError(`another run added ${theirAdditions.length === 1 ? "1 file" : `${theirAdditions.length} files`} to ${this.remote.location} while this one removed files: this run's changes were not pushed`);
    }
    // Removals of files already gone stay no-ops; additions they made too are dropped.
    for (const [p, e] of [...this.pending]) {
      if (e === null ? !after.has(p) : after.get(p)?.oid === e.oid) this.pending.delete(p);
    }
  }

  private async commitPending(signal?: AbortSignal): Promise<string> {
    const index = join(await this.scratchDir(), `index-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      await this.git(this.base ? ["read-tree", `${this.base}^{tree}`] : ["read-tree", "--empty"], { env, signal });
      const lines = [...this.pending].map(([p, e]) => (e ? `100644 ${e.oid}\t${p}` : `0 ${"0".repeat(40)}\t${p}`));
      await this.git(["update-index", "-z", "--index-info"], { env, input: lines.join("\0") + "\0", signal });
      const tree = await this.text(["write-tree"], { env, signal });
      const added = [...this.pending.values()].filter((e) => e).length;
      const removed = this.pending.size - added;
      const message = `cairn: ${added} ${added === 1 ? "file" : "files"} added${removed ? `, ${removed} removed` : ""}`;
      return await this.text(["commit-tree", tree, ...(this.base ? ["-p", this.base] : []), "-m", message], { env: IDENTITY, signal });
    } finally {
      await rm(index, { force: true });
    }
  }

  /** Refs of packs removed here, once the metadata without them has landed. A ref already gone is fine. */
  private async deleteDroppedRefs(signal?: AbortSignal): Promise<void> {
    const ids = [...this.dropRefs];
    for (let i = 0; i < ids.length; i += REFS_PER_PUSH) {
      const group = ids.slice(i, i + REFS_PER_PUSH);
      const r = await this.git(["push", "--porcelain", "--quiet", "--", this.remote.url, ...group.map((id) => `:${this.packRef(id)}`)], { signal, allowFail: true });
      const out = r.stdout.toString("utf8") + r.stderr;
      if (r.code !== 0 && !/remote ref does not exist/.test(out)) throw new GitError(`removing packs from ${this.remote.location}`, out, this.remote.secrets);
      for (const id of group) this.dropRefs.delete(id);
    }
  }

  isNotExist(err: unknown): boolean {
    return err instanceof NotExistError;
  }

  isRetryable(err: unknown): boolean {
    return err instanceof GitError && err.retryable;
  }
}

/** Where a file lives in the metadata tree (a pack: its locator). */
function filePath(h: Handle): string {
  checkHandle(h);
  if (h.type === "config" || h.type === "keys") return h.type;
  if (h.type === "pack") return `packs/${h.name.slice(0, 2)}/${h.name}`;
  return `${DIRS[h.type]}/${h.name}`;
}

/** The file a tree path holds, or undefined for anything else. */
function parsePath(path: string): Handle | undefined {
  if (path === "config" || path === "keys") return { type: path, name: "" };
  const parts = path.split("/");
  const type = (Object.keys(DIRS) as FileType[]).find((t) => DIRS[t] === parts[0] && t !== "config" && t !== "keys" && t !== "lock");
  if (!type) return undefined;
  const name = parts[parts.length - 1];
  if (!isValidName(type, name)) return undefined;
  if (type === "pack" ? parts.length !== 3 || parts[1] !== name.slice(0, 2) : parts.length !== 2) return undefined;
  return { type, name };
}

async function readRange(file: string, range: Range): Promise<Buffer> {
  const f = await open(file, "r");
  try {
    return await readRangeOf(f, range);
  } finally {
    await f.close();
  }
}

/** Runs git (no shell) in the bare repository `gitDir`; a token only ever in `opts.env`. */
async function runGit(gitDir: string | undefined, args: string[], opts: RunOptions, secrets: readonly string[]): Promise<Run> {
  opts.signal?.throwIfAborted();
  const out = opts.outFile ? await open(opts.outFile, "w", 0o600) : undefined;
  try {
    const child = spawn("git", [...(gitDir ? [`--git-dir=${gitDir}`] : []), ...args], {
      // git inherits this process's environment (PATH, HOME, GIT_SSH_COMMAND,
      // proxies) like any child; cairn adds only what it sets here.
      env: { ...process.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0", GCM_INTERACTIVE: "never", ...opts.env },
      stdio: ["pipe", out ? out.fd : "pipe", "pipe"],
    });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => chunks.push(d));
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => (stderr = (stderr + d).slice(-16384)));
    child.stdin!.on("error", () => {});
    child.stdin!.end(opts.input ?? "");
    const kill = () => child.kill("SIGTERM");
    opts.signal?.addEventListener("abort", kill, { once: true });
    let code: number;
    try {
      code = await new Promise<number>((resolve, reject) => {
        child.on("error", (err) =>
          reject((err as NodeJS.ErrnoException).code === "ENOENT" ? new CairnError("git is not installed", undefined, "install git (every GitHub runner has it)") : err),
        );
        child.on("close", (c) => resolve(c ?? 1));
      });
    } finally {
      opts.signal?.removeEventListener("abort", kill);
    }
    opts.signal?.throwIfAborted();
    const result = { stdout: Buffer.concat(chunks), stderr, code };
    if (code !== 0 && !opts.allowFail) throw new GitError(`git ${args[0]}`, stderr, secrets);
    return result;
  } finally {
    await out?.close();
  }
}

