// Where the CLI reads the environment and flags, once, into typed settings
// for the commands. Nothing deeper reads process.env.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { openBackend } from "../backends/open.ts";
import { loadConfig, type Config } from "../config/config.ts";
import { NoKeyError, UsageError } from "../errors.ts";
import { parseIdentityFile } from "../engine/crypto/age.ts";
import { parseWriteKey } from "../engine/crypto/keys.ts";
import { Repository, type Credentials } from "../engine/repository/repository.ts";

export interface GlobalOptions {
  repo?: string;
  config?: string;
  identity?: string;
  writeKeyFile?: string;
  json?: boolean;
}

export const DEFAULT_CONFIG = "cairn.yml";

export async function readConfig(opts: GlobalOptions, required: boolean): Promise<Config | undefined> {
  const path = opts.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  if (!path) {
    if (required) throw new UsageError(`no config file: pass -c FILE or create ${DEFAULT_CONFIG}`, "see the README's cairn.yml section");
    return undefined;
  }
  return loadConfig(path);
}

export function repositoryUrl(opts: GlobalOptions, config?: Config, env = process.env): string {
  const url = opts.repo ?? env.CAIRN_REPOSITORY;
  if (url) return url;
  if (!config?.repository) throw new UsageError("no repository given", "pass -r local:/path, set CAIRN_REPOSITORY, or set repository: in cairn.yml");
  // A relative local path in cairn.yml is relative to cairn.yml, like the sources.
  const local = /^local:(?!\/)(.+)$/.exec(config.repository);
  return local ? `local:${resolve(config.baseDir, local[1])}` : config.repository;
}

/** Identity (reads everything) if given, else the write key; `need` says what the command needs. */
export async function credentials(opts: GlobalOptions, need: "identity" | "write", env = process.env): Promise<Credentials> {
  let identityText: string | undefined;
  if (opts.identity) {
    try {
      identityText = await readFile(opts.identity, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read identity file ${opts.identity}: ${(err as Error).message}`);
    }
  } else if (env.CAIRN_IDENTITY) identityText = env.CAIRN_IDENTITY;
  if (identityText !== undefined) return { identities: parseIdentityFile(identityText) };
  if (need === "identity") {
    throw new NoKeyError("this command reads backed-up data and needs the age identity", "pass -i FILE or set CAIRN_IDENTITY (the key text)");
  }
  let writeKey: string | undefined;
  if (opts.writeKeyFile) {
    try {
      writeKey = await readFile(opts.writeKeyFile, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read write key file ${opts.writeKeyFile}: ${(err as Error).message}`);
    }
    writeKey = writeKey.replace(/^\s*CAIRN_WRITE_KEY=/, "");
  } else writeKey = env.CAIRN_WRITE_KEY;
  if (!writeKey) {
    throw new NoKeyError("no key given", "set CAIRN_WRITE_KEY (printed by `cairn init`), pass --write-key-file FILE, or give the identity with -i FILE");
  }
  return { writeKey: parseWriteKey(writeKey) };
}

export async function openRepository(opts: GlobalOptions, need: "identity" | "write", config?: Config): Promise<Repository> {
  const backend = openBackend(repositoryUrl(opts, config));
  // A missing repository is the first thing to say, before any missing key.
  await Repository.exists(backend);
  return Repository.open(backend, await credentials(opts, need));
}
