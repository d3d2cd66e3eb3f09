// Choosing a snapshot's files by path, as restic's `ls PATH` and
// `restore --include PATTERN`: a path prefix (a folder and everything in it),
// or a glob (* and ? within one name, ** across folders, [..]). A glob
// without a leading "/" matches at any depth, so "config.json" finds
// settings/srv/bot/config/config.json; a glob that matches a folder takes
// everything under it.
import type { SnapshotEntry } from "./snapshot.ts";

function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += "[" + glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether a snapshot path ("settings/srv/bot/.env") matches a glob: the whole path or any run of its names, a folder including what is under it. */
export function matchesGlob(path: string, glob: string): boolean {
  const names = path.split("/");
  const anchored = glob.startsWith("/");
  const re = globRegExp(anchored ? glob.slice(1) : glob.replace(/\/$/, ""));
  for (let i = 0; i < (anchored ? 1 : names.length); i++) {
    for (let j = i + 1; j <= names.length; j++) if (re.test(names.slice(i, j).join("/"))) return true;
  }
  return false;
}

/** The entries at or under a path (a file, or a folder's files), as `restic ls SNAPSHOT PATH`. */
export function underPath(entries: SnapshotEntry[], path: string): SnapshotEntry[] {
  const p = path.replace(/^\/+|\/+$/g, "");
  if (p === "") return entries;
  return entries.filter((e) => e.path === p || e.path.startsWith(p + "/"));
}
