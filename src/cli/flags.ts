// The flags every command shares, turned into the app layer's settings.
import { resolveSettings, type Settings } from "../app/settings.ts";

export interface GlobalFlags {
  /** Several for backup (-r repeated): each gets the snapshot. */
  repo?: string | string[];
  config?: string;
  identity?: string;
  writeKeyFile?: string;
  json?: boolean;
  retryLock?: string;
  /** backup, init: days the artifacts written are kept. */
  retentionDays?: string;
}

export function settingsFrom(flags: GlobalFlags): Promise<Settings> {
  return resolveSettings(
    { repository: flags.repo, config: flags.config, identityFile: flags.identity, writeKeyFile: flags.writeKeyFile, retryLock: flags.retryLock, json: flags.json, retentionDays: flags.retentionDays },
    process.env,
  );
}
