// A frame: one zstd frame of chunk plaintext, the unit packs are compressed
// in. Small chunks (SQLite pages) are gathered into frames of about FRAME
// bytes: one zstd call per frame instead of per chunk, and a better ratio
// than 4 KiB pieces. Both the packer and the unpacker use these.
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { IntegrityError } from "../../errors.ts";
import { CDC_DEFAULT } from "../chunk/chunker.ts";

export const ZSTD_LEVEL = 3;
/**
 * Raw bytes gathered into one zstd frame. Each zstd call costs ~0.3 ms here
 * whatever its size, so frames are large; reading one 4 KiB page still means
 * decompressing its frame, which is cheap next to the call.
 */
export const FRAME = 512 * 1024;
/** The largest chunk a chunker makes (FastCDC's max; SQLite pages are at most 64 KiB). */
export const MAX_CHUNK = CDC_DEFAULT.max;
/** The most a frame holds raw (a frame is cut once it holds FRAME bytes, so at most one chunk more). */
export const MAX_FRAME_RAW = FRAME + MAX_CHUNK;

/** One zstd frame of raw bytes (one output buffer: zstd's bound for incompressible input). */
export function compressFrame(raw: Uint8Array): Buffer {
  return zstdCompressSync(raw, {
    params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
    pledgedSrcSize: raw.length,
    chunkSize: raw.length + (raw.length >> 7) + 1024,
  } as object);
}

/** The content size a zstd frame's header records, if it does. */
export function frameContentSize(b: Uint8Array): number | undefined {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return undefined;
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const fhd = v[4];
  const single = (fhd >> 5) & 1;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
  const pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3];
  if (fcsBytes === 0 || v.length < pos + fcsBytes) return undefined;
  if (fcsBytes === 1) return v[pos];
  if (fcsBytes === 2) return v.readUInt16LE(pos) + 256;
  if (fcsBytes === 4) return v.readUInt32LE(pos);
  return Number(v.readBigUInt64LE(pos));
}

/** Decompress one zstd frame of a pack, refusing anything larger than a frame can be. */
export function decompressFrame(pack: string, offset: number, stored: Uint8Array): Buffer {
  const size = frameContentSize(stored);
  if (size !== undefined && size > MAX_FRAME_RAW) throw new IntegrityError(`pack ${pack}: the frame at ${offset} claims ${size} bytes`);
  try {
    // zlib refuses a chunkSize under 64: a frame of a few bytes still gets 64.
    return zstdDecompressSync(stored, { chunkSize: Math.max(size ?? 64 * 1024, 64) + 1, maxOutputLength: MAX_FRAME_RAW });
  } catch {
    throw new IntegrityError(`pack ${pack}: the frame at ${offset} does not decompress`);
  }
}
