// Recipients: who data is encrypted to. Showing them needs any key; changing
// them needs the owner's identity, and gives a new write key (the old one
// refuses the changed config, so a runner never encrypts to recipients its
// key does not name).
import { withLock } from "../engine/repository/lock.ts";
import { encodeRecipient, parseRecipient } from "../engine/crypto/age.ts";
import { UsageError } from "../errors.ts";
import { openRepository } from "./repository.ts";
import { requireRepository, type Settings } from "./settings.ts";

export interface KeyReport {
  repository: string;
  owner: string;
  recipients: string[];
  fingerprint: string;
  /** Set when the recipients changed: the write key for the new config. */
  writeKey?: string;
}

export async function keyShow(settings: Settings, req: { signal?: AbortSignal } = {}): Promise<KeyReport> {
  const repo = await openRepository(settings, "write", req.signal);
  return { repository: repo.backend.properties.location, owner: repo.config.owner, recipients: repo.config.recipients, fingerprint: repo.fingerprint };
}

export async function keyChange(settings: Settings, req: { add?: string; remove?: string; signal?: AbortSignal }): Promise<KeyReport> {
  // Artifacts keep a copy of the config in each run and refuse copies that differ: it cannot be replaced.
  if (requireRepository(settings).startsWith("artifacts:")) {
    throw new UsageError("the recipients of an artifacts: repository cannot change (each run keeps a copy of its config, and copies must agree)", "make a new repository with `cairn init` for the new recipients");
  }
  const repo = await openRepository(settings, "identity", req.signal);
  let recipients = repo.config.recipients;
  if (req.add) {
    const r = encodeRecipient(parseRecipient(req.add));
    if (recipients.includes(r)) throw new UsageError(`${r} is already a recipient`);
    recipients = [...recipients, r];
  }
  if (req.remove) {
    const r = req.remove.trim();
    if (r === repo.config.owner) throw new UsageError("the owner's recipient cannot be removed", "make a new repository with another owner");
    if (!recipients.includes(r)) throw new UsageError(`${r} is not a recipient`, "list them with `cairn key show`");
    recipients = recipients.filter((x) => x !== r);
  }
  const changed = await withLock(repo, true, () => repo.changeRecipients(recipients));
  return { repository: repo.backend.properties.location, owner: changed.repo.config.owner, recipients: changed.repo.config.recipients, fingerprint: changed.repo.fingerprint, writeKey: changed.writeKey };
}
