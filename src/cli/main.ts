#!/usr/bin/env node
// The cairn CLI: parse flags, call the app layer, print. Errors become exit codes here only.
import { Command, CommanderError, Option } from "commander";
import { ENVIRONMENT } from "../app/settings.ts";
import { CairnError, EXIT_CODES, ExitCode } from "../errors.ts";
import { backup } from "./backup.ts";
import { diff } from "./diff.ts";
import { exportCmd } from "./export.ts";
import { failure, stacks } from "./failure.ts";
import { history } from "./history.ts";
import { forget, prune } from "./forget.ts";
import { init } from "./init.ts";
import { keyCmd } from "./key.ts";
import { keygen } from "./keygen.ts";
import { ls } from "./ls.ts";
import { printError, say, useJsonErrors } from "./output.ts";
import { restore } from "./restore.ts";
import { cancelSignal, handleSignals } from "./signals.ts";
import { snapshots } from "./snapshots.ts";
import { verify } from "./verify.ts";

/** The end of `cairn --help`: the exit-code table and every environment variable, from the tables in code. */
export function helpFooter(): string {
  return [
    "",
    "Exit codes:",
    ...EXIT_CODES.map((r) => `  ${String(r.code).padEnd(4)}${r.meaning}`),
    "",
    "Environment:",
    ...ENVIRONMENT.map(([name, meaning]) => `  ${name.padEnd(Math.max(...ENVIRONMENT.map(([n]) => n.length)) + 2)}${meaning}`),
    "",
  ].join("\n");
}

