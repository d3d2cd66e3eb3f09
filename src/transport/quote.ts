// POSIX sh quoting, for what is sent to a server's shell and for commands
// cairn shows a user to paste. Kept apart from ssh.ts so showing a command
// does not load ssh2.

/** POSIX sh single-quoting: the result is one word, taken literally. */
export function quoteArg(s: string): string {
  if (/^[A-Za-z0-9_\/.,:=+@%^-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
