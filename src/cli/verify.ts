// cairn verify: structure, and with --read-data the stored bytes.
import { verify as runVerify } from "../app/verify.ts";
import { IntegrityError, UsageError } from "../errors.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { printJson, progressBar, showProgress } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function verify(flags: GlobalFlags & { readData?: boolean | string; readDataSubset?: string; maxAge?: string }): Promise<void> {
  // --read-data takes a percentage or a slice n/t; --read-data-subset (restic's name) the same.
  const given = flags.readDataSubset ?? flags.readData;
  const subset = typeof given === "string" && given.includes("/") ? given : undefined;
  const readData = subset ? 0 : parsePercent(given);
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json) && (readData > 0 || !!subset), "reading packs [{bar}] {value}/{total}", 0, {}, "count");
  let r;
  try {
    r = await runVerify(settings, { readData, subset, maxAge: flags.maxAge, onProgress: (done, total) => bar.update(done, {}, total), signal: cancelSignal });
  } finally {
    bar.stop();
  }
  // A cancelled verify's unread packs are not problems: say cancelled, not damaged.
  cancelSignal.throwIfAborted();
  if (flags.json) printJson(r);
  else {
    process.stdout.write(`recipients: ${r.recipients.join(", ")}\n`);
    for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
    for (const e of r.errors) process.stdout.write(`error: ${e}\n`);
    process.stdout.write(
      `checked ${r.snapshots} snapshot(s), ${r.packs} pack(s)` +
        (r.newest ? `; newest snapshot ${r.newest}` : "") +
        (readData > 0 || subset ? `; read ${r.packsRead} pack(s)${r.decrypted ? `, ${r.chunksChecked} chunk(s) decrypted and checked` : " (checksums only)"}` : "") +
        `: ${r.errors.length === 0 ? "no problems found" : `${r.errors.length} problem(s)`}\n`,
    );
  }
  if (r.errors.length > 0) {
    const expiring = r.errors.some((e) => e.endsWith("it cannot be restored after that"));
    throw new IntegrityError(
      `verify found ${r.errors.length} problem(s)`,
      (expiring ? "a snapshot with an expiring dependency can be restored only until that file expires: back up again now (the next backup stores such data afresh); " : "") +
        "restore from another backend or an earlier snapshot; see the errors above",
    );
  }
}

function parsePercent(v: boolean | string | undefined): number {
  if (v === undefined || v === false) return 0;
  if (v === true) return 100;
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(v);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new UsageError(`--read-data takes a percentage from 1 to 100 or a slice n/t, got ${JSON.stringify(v)}`);
  return n;
}
