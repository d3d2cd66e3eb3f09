// cairn restore: a snapshot (or one source of it) into a folder, or with
// --to-server back onto the server cairn.yml names.
import { restore as runRestore, restoreToServer, type ServerRestoreReport } from "../app/restore.ts";
import { UsageError } from "../errors.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatAge, formatBytes, printJson, progressBar, showProgress, stderrLogger } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export interface RestoreFlags extends GlobalFlags {
  target?: string;
  toServer?: boolean;
  source?: string;
  include?: string[];
  overwrite?: boolean;
  dryRun?: boolean;
  database?: string;
  replace?: boolean;
}

export async function restore(snapshot: string, flags: RestoreFlags): Promise<void> {
  if (Boolean(flags.toServer) === (flags.target !== undefined)) {
    throw new UsageError("give either --target DIR (restore into a folder) or --to-server (back onto the server)", "see cairn restore --help");
  }
  const serverOnly = (["dryRun", "database", "replace"] as const).filter((k) => flags[k] !== undefined);
  if (flags.target !== undefined && serverOnly.length > 0) {
    throw new UsageError(`${serverOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")} only apply with --to-server`);
  }
  if (flags.toServer && flags.overwrite) throw new UsageError("--overwrite applies to --target; onto the server the current files are always kept as dated copies");
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json), "restoring [{bar}] {value}/{total}", 0);
  try {
    if (flags.toServer) {
      const r = await restoreToServer(settings, {
        snapshot,
        source: flags.source,
        dryRun: flags.dryRun,
        database: flags.database,
        replace: flags.replace,
        log: stderrLogger,
        onProgress: (bytes, total) => bar.update(bytes, {}, total),
        signal: cancelSignal,
      });
      bar.stop();
      if (flags.json) printJson(r);
      else process.stdout.write(serverText(r));
      return;
    }
    const r = await runRestore(settings, {
      snapshot,
      target: flags.target!,
      source: flags.source,
      include: flags.include,
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

function serverText(r: ServerRestoreReport): string {
  const lines = [r.dryRun ? `dry run: restoring snapshot ${r.snapshot.slice(0, 8)} onto ${r.server} would:` : `restored snapshot ${r.snapshot.slice(0, 8)} onto ${r.server}:`];
  for (const s of r.sources) {
    lines.push(`  source ${s.source} (${s.kind}):`);
    if (r.dryRun) for (const step of s.steps) lines.push(`    - ${step}`);
    else {
      lines.push(`    wrote ${s.written.join(", ")}`);
      lines.push(s.kept.length ? `    previous version kept: ${s.kept.join(", ")}` : "    there was no previous version");
    }
  }
  for (const s of r.skipped) lines.push(`  source ${s.source}: left out: ${s.reason}`);
  if (r.dryRun) lines.push("nothing was changed");
  return lines.join("\n") + "\n";
}
