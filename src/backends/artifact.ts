// A repository kept as GitHub Actions artifacts (artifacts:NAME).
//
// One artifact per repository file, uploaded raw (skipArchive, no zip) so a
// part of a file can be read with a Range request:
//
//   NAME.config   NAME.keys   NAME.index.<id>   NAME.snapshot.<id>
//   NAME.list.<id>   NAME.pack.<id>   NAME.lock.<id>[.<n>]
//
// Why this shape: repository files are named by content and never
// rewritten, and artifacts are immutable, so one maps onto the other; a
// backup reads only index, snapshot and list artifacts; a restore reads
// only the pack artifacts its snapshot names, and of those only the spans
// it needs; each file has its own expiry (its artifact's), which is what
// the engine needs to keep every snapshot from outliving its data.
//
// Writes happen only inside a workflow run (GitHub gives the runtime token
// to actions only); reads go through the REST API from anywhere. A name may
// exist once per run, so:
// - config and keys get a fresh copy in each run that writes data and whose
//   existing copies would expire before this run's files (same bytes, same
//   name, later expiry); readers take the copy that lives longest and refuse
//   copies that differ.
// - a lock's lease renewal is a new copy NAME.lock.<id>.<n+1>; the older
//   copies of this run are then deleted. The highest <n> is the lock.
// - an upload that failed half way holds its name in this run, so the next
//   attempt uses the next <n> (a whole-file copy like any other).
//
// A whole-file download is checked against the SHA-256 digest recorded at
// upload; a ranged one cannot be (the engine's encryption authenticates
// every segment it reads).
//
// Outside a workflow run nothing can be written, not even a reader's shared
// lock: such locks are kept in this process only (a prune running meanwhile
// in a workflow does not see them; it removes only what no snapshot needs).
import { createHash } from "node:crypto";
import { IntegrityError, UsageError } from "../errors.ts";
import { GitHubArtifacts, type RemoteArtifact } from "../github/artifacts.ts";
import type { GitHubContext } from "../github/context.ts";
import { GitHubError, notInARunError } from "../github/errors.ts";
import {
  checkHandle,
  ExpiredError,
  FILE_TYPES,
  isValidName,
  NotExistError,
  type Backend,
  type BackendProperties,
  type CallOptions,
  type FileEntry,
  type FileType,
  type Handle,
  type Range,
} from "./backend.ts";

const DAY = 86_400_000;
/** GitHub's longest artifact retention (private repositories): the bound when the repository's setting is unknown. */
export const MAX_RETENTION_DAYS = 400;
/** A listing answers lookups and list() calls this long (locks are always listed afresh). */
const LISTING_TTL_MS = 10_000;
/** A signed download URL is reused this long (GitHub's live about a minute). */
const URL_TTL_MS = 45_000;
/** Whole blobs kept when the blob host ignores Range (each download would otherwise fetch a whole pack again). */
const WHOLE_CACHE = 2;
/** Whole files up to this size are kept once downloaded (files never change; the engine reads some twice). */
const SMALL_FILE = 1 << 20;
const SMALL_BUDGET = 16 << 20;
/** Only these writes make a run's snapshot depend on the config and keys. */
const DATA_TYPES: readonly FileType[] = ["index", "snapshot", "list", "pack", "forgotten"];

/** NAME in artifacts:NAME: letters, digits, - and _ (no dot: it separates the parts of artifact names). */
export const REPOSITORY_NAME = /^[A-Za-z0-9_-]{1,40}$/;

export interface ArtifactBackendOptions {
  /** NAME in artifacts:NAME: every artifact's name starts with "NAME.". */
  name: string;
  github: GitHubContext;
  /** The clock expiry is judged by (tests: the fake service's). */
  now?: () => number;
}

/** One artifact holding one repository file (a file may have copies in several runs). */
interface Copy extends Omit<RemoteArtifact, "name"> {
  /** The artifact's name. */
  artifact: string;
  /** Which copy of the file (artifactName's n). */
  n: number;
}

