// The conformance suite for the git backend with every change pushed before
// the next read and every read from a backend opened afresh on a local bare
// repository: each file makes the round trip through the remote.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitBackend, parseGitUrl } from "../../src/backends/git.ts";
import { ThroughRemote } from "./git-through.ts";
import { backendSuite } from "./suite.ts";

backendSuite("git (local bare repository, every read through the remote)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cairn-gitremote-"));
  const remote = join(dir, "remote.git");
  execFileSync("git", ["init", "--bare", "-q", remote]);
  const open = () => new GitBackend({ remote: parseGitUrl(`git:${remote}#backups/main`, undefined), pushLimit: 2 << 20 });
  const backend = new ThroughRemote(open(), open);
  return { backend, cleanup: async () => (await backend.dispose(), await rm(dir, { recursive: true, force: true })) };
});
