// Init: a new repository for the recipients, and its write key (shown once).
import { openBackend } from "../backends/open.ts";
import { Repository } from "../engine/repository/repository.ts";
import { requireRepository, type Settings } from "./settings.ts";

export interface InitRequest {
  recipients: string[];
  packSize?: number;
}

export interface InitReport {
  repository: string;
  id: string;
  recipients: string[];
  /** The write key's text: the only time it is shown. */
  writeKey: string;
}

export async function init(settings: Settings, req: InitRequest): Promise<InitReport> {
  const url = requireRepository(settings);
  const { repo, writeKey } = await Repository.init(openBackend(url, { github: settings.github }), req.recipients, req.packSize);
  return { repository: url, id: repo.config.id, recipients: repo.config.recipients, writeKey };
}
