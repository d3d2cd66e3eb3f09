// The pull request's title and body. GitHub refuses a body over 65,536
// characters, so the file list is cut to fit with a note; it shows no diff
// over 1 MB in all or 500 KB for one file, so the body says when that is so.
import type { Review } from "./review.ts";

export const BODY_LIMIT = 65536;
export const DIFF_LIMIT = 1_000_000;
export const FILE_DIFF_LIMIT = 500_000;

export function title(r: Review): string {
  const hosts = [...new Set(r.commits.map((c) => c.host))];
  return `Settings changed on ${hosts.join(", ") || "the server"}`;
}

export function body(r: Review, where: { base: string; branch: string }): string {
  const latest = r.commits[0];
  const added = r.files.reduce((n, f) => n + f.added, 0);
  const removed = r.files.reduce((n, f) => n + f.removed, 0);
  const head = [
    `Settings files changed on the server since \`${where.base}\`. cairn records them from each backup: values that look secret are replaced by \`<redacted:hmac:…>\`, a keyed fingerprint that changes when the value changes; the value itself is only in the encrypted snapshot.`,
    "",
    latest ? `Latest: snapshot \`${latest.snapshot}\` of **${latest.host}**, ${latest.time}. The unredacted files: \`cairn restore ${latest.snapshot} --source NAME --target ./restored\`.` : "",
    "",
    `**${r.files.length} file${r.files.length === 1 ? "" : "s"} changed**, ${added} line${added === 1 ? "" : "s"} added, ${removed} removed.`,
    "",
  ];
  const notes: string[] = [];
  if (r.diffBytes > DIFF_LIMIT) notes.push(`> [!NOTE]\n> This diff is ${kb(r.diffBytes)}: GitHub shows at most 1 MB of a pull request's diff. Read it with \`git log -p ${where.base}..${where.branch}\`.`);
  const tooBig = [...r.fileDiffBytes].filter(([, n]) => n > FILE_DIFF_LIMIT).map(([p]) => p);
  if (tooBig.length > 0) notes.push(`> [!NOTE]\n> GitHub shows no diff over 500 KB for one file: ${tooBig.map((p) => `\`${p}\``).join(", ")}.`);
  const rows = r.files.map((f) => `| \`${f.path}\` | ${f.status} | +${f.added} −${f.removed} |${r.fileDiffBytes.get(f.path)! > FILE_DIFF_LIMIT ? " diff not shown by GitHub (over 500 KB)" : ""}`);
  const commits = r.commits.slice(0, 50).map((c) => `| ${c.time} | ${c.host} | \`${c.snapshot}\` | ${c.commit.slice(0, 12)} |`);
  const tail = [
    "",
    `<details><summary>${r.commits.length} backup${r.commits.length === 1 ? "" : "s"} in this pull request</summary>`,
    "",
    "| time | host | snapshot | commit |",
    "|---|---|---|---|",
    ...commits,
    ...(r.commits.length > 50 ? [`| … | ${r.commits.length - 50} older | | |`] : []),
    "",
    "</details>",
    "",
    "_Merge to keep this state in the base branch; later changes open a new pull request. Pull requests opened with `GITHUB_TOKEN` start no workflows._",
  ];
  const render = (n: number) => {
    const cut = n < rows.length ? [`| … | ${rows.length - n} more files not listed: GitHub limits a pull request body to 65,536 characters | |`] : [];
    return [...head, ...notes, ...(notes.length ? [""] : []), "| file | change | lines |", "|---|---|---|", ...rows.slice(0, n), ...cut, ...tail].join("\n");
  };
  let n = rows.length;
  let text = render(n);
  // Cut whole rows (halving, then one by one) until the body fits.
  while (text.length > BODY_LIMIT && n > 0) {
    n = text.length > 2 * BODY_LIMIT ? Math.floor(n / 2) : n - 1;
    text = render(n);
  }
  return text.length > BODY_LIMIT ? text.slice(0, BODY_LIMIT - 200) + "\n\n…(cut: GitHub limits a pull request body to 65,536 characters)" : text;
}

function kb(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} KB`;
}
