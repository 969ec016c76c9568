/**
 * A loop that never dies: runs `task` again and again, never two at once, waiting
 * `intervalMs()` (asked afresh after every run, so it can stretch) with random jitter between
 * the end of one run and the start of the next. A run that throws is recorded and the loop goes
 * on. `wake()` cuts the current wait short (a change worth a scan now). The loop's state feeds
 * /livez: a loop is alive while it is waiting or inside a run younger than its own limit.
 */
import type { Clock } from '../lib/kube/deps.ts';
import { sleep } from '../lib/kube/deps.ts';

/** Options of {@link startLoop}. */
export interface LoopOptions {
  readonly name: string;
  readonly task: (signal: AbortSignal) => Promise<void>;
  /** The wait after each run, asked after every run. */
  readonly intervalMs: () => number;
  /** Fraction of the interval drawn at random (0.1 → wait ×[0.95, 1.05)). */
  readonly jitter: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly random?: () => number;
  /** A run longer than this makes the loop not alive. */
  readonly stuckAfterMs: number;
  readonly onError: (error: unknown) => void;
}

/** A running loop. */
export interface Loop {
  readonly name: string;
  /** Runs completed (with or without error). */
  readonly runs: number;
  readonly lastError: unknown;
  /** Starts the next run now if waiting (or right after the current run). */
  wake(): void;
  /** False when a run has been going for longer than its limit, or the loop ended. */
  alive(now: number): boolean;
  /** Resolves when the loop has stopped (after the signal aborted). */
  readonly done: Promise<void>;
}

/** Starts the loop; the first run starts immediately. */
export function startLoop(o: LoopOptions): Loop {
  const random = o.random ?? Math.random;
  let runs = 0;
  let lastError: unknown;
  let runningSince: number | undefined;
  let ended = false;
  let wakeUp: AbortController | undefined;
  let woken = false;

  const done = (async () => {
    while (!o.signal.aborted) {
      woken = false;
      runningSince = o.clock.now();
      try {
        await o.task(o.signal);
        lastError = undefined;
      } catch (error) {
        lastError = error;
        if (!o.signal.aborted) o.onError(error);
      }
      runningSince = undefined;
      runs++;
      if (o.signal.aborted) break;
      if (woken) continue;
      const base = o.intervalMs();
      const wait = Math.max(0, base * (1 + o.jitter * (random() - 0.5)));
      wakeUp = new AbortController();
      await sleep(o.clock, wait, AbortSignal.any([o.signal, wakeUp.signal])).catch(() => undefined);
      wakeUp = undefined;
    }
    ended = true;
  })();

  return {
    name: o.name,
    get runs() { return runs; },
    get lastError() { return lastError; },
    wake() {
      woken = true;
      wakeUp?.abort();
    },
    alive(now) {
      if (ended) return false;
      return runningSince === undefined || now - runningSince <= o.stuckAfterMs;
    },
    done,
  };
}
