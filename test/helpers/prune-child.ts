// A prune in a child process, for the kill test: a local repository whose
// every backend call takes a few milliseconds longer (so a kill at a random
// moment lands anywhere in the prune, not only in node's start-up), each step
// printed as it starts. Usage: node prune-child.ts REPO_PATH IDENTITY_SECRET_HEX
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend } from "../../src/backends/backend.ts";
import { LocalBackend } from "../../src/backends/local.ts";
import { identityFromSecret } from "../../src/engine/crypto/age.ts";
import { prune } from "../../src/engine/prune.ts";
import { Repository } from "../../src/engine/repository/repository.ts";

const [path, secret] = process.argv.slice(2);
const local = new LocalBackend(path);
// Writes and removals take longer: most kills land in the part that changes the repository.
const slow = <A extends unknown[], R>(f: (...a: A) => Promise<R>, ms = 2) => async (...a: A) => {
  await sleep(ms);
  return f(...a);
};
const backend: Backend = {
  properties: local.properties,
  save: slow(local.save.bind(local), 30),
  load: slow(local.load.bind(local)),
  stat: slow(local.stat.bind(local)),
  list: (t, o) => local.list(t, o),
  remove: slow(local.remove.bind(local), 30),
  flush: slow(() => local.flush(), 30),
  isNotExist: (e) => local.isNotExist(e),
  isRetryable: local.isRetryable.bind(local),
};
const repo = await Repository.open(backend, { identities: [identityFromSecret(Buffer.from(secret, "hex"))] });
process.stdout.write("ready\n");
const r = await prune(repo, { onStep: (s) => process.stdout.write(`${s.split(" ").slice(0, 2).join(" ")}\n`) });
process.stdout.write(`done ${JSON.stringify(r)}\n`);
