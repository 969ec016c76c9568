/**
 * Pure: jittered exponential backoff for list/watch retries. Thousands of agents lose the API
 * at the same moment and must not come back in lock-step (probot#1933, the thundering herd on
 * an API server that just recovered), so every delay is spread over [d/2, d).
 */

/** Backoff settings. */
export interface BackoffPolicy {
  /** First delay, ms. Default 1000 (client-go's reflector starts at 800 ms). */
  baseMs: number;
  /** Ceiling, ms. Default 30000. */
  maxMs: number;
}

/** The defaults. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1000, maxMs: 30_000 });

/**
 * Delay before retry number `attempt` (0-based): min(max, base·2^attempt), jittered into its
 * upper half by `random` (a number in [0, 1)), and never below a server's `Retry-After`.
 */
export function backoffDelay(attempt: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs = 0): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const jittered = exp / 2 + (exp / 2) * Math.min(Math.max(random, 0), 1);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs, 10 * policy.maxMs)));
}

/** Parses a `Retry-After` header (seconds or HTTP date) into ms; 0 when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now: number): number {
  if (value === undefined || value.trim() === '') return 0;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - now);
}
