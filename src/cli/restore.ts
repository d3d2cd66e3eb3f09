// cairn restore: a snapshot (or one source of it) into a folder.
import { restore as runRestore } from "../app/restore.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatAge, formatBytes, printJson, progressBar, showProgress } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function restore(snapshot: string, flags: GlobalFlags & { target: string; source?: string; overwrite?: boolean }): Promise<void> {
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json), "restoring [{bar}] {value}/{total}", 0);
  try {
    const r = await runRestore(settings, {
      snapshot,
      target: flags.target,
      source: flags.source,
      overwrite: flags.overwrite,
      onProgress: (bytes, total) => bar.update(bytes, {}, total),
      signal: cancelSignal,
    });
    bar.stop();
    if (flags.json) printJson(r);
    else {
      process.stdout.write(`restored snapshot ${r.snapshot}, taken ${r.time} (${formatAge(Date.now() - Date.parse(r.time))} ago): ${r.files} file(s), ${formatBytes(r.bytes)} to ${r.target}\n`);
    }
  } finally {
    bar.stop();
  }
}
