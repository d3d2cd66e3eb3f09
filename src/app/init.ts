// Init: a new repository for the recipients, and its write key (shown once).
import { openBackend } from "../backends/open.ts";
import { Repository } from "../engine/repository/repository.ts";
import { ExitCode, fromSystemError, isSystemError } from "../errors.ts";
import { parseWriteKey } from "../engine/crypto/keys.ts";
import { requireRepository, requireWriteKey, type Settings } from "./settings.ts";

export interface InitRequest {
  recipients: string[];
  packSize?: number;
  /** Use the settings' write key (made before, kept as a secret) instead of drawing a new one. */
  existingWriteKey?: boolean;
  signal?: AbortSignal;
}

export interface InitReport {
  repository: string;
  id: string;
  recipients: string[];
  /** The write key's text: the only time it is shown. */
  writeKey: string;
}

export async function init(settings: Settings, req: InitRequest): Promise<InitReport> {
  const url = requireRepository(settings);
  let made;
  try {
    const existing = req.existingWriteKey ? parseWriteKey(requireWriteKey(settings).text) : undefined;
    made = await Repository.init(openBackend(url, { signal: req.signal, github: settings.github }), req.recipients, req.packSize, existing);
  } catch (err) {
    // The path the user named is wrong (a file in the way, no permission): say so, as a usage error.
    if (isSystemError(err)) throw fromSystemError(err, `create a repository at ${url}${err.path && !url.endsWith(err.path) ? ` (${err.path})` : ""}`, ExitCode.usage);
    throw err;
  }
  const { repo, writeKey } = made;
  return { repository: url, id: repo.config.id, recipients: repo.config.recipients, writeKey };
}
