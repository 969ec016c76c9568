/** What a command needs from the process, passed in so commands run in tests without spawning. */
export interface CliIo {
  /** Standard output (reports, JSON). */
  stdout: NodeJS.WritableStream;
  /** Standard error (usage errors, input errors). */
  stderr: NodeJS.WritableStream;
  /** Standard input (for `--rules -`). */
  stdin: NodeJS.ReadableStream;
  /** The process environment, read only by commands that document the variables they use. */
  env: Readonly<Record<string, string | undefined>>;
  /** An abort signal tied to SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** A sub-command: resolves to the process exit code. */
export type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

/** Exit codes shared by all commands. */
export const EXIT = Object.freeze({ ok: 0, drift: 1, usage: 2 });