function program(json: boolean): Command {
  const p = new Command("cairn")
    .description("Encrypted, deduplicated backups of a server's databases and settings.")
    .option("--debug", "on an unexpected error, print its stack trace")
    .addHelpText("after", helpFooter())
    .exitOverride();
  // With --json a failure is one JSON object on stderr (printed by main), not commander's text.
  if (json) p.configureOutput({ writeErr: () => {} });
  else p.showHelpAfterError();
  const repoOpt = () => new Option("-r, --repo <url>", "repository URL: local:/srv/backups/cairn, git:URL[#BRANCH], github:OWNER/REPO[#BRANCH], or artifacts:NAME (GitHub Actions artifacts)");
  const cfgOpt = () => new Option("-c, --config <file>", "config file (default: ./cairn.yml)");
  const idOpt = () => new Option("-i, --identity <file>", "age identity file (or CAIRN_IDENTITY)");
  const wkOpt = () => new Option("--write-key-file <file>", "file holding the write key (or CAIRN_WRITE_KEY)");
  const jsonOpt = () => new Option("--json", "machine-readable output");
  const retryLockOpt = () => new Option("--retry-lock <duration>", "wait up to DURATION (30s, 5m, 1h) for another run's lock to go, instead of failing at once");
  const retentionOpt = () => new Option("--retention-days <days>", "artifacts: days the artifacts written are kept, 1-400 (or CAIRN_RETENTION_DAYS; default: the repository's maximum)");

  p.command("keygen")
    .description("make an age identity (same format as age-keygen)")
    .option("-o, --output <file>", "write it to FILE (mode 0600) instead of stdout")
    .addOption(jsonOpt())
    .action((o) => keygen(o));
  p.command("init")
    .description("create a repository owned by the identity given, and print its write key")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .option("--recipient <age1...>", "another age recipient data is encrypted to, besides the owner's (repeatable)", (v: string, acc: string[]) => [...acc, v], [])
    .addOption(new Option("--pack-size <bytes>", "target pack file size").argParser((v) => parseSize(v)))
    .addOption(new Option("--write-key-file <file>", "make a copy of the repository this write key was made for (its config travels in the key): no identity needed, nothing secret printed"))
    .addOption(retentionOpt())
    .addOption(jsonOpt())
    .action((o) => init(o));
  const key = p.command("key").description("show or change who data is encrypted to (the recipients)");
  key
    .command("show")
    .description("show the owner, the recipients and the repository fingerprint")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .addOption(jsonOpt())
    .action((o) => keyCmd("show", undefined, o));
  for (const op of ["add", "remove"] as const) {
    key
      .command(op)
      .description(`${op} a recipient (needs the owner's identity; prints a new write key)`)
      .argument("<recipient>", "age1... recipient")
      .addOption(repoOpt())
      .addOption(cfgOpt())
      .addOption(idOpt())
      .addOption(jsonOpt())
      .action((r, o) => keyCmd(op, r, o));
  }
  p.command("backup")
    .description("back up the config's sources into a new snapshot")
    .addOption(
      new Option("-r, --repo <url>", "repository URL (repeat for several: each gets a complete snapshot)").argParser((v: string, acc: string[] | undefined) => [...(acc ?? []), v]),
    )
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--full", "store every chunk afresh in new packs (a self-contained snapshot)")
    .addOption(retryLockOpt())
    .addOption(retentionOpt())
    .option("--time <time>", 'the snapshot\'s time instead of now, "YYYY-MM-DD HH:MM:SS" (local) or ISO 8601 (imports, tests; as restic\'s --time)')
    .addOption(jsonOpt())
    .action((o) => backup(o));
  const count = (what: string) => new Option(`--keep-${what} <n>`, `keep the newest snapshot of each of the last N ${what === "last" ? "snapshots" : `${what.replace(/ly$/, "").replace(/dai$/, "day")}s`}`).argParser(parseCount);
  p.command("forget")
    .description("remove snapshots by a retention policy (per host and set of sources; restic's rules), and with --prune their data")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .addOption(new Option("--keep-last <n>", "keep the N newest snapshots").argParser(parseCount))
    .addOption(count("hourly"))
    .addOption(count("daily"))
    .addOption(count("weekly"))
    .addOption(count("monthly"))
    .addOption(count("yearly"))
    .option("--keep-within <duration>", "keep every snapshot newer than this before the latest one: 30d, 12h, 1y6m (y, m months, d, h)")
    .option("--dry-run", "print what would be kept and removed, and why; remove nothing")
    .option("--prune", "then remove the data no remaining snapshot needs (as cairn prune)")
    .addOption(jsonOpt())
    .addHelpText("after", "\nWithout --keep-* flags the policy is cairn.yml's retention:. An empty policy removes nothing.\nThe seeds' policy: --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 2")
    .action((o) => forget(o));
  p.command("prune")
    .description("remove the data no snapshot needs: packs of forgotten snapshots, packs an interrupted backup left, unused list files")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--dry-run", "say what would be removed; remove nothing")
    .addOption(jsonOpt())
    .action((o) => prune(o));
  p.command("snapshots")
    .description("list snapshots")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .addOption(retryLockOpt())
    .addOption(jsonOpt())
    .action((o) => snapshots(o));
  p.command("restore")
    .description("restore a snapshot into a folder (--target), or back onto the server (--to-server)")
    .argument("<snapshot>", "snapshot ID (or a unique prefix), or latest")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .option("--target <dir>", "folder to restore into")
    .option("--to-server", "put the sources back on the server cairn.yml names: uploaded, checked, then swapped in; the current data is kept (dated)")
    .option("--source <name>", "only this source (latest: the latest snapshot that has it)")
    .option("--include <glob>", "--target: only files matching GLOB (repeatable): config.json, 'settings/**/*.env'; a folder takes what is in it", (v: string, acc: string[]) => [...acc, v], [])
    .option("--overwrite", "--target: replace files that already exist in the target (otherwise refused, naming them)")
    .addOption(retryLockOpt())
    .option("--dry-run", "--to-server: print what would happen; change nothing")
    .option("--database <name>", "--to-server: load a PostgreSQL/MySQL source into this database (created if missing)")
    .option("--replace", "--to-server: replace the data of PostgreSQL/MySQL databases that exist (each kept under a dated name)")
    .addHelpText(
      "after",
      [
        "",
        "Onto the server (--to-server), per source kind:",
        "  sqlite    uploaded beside the database under a temporary name, checked there with",
        "            PRAGMA integrity_check, then cairn.yml's restore: stop hook runs, the current",
        "            file is kept as FILE.before-restore-TIME, the upload is renamed over it, and",
        "            the start hook runs. Any failure before the rename leaves the server as it was.",
        "  files     each file uploaded beside its target and renamed over it, with its mode and",
        "            mtime; the current version kept as FILE.before-restore-TIME. Only paths the",
        "            source's patterns in cairn.yml name are written.",
        "  postgres  a missing database is created and loaded; an existing one only with --replace:",
        "  mysql     loaded into a temporary database first, then the current one is renamed to",
        "            NAME_before_TIME (kept) and the restored one takes its name.",
        "  command   not restored onto the server (restore it with --target).",
        "Several sources are all prepared (uploaded and checked, dumps loaded) before the",
        "stop hooks run once; then all are swapped in and the start hooks run once. Any",
        "failure before the last swap puts back what was swapped: the server is as it was.",
        "",
        "  cairn restore latest --to-server --dry-run",
        "  cairn restore latest --to-server --source trading-db",
        "  cairn restore 3f9a1c2e --to-server --source orders --database orders_check",
        "  cairn restore latest --to-server --source orders --replace",
        "  cairn restore latest --to-server --replace                 # everything",
      ].join("\n"),
    )
    .addOption(jsonOpt())
    .action((s, o) => restore(s, o));
  p.command("ls")
    .description("list a snapshot's files, or those at and under PATH (as stored: SOURCE/...)")
    .argument("<snapshot>", "snapshot ID (or a unique prefix), or latest")
    .argument("[path]", "a file or folder in the snapshot, e.g. settings/srv/bot/config")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--source <name>", "only this source (latest: the latest snapshot that has it)")
    .addOption(jsonOpt())
    .action((s, path, o) => ls(s, path, o));
  p.command("verify")
    .description("check the repository's structure, and with --read-data its stored data")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--read-data [percent|n/t]", "also read all packs, a random PERCENT of them, or slice n of t (t scheduled runs read everything)")
    .option("--read-data-subset <n/t|percent>", "the same as --read-data with a value (restic's name)")
    .addOption(retryLockOpt())
    .option("--max-age <duration>", "fail (exit 3) when the newest snapshot is older than this, e.g. 26h, 2d: backups have stopped")
    .addOption(jsonOpt())
    .action((o) => verify(o));
  p.command("export")
    .description("write a snapshot as one .tar.zst.age file")
    .argument("<snapshot>", "snapshot ID (or a unique prefix), or latest")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .requiredOption("-o, --output <file>", "output file")
    .option("--source <name>", "only this source (latest: the latest snapshot that has it)")
    .option("--force", "replace the output file if it exists (otherwise refused)")
    .addOption(retryLockOpt())
    .option("--owners", "keep each file's uid and gid from the snapshot (otherwise 0 and 0, which tar x as root applies)")
    .addOption(jsonOpt())
    .action((s, o) => exportCmd(s, o));
  p.command("history")
    .description("list the settings history's changes (cairn.yml's history:): time, host, snapshot, files")
    .addOption(cfgOpt())
    .option("--source <name>", "only this source's files")
    .addOption(jsonOpt())
    .action((o) => history(o));
  p.command("diff")
    .description("files added, removed and changed between two snapshots; with the identity, the redacted text diff of files sources")
    .argument("<a>", "the earlier snapshot: ID (or a unique prefix), or latest")
    .argument("<b>", "the later snapshot")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--source <name>", "only this source")
    .addOption(jsonOpt())
    .action((a, b, o) => diff(a, b, o));
  return p;
}

