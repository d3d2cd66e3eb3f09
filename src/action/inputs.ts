// The Action's inputs, read once (core.getInput: INPUT_<NAME> variables) into
// the app layer's settings. Every secret input is masked (core.setSecret)
// before anything else happens, so nothing logged later can show it. A bad
// input fails with its name, what is wrong and the form expected, and never
// with a secret's value.
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import * as core from "@actions/core";
import { resolveSettings, type Env, type Settings } from "../app/settings.ts";
import { UsageError } from "../errors.ts";

export const COMMANDS = ["backup", "restore", "verify", "snapshots", "forget", "init"] as const;
export type Command = (typeof COMMANDS)[number];

/** Inputs whose values are secrets: masked first, never shown in a message. */
export const SECRET_INPUTS = ["ssh-key", "ssh-passphrase", "write-key", "identity", "github-token"] as const;

export interface ActionInputs {
  command: Command;
  settings: Settings;
  full: boolean;
  snapshot: string;
  source: string | undefined;
  /** Absolute; restore's folder. */
  target: string;
  /** restore with `target: server`: back onto the server cairn.yml names (restore --to-server). */
  toServer: boolean;
  /** restore onto the server: say what would happen, change nothing. */
  dryRun: boolean;
  /** restore onto the server: replace PostgreSQL/MySQL databases that exist (each kept under a dated name). */
  replace: boolean;
  recipients: string[];
  /** verify: percent of packs to read ("100"), or slice n of t ("3/7"). */
  readData: { percent: number; subset?: string };
  /** verify: fail when the newest snapshot is older than this ("26h"). */
  maxAge: string | undefined;
}

/** An input's value, trimmed; undefined when empty or not given. */
function input(name: string): string | undefined {
  return core.getInput(name) || undefined;
}

function bad(name: string, problem: string, expected: string): UsageError {
  return new UsageError(`input ${name}: ${problem}`, `expected ${expected}`);
}

/**
 * Mask a secret: the whole value, and each line of a multi-line one (the
 * runner masks line by line in what it shows), so a key's body never shows.
 */
export function maskSecret(value: string | undefined): void {
  if (!value) return;
  core.setSecret(value);
  masked.push(value);
  for (const line of value.split(/\r?\n|\\n/)) {
    const l = line.trim();
    // The PEM markers are the same in every key; masking them hides nothing.
    if (l.length >= 8 && l !== value && !/^-----(BEGIN|END) /.test(l)) {
      core.setSecret(l);
      masked.push(l);
    }
  }
  masked.sort((a, b) => b.length - a.length);
}

const masked: string[] = [];

/** Text with every masked value replaced by ***: what this step writes itself (outputs, the summary) passes through it too. */
export function scrub(text: string): string {
  for (const m of masked) text = text.split(m).join("***");
  return text;
}

/** true/false the way YAML writes them (true, True, TRUE...); empty is false. */
function boolean(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (/^(true|yes|on)$/i.test(value)) return true;
  if (/^(false|no|off)$/i.test(value)) return false;
  throw bad(name, `${JSON.stringify(value)} is not true or false`, "true or false");
}

const REPOSITORY_URL = /^(local|git|github|artifacts):\S.*$/;

