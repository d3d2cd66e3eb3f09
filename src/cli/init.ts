// cairn init: create a repository for the recipients; print the write key once.
import { openBackend } from "../backends/open.ts";
import { Repository } from "../engine/repository/repository.ts";
import { printJson } from "./output.ts";
import { readConfig, repositoryUrl, type GlobalOptions } from "./settings.ts";

export async function init(opts: GlobalOptions & { recipient: string[]; packSize?: number }): Promise<void> {
  const url = repositoryUrl(opts, await readConfig(opts, false));
  const { repo, writeKey } = await Repository.init(openBackend(url), opts.recipient, opts.packSize);
  if (opts.json) {
    printJson({ repository: url, id: repo.config.id, recipients: repo.config.recipients, writeKey });
    return;
  }
  process.stderr.write(
    `Created repository ${repo.config.id} at ${url} for ${opts.recipient.length} recipient(s).\n` +
      `The write key below backs up, lists and prunes but cannot read backups. It is shown once:\n` +
      `store it as a secret (e.g. the GitHub secret CAIRN_WRITE_KEY). Keep the age identity offline.\n\n`,
  );
  process.stdout.write(`CAIRN_WRITE_KEY=${writeKey}\n`);
}
