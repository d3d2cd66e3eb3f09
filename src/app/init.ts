// Init: a new repository owned by the identity given, for its recipient and
// any others; prints its write key (shown once) and its fingerprint.
import { openBackend } from "../backends/open.ts";
import { parseIdentityFile } from "../engine/crypto/age.ts";
import { Repository } from "../engine/repository/repository.ts";
import { ExitCode, fromSystemError, isSystemError, UsageError } from "../errors.ts";
import { requireRepository, requireWriteKey, type Settings } from "./settings.ts";

export interface InitRequest {
  /** Recipients besides the owner's. */
  recipients: string[];
  packSize?: number;
  /** Make a copy of the repository the settings' write key was made for (its config travels in the key): no identity, no new key. */
  existingWriteKey?: boolean;
  signal?: AbortSignal;
}

export interface InitReport {
  repository: string;
  id: string;
  /** The owner's recipient: its identity authenticates the repository. */
  owner: string;
  recipients: string[];
  /** What a recipient who is not the owner sets as CAIRN_REPOSITORY_FINGERPRINT. */
  fingerprint: string;
  /** The write key's text: the only time it is shown. */
  writeKey: string;
}

export async function init(settings: Settings, req: InitRequest): Promise<InitReport> {
  const url = requireRepository(settings);
  if (!settings.identity && !req.existingWriteKey) {
    throw new UsageError(
      "init needs the owner's age identity: only its holder can make a repository the identity will trust",
      "pass -i FILE or set CAIRN_IDENTITY (make one with `cairn keygen`); --recipient adds other recipients",
    );
  }
  const owner = settings.identity ? parseIdentityFile(settings.identity.text)[0] : undefined;
  let made;
  try {
    if (req.existingWriteKey) {
      const repo = await Repository.initFromWriteKey(openBackend(url, { signal: req.signal, github: settings.github }), requireWriteKey(settings).text, req.recipients);
      return { repository: url, id: repo.config.id, owner: repo.config.owner, recipients: repo.config.recipients, fingerprint: repo.fingerprint, writeKey: "" };
    }
    made = await Repository.init(openBackend(url, { signal: req.signal, github: settings.github }), owner!, { recipients: req.recipients, packSize: req.packSize });
  } catch (err) {
    // The path the user named is wrong (a file in the way, no permission): say so, as a usage error.
    if (isSystemError(err)) throw fromSystemError(err, `create a repository at ${url}${err.path && !url.endsWith(err.path) ? ` (${err.path})` : ""}`, ExitCode.usage);
    throw err;
  }
  const { repo, writeKey } = made;
  return { repository: url, id: repo.config.id, owner: repo.config.owner, recipients: repo.config.recipients, fingerprint: repo.fingerprint, writeKey };
}
