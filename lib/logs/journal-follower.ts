/**
 * I/O edge: follows one journal directory with `journalctl -o json --follow`, resuming after a
 * saved cursor (or from a look-back time on first start). journalctl streams forever, so it runs
 * as a child process (node:child_process, not execa's buffered mode): bounded by a maximum line
 * size, killed on abort, restarted with backoff when it exits, and never restarted more often
 * than the backoff allows. A missing directory is watched until it appears.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ErrorCode } from '../errors.ts';
import { LineSplitter } from './line-splitter.ts';
import { parseJournalEntry } from './parse-journal-entry.ts';
import type { JournalEntry } from './parse-journal-entry.ts';

/** What a journal follower needs. */
export interface JournalFollowerOptions {
  /** The journalctl binary. */
  command: string;
  /** Journal directory (`-D`). */
  directory: string;
  /** Match arguments (e.g. `-u kubelet -u containerd`, or `_TRANSPORT=kernel`). */
  matches: readonly string[];
  /** Resume after this cursor when set. */
  cursor: string | undefined;
  /** Without a cursor: entries since this time (ms). */
  sinceMs: number;
  maxLineBytes: number;
  /** Wait before restarting journalctl after it exits (doubles up to 60 s, resets after a healthy run). */
  restartBackoffMs: number;
  onEntry: (entry: JournalEntry) => void;
  /** A line that is not a journal entry (cut, garbage). */
  onDecodeError: () => void;
  onProblem: (code: ErrorCode | undefined, message: string, cause?: unknown) => void;
}

/** Follows one journal directory until the signal aborts. */
export class JournalFollower {
  readonly #o: JournalFollowerOptions;
  #cursor: string | undefined;
  #problem: ErrorCode | undefined;

  constructor(options: JournalFollowerOptions) {
    this.#o = options;
    this.#cursor = options.cursor;
  }

  /** The cursor of the last entry handed out (persist it). */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** The journalctl arguments for the next start. */
  args(): string[] {
    const from = this.#cursor === undefined ? ['--since', `@${Math.floor(this.#o.sinceMs / 1000)}`] : ['--after-cursor', this.#cursor];
    return ['-o', 'json', '--follow', '--no-pager', '--no-tail', '-D', this.#o.directory, ...from, ...this.#o.matches];
  }

  /** Runs until aborted; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = this.#o.restartBackoffMs;
    while (!signal.aborted) {
      if (!(await isDirectory(this.#o.directory))) {
        this.#setProblem('DPS_ERR_LOGS_SOURCE_MISSING', `Journal directory ${this.#o.directory} does not exist (yet): watching for it.`);
        await sleep(Math.max(backoff, 1000), undefined, { signal }).catch(() => undefined);
        continue;
      }
      const started = Date.now();
      const result = await this.#runOnce(signal);
      if (signal.aborted) break;
      this.#setProblem('DPS_ERR_LOGS_JOURNAL', `journalctl for ${this.#o.directory} ended (${result}); restarting in ${backoff} ms.`);
      await sleep(backoff, undefined, { signal }).catch(() => undefined);
      backoff = Date.now() - started > 60_000 ? this.#o.restartBackoffMs : Math.min(backoff * 2, 60_000);
    }
  }

  // One journalctl process: resolves with how it ended.
  #runOnce(signal: AbortSignal): Promise<string> {
    return new Promise((resolve) => {
      const child = spawn(this.#o.command, this.args(), { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGTERM' });
      const splitter = new LineSplitter({ maxLineBytes: this.#o.maxLineBytes });
      let stderr = '';
      let healthy = false;
      child.stdout.on('data', (chunk: Buffer) => {
        for (const line of splitter.push(chunk)) {
          const entry = line.truncated ? undefined : parseJournalEntry(line.text);
          if (entry === undefined) {
            this.#o.onDecodeError();
            continue;
          }
          if (!healthy) {
            healthy = true;
            this.#setProblem(undefined, '');
          }
          this.#cursor = entry.cursor;
          this.#o.onEntry(entry);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString('utf8');
      });
      child.on('error', (error) => {
        if ((error as { name?: string }).name === 'AbortError') return;
        resolve(`could not start: ${error.message}`);
      });
      child.on('close', (code, sig) => {
        resolve(`exit ${code ?? sig}${stderr === '' ? '' : `: ${stderr.trim().slice(0, 300)}`}`);
      });
    });
  }

  #setProblem(code: ErrorCode | undefined, message: string): void {
    if (code === this.#problem && code !== 'DPS_ERR_LOGS_JOURNAL') return;
    this.#problem = code;
    this.#o.onProblem(code, message);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
