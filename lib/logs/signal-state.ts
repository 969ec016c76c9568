/**
 * Pure, clock-injected: turns classified matches into what the agent reports. Keeps a counter
 * per (class, component), the time of the last match per class, and an *active* flag per class
 * with hysteresis:
 *   - a class becomes active when `activateCount` matches fall within `windowMs`
 *     (one stray line never flips the node's verdict);
 *   - an active class clears only after `clearAfterMs` without any match
 *     (a failure that repeats every 30 s sync period stays active between repeats).
 * Memory is bounded: per class it keeps the last `activateCount` match times only.
 */
import type { SignalConfig } from './log-config.ts';

/** A clock returning milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The state of one class. */
export interface ClassSignal {
  class: string;
  active: boolean;
  /** When the class last became active (ms), if it is active. */
  activeSince: number | undefined;
  /** Time of the last match (ms). */
  lastMatchAt: number;
  /** Matches within the current window (capped at activateCount). */
  recent: number;
  /** The worst severity since the class became active (or in the recent burst when inactive). */
  severity: string;
}

/** A change of a class's active flag. */
export interface SignalTransition {
  class: string;
  active: boolean;
  at: number;
}

interface ClassEntry {
  times: number[]; // last activateCount match times, oldest first
  severities: string[]; // their severities
  active: boolean;
  activeSince: number | undefined;
  lastMatchAt: number;
  severity: string;
}

const RANK: Record<string, number> = { critical: 3, warning: 2, info: 1 };
const worst = (a: string, b: string): string => ((RANK[b] ?? 0) > (RANK[a] ?? 0) ? b : a);

/** Counters and active flags per class. */
export class SignalState {
  readonly #config: SignalConfig;
  readonly #clock: Clock;
  readonly #classes = new Map<string, ClassEntry>();
  readonly #counts = new Map<string, Map<string, number>>(); // class → component → count

  constructor(options: { config: SignalConfig; clock: Clock }) {
    this.#config = options.config;
    this.#clock = options.clock;
  }

  /** Records one match; returns the transition it caused (a class becoming active), if any. */
  record(match: { class: string; component: string; severity: string }): SignalTransition | undefined {
    const now = this.#clock.now();
    const byComponent = this.#counts.get(match.class) ?? new Map<string, number>();
    byComponent.set(match.component, (byComponent.get(match.component) ?? 0) + 1);
    this.#counts.set(match.class, byComponent);
    let entry = this.#classes.get(match.class);
    if (entry === undefined) {
      entry = { times: [], severities: [], active: false, activeSince: undefined, lastMatchAt: now, severity: match.severity };
      this.#classes.set(match.class, entry);
    }
    entry.times.push(now);
    entry.severities.push(match.severity);
    if (entry.times.length > this.#config.activateCount) {
      entry.times.shift();
      entry.severities.shift();
    }
    entry.lastMatchAt = now;
    // Inactive: the worst of the recent burst. Active: the worst since it became active.
    if (entry.active) entry.severity = worst(entry.severity, match.severity);
    else entry.severity = entry.severities.reduce(worst);
    if (!entry.active && entry.times.length >= this.#config.activateCount && now - entry.times[0]! <= this.#config.windowMs) {
      entry.active = true;
      entry.activeSince = now;
      return { class: match.class, active: true, at: now };
    }
    return undefined;
  }

  /** Clears classes that went quiet for clearAfterMs; returns those transitions. Call it periodically. */
  evaluate(): SignalTransition[] {
    const now = this.#clock.now();
    const out: SignalTransition[] = [];
    for (const [cls, entry] of this.#classes) {
      if (entry.active && now - entry.lastMatchAt >= this.#config.clearAfterMs) {
        entry.active = false;
        entry.activeSince = undefined;
        entry.times = [];
        entry.severities = [];
        out.push({ class: cls, active: false, at: now });
      }
    }
    return out;
  }

  /** True while the class is active. */
  isActive(cls: string): boolean {
    return this.#classes.get(cls)?.active ?? false;
  }

  /** Every class seen, with its flag, last match and severity. */
  classes(): ClassSignal[] {
    const now = this.#clock.now();
    return [...this.#classes].map(([cls, e]) => ({
      class: cls,
      active: e.active,
      activeSince: e.activeSince,
      lastMatchAt: e.lastMatchAt,
      recent: e.times.filter((t) => now - t <= this.#config.windowMs).length,
      severity: e.severity,
    }));
  }

  /** Match counters as plain data: one row per (class, component). */
  counters(): { class: string; component: string; count: number }[] {
    const rows = [];
    for (const [cls, byComponent] of this.#counts) for (const [component, count] of byComponent) rows.push({ class: cls, component, count });
    return rows;
  }
}
