/**
 * The log watcher: follows every configured source (CRI pod logs found by selectors, plain-file
 * globs, journald), classifies each record with the compiled rules and hands matches to a
 * callback. Read positions and journal cursors are saved atomically every stateFlushIntervalMs
 * and on stop. Counters are plain data for the agent's metrics.
 *
 * Loops never die: each tick catches and logs its own errors. Followers are polled one at a time
 * (a poll reads at most readBudgetBytes per file), so a log storm costs bounded CPU per tick and
 * cannot starve the other files.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ErrorCode } from '../errors.ts';
import type { RuleSet } from './compile-rules.ts';
import { discoverFiles } from './discover-files.ts';
import { FileFollower } from './file-follower.ts';
import type { FollowerStats, FollowStart } from './file-follower.ts';
import { JournalFollower } from './journal-follower.ts';
import type { LogConfig } from './log-config.ts';
import { matchRecord } from './match-record.ts';
import { loadState, saveState } from './state-store.ts';
import type { LogState } from './state-store.ts';
import type { LogMatch } from './types.ts';

/** The pino-like logger the watcher writes to. */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** A match with where it came from. */
export interface SourcedMatch extends LogMatch {
  /** File path, or `journal:<dir>` for journald. */
  source: string;
  /** 1-based line number for files; undefined for journald. */
  line: number | undefined;
}

/** Counters as plain data (the agent maps them to prom-client). */
export interface LogWatcherMetrics {
  linesRead: number;
  bytesRead: number;
  journalEntriesRead: number;
  matches: { class: string; component: string; count: number }[];
  truncatedLines: number;
  decodeErrors: number;
  sourceErrors: Record<string, number>;
  filesWatched: number;
  lastStateSaveAt: number | undefined;
}

/** What the watcher needs. */
export interface LogWatcherDeps {
  config: LogConfig;
  rules: RuleSet;
  log: Logger;
  clock: { now(): number };
  signal: AbortSignal;
  /** Node name, stamped into the state file. */
  nodeName: string;
  onMatch: (match: SourcedMatch) => void;
}

const READ_BUDGET = 4 * 1024 * 1024;

/** Follows all sources until the signal aborts. */
export class LogWatcher {
  readonly #d: LogWatcherDeps;
  readonly #followers = new Map<string, { follower: FileFollower; component: string | undefined; missingPolls: number }>();
  readonly #journals = new Map<string, JournalFollower>();
  readonly #stats: FollowerStats = { lines: 0, bytes: 0, truncatedLines: 0, decodeErrors: 0 };
  readonly #matches = new Map<string, number>();
  readonly #sourceErrors: Record<string, number> = {};
  #journalEntries = 0;
  #state: LogState | undefined;
  #lastSave: number | undefined;

  constructor(deps: LogWatcherDeps) {
    this.#d = deps;
  }

  /** Plain-data counters. */
  metrics(): LogWatcherMetrics {
    return {
      linesRead: this.#stats.lines,
      bytesRead: this.#stats.bytes,
      journalEntriesRead: this.#journalEntries,
      matches: [...this.#matches].map(([key, count]) => {
        const [cls, component] = key.split('\u0000') as [string, string];
        return { class: cls, component, count };
      }),
      truncatedLines: this.#stats.truncatedLines,
      decodeErrors: this.#stats.decodeErrors,
      sourceErrors: { ...this.#sourceErrors },
      filesWatched: this.#followers.size,
      lastStateSaveAt: this.#lastSave,
    };
  }

