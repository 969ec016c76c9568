import t from 'tap';
import { DEFAULT_JUDGEMENT, EMPTY_HISTORY, graceFor, judgeDrift, type DriftHistory, type DriftItem } from '../../../lib/kube/drift-judgement.ts';

const now = 10_000_000;
const fresh = { judgeable: true, state: 'synced' as const };
const opts = { graceMs: 35_000, persistScans: 3 };
const d = (key: string, service?: string): DriftItem => ({ key, ...(service ? { service } : {}), detail: `${key} differs` });

// Runs scans in sequence, carrying the history, and returns the statuses seen.
function scans(list: { drifts: DriftItem[]; at?: number; changed?: [string, number][]; view?: typeof fresh | { judgeable: boolean; state: 'stalled' | 'api-unreachable' } }[], start: DriftHistory = EMPTY_HISTORY) {
  let history = start;
  return list.map((s) => {
    const r = judgeDrift({ drifts: s.drifts, now: s.at ?? now, view: s.view ?? fresh, serviceChangedAt: new Map(s.changed ?? []), history }, opts);
    history = r.history;
    return `${r.condition.status}/${r.condition.reason}`;
  });
}

t.test('defaults come from kube-proxy: 1 s min-sync + 30 s sync + 4 s slack', async (t) => {
  t.equal(DEFAULT_JUDGEMENT.graceMs, 35_000);
  t.equal(DEFAULT_JUDGEMENT.persistScans, 3);
  t.equal(graceFor(1000, 30_000, 0), 31_000);
});

t.test('scan sequences', async (t) => {
  const cases: [string, Parameters<typeof scans>[0], string[]][] = [
    ['no drift is in sync', [{ drifts: [] }], ['False/RulesInSync']],
    ['drift must persist three scans', [{ drifts: [d('a')] }, { drifts: [d('a')] }, { drifts: [d('a')] }], ['False/DriftNotConfirmed', 'False/DriftNotConfirmed', 'True/RulesOutOfSync']],
    ['a drift that goes away never alarms', [{ drifts: [d('a')] }, { drifts: [d('a')] }, { drifts: [] }, { drifts: [d('a')] }], ['False/DriftNotConfirmed', 'False/DriftNotConfirmed', 'False/RulesInSync', 'False/DriftNotConfirmed']],
    ['a different drift each scan never alarms', [{ drifts: [d('a')] }, { drifts: [d('b')] }, { drifts: [d('c')] }], ['False/DriftNotConfirmed', 'False/DriftNotConfirmed', 'False/DriftNotConfirmed']],
    [
      'a Service changed within the grace period is not judged',
      [1, 2, 3, 4].map(() => ({ drifts: [d('a', 'ns/s')], changed: [['ns/s', now - 34_999]] as [string, number][] })),
      ['False/WithinSyncGrace', 'False/WithinSyncGrace', 'False/WithinSyncGrace', 'False/WithinSyncGrace'],
    ],
    [
      'after the grace period the count starts',
      [{ drifts: [d('a', 'ns/s')], changed: [['ns/s', now - 35_000]] }, { drifts: [d('a', 'ns/s')], changed: [['ns/s', now - 35_000]] }, { drifts: [d('a', 'ns/s')], changed: [['ns/s', now - 35_000]] }],
      ['False/DriftNotConfirmed', 'False/DriftNotConfirmed', 'True/RulesOutOfSync'],
    ],
    [
      'a stale view is Unknown, never drift, and does not advance the count',
      [{ drifts: [d('a')] }, { drifts: [d('a')], view: { judgeable: false, state: 'stalled' } }, { drifts: [d('a')] }, { drifts: [d('a')] }],
      ['False/DriftNotConfirmed', 'Unknown/APIViewStale', 'False/DriftNotConfirmed', 'True/RulesOutOfSync'],
    ],
    ['an unreachable API says so', [{ drifts: [d('a')], view: { judgeable: false, state: 'api-unreachable' } }], ['Unknown/APIUnreachable']],
    [
      'once True, stays True while unconfirmed drift remains, clears when none is left',
      [{ drifts: [d('a')] }, { drifts: [d('a')] }, { drifts: [d('a')] }, { drifts: [d('a', 'ns/s')], changed: [['ns/s', now]] }, { drifts: [] }],
      ['False/DriftNotConfirmed', 'False/DriftNotConfirmed', 'True/RulesOutOfSync', 'True/RulesOutOfSync', 'False/RulesInSync'],
    ],
  ];
  for (const [what, list, expected] of cases) t.same(scans(list), expected, what);
});

t.test('the message names the drift, a few at a time', async (t) => {
  let history = EMPTY_HISTORY;
  const drifts = ['a', 'b', 'c', 'd', 'e'].map((k) => d(k));
  let r;
  for (let i = 0; i < 3; i++) {
    r = judgeDrift({ drifts, now, view: fresh, serviceChangedAt: new Map(), history }, opts);
    history = r.history;
  }
  t.match(r!.condition.message, /^5 difference\(s\).*a differs; b differs; c differs and 2 more\.$/);
  t.equal(r!.confirmed.length, 5);
});