export function artifactName(prefix: string, h: Handle, n = 0): string {
  return `${prefix}.${h.type}${h.name ? `.${h.name}` : ""}${n ? `.${n}` : ""}`;
}

/** The file an artifact holds, or undefined for any other artifact (another repository's, another workflow's, junk). */
export function parseArtifactName(prefix: string, artifact: string): { type: FileType; name: string; n: number } | undefined {
  if (!artifact.startsWith(`${prefix}.`)) return undefined;
  const parts = artifact.slice(prefix.length + 1).split(".");
  const type = parts[0] as FileType;
  if (!FILE_TYPES.includes(type)) return undefined;
  const singleton = type === "config" || type === "keys";
  const name = singleton ? "" : (parts[1] ?? "");
  const rest = parts.slice(singleton ? 1 : 2);
  if (!isValidName(type, name) || rest.length > 1) return undefined;
  if (rest.length === 0) return { type, name, n: 0 };
  return /^[1-9]\d{0,5}$/.test(rest[0]) ? { type, name, n: Number(rest[0]) } : undefined;
}

const keyOf = (type: FileType, name: string) => `${type}/${name}`;

export class ArtifactBackend implements Backend {
  readonly properties: BackendProperties;
  readonly prefix: string;
  readonly gh: GitHubArtifacts;
  private readonly ctx: GitHubContext;
  private readonly now: () => number;
  /** Every copy seen, by file (type/name). */
  private known = new Map<string, Copy[]>();
  private listedAt: number | undefined;
  /** This run's latest copy of each file it saved. */
  private readonly mine = new Map<string, Copy>();
  /** The copy number the next upload of a file uses (after a failed attempt holds a name). */
  private readonly nextCopy = new Map<string, number>();
  private readonly urls = new Map<number, { url: string; until: number }>();
  private readonly wholes = new Map<number, Buffer>();
  private readonly small = new Map<number, Buffer>();
  private smallBytes = 0;
  private singletons: Promise<void> | undefined;
  /** Locks taken outside a workflow run, which cannot be uploaded: this process's only. */
  private readonly localLocks = new Map<string, Buffer>();
  /** How long this run's artifacts live, once GitHub has said (expires − created of one of them). */
  private lifetime: number | undefined;

  constructor(opts: ArtifactBackendOptions) {
    if (!REPOSITORY_NAME.test(opts.name)) {
      throw new UsageError(`invalid artifacts repository name ${JSON.stringify(opts.name)}`, "use artifacts:NAME with 1-40 letters, digits, - or _ (e.g. artifacts:backup)");
    }
    this.prefix = opts.name;
    this.ctx = opts.github;
    this.now = opts.now ?? Date.now;
    this.gh = new GitHubArtifacts(opts.github);
    this.properties = {
      location: `artifacts:${opts.name} (${this.gh.repository})`,
      atomicWrites: true,
      expiry: { newFiles: () => new Date(this.now() + this.lifetimeMs()) },
    };
  }

  /** How long a file saved now lives: what GitHub showed for this run, else the retention asked for, capped by the repository's setting, else GitHub's maximum. */
  private lifetimeMs(): number {
    const cap = this.ctx.maxRetentionDays ?? MAX_RETENTION_DAYS;
    const asked = Math.min(this.ctx.retentionDays ?? cap, cap) * DAY;
    return this.lifetime === undefined ? asked : Math.min(asked, this.lifetime);
  }

  private isExpired(c: Copy): boolean {
    return c.expired || (c.expires !== undefined && c.expires <= this.now());
  }

  private toCopy(a: RemoteArtifact, n: number): Copy {
    const c: Copy = { id: a.id, artifact: a.name, n, size: a.size, digest: a.digest, created: a.created, expires: a.expires, expired: a.expired, runId: a.runId };
    if (this.ctx.runId !== undefined && a.runId === this.ctx.runId && a.expires !== undefined && a.created) this.lifetime ??= a.expires - a.created;
    return c;
  }

  // --- finding copies ---------------------------------------------------------

