/**
 * Pure: how fresh is one informer's view of the API, and may it be judged on?
 *
 * "Contact" is any proof that the view was current at that moment: a successful list, a watch
 * event or bookmark, or a watch (re)established from our resourceVersion (the server would
 * replay anything we missed, or answer 410). The view's age is the time since the last contact.
 */

/** State of one resource's view. */
export type FreshnessState = 'synced' | 'syncing' | 'api-unreachable' | 'stalled';

/** What the informer records; all times in ms since the epoch. */
export interface FreshnessInput {
  /** Last successful full list, if any. */
  lastListAt: number | undefined;
  /** Last watch event (including bookmarks). */
  lastEventAt: number | undefined;
  /** Last time a watch was (re)established with HTTP 200. */
  lastWatchStartAt: number | undefined;
  /** True once a full list has succeeded. */
  synced: boolean;
  /** True while a watch stream is open. */
  watching: boolean;
  /** Failed list/watch attempts in a row (reset by any success). */
  consecutiveFailures: number;
}

/** Limits; see {@link DEFAULT_FRESHNESS}. */
export interface FreshnessLimits {
  /** A view older than this is not judged (verdict Unknown). */
  maxViewAgeMs: number;
  /** This many failures in a row (or any failure before the first sync) mean api-unreachable. */
  unreachableAfterFailures: number;
}

/**
 * Defaults. The API server sends a watch bookmark about once a minute and the informer
 * reconnects a watch silent for 90 s, so a live view is never more than ~90 s + one
 * reconnect old; 180 s leaves room for one failed reconnect before verdicts turn Unknown.
 */
export const DEFAULT_FRESHNESS: FreshnessLimits = Object.freeze({ maxViewAgeMs: 180_000, unreachableAfterFailures: 3 });

/** Freshness of one resource, as exposed in snapshots. */
export interface Freshness {
  state: FreshnessState;
  synced: boolean;
  lastListAt: number | undefined;
  lastEventAt: number | undefined;
  /** Latest contact (list, event, watch start). */
  lastContactAt: number | undefined;
  /** now − lastContactAt, or undefined before any contact. */
  ageMs: number | undefined;
  /** True when the view is synced and younger than the limit: drift may be judged. */
  judgeable: boolean;
}

// The latest of the defined times.
function latest(...times: (number | undefined)[]): number | undefined {
  let out: number | undefined;
  for (const t of times) if (t !== undefined && (out === undefined || t > out)) out = t;
  return out;
}

/** Computes the state of one resource's view at `now`. */
export function computeFreshness(input: FreshnessInput, now: number, limits: FreshnessLimits = DEFAULT_FRESHNESS): Freshness {
  const lastContactAt = latest(input.lastListAt, input.lastEventAt, input.lastWatchStartAt);
  const ageMs = lastContactAt === undefined ? undefined : Math.max(0, now - lastContactAt);
  const old = ageMs === undefined || ageMs > limits.maxViewAgeMs;
  let state: FreshnessState;
  if (input.consecutiveFailures >= limits.unreachableAfterFailures || (!input.synced && input.consecutiveFailures > 0)) {
    state = 'api-unreachable';
  } else if (!input.synced) {
    state = 'syncing';
  } else if (old) {
    // Connected (or believing so) but silent beyond the limit: a stalled watch.
    state = 'stalled';
  } else {
    state = 'synced';
  }
  return {
    state,
    synced: input.synced,
    lastListAt: input.lastListAt,
    lastEventAt: input.lastEventAt,
    lastContactAt,
    ageMs,
    judgeable: input.synced && !old,
  };
}

/** The worst of several states, for a one-word summary of the whole view. */
export function worstState(states: readonly FreshnessState[]): FreshnessState {
  const order: FreshnessState[] = ['api-unreachable', 'stalled', 'syncing', 'synced'];
  for (const s of order) if (states.includes(s)) return s;
  return 'synced';
}
