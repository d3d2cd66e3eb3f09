// cairn init: create a repository owned by the identity given; print the write key once.
import { init as runInit } from "../app/init.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function init(flags: GlobalFlags & { recipient: string[]; packSize?: number }): Promise<void> {
  const settings = await settingsFrom(flags);
  // Only the flag reuses a key: a CAIRN_WRITE_KEY left in the environment does not change what init does.
  const existingWriteKey = !!flags.writeKeyFile;
  const r = await runInit(settings, { recipients: flags.recipient, packSize: flags.packSize, existingWriteKey, signal: cancelSignal });
  if (existingWriteKey) {
    if (flags.json) printJson({ repository: r.repository, id: r.id, recipients: r.recipients });
    else process.stderr.write(`Created repository ${r.id} at ${r.repository} for ${r.recipients.length} recipient(s), with the write key in ${flags.writeKeyFile}.\n`);
    return;
  }
  if (flags.json) {
    printJson({ repository: r.repository, id: r.id, owner: r.owner, recipients: r.recipients, fingerprint: r.fingerprint, writeKey: r.writeKey });
    return;
  }
  process.stderr.write(
    `Created repository ${r.id} at ${r.repository} for ${r.recipients.length} recipient(s), owned by ${r.owner}.\n` +
      `Fingerprint ${r.fingerprint} (recipients other than the owner set it as CAIRN_REPOSITORY_FINGERPRINT).\n` +
      `The write key below backs up, lists and verifies but cannot read backups. It is shown once:\n` +
      `store it as a secret (e.g. the GitHub secret CAIRN_WRITE_KEY). Keep the age identity offline.\n\n`,
  );
  process.stdout.write(`CAIRN_WRITE_KEY=${r.writeKey}\n`);
}
