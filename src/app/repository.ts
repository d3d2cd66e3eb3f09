// Opening the repository the settings name, with the key the operation needs.
import { openBackend } from "../backends/open.ts";
import { NoKeyError } from "../errors.ts";
import { parseIdentityFile } from "../engine/crypto/age.ts";
import { parseWriteKey } from "../engine/crypto/keys.ts";
import { Repository, type Credentials } from "../engine/repository/repository.ts";
import { requireRepository, type Settings } from "./settings.ts";

/** The identity (reads everything) if given, else the write key; `need` says what the operation needs. */
export function credentials(settings: Settings, need: "identity" | "write"): Credentials {
  if (settings.identity) return { identities: parseIdentityFile(settings.identity.text) };
  if (need === "identity") {
    throw new NoKeyError("this command reads backed-up data and needs the age identity", "pass -i FILE or set CAIRN_IDENTITY (the key text)");
  }
  if (!settings.writeKey) {
    throw new NoKeyError("no key given", "set CAIRN_WRITE_KEY (printed by `cairn init`), pass --write-key-file FILE, or give the identity with -i FILE");
  }
  return { writeKey: parseWriteKey(settings.writeKey.text) };
}

export async function openRepository(settings: Settings, need: "identity" | "write"): Promise<Repository> {
  const backend = openBackend(requireRepository(settings), { github: settings.github });
  // A missing repository is the first thing to say, before any missing key.
  await Repository.exists(backend);
  return Repository.open(backend, credentials(settings, need));
}
