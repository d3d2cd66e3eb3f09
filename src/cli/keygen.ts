// cairn keygen: a standard age identity, in age-keygen's file format.
import { writeFile } from "node:fs/promises";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { UsageError } from "../errors.ts";
import { printJson } from "./output.ts";

export async function keygen(opts: { output?: string; json?: boolean }): Promise<void> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const text = `# created: ${created}\n# public key: ${recipient}\n${identity}\n`;
  if (opts.output) {
    try {
      await writeFile(opts.output, text, { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${opts.output} exists; not overwriting an identity`);
      throw err;
    }
    if (opts.json) printJson({ recipient, file: opts.output });
    else process.stderr.write(`Public key: ${recipient}\n`);
  } else if (opts.json) printJson({ recipient, identity });
  else {
    process.stderr.write(`Public key: ${recipient}\n`);
    process.stdout.write(text);
  }
}
