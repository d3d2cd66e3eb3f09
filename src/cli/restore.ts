// cairn restore: a snapshot (or one source of it) into a folder.
import { restore as runRestore } from "../engine/restore/restore.ts";
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { formatBytes, printJson, progressBar, showProgress } from "./output.ts";
import { openRepository, readConfig, type GlobalOptions } from "./settings.ts";

export async function restore(snapshot: string, opts: GlobalOptions & { target: string; source?: string }): Promise<void> {
  const repo = await openRepository(opts, "identity", await readConfig(opts, false));
  const ref = await findSnapshot(repo, snapshot);
  const bar = progressBar(showProgress(opts.json), "restoring [{bar}] {value}/{total}", 0);
  try {
    const r = await runRestore(repo, ref, {
      target: opts.target,
      source: opts.source,
      onProgress: (bytes, total) => {
        bar.update(bytes, {});
        void total;
      },
    });
    bar.stop();
    if (opts.json) printJson({ snapshot: ref.id, target: opts.target, ...r });
    else process.stdout.write(`restored snapshot ${ref.id.slice(0, 8)}: ${r.files} file(s), ${formatBytes(r.bytes)} to ${opts.target}\n`);
  } finally {
    bar.stop();
  }
}
