// Printing: results to stdout (text or --json), warnings and progress to
// stderr. Progress bars only on a terminal, never in CI logs or with --json.
import cliProgress from "cli-progress";
import type { Logger } from "../log.ts";
import { formatBytes } from "../app/format.ts";

/** A duration in words: "3 days", "5 hours", "12 minutes", "40 seconds". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [n, unit] = s >= 2 * 86400 ? [Math.floor(s / 86400), "day"] : s >= 2 * 3600 ? [Math.floor(s / 3600), "hour"] : s >= 120 ? [Math.floor(s / 60), "minute"] : [s, "second"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

export { formatBytes };

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

let jsonErrors = false;

/** With --json, a failure is one JSON object on stderr's last line: {"error": {code, message, hint}}. */
export function useJsonErrors(on: boolean): void {
  jsonErrors = on;
}

/** A message to the user on stderr (warnings stay plain lines with --json; stdout holds the JSON). */
export function say(kind: "info" | "warning", message: string): void {
  process.stderr.write(kind === "warning" ? `warning: ${message}\n` : `${message}\n`);
}

export const stderrLogger: Logger = {
  info: (m) => say("info", m),
  warn: (m) => say("warning", m),
};

/** How a failure is shown: `cairn: MESSAGE` and `hint: HINT`, or with --json one object {"error": {code, message, hint}} (and `debug`, the trace, with --debug). */
export function printError(e: { code: number; message: string; hint: string | undefined }, detail?: string): void {
  if (jsonErrors) {
    process.stderr.write(JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint ?? null, ...(detail ? { debug: detail } : {}) } }) + "\n");
    return;
  }
  process.stderr.write(`cairn: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ""}${detail ? `${detail}\n` : ""}`);
}

export function showProgress(json: boolean | undefined): boolean {
  return !json && !!process.stderr.isTTY && !process.env.CI;
}

export interface Progress {
  /** The value so far; the payload's fields; the total when it is known only now. */
  update(value: number, payload?: object, total?: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr, or a no-op. A bar whose total is not known yet
 * (0) is not drawn until it is, so it never starts full (cli-progress draws
 * 0 of 0 as complete). Values are bytes, or plain counts.
 */
export function progressBar(enabled: boolean, format: string, total: number, payload: object = {}, unit: "bytes" | "count" = "bytes"): Progress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
      formatValue: (v, _o, type) => (unit === "bytes" && (type === "value" || type === "total") ? formatBytes(v) : String(v)),
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let last = { total, payload };
  const start = () => {
    started = true;
    bar.start(last.total, 0, last.payload);
  };
  // A bar with no total to show (a backup's running count) starts at once.
  if (total > 0 || !/\{(bar|total|percentage|eta)\}/.test(format)) start();
  return {
    update(value, p, newTotal) {
      if (newTotal !== undefined && newTotal !== last.total) {
        last = { ...last, total: newTotal };
        if (started) bar.setTotal(newTotal);
      }
      if (p) last = { ...last, payload: { ...last.payload, ...p } };
      if (!started && last.total > 0) start();
      if (started) bar.update(value, p);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
