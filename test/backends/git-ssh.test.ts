// The conformance suite for the git backend against a bare repository reached
// over the test sshd (ssh://, the test host key pinned in a known_hosts file,
// StrictHostKeyChecking=yes), and every file type's round trip through it
// (git-remote.test.ts runs the whole suite that way on a local bare repository).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GitBackend, parseGitUrl } from "../../src/backends/git.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";
import { roundTrip } from "./git-through.ts";
import { backendSuite } from "./suite.ts";

if (!haveSshd() && process.env.CI) throw new Error("sshd is missing: the SSH tests cannot be skipped under CI");

let fixture: SshFixture;
let sshd: Sshd;
let dir: string;
let sshCommand: string;
const saved = process.env.GIT_SSH_COMMAND;

before(async () => {
  fixture = new SshFixture();
  sshd = await fixture.start();
  dir = mkdtempSync(join(tmpdir(), "cairn-gitssh-"));
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, sshd.knownHosts() + "\n");
  // git reads GIT_SSH_COMMAND from the environment it inherits (as a user's would);
  // one shared connection keeps the many short git commands quick.
  sshCommand = [
    "ssh", "-F", "/dev/null", "-i", fixture.clientKeys.ed25519.path, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
    "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes",
    "-o", "ControlMaster=auto", "-o", `ControlPath=${join(dir, "cm-%C")}`, "-o", "ControlPersist=60",
  ].join(" ");
  process.env.GIT_SSH_COMMAND = sshCommand;
});
after(async () => {
  try {
    execFileSync("sh", ["-c", `${sshCommand} -O exit -p ${sshd.port} ${fixture.user}@127.0.0.1`], { stdio: "ignore" });
  } catch {
    // no master left
  }
  if (saved === undefined) delete process.env.GIT_SSH_COMMAND;
  else process.env.GIT_SSH_COMMAND = saved;
  sshd?.child.kill();
  rmSync(dir, { recursive: true, force: true });
  fixture?.cleanup();
});

let remotes = 0;
function bareOverSsh(): { remote: string; url: string } {
  const remote = join(dir, `remote-${++remotes}.git`);
  execFileSync("git", ["init", "--bare", "-q", remote]);
  return { remote, url: `git:ssh://${fixture.user}@127.0.0.1:${sshd.port}${remote}#backups/main` };
}

backendSuite("git over SSH", async () => {
  const { remote, url } = bareOverSsh();
  const backend = new GitBackend({ remote: parseGitUrl(url, undefined) });
  return { backend, cleanup: async () => (await backend.dispose(), rmSync(remote, { recursive: true, force: true })) };
});

test("over SSH, every file type makes the round trip through the remote: saved, pushed, read by another backend, removed", async () => {
  const { url } = bareOverSsh();
  await roundTrip(() => new GitBackend({ remote: parseGitUrl(url, undefined), pushLimit: 2 << 20 }));
});