function parseCount(v: string): number {
  if (!/^\d+$/.test(v.trim())) throw new CairnError(`invalid count ${JSON.stringify(v)} (a whole number of snapshots)`, ExitCode.usage);
  return Number(v);
}

function parseSize(v: string): number {
  const m = /^(\d+)([kmg]i?b?)?$/i.exec(v.trim());
  if (!m) throw new CairnError(`invalid size ${JSON.stringify(v)} (e.g. 16MiB)`, ExitCode.usage);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").charAt(0).toLowerCase() as ""];
  return Number(m[1]) * mult;
}

/** A flag given before any "--". */
function given(argv: string[], flag: string): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes(flag);
}

export async function main(argv: string[]): Promise<number> {
  const json = given(argv, "--json");
  const debug = given(argv, "--debug");
  useJsonErrors(json);
  try {
    await program(json).parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return ExitCode.ok; // --help, --version
      // commander has printed its message (and the help) as text already.
      if (json) printError({ code: ExitCode.usage, message: err.message.replace(/^error: /, ""), hint: "see cairn --help" });
      return ExitCode.usage;
    }
    const e = failure(err, cancelSignal);
    printError({ code: e.exitCode, message: e.message, hint: e.hint }, debug ? stacks(err) : undefined);
    return e.exitCode;
  }
}

/** A failure nothing awaited (a bug): said as one, never as a bare stack trace. */
function crash(err: unknown): void {
  const e = failure(err);
  printError({ code: e.exitCode, message: e.message, hint: e.hint }, given(process.argv, "--debug") ? stacks(err) : undefined);
  process.exit(e.exitCode);
}
process.on("uncaughtException", crash);
// While a cancelled run cleans up, a stray rejection from what it stopped is expected: let the cleanup finish.
process.on("unhandledRejection", (err) => {
  if (!cancelSignal.aborted) crash(err);
});
handleSignals((m) => say("info", m));

// `cairn snapshots | head` closes stdout early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
const code = await main(process.argv.slice(2));
// A cancelled run has cleaned up; nothing left running (a stalled dump) may keep it from exiting.
if (code === ExitCode.cancelled) process.exit(code);
process.exitCode = code;
