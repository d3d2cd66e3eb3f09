// cairn key show|add|remove: the recipients, and changing them (a new write key).
import { keyChange, keyShow } from "../app/key.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function keyCmd(op: "show" | "add" | "remove", recipient: string | undefined, flags: GlobalFlags): Promise<void> {
  const settings = await settingsFrom(flags);
  const r = op === "show" ? await keyShow(settings, { signal: cancelSignal }) : await keyChange(settings, { [op]: recipient, signal: cancelSignal });
  if (flags.json) {
    printJson(r);
    return;
  }
  const lines = [`repository ${r.repository}`, `fingerprint ${r.fingerprint}`, `owner       ${r.owner}`, ...r.recipients.map((x) => `recipient   ${x}`)];
  process.stderr.write(lines.join("\n") + "\n");
  if (r.writeKey) {
    process.stderr.write(
      `\nThe recipients changed: runners need the new write key below (the old one now refuses this repository).\n` +
        `Recipients who are not the owner read the repository with CAIRN_REPOSITORY_FINGERPRINT=${r.fingerprint}.\n\n`,
    );
    process.stdout.write(`CAIRN_WRITE_KEY=${r.writeKey}\n`);
  }
}
