// A worker thread (see workers.ts): runs each task it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { IntegrityError } from "../errors.ts";
import { chunkIdHasher } from "./keys.ts";
import { runTask, type Task } from "./workers.ts";

const chunkId = chunkIdHasher(workerData.chunkIdKey as Uint8Array);

parentPort!.on("message", (task: Task) => {
  try {
    const { done, transfer } = runTask(task, chunkId);
    parentPort!.postMessage({ done }, transfer);
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err), integrity: err instanceof IntegrityError });
  }
});
