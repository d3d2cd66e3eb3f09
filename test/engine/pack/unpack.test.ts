// Frames decompress whatever their size: a frame holding one tiny settings
// file (under 64 bytes) once failed to restore, because zlib refuses an
// output chunk under 64 bytes (found by the SIGKILL fault test).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { compressFrame, decompressFrame, FRAME, frameContentSize } from "../../../src/engine/pack/frame.ts";

test("a frame round-trips at every size from 0 bytes to a full frame", () => {
  for (const size of [0, 1, 54, 62, 63, 64, 65, 4096, 65536, FRAME, FRAME + 4096]) {
    for (const raw of [Buffer.alloc(size, 7), randomBytes(size)]) {
      const frame = compressFrame(raw);
      assert.equal(frameContentSize(frame), size, `content size recorded for ${size} bytes`);
      assert.ok(decompressFrame("p", 0, frame).equals(raw), `${size} bytes`);
    }
  }
});

test("a frame that claims more than a frame can hold, or is damaged, is refused", () => {
  const frame = compressFrame(randomBytes(1000));
  const bad = Buffer.from(frame);
  bad[6] ^= 0xff; // the first block's header (zstd frames carry no checksum of their content: the chunk ID check is that)
  assert.throws(() => decompressFrame("p", 8, bad), /pack p: the frame at 8 does not decompress/);
  assert.throws(() => decompressFrame("p", 8, compressFrame(Buffer.alloc(3 * 1024 * 1024))), /pack p: the frame at 8 claims/);
});
