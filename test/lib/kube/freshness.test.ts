import t from 'tap';
import { computeFreshness, worstState, type FreshnessInput } from '../../../lib/kube/freshness.ts';

const now = 1_000_000;
const base: FreshnessInput = { lastListAt: now - 5000, lastEventAt: undefined, lastWatchStartAt: undefined, synced: true, watching: true, consecutiveFailures: 0 };
const limits = { maxViewAgeMs: 180_000, unreachableAfterFailures: 3 };

const cases: [string, Partial<FreshnessInput>, string, boolean][] = [
  // [what, input overrides, expected state, judgeable]
  ['listed 5 s ago, watching', {}, 'synced', true],
  ['never listed, first attempt running', { synced: false, lastListAt: undefined }, 'syncing', false],
  ['never listed, one failure: unreachable at once', { synced: false, lastListAt: undefined, consecutiveFailures: 1 }, 'api-unreachable', false],
  ['synced, one failure: still synced (a blip)', { consecutiveFailures: 1 }, 'synced', true],
  ['synced, three failures: api-unreachable', { consecutiveFailures: 3 }, 'api-unreachable', true],
  ['three failures and old: unreachable, not judgeable', { consecutiveFailures: 3, lastListAt: now - 200_000 }, 'api-unreachable', false],
  ['no contact for longer than the limit: stalled', { lastListAt: now - 180_001 }, 'stalled', false],
  ['exactly at the limit is still fresh', { lastListAt: now - 180_000 }, 'synced', true],
  ['a recent event refreshes an old list', { lastListAt: now - 900_000, lastEventAt: now - 10 }, 'synced', true],
  ['a recent watch start refreshes too', { lastListAt: now - 900_000, lastWatchStartAt: now - 10 }, 'synced', true],
];

for (const [what, over, state, judgeable] of cases) {
  t.test(what, async (t) => {
    const f = computeFreshness({ ...base, ...over }, now, limits);
    t.equal(f.state, state);
    t.equal(f.judgeable, judgeable);
  });
}

t.test('age is measured from the latest contact', async (t) => {
  const f = computeFreshness({ ...base, lastEventAt: now - 100, lastWatchStartAt: now - 50 }, now, limits);
  t.equal(f.lastContactAt, now - 50);
  t.equal(f.ageMs, 50);
  t.equal(computeFreshness({ ...base, lastListAt: undefined, synced: false }, now, limits).ageMs, undefined);
});

t.test('worstState orders unreachable > stalled > syncing > synced', async (t) => {
  t.equal(worstState(['synced', 'stalled', 'syncing']), 'stalled');
  t.equal(worstState(['synced', 'api-unreachable', 'stalled']), 'api-unreachable');
  t.equal(worstState(['synced', 'syncing']), 'syncing');
  t.equal(worstState(['synced']), 'synced');
  t.equal(worstState([]), 'synced');
});
