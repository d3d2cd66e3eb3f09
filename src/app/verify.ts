// Verify: the repository's structure, and with readData its stored data.
import { verify as runVerify, type VerifyResult } from "../engine/verify.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface VerifyRequest {
  /** Percentage of packs to read (0: structure only). */
  readData: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export async function verify(settings: Settings, req: VerifyRequest): Promise<VerifyResult> {
  const repo = await openRepository(settings, "write", req.signal);
  return runVerify(repo, { readData: req.readData, onProgress: req.onProgress });
}
