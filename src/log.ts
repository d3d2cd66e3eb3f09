// Where messages go: every layer logs through a Logger it is given, and only
// the front ends (cli/, action/) decide what it prints to.

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = { info: () => {}, warn: () => {} };
