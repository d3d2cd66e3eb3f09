// Printing: results to stdout (text or --json), warnings and progress to
// stderr. Progress bars only on a terminal, never in CI logs or with --json.
import cliProgress from "cli-progress";
import type { Logger } from "../log.ts";

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

export const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
};

export function showProgress(json: boolean | undefined): boolean {
  return !json && !!process.stderr.isTTY && !process.env.CI;
}

/** A progress bar on stderr, or a no-op. */
export function progressBar(enabled: boolean, format: string, total: number, payload: object = {}) {
  if (!enabled) return { update: (_v: number, _p?: object) => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: true, fps: 5, formatValue: (v, _o, type) => (type === "value" || type === "total" ? formatBytes(v) : String(v)) },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, payload);
  return { update: (v: number, p?: object) => bar.update(v, p), stop: () => bar.stop() };
}
