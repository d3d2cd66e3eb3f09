// The command source: any command whose stdout is the backup (redis-cli
// --rdb -, a custom exporter). A string runs through `sh -c` on the source
// machine (the user wrote a shell command); a list runs as argv. It fails
// when the command exits non-zero, so a half output is never a snapshot.
import type { Transport } from "../transport/transport.ts";
import { inDocker, streamCommand } from "./stream.ts";
import type { Logger } from "../log.ts";
import { dumpEntry, type Source, type SourceDump } from "./source.ts";

export class CommandSource implements Source {
  readonly kind = "command";
  readonly name: string;
  readonly command: string | string[];
  readonly filename: string;
  readonly container: string | undefined;
  readonly secretEnv: Record<string, string>;
  constructor(name: string, command: string | string[], options: { filename?: string; container?: string; secretEnv?: Record<string, string> } = {}) {
    this.name = name;
    this.command = command;
    this.filename = options.filename ?? `${name}.out`;
    this.container = options.container;
    this.secretEnv = options.secretEnv ?? {};
  }

  argv(): string[] {
    const argv = typeof this.command === "string" ? ["sh", "-c", this.command] : this.command;
    return inDocker(this.container, argv, Object.keys(this.secretEnv));
  }

  dump(transport: Transport, _log: Logger): SourceDump {
    let bytes = 0;
    const argv = this.argv();
    const shown = typeof this.command === "string" ? this.command : this.command.join(" ");
    const what = `the command \`${shown}\` of source ${this.name}${this.container ? ` in container ${this.container}` : ""}`;
    const secretEnv = Object.keys(this.secretEnv).length ? this.secretEnv : undefined;
    const mask = Object.values(this.secretEnv);
    const entry = dumpEntry(`${this.name}/${this.filename}`, async function* () {
        bytes = 0;
        for await (const chunk of streamCommand(transport, argv, what, { secretEnv }, mask)) {
          bytes += chunk.length;
          yield chunk;
        }
    });
    return {
      entries: (async function* () {
        yield entry;
      })(),
      info: () => ({ command: shown, ...(this.container ? { container: this.container } : {}), bytes }),
    };
  }
}
