// Restore's plan: the chunks of the files being restored, grouped by pack and
// then by frame, so each pack is read once (in spans of nearby frames)
// whatever order the files list their chunks in; each span becomes one job
// for a worker thread (../pack/unpack.ts).
import { segmentRange } from "../crypto/age.ts";
import type { UnpackJob } from "../pack/unpack.ts";
import { GAP, SPAN, type ChunkReader, type Located } from "../repository/reader.ts";

/** One span of a pack to read, and where each of its chunks goes. */
export interface Span {
  pack: string;
  start: number;
  end: number;
  frames: number[];
  /** Global chunk numbers (see spans()), in frame order. */
  chunks: number[];
  all: { located: Located[]; fileOf: Uint16Array; base: number[]; positions: Float64Array; fds: number[] };
}

/**
 * The entries' chunks grouped by pack, then by frame: each pack is read once
 * (in spans of nearby frames), whatever order the files list its chunks in.
 */
export function* spans(located: Located[], fds: number[]): Generator<Span> {
  // Chunks are numbered across the files; each number maps back to its file's
  // own arrays (no copy of their locations or IDs).
  const count = located.reduce((n, l) => n + l.ids.length, 0);
  const positions = new Float64Array(count);
  const fileOf = new Uint16Array(count);
  const base: number[] = [];
  let g = 0;
  located.forEach((l, k) => {
    base.push(g);
    let position = 0;
    for (let i = 0; i < l.ids.length; i++, g++) {
      positions[g] = position;
      position += l.v[i * 5 + 3] - l.skip;
      fileOf[g] = k;
    }
  });
  const all = { located, fileOf, base, positions, fds };
  const field = (c: number, f: number) => located[fileOf[c]].v[(c - base[fileOf[c]]) * 5 + f];
  const packs = located[0]?.packs ?? [];
  // Counting sort by pack number (stable: file order within a pack).
  const starts = new Uint32Array(packs.length + 1);
  for (let c = 0; c < count; c++) starts[field(c, 0) + 1]++;
  for (let p = 0; p < packs.length; p++) starts[p + 1] += starts[p];
  const byPack = new Uint32Array(count);
  const fill = starts.slice(0, packs.length);
  for (let c = 0; c < count; c++) byPack[fill[field(c, 0)]++] = c;
  for (let p = 0; p < packs.length; p++) {
    if (starts[p] === starts[p + 1]) continue;
    const order = Array.from(byPack.subarray(starts[p], starts[p + 1])).sort((a, b) => field(a, 1) - field(b, 1) || field(a, 4) - field(b, 4));
    let span: Span | undefined;
    for (const c of order) {
      const offset = field(c, 1);
      const end = offset + field(c, 2);
      if (span && span.frames[span.frames.length - 1] !== offset && (offset - span.end > GAP || end - span.start > SPAN)) {
        yield span;
        span = undefined;
      }
      span ??= { pack: packs[p], start: offset, end, frames: [], chunks: [], all };
      if (span.frames[span.frames.length - 1] !== offset) span.frames.push(offset);
      span.end = Math.max(span.end, end);
      span.chunks.push(c);
    }
    if (span) yield span;
  }
}

/** Read a span of a pack: the job that unpacks its chunks. */
export async function loadSpan(reader: ChunkReader, span: Span): Promise<UnpackJob> {
  const k = await reader.packKeys(span.pack);
  const r = segmentRange(k, span.start, span.end - span.start);
  const sealed = await reader.repo.backend.load({ type: "pack", name: span.pack }, { offset: r.start, length: r.end - r.start });
  const { located, fileOf, base, positions: allPositions, fds } = span.all;
  const n = span.chunks.length;
  const frames = new Uint32Array(span.frames.length * 2);
  const chunks = new Uint32Array(n * 4);
  const positions = new Float64Array(n);
  const ids = new Uint8Array(n * 32);
  const skips = new Uint8Array(n);
  let f = -1;
  span.chunks.forEach((c, i) => {
    const k = fileOf[c];
    const l = located[k];
    const at = (c - base[k]) * 5;
    if (f < 0 || frames[f * 2] !== l.v[at + 1]) {
      f++;
      frames[f * 2] = l.v[at + 1];
      frames[f * 2 + 1] = l.v[at + 2];
    }
    chunks[i * 4] = f;
    chunks[i * 4 + 1] = l.v[at + 4];
    chunks[i * 4 + 2] = l.v[at + 3];
    chunks[i * 4 + 3] = fds[k];
    positions[i] = allPositions[c];
    skips[i] = l.skip;
    ids.set(l.ids.get(c - base[k]), i * 32);
  });
  return { pack: span.pack, sealed, first: r.first, totalSegments: k.totalSegments, key: k.key, frames, chunks, positions, ids, skips };
}
