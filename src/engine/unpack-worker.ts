// A worker thread of the restore: runs unpack() on each job it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { IntegrityError } from "../errors.ts";
import { chunkIdHasher } from "./keys.ts";
import { unpack, type UnpackJob } from "./unpack.ts";

const chunkId = chunkIdHasher(workerData.chunkIdKey as Uint8Array);

parentPort!.on("message", (job: UnpackJob) => {
  try {
    parentPort!.postMessage({ bytes: unpack(job, chunkId) });
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err), integrity: err instanceof IntegrityError });
  }
});
