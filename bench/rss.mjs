// Runs the CLI given as argv[2] with the rest as its arguments, and prints the
// process's peak RSS (MiB) to stderr on exit: `node bench/rss.mjs dist/cli.js backup ...`.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [cli, ...args] = process.argv.slice(2);
process.argv = [process.argv[0], cli, ...args];
process.on("exit", () => {
  process.stderr.write(`peak-rss-mib ${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`);
});
await import(pathToFileURL(resolve(cli)).href);
