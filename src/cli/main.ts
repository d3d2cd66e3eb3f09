#!/usr/bin/env node
// The cairn CLI: parse flags, call the app layer, print. Errors become exit codes here only.
import { Command, CommanderError, Option } from "commander";
import { ENVIRONMENT } from "../app/settings.ts";
import { CairnError, ExitCode } from "../errors.ts";
import { backup } from "./backup.ts";
import { exportCmd } from "./export.ts";
import { init } from "./init.ts";
import { keygen } from "./keygen.ts";
import { restore } from "./restore.ts";
import { snapshots } from "./snapshots.ts";
import { verify } from "./verify.ts";

const EXIT_CODES = `
Exit codes:
  0   ok
  1   runtime error (a source failed, a backend failed)
  2   usage or config error
  3   integrity problem found (verify, restore)
  10  repository not found
  11  repository locked
  12  no key matches (wrong identity or write key)

Environment:
${ENVIRONMENT.map(([name, meaning]) => `  ${name.padEnd(24)}${meaning}`).join("\n")}
`;

function program(): Command {
  const p = new Command("cairn")
    .description("Encrypted, deduplicated backups of a server's databases and settings.")
    .addHelpText("after", EXIT_CODES)
    .showHelpAfterError()
    .exitOverride();
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
    .description("create a repository and print its write key")
    .addOption(repoOpt())
    .addOption(cfgOpt())
    .requiredOption("--recipient <age1...>", "age recipient data is encrypted to (repeatable)", (v: string, acc: string[]) => [...acc, v], [])
    .addOption(new Option("--pack-size <bytes>", "target pack file size").argParser((v) => parseSize(v)))
    .addOption(jsonOpt())
    .action((o) => init(o));
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

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof CairnError) {
      process.stderr.write(`cairn: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ""}`);
      return err.exitCode;
    }
    process.stderr.write(`cairn: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.runtime;
  }
}

// `cairn snapshots | head` closes stdout early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
const code = await main(process.argv.slice(2));
process.exitCode = code;