  /** Read every artifact of the repository and keep the ones that are this repository's files. */
  private async refreshListing(signal?: AbortSignal): Promise<void> {
    const started = this.now();
    const known = new Map<string, Copy[]>();
    const seen = new Set<number>();
    for await (const page of this.gh.listAll(signal)) {
      for (const a of page) {
        const f = parseArtifactName(this.prefix, a.name);
        if (!f || seen.has(a.id)) continue;
        seen.add(a.id);
        const k = keyOf(f.type, f.name);
        known.set(k, [...(known.get(k) ?? []), this.toCopy(a, f.n)]);
      }
    }
    // This run's uploads count even if the listing does not show them yet.
    for (const [k, c] of this.mine) if (!seen.has(c.id)) known.set(k, [...(known.get(k) ?? []), c]);
    this.known = known;
    this.listedAt = started;
  }

  private listingFresh(): boolean {
    return this.listedAt !== undefined && this.now() - this.listedAt < LISTING_TTL_MS;
  }

  /** Every known copy of h (live or expired), looked up when nothing live is known. */
  private async copies(h: Handle, signal?: AbortSignal): Promise<Copy[]> {
    const k = keyOf(h.type, h.name);
    const cached = this.known.get(k) ?? [];
    if (this.listingFresh() || (h.type !== "lock" && cached.some((c) => !this.isExpired(c)))) return cached;
    if (h.type !== "lock") {
      // The usual copy has the plain name, which the REST API can look up exactly.
      const found = await this.gh.byName(artifactName(this.prefix, h), signal);
      const others = cached.filter((c) => c.n !== 0 && !found.some((a) => a.id === c.id));
      const merged = [...found.map((a) => this.toCopy(a, 0)), ...others];
      const own = this.mine.get(k);
      if (own && !merged.some((c) => c.id === own.id)) merged.push(own);
      this.known.set(k, merged);
      if (merged.some((c) => !this.isExpired(c))) return merged;
    }
    // Numbered copies (locks, retried uploads) are found only in a full listing.
    await this.refreshListing(signal);
    return this.known.get(k) ?? [];
  }

  /** The copy to read: a lock's newest; otherwise the one that lives longest (copies hold the same bytes). */
  private async pick(h: Handle, signal?: AbortSignal): Promise<{ copy: Copy; live: Copy[] }> {
    const all = await this.copies(h, signal);
    const live = all.filter((c) => !this.isExpired(c));
    if (live.length === 0) {
      const expired = all.map((c) => c.expires ?? 0).filter((t) => t > 0);
      if (all.length > 0) throw new ExpiredError(h, new Date(Math.max(0, ...expired)));
      throw new NotExistError(h);
    }
    if (h.type === "lock") return { copy: live.reduce((a, b) => (b.n > a.n || (b.n === a.n && b.id > a.id) ? b : a)), live };
    const digests = new Set(live.map((c) => c.digest).filter(Boolean));
    if (digests.size > 1) {
      throw new IntegrityError(
        `the artifacts holding ${h.type} ${h.name} differ (${live.map((c) => `${c.artifact} #${c.id} ${c.digest}`).join(", ")}): a file is never rewritten, so one of them was made by someone else`,
        "see which workflow run made each artifact (its ID is above) and delete the one you did not make",
      );
    }
    const lives = (c: Copy) => c.expires ?? Infinity;
    return { copy: live.reduce((a, b) => (lives(b) > lives(a) ? b : a)), live };
  }

  private forget(h: Handle, ids: Set<number>): void {
    const k = keyOf(h.type, h.name);
    const left = (this.known.get(k) ?? []).filter((c) => !ids.has(c.id));
    if (left.length) this.known.set(k, left);
    else this.known.delete(k);
    const own = this.mine.get(k);
    if (own && ids.has(own.id)) this.mine.delete(k);
    for (const id of ids) {
      this.urls.delete(id);
      this.wholes.delete(id);
      this.smallBytes -= this.small.get(id)?.length ?? 0;
      this.small.delete(id);
    }
  }

  // --- Backend ----------------------------------------------------------------

