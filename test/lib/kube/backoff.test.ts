import t from 'tap';
import { backoffDelay, parseRetryAfter } from '../../../lib/kube/backoff.ts';

const policy = { baseMs: 1000, maxMs: 30_000 };

t.test('doubles per attempt, jittered into the upper half, capped', async (t) => {
  const cases: [number, number, number][] = [
    // [attempt, random, expected]
    [0, 0, 500],
    [0, 0.999999, 1000],
    [1, 0, 1000],
    [3, 0.5, 6000],
    [5, 1, 30_000], // 32 s capped at 30 s
    [50, 0, 15_000], // huge attempts do not overflow
    [-1, 0, 500], // nonsense attempt treated as the first
  ];
  for (const [attempt, random, expected] of cases) t.equal(backoffDelay(attempt, random, policy), expected, `attempt ${attempt} random ${random}`);
});

t.test('never retries before the server says so, within reason', async (t) => {
  t.equal(backoffDelay(0, 0, policy, 5000), 5000);
  t.equal(backoffDelay(0, 0, policy, 10_000_000), 300_000, 'a silly Retry-After is capped at 10× max');
});

t.test('different random draws spread agents apart', async (t) => {
  const delays = new Set([0, 0.25, 0.5, 0.75].map((r) => backoffDelay(4, r, policy)));
  t.equal(delays.size, 4);
});

t.test('parses Retry-After as seconds or an HTTP date', async (t) => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  t.equal(parseRetryAfter('3', now), 3000);
  t.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now), 10_000);
  t.equal(parseRetryAfter(undefined, now), 0);
  t.equal(parseRetryAfter('', now), 0);
  t.equal(parseRetryAfter('soon', now), 0);
  t.equal(parseRetryAfter('-5', now), 0);
});
