// Opening the repository the settings name, with the key the operation needs.
import { openBackend } from "../backends/open.ts";
import { NoKeyError, UsageError } from "../errors.ts";
import { parseIdentityFile } from "../engine/crypto/age.ts";
import { parseWriteKey } from "../engine/crypto/keys.ts";
import { Repository, type Credentials } from "../engine/repository/repository.ts";
import { requireRepository, type Settings } from "./settings.ts";

/**
 * The identity (reads everything) if given, else the write key; `need` says
 * what the operation needs. No key at all is a usage error (2); a write key
 * where the identity is needed is the wrong key (12).
 */
export function credentials(settings: Settings, need: "identity" | "write"): Credentials {
  if (settings.identity) return { identities: parseIdentityFile(settings.identity.text), fingerprint: settings.repositoryFingerprint };
  if (need === "identity") {
    const message = "this command reads backed-up data and needs the age identity";
    const hint = "pass -i FILE or set CAIRN_IDENTITY (the key text)";
    throw settings.writeKey ? new NoKeyError(`${message}; the write key cannot read it`, hint) : new UsageError(`${message}; none was given`, hint);
  }
  if (!settings.writeKey) {
    throw new UsageError("no key given", "set CAIRN_WRITE_KEY (printed by `cairn init`), pass --write-key-file FILE, or give the identity with -i FILE");
  }
  return { writeKey: parseWriteKey(settings.writeKey.text) };
}

/** The repository, whose every backend call is cancelled with `signal` (the run's). */
export async function openRepository(settings: Settings, need: "identity" | "write", signal?: AbortSignal): Promise<Repository> {
  const backend = openBackend(requireRepository(settings), { signal, github: settings.github });
  // A missing repository is the first thing to say, before any missing key.
  await Repository.exists(backend);
  const repo = await Repository.open(backend, credentials(settings, need));
  repo.lockWait = { ms: settings.retryLockMs, signal };
  return repo;
}