export async function readInputs(env: Env): Promise<ActionInputs> {
  // First of all: nothing below may log a secret the runner does not know yet.
  for (const name of SECRET_INPUTS) maskSecret(input(name));

  const commandText = input("command") ?? "backup";
  if (!(COMMANDS as readonly string[]).includes(commandText)) {
    throw bad("command", `${JSON.stringify(commandText)} is not a command`, `one of ${COMMANDS.join(", ")}`);
  }
  const command = commandText as Command;
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const inWorkspace = (p: string) => (isAbsolute(p) ? p : resolve(workspace, p));

  const repositories = core
    .getMultilineInput("repository")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  repositories.forEach((url, i) => {
    if (!REPOSITORY_URL.test(url)) {
      // Quoted without any user:password@ part: a mistyped line may still hold a token.
      throw bad("repository", `line ${i + 1}, ${JSON.stringify(url.replace(/\/\/[^/@\s]*@/, "//***@"))}, is not a repository URL`, "one URL per line: local:PATH, git:URL#BRANCH, github:OWNER/REPO or artifacts:NAME");
    }
  });
  // A relative local: path is in the workspace, like the config.
  const urls = repositories.map((u) => u.replace(/^local:(?!\/)(.+)$/, (_, p: string) => `local:${inWorkspace(p)}`));

  const sshKey = input("ssh-key");
  if (sshKey && !/PRIVATE KEY-----/.test(sshKey) && !/PRIVATE KEY-----/.test(sshKey.replace(/\\n/g, "\n"))) {
    throw bad("ssh-key", "the value is not an SSH private key (it has no -----BEGIN ... PRIVATE KEY----- line)", "the whole text of the private key file, from a secret: ssh-key: ${{ secrets.SSH_KEY }}");
  }
  const writeKey = input("write-key");
  if (writeKey && !/^(CAIRN_WRITE_KEY=)?CAIRN-WRITE-KEY-1[0-9A-Za-z]+$/.test(writeKey)) {
    throw bad("write-key", "the value is not a cairn write key", "the CAIRN-WRITE-KEY-1... text `cairn init` printed, from a secret: write-key: ${{ secrets.CAIRN_WRITE_KEY }}");
  }
  const identity = input("identity");
  if (identity && !/AGE-SECRET-KEY-1/.test(identity)) {
    throw bad("identity", "the value is not an age identity (it has no AGE-SECRET-KEY-1... line)", "the text of the key file `cairn keygen` wrote, from a secret in a protected environment");
  }
  const knownHosts = input("known-hosts");
  // Lines are never quoted: a secret pasted into the wrong input must not be shown.
  if (/PRIVATE KEY/.test(knownHosts ?? "")) {
    throw bad("known-hosts", "it holds a private key, not the server's public host key (treat that key as exposed and make a new one)", "lines of `ssh-keyscan -p PORT HOST` output: [HOST]:PORT ssh-ed25519 AAAA...");
  }
  (knownHosts ?? "").split("\n").forEach((line, i) => {
    const l = line.trim();
    if (l && !l.startsWith("#") && l.split(/\s+/).length < 3) {
      throw bad("known-hosts", `line ${i + 1} has ${l.split(/\s+/).length} field(s), not a known_hosts line`, "lines of `ssh-keyscan -p PORT HOST` output: [HOST]:PORT ssh-ed25519 AAAA...");
    }
  });

  const snapshot = input("snapshot") ?? "latest";
  if (snapshot !== "latest" && !/^[0-9a-f]{4,64}$/.test(snapshot)) {
    throw bad("snapshot", `${JSON.stringify(snapshot)} is not a snapshot ID`, "latest, or an ID (at least 4 hex digits) from the snapshots command");
  }
  const recipients = core
    .getMultilineInput("recipient")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  for (const r of recipients) {
    if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r)) throw bad("recipient", `${JSON.stringify(r)} is not an age recipient`, "age1... (the public key `cairn keygen` prints), one per line");
  }
  if (command === "init" && !writeKey) {
    throw bad(
      "write-key",
      "init needs a write key made beforehand (a key made here would have to be printed in the log, where everyone who reads the repository sees it)",
      "the CAIRN-WRITE-KEY-1... text from `cairn init` run on your machine, kept as a secret (see the README's setup section)",
    );
  }

  // The runner fills the default (cairn.yml); a missing default file matters only to a backup.
  const configInput = input("config") ?? "cairn.yml";
  const configPath = inWorkspace(configInput);
  if (!existsSync(configPath) && (command === "backup" || configInput !== "cairn.yml")) {
    throw bad("config", `${configInput} does not exist in the workspace (${workspace})`, "the path of cairn.yml in your repository, after an actions/checkout step");
  }

  const settings = await resolveSettings(
    {
      config: existsSync(configPath) ? configPath : undefined,
      repository: urls,
      identity,
      writeKey: writeKey?.replace(/^CAIRN_WRITE_KEY=/, ""),
      sshKey,
      sshPassphrase: input("ssh-passphrase"),
      knownHosts,
      hostFingerprint: input("host-fingerprint"),
      githubToken: input("github-token"),
      retentionDays: input("retention-days"),
      // Unattended runs wait a while for another run's conflicting lock (a prune from a laptop) rather than fail at once.
      retryLock: "10m",
    },
    env,
  );
  // Database passwords and command secrets come from the step's env: (named in cairn.yml); mask them too.
  for (const v of Object.values(settings.secrets)) maskSecret(v);

  return {
    command,
    settings,
    full: boolean("full", input("full")),
    snapshot,
    source: input("source"),
    target: inWorkspace(input("target") === "server" ? "cairn-restore" : (input("target") ?? (command === "restore" && !identity ? "cairn-download" : "cairn-restore"))),
    toServer: input("target") === "server",
    dryRun: boolean("dry-run", input("dry-run")),
    replace: boolean("replace", input("replace")),
    recipients,
    readData: readDataInput(input("read-data")),
    maxAge: durationInput("max-age", input("max-age")),
  };
}

/** read-data: a percent of packs (default 100: every pack), or slice n of t ("3/7": t scheduled runs read everything). */
function readDataInput(value: string | undefined): { percent: number; subset?: string } {
  if (value === undefined) return { percent: 100 };
  const slice = /^(\d+)\/(\d+)$/.exec(value);
  if (slice && +slice[1] >= 1 && +slice[1] <= +slice[2]) return { percent: 0, subset: value };
  if (/^\d+(\.\d+)?$/.test(value) && +value <= 100) return { percent: +value };
  throw bad("read-data", `${JSON.stringify(value)} is neither a percent nor a slice`, "a percent of packs to read (0-100; 0: structure only) or a slice n/t, e.g. 3/7 (with n from 1 to t)");
}

function durationInput(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+[smhdw]$/.test(value)) throw bad(name, `${JSON.stringify(value)} is not a duration`, "a number and a unit: 26h, 2d, 1w, 90m");
  return value;
}
