// Shared by every source that streams a command's stdout (sqlite, pg_dump,
// mysqldump, a user's command): stream it, and fail if the command fails, so a
// cut-off dump never becomes a complete-looking snapshot.
import { SourceError } from "../errors.ts";
import type { ExecOptions, Transport } from "../transport/transport.ts";

export async function* streamCommand(
  transport: Transport,
  argv: string[],
  what: string,
  options: ExecOptions = {},
  mask: string[] = [],
): AsyncGenerator<Buffer> {
  const cmd = transport.exec(argv, options);
  let finished = false;
  try {
    for await (const chunk of cmd.stdout) yield chunk as Buffer;
    const result = await cmd.done;
    finished = true;
    if (result.code !== 0) {
      let stderr = result.stderr.trim();
      for (const secret of mask) if (secret) stderr = stderr.split(secret).join("***");
      const status = result.code === null ? `was killed (${result.signal})` : `exited with code ${result.code}`;
      throw new SourceError(`${what} on ${transport.description} ${status}${stderr ? `:\n${stderr}` : ""}`);
    }
  } finally {
    if (!finished) cmd.kill();
  }
}

/** POSIX sh single-quoting, for the rare value that must sit inside a script. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
