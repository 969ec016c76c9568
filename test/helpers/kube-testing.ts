/** Small test utilities for lib/kube: a recording logger, polling, and a fake clock. */
import type { Clock, Logger, TimerHandle } from '../../lib/kube/deps.ts';

/** One recorded log line. */
export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string | undefined;
  fields: Record<string, unknown>;
}

/** A logger that keeps every record (children share the array and add their bindings). */
export function memoryLogger(records: LogRecord[] = [], bindings: Record<string, unknown> = {}): Logger & { records: LogRecord[] } {
  const at =
    (level: LogRecord['level']) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === 'string') records.push({ level, msg: obj, fields: { ...bindings } });
      else records.push({ level, msg, fields: { ...bindings, ...(obj as Record<string, unknown>) } });
    };
  return {
    records,
    child: (b) => memoryLogger(records, { ...bindings, ...b }),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

/** What {@link waitFor} throws when its time is up. */
export class WaitTimeout extends Error {}

/**
 * Polls `cond` (awaited) every `intervalMs` until it is truthy (its value) or `timeoutMs` passes
 * (then throws a {@link WaitTimeout}; a function `what` is called then, to describe the last state).
 */
export async function waitFor<T>(
  cond: () => T | PromiseLike<T>,
  timeoutMs = 5000,
  what: string | (() => string) = 'condition',
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new WaitTimeout(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A manual clock: time moves only through {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  #now: number;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  constructor(start = Date.parse('2025-01-01T00:00:00Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= target && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = target;
  }

  /** Pending timers. */
  get pending(): number {
    return this.#timers.size;
  }
}
