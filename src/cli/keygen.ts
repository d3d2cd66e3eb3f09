// cairn keygen: a standard age identity, in age-keygen's file format.
import { keygen as makeIdentity, writeIdentity } from "../app/keygen.ts";
import { printJson } from "./output.ts";

export async function keygen(flags: { output?: string; json?: boolean }): Promise<void> {
  const id = await makeIdentity();
  if (flags.output) {
    await writeIdentity(flags.output, id);
    if (flags.json) printJson({ recipient: id.recipient, file: flags.output });
    else process.stderr.write(`Public key: ${id.recipient}\n`);
  } else if (flags.json) printJson({ recipient: id.recipient, identity: id.identity });
  else {
    process.stderr.write(`Public key: ${id.recipient}\n`);
    process.stdout.write(id.text);
  }
}
