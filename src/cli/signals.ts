// SIGINT and SIGTERM (Ctrl-C, a cancelled or timed-out workflow run) abort the
// running command: it stops between steps, removes its lock and temporary
// files, and cairn exits 130. A second signal exits at once.
import { CancelledError, ExitCode } from "../errors.ts";

const controller = new AbortController();

/** Aborted, with a CancelledError as its reason, by the first SIGINT or SIGTERM. */
export const cancelSignal: AbortSignal = controller.signal;

/** Turn SIGINT and SIGTERM into an abort of cancelSignal; `say` tells the user. */
export function handleSignals(say: (message: string) => void): void {
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) {
        say(`${name} again: stopping at once (a lock left behind expires when its lease ends)`);
        process.exit(ExitCode.cancelled);
      }
      say(`${name}: stopping; removing the lock and temporary files (send it again to stop at once)`);
      controller.abort(new CancelledError(name));
    });
  }
}
