// Keygen: a standard age identity, in age-keygen's file format.
import { writeFile } from "node:fs/promises";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { ExitCode, fromSystemError, isSystemError, UsageError } from "../errors.ts";

export interface NewIdentity {
  recipient: string;
  /** The identity file's text: two comment lines and the AGE-SECRET-KEY-1 line. */
  text: string;
  identity: string;
}

export async function keygen(): Promise<NewIdentity> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return { recipient, identity, text: `# created: ${created}\n# public key: ${recipient}\n${identity}\n` };
}

/** Write an identity file (mode 0600), never over an existing file. */
export async function writeIdentity(path: string, id: NewIdentity): Promise<void> {
  try {
    await writeFile(path, id.text, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${path} exists; not overwriting an identity`, "choose another file name");
    if (isSystemError(err)) throw fromSystemError(err, `write the identity to ${path}`, ExitCode.usage);
    throw err;
  }
}