  async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void> {
    checkHandle(h);
    const signal = opts?.signal;
    signal?.throwIfAborted();
    // Written to a file before save returns, so the caller's buffer need not be copied.
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
    if (!this.gh.canWrite) {
      if (h.type !== "lock") throw notInARunError();
      this.localLocks.set(h.name, Buffer.from(bytes));
      return;
    }
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const k = keyOf(h.type, h.name);
    const own = this.mine.get(k);
    if (h.type !== "lock" && own) {
      if (own.digest === digest) return;
      throw new GitHubError("conflict", `${h.type} ${h.name} was already saved in this run with other content, and an artifact cannot be rewritten`);
    }
    if (DATA_TYPES.includes(h.type)) await this.copySingletons(signal);
    await this.upload(h, bytes, digest, signal);
  }

  /** Upload one copy of h into this run (the next free copy number), and remember it. */
  private async upload(h: Handle, bytes: Buffer, digest: string, signal?: AbortSignal): Promise<Copy> {
    const k = keyOf(h.type, h.name);
    const previous = h.type === "lock" ? this.mine.get(k) : undefined;
    let n = this.nextCopy.get(k) ?? (previous ? previous.n + 1 : 0);
    for (let conflicts = 0; ; ) {
      const artifact = artifactName(this.prefix, h, n);
      this.nextCopy.set(k, n + 1);
      try {
        const up = await this.gh.upload(artifact, bytes, this.retentionDays(), signal);
        if (up.digest !== digest) throw new GitHubError("failed", `uploading ${artifact}: the service hashed the upload as ${up.digest}, not ${digest}`);
        const copy: Copy = { id: up.id, artifact, n, size: up.size, digest, created: this.now(), expires: undefined, expired: false, runId: this.ctx.runId };
        this.remember(h, copy);
        if (previous) {
          // The renewed lock is up: the older copies of this run go.
          await this.gh.deleteInRun(previous.artifact).catch(() => false);
          this.forget(h, new Set([previous.id]));
        }
        return copy;
      } catch (err) {
        if (!(err instanceof GitHubError && err.problem === "conflict") || ++conflicts > 3) throw err;
        // This run already holds the name: an earlier process's copy of the same bytes, or a failed attempt.
        if (h.type !== "lock") {
          const there = await this.gh.findInRun(artifact);
          if (there && there.digest === digest) {
            const copy: Copy = { id: there.id, artifact, n, size: there.size, digest, created: this.now(), expires: undefined, expired: false, runId: this.ctx.runId };
            this.remember(h, copy);
            return copy;
          }
          if (there) throw new GitHubError("conflict", `${h.type} ${h.name} was already saved in this run with other content (${there.digest}), and an artifact cannot be rewritten`);
        }
        // Not finalized: a broken upload holds the name.
        n++;
      }
    }
  }

  private remember(h: Handle, copy: Copy): void {
    const k = keyOf(h.type, h.name);
    this.mine.set(k, copy);
    this.known.set(k, [...(this.known.get(k) ?? []).filter((c) => c.id !== copy.id), copy]);
  }

  private retentionDays(): number | undefined {
    const asked = this.ctx.retentionDays;
    if (asked === undefined) return undefined; // the repository's setting, which is also the longest allowed
    return this.ctx.maxRetentionDays === undefined ? asked : Math.min(asked, this.ctx.maxRetentionDays);
  }

  /**
   * A run that writes data makes its snapshot depend on the config and keys:
   * when their longest-lived copies would expire before this run's files,
   * this run stores them again (same bytes, its own expiry). Once per run.
   */
  private copySingletons(signal?: AbortSignal): Promise<void> {
    this.singletons ??= (async () => {
      const horizon = this.now() + this.lifetimeMs();
      for (const type of ["config", "keys"] as const) {
        const h = { type, name: "" };
        if (this.mine.has(keyOf(type, ""))) continue;
        let copy: Copy;
        try {
          copy = (await this.pick(h, signal)).copy;
        } catch (err) {
          if (err instanceof NotExistError) continue; // a repository being created
          throw err;
        }
        if (copy.expires !== undefined && copy.expires >= horizon) continue;
        const bytes = await this.load(h, undefined, { signal });
        await this.upload(h, bytes, copy.digest ?? `sha256:${createHash("sha256").update(bytes).digest("hex")}`, signal);
      }
    })().catch((err) => {
      this.singletons = undefined;
      throw err;
    });
    return this.singletons;
  }

