#!/usr/bin/env node
// The cairn CLI: parse flags, call the app layer, print. Errors become exit codes here only.
import { Command, CommanderError, Option } from "commander";
import { ENVIRONMENT } from "../app/settings.ts";
import { CairnError, EXIT_CODES, ExitCode } from "../errors.ts";
import { backup } from "./backup.ts";
import { exportCmd } from "./export.ts";
import { failure, stacks } from "./failure.ts";
import { init } from "./init.ts";
import { keyCmd } from "./key.ts";
import { keygen } from "./keygen.ts";
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
  const repoOpt = () => new Option("-r, --repo <url>", "repository URL: local:/srv/backups/cairn, or artifacts:NAME (GitHub Actions artifacts)");
  const cfgOpt = () => new Option("-c, --config <file>", "config file (default: ./cairn.yml)");
  const idOpt = () => new Option("-i, --identity <file>", "age identity file (or CAIRN_IDENTITY)");
  const wkOpt = () => new Option("--write-key-file <file>", "file holding the write key (or CAIRN_WRITE_KEY)");
  const jsonOpt = () => new Option("--json", "machine-readable output");

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
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--full", "store every chunk afresh in new packs (a self-contained snapshot)")
    .addOption(jsonOpt())
    .action((o) => backup(o));
  p.command("snapshots")
    .description("list snapshots")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .addOption(jsonOpt())
    .action((o) => snapshots(o));
  p.command("restore")
    .description("restore a snapshot into a folder")
    .argument("<snapshot>", "snapshot ID (or a unique prefix), or latest")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .requiredOption("--target <dir>", "folder to restore into")
    .option("--source <name>", "only this source")
    .option("--overwrite", "replace files that already exist in the target (otherwise refused, naming them)")
    .addOption(jsonOpt())
    .action((s, o) => restore(s, o));
  p.command("verify")
    .description("check the repository's structure, and with --read-data its stored data")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .addOption(wkOpt())
    .option("--read-data [percent]", "also read all packs, or a random PERCENT of them")
    .addOption(jsonOpt())
    .action((o) => verify(o));
  p.command("export")
    .description("write a snapshot as one .tar.zst.age file")
    .argument("<snapshot>", "snapshot ID (or a unique prefix), or latest")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .addOption(idOpt())
    .requiredOption("-o, --output <file>", "output file")
    .option("--source <name>", "only this source")
    .option("--force", "replace the output file if it exists (otherwise refused)")
    .option("--owners", "keep each file's uid and gid from the snapshot (otherwise 0 and 0, which tar x as root applies)")
    .addOption(jsonOpt())
    .action((s, o) => exportCmd(s, o));
  return p;
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
