// Shared by every source that streams a command's stdout (sqlite, pg_dump,
// mysqldump, a user's command): stream it, and fail if the command fails, so a
// cut-off dump never becomes a complete-looking snapshot.
import { ConnectionError, SourceError } from "../errors.ts";
import type { ExecOptions, ExecResult, Transport } from "../transport/transport.ts";

/** Lines a dump script writes to stderr to report what it did; kept out of error messages. */
export const INFO_PREFIX = "cairn-info\t";

export async function* streamCommand(
  transport: Transport,
  argv: string[],
  what: string,
  options: ExecOptions = {},
  mask: string[] = [],
  onResult?: (result: ExecResult) => void,
): AsyncGenerator<Buffer> {
  const cmd = transport.exec(argv, options);
  let finished = false;
  try {
    for await (const chunk of cmd.stdout) yield chunk as Buffer;
    const result = await cmd.done;
    finished = true;
    if (result.code !== 0) {
      let stderr = result.stderr
        .split("\n")
        .filter((l) => !l.startsWith(INFO_PREFIX))
        .join("\n")
        .trim();
      for (const secret of mask) if (secret) stderr = stderr.split(secret).join("***");
      const status = result.code === null ? `was killed (${result.signal})` : `exited with code ${result.code}`;
      throw new SourceError(`${what} on ${transport.description} ${status}${stderr ? `:\n${stderr}` : ""}`);
    }
    onResult?.(result);
  } catch (err) {
    // A lost connection or a killed command: say which dump it cut off.
    if (err instanceof SourceError) throw err;
    if (err instanceof ConnectionError) throw new ConnectionError(`${what} on ${transport.description} was cut off: ${err.message}`, err.hint, { cause: err });
    throw new SourceError(`${what} on ${transport.description} was cut off: ${(err as Error).message}`, "nothing was stored; run the backup again", { cause: err });
  } finally {
    if (!finished) cmd.kill();
  }
}

/** The INFO_PREFIX lines of a command's stderr, as [key, ...values]. */
export function infoLines(stderr: string): string[][] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith(INFO_PREFIX))
    .map((l) => l.slice(INFO_PREFIX.length).split("\t"));
}

/** `docker exec -i CONTAINER argv`, passing the named secret variables through from the docker client's environment. */
export function inDocker(container: string | undefined, argv: string[], secretNames: string[] = []): string[] {
  if (!container) return argv;
  return ["docker", "exec", "-i", ...secretNames.flatMap((n) => ["-e", n]), container, ...argv];
}