  async load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer> {
    checkHandle(h);
    const signal = opts?.signal;
    signal?.throwIfAborted();
    const local = h.type === "lock" ? this.localLocks.get(h.name) : undefined;
    if (local) return Buffer.from(range ? local.subarray(range.offset, range.offset + range.length) : local);
    for (let attempt = 0; ; attempt++) {
      const { copy } = await this.pick(h, signal);
      try {
        return await this.read(h, copy, range, signal);
      } catch (err) {
        // Deleted or expired since it was listed: look again once.
        if (attempt === 0 && err instanceof GitHubError && (err.problem === "not-found" || err.problem === "expired")) {
          this.forget(h, new Set([copy.id]));
          this.listedAt = undefined;
          continue;
        }
        if (err instanceof GitHubError && err.problem === "expired") throw new ExpiredError(h, new Date(copy.expires ?? this.now()));
        if (err instanceof GitHubError && err.problem === "not-found") throw new NotExistError(h);
        throw err;
      }
    }
  }

  private async read(h: Handle, copy: Copy, range: Range | undefined, signal?: AbortSignal): Promise<Buffer> {
    let want: Range | undefined;
    if (range) {
      if (range.length === 0 || range.offset >= copy.size) return Buffer.alloc(0);
      want = { offset: range.offset, length: Math.min(range.length, copy.size - range.offset) };
      if (want.offset === 0 && want.length === copy.size) want = undefined;
    }
    const whole = this.wholes.get(copy.id) ?? this.small.get(copy.id);
    if (whole) return Buffer.from(want ? whole.subarray(want.offset, want.offset + want.length) : whole);
    if (copy.size === 0) return this.checked(h, copy, Buffer.alloc(0));
    for (let attempt = 0; ; attempt++) {
      const url = await this.signedUrl(copy, signal);
      let got;
      try {
        got = await this.gh.fetchBlob(url, want, signal);
      } catch (err) {
        // A signed URL that has expired: get a fresh one, once.
        if (attempt === 0 && err instanceof GitHubError && err.status === 403) {
          this.urls.delete(copy.id);
          continue;
        }
        throw err;
      }
      if (got.whole) {
        const body = this.checked(h, copy, got.body);
        if (!want) {
          if (body.length <= SMALL_FILE && h.type !== "lock") this.keepSmall(copy.id, body);
          return Buffer.from(body);
        }
        // The host ignored the Range: keep the blob for the next spans of it.
        this.wholes.set(copy.id, body);
        for (const id of this.wholes.keys()) if (this.wholes.size > WHOLE_CACHE) this.wholes.delete(id);
        return Buffer.from(body.subarray(want.offset, want.offset + want.length));
      }
      if (!want || got.body.length !== want.length) {
        throw new GitHubError("transient", `${copy.artifact}: blob storage sent ${got.body.length} bytes for a range of ${want?.length}`, { retryable: true });
      }
      return got.body;
    }
  }

  private keepSmall(id: number, body: Buffer): void {
    this.small.set(id, body);
    this.smallBytes += body.length;
    for (const [old, b] of this.small) {
      if (this.smallBytes <= SMALL_BUDGET) break;
      this.small.delete(old);
      this.smallBytes -= b.length;
    }
  }

  /** A whole download must be the bytes whose digest GitHub recorded at upload. */
  private checked(h: Handle, copy: Copy, body: Buffer): Buffer {
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    if (!copy.digest) throw new IntegrityError(`${h.type} ${h.name}: artifact ${copy.artifact} has no recorded digest to check it against`);
    if (digest !== copy.digest || body.length !== copy.size) {
      throw new IntegrityError(`${h.type} ${h.name}: the downloaded artifact ${copy.artifact} (${body.length} bytes, ${digest}) is not what was uploaded (${copy.size} bytes, ${copy.digest})`);
    }
    return body;
  }

