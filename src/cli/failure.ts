// What the user sees when a command fails: a typed error as it is, an
// operating-system error (ENOENT, EACCES...) in words, a cancelled run as
// cancelled, and anything else as a bug to report, never as a bare stack
// trace (stacks only with --debug).
import { CairnError, errorMessage, ExitCode, fromSystemError, isSystemError } from "../errors.ts";

export function failure(err: unknown, cancel?: AbortSignal): CairnError {
  if (cancel?.aborted) return cancel.reason instanceof CairnError ? cancel.reason : new CairnError("cancelled", ExitCode.cancelled);
  if (err instanceof CairnError) return err;
  if (isSystemError(err)) return fromSystemError(err);
  return new CairnError(
    `unexpected error: ${errorMessage(err)}`,
    ExitCode.runtime,
    "this is a bug, please report it with the command you ran and the output of the same command with --debug",
  );
}

/** An error's stack and its causes' stacks, for --debug. */
export function stacks(err: unknown): string {
  const out: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 5; e = (e as Error).cause, depth++) {
    out.push(depth === 0 ? "" : "caused by:", e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
  return out.filter(Boolean).join("\n");
}
