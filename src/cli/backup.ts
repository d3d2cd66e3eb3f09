// cairn backup: read the config's sources and store a snapshot.
import { backup as runBackup } from "../engine/backup.ts";
import { createSources } from "../sources/open.ts";
import { createTransport } from "../transport/open.ts";
import { formatBytes, printJson, progressBar, showProgress, stderrLogger } from "./output.ts";
import { openRepository, readConfig, type GlobalOptions } from "./settings.ts";

export async function backup(opts: GlobalOptions & { full?: boolean }): Promise<void> {
  const config = (await readConfig(opts, true))!;
  const repo = await openRepository(opts, "write", config);
  const sources = createSources(config, process.env);
  const transport = await createTransport(config, process.env);
  const bar = progressBar(showProgress(opts.json), "{source} {value} read, {fresh} new", 0, { source: "backing up", fresh: "0 B" });
  try {
    const { id, snapshot } = await runBackup(repo, {
      sources,
      transport,
      full: opts.full,
      log: stderrLogger,
      onProgress: (p) => bar.update(p.bytes, { source: p.source, fresh: formatBytes(p.newBytes) }),
    });
    bar.stop();
    const s = snapshot.stats;
    if (opts.json) {
      printJson({ id, time: snapshot.time, full: snapshot.full, sources: snapshot.sources, stats: s });
      return;
    }
    const ratio = s.storedBytes > 0 ? (s.bytes / s.storedBytes).toFixed(1) : "∞";
    process.stdout.write(
      `snapshot ${id.slice(0, 8)} saved${snapshot.full ? " (full)" : ""}\n` +
        snapshot.sources.map((src) => `  ${src.name} (${src.kind}): ${src.entries} file(s), ${formatBytes(src.size)}\n`).join("") +
        `  read ${formatBytes(s.bytes)}, new ${formatBytes(s.newBytes)} in ${s.newChunks} of ${s.chunks} chunks, ` +
        `stored ${formatBytes(s.storedBytes)} (${ratio}x smaller), ${(s.durationMs / 1000).toFixed(1)} s\n`,
    );
  } finally {
    bar.stop();
    await transport.close();
  }
}