  private async signedUrl(copy: Copy, signal?: AbortSignal): Promise<string> {
    const now = this.now();
    const cached = this.urls.get(copy.id);
    if (cached && cached.until > now) return cached.url;
    const url = await this.gh.downloadUrl(copy.id, signal);
    this.urls.set(copy.id, { url, until: now + URL_TTL_MS });
    return url;
  }

  async stat(h: Handle, opts?: CallOptions): Promise<FileEntry> {
    checkHandle(h);
    opts?.signal?.throwIfAborted();
    const local = h.type === "lock" ? this.localLocks.get(h.name) : undefined;
    if (local) return { name: h.name, size: local.length, expires: this.properties.expiry!.newFiles() };
    const { copy, live } = await this.pick(h, opts?.signal);
    return { name: h.name, size: copy.size, expires: await this.expiresOf(h, h.type === "lock" ? [copy] : live, opts?.signal) };
  }

  /** A file lives as long as its longest-lived copy; this run's copies are asked about once if no listing showed them yet. */
  private async expiresOf(h: Handle, live: Copy[], signal?: AbortSignal): Promise<Date> {
    for (const c of live) {
      if (c.expires !== undefined) continue;
      const a = await this.gh.get(c.id, signal);
      if (!a) throw new NotExistError(h);
      Object.assign(c, this.toCopy(a, c.n), { artifact: c.artifact });
    }
    return new Date(Math.max(...live.map((c) => c.expires!)));
  }

  async *list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry> {
    const signal = opts?.signal;
    signal?.throwIfAborted();
    if (!FILE_TYPES.includes(type)) throw new Error(`unknown file type ${String(type)}`);
    if (type === "lock" || !this.listingFresh()) await this.refreshListing(signal);
    const entries: FileEntry[] = [];
    for (const [k, copies] of [...this.known]) {
      const slash = k.indexOf("/");
      if (k.slice(0, slash) !== type) continue;
      const name = k.slice(slash + 1);
      const live = copies.filter((c) => !this.isExpired(c));
      if (live.length === 0) continue;
      const h = { type, name };
      const newest = live.reduce((a, b) => (b.n > a.n || (b.n === a.n && b.id > a.id) ? b : a));
      entries.push({ name, size: newest.size, expires: await this.expiresOf(h, type === "lock" ? [newest] : live, signal) });
    }
    if (type === "lock") {
      for (const [name, data] of this.localLocks) if (!entries.some((e) => e.name === name)) entries.push({ name, size: data.length, expires: this.properties.expiry!.newFiles() });
    }
    for (const e of entries) {
      signal?.throwIfAborted();
      yield e;
    }
  }

  async remove(h: Handle, opts?: CallOptions): Promise<void> {
    checkHandle(h);
    const signal = opts?.signal;
    signal?.throwIfAborted();
    if (h.type === "lock" && this.localLocks.delete(h.name)) return;
    const { live } = await this.pick(h, signal);
    const gone = new Set<number>();
    try {
      for (const c of live) {
        // This run's own artifacts go through the results service, which needs no REST permission.
        const ours = this.gh.canWrite && this.ctx.runId !== undefined && c.runId === this.ctx.runId;
        if (ours && (await this.gh.deleteInRun(c.artifact))) {
          gone.add(c.id);
          continue;
        }
        try {
          await this.gh.delete(c.id, signal);
        } catch (err) {
          if (!(err instanceof GitHubError && err.problem === "not-found")) throw err;
        }
        gone.add(c.id);
      }
    } finally {
      this.forget(h, gone);
    }
  }

  /** Every save is durable when it returns: nothing is held back. */
  async flush(): Promise<void> {}

  isNotExist(err: unknown): boolean {
    return err instanceof NotExistError;
  }

  isRetryable(err: unknown): boolean {
    return err instanceof GitHubError && err.retryable;
  }
}