  /** Runs until the signal aborts; then saves the state and closes every file. Never rejects. */
  async run(): Promise<void> {
    const { config, signal, log } = this.#d;
    const loaded = await loadState(config.stateFile, this.#d.nodeName);
    if (loaded.problem !== undefined) this.#problem(loaded.problem.code as ErrorCode, loaded.problem.message, config.stateFile, loaded.problem);
    this.#state = loaded.state;
    await this.#discover(true);
    const journals = config.journal.enabled ? this.#startJournals() : [];
    const loops = [
      this.#every(config.pollIntervalMs, () => this.#pollAll()),
      this.#every(config.discoveryIntervalMs, () => this.#discover(false)),
      this.#every(config.stateFlushIntervalMs, () => this.#save()),
    ];
    await Promise.all([...loops, ...journals]);
    await this.#pollAll().catch(() => undefined);
    await this.#save();
    for (const { follower } of this.#followers.values()) await follower.close(false);
    log.info({ files: this.#followers.size }, 'log watcher stopped');
  }

  async #every(ms: number, task: () => Promise<void>): Promise<void> {
    while (!this.#d.signal.aborted) {
      try {
        await task();
      } catch (error) {
        this.#d.log.error({ err: error }, 'log watcher tick failed');
      }
      await sleep(ms, undefined, { signal: this.#d.signal }).catch(() => undefined);
    }
  }

  async #pollAll(): Promise<void> {
    for (const entry of this.#followers.values()) await entry.follower.poll();
  }

  async #discover(initial: boolean): Promise<void> {
    const { config } = this.#d;
    const { files, podLogDirMissing } = await discoverFiles(config);
    if (podLogDirMissing && initial) this.#problem('DPS_ERR_LOGS_SOURCE_MISSING', `${config.podLogDir} does not exist (yet): watching for it.`, config.podLogDir);
    const seen = new Set<string>();
    for (const file of files) {
      seen.add(file.path);
      if (this.#followers.has(file.path)) continue;
      if (this.#followers.size >= config.maxFiles) {
        this.#problem('DPS_ERR_LOGS_CONFIG_INVALID', `More than maxFiles (${config.maxFiles}) log files match: ${file.path} is not followed.`, file.path);
        continue;
      }
      this.#followers.set(file.path, { follower: this.#makeFollower(file.path, this.#startFor(file.path, initial)), component: file.component, missingPolls: 0 });
    }
    // Files gone from discovery (pod deleted) are dropped once drained.
    for (const [path, entry] of this.#followers) {
      if (seen.has(path)) continue;
      entry.missingPolls += 1;
      if (entry.missingPolls >= 2) {
        await entry.follower.close();
        this.#followers.delete(path);
        delete this.#state?.files[path];
      }
    }
  }

  #startFor(path: string, initial: boolean): FollowStart {
    const saved = this.#state?.files[path];
    if (saved !== undefined && saved.length > 0) return { kind: 'resume', positions: saved };
    if (initial) return { kind: 'lookback', notBeforeMs: this.#d.clock.now() - this.#d.config.lookbackMs, maxBytes: this.#d.config.lookbackMaxBytes };
    return { kind: 'beginning' };
  }

  #makeFollower(path: string, start: FollowStart): FileFollower {
    return new FileFollower({
      path, start, maxLineBytes: this.#d.config.maxLineBytes, readBudgetBytes: READ_BUDGET, idleFlushMs: 5_000,
      now: () => this.#d.clock.now(), stats: this.#stats,
      onRecord: (record) => {
        const entry = this.#followers.get(path);
        const match = matchRecord(this.#d.rules, record, entry?.component);
        if (match !== undefined) this.#emit({ ...match, source: path, line: record.line });
      },
      onProblem: (code, message, cause) => {
        if (code === undefined) this.#d.log.info({ path }, 'log source recovered');
        else this.#problem(code, message, path, cause);
      },
    });
  }

  #startJournals(): Promise<void>[] {
    const { config } = this.#d;
    const groups: [string, string[]][] = [['units', config.journal.units.flatMap((u) => ['-u', u])]];
    if (config.journal.kernel) groups.push(['kernel', ['_TRANSPORT=kernel']]);
    const runs: Promise<void>[] = [];
    for (const directory of config.journal.directories) {
      for (const [name, matches] of groups) {
        if (matches.length === 0) continue;
        const key = `${directory}#${name}`;
        const follower = new JournalFollower({
          command: config.journal.command, directory, matches, cursor: this.#state?.journal[key],
          sinceMs: this.#d.clock.now() - config.lookbackMs, maxLineBytes: config.maxLineBytes, restartBackoffMs: 1_000,
          onEntry: (entry) => {
            this.#journalEntries += 1;
            if (entry.invalid) this.#stats.decodeErrors += 1;
            const match = matchRecord(this.#d.rules, entry, entry.component);
            if (match !== undefined) this.#emit({ ...match, source: `journal:${directory}`, line: undefined });
          },
          onDecodeError: () => { this.#stats.decodeErrors += 1; },
          onProblem: (code, message, cause) => {
            if (code === undefined) this.#d.log.info({ directory }, 'journal source recovered');
            else this.#problem(code, message, directory, cause);
          },
        });
        this.#journals.set(key, follower);
        runs.push(follower.run(this.#d.signal));
      }
    }
    return runs;
  }

  #emit(match: SourcedMatch): void {
    const key = `${match.class}\u0000${match.component}`;
    this.#matches.set(key, (this.#matches.get(key) ?? 0) + 1);
    try {
      this.#d.onMatch(match);
    } catch (error) {
      this.#d.log.error({ err: error }, 'log match callback failed');
    }
  }

  #problem(code: ErrorCode, message: string, where: string, cause?: unknown): void {
    this.#sourceErrors[code] = (this.#sourceErrors[code] ?? 0) + 1;
    const level = code === 'DPS_ERR_LOGS_SOURCE_MISSING' ? 'info' : 'warn';
    this.#d.log[level]({ code, where, ...(cause === undefined ? {} : { err: cause }) }, message);
  }

  async #save(): Promise<void> {
    const state = this.#state;
    if (state === undefined) return;
    for (const [path, { follower }] of this.#followers) {
      const positions = follower.positions();
      if (positions.length > 0) state.files[path] = positions;
    }
    for (const [key, follower] of this.#journals) if (follower.cursor !== undefined) state.journal[key] = follower.cursor;
    try {
      await saveState(this.#d.config.stateFile, state);
      this.#lastSave = this.#d.clock.now();
    } catch (error) {
      this.#problem('DPS_ERR_LOGS_STATE_WRITE', (error as Error).message, this.#d.config.stateFile, error);
    }
  }
}
