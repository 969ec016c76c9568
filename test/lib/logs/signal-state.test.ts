import t from 'tap';
import { SignalState } from '../../../lib/logs/signal-state.ts';

function setup() {
  let now = 1_000_000;
  const clock = { now: () => now };
  const state = new SignalState({ config: { windowMs: 60_000, activateCount: 3, clearAfterMs: 120_000 }, clock });
  const advance = (ms: number) => { now += ms; };
  const sync = { class: 'proxy-sync-failure', component: 'kube-proxy', severity: 'warning' };
  return { state, advance, sync };
}

t.test('one stray line does not make a class active', async (t) => {
  const { state, sync } = setup();
  t.equal(state.record(sync), undefined);
  t.equal(state.isActive('proxy-sync-failure'), false);
  t.same(state.counters(), [{ class: 'proxy-sync-failure', component: 'kube-proxy', count: 1 }]);
});

t.test('kube-proxy sync failures repeating within the window make the class active, once', async (t) => {
  const { state, advance, sync } = setup();
  state.record(sync);
  advance(20_000);
  state.record(sync);
  advance(20_000);
  t.match(state.record(sync), { class: 'proxy-sync-failure', active: true });
  advance(20_000);
  t.equal(state.record(sync), undefined, 'no second transition while active');
  t.equal(state.isActive('proxy-sync-failure'), true);
});

t.test('matches spread wider than the window do not activate', async (t) => {
  const { state, advance, sync } = setup();
  for (let i = 0; i < 5; i++) {
    state.record(sync);
    advance(40_000);
  }
  t.equal(state.isActive('proxy-sync-failure'), false);
});

t.test('an active class stays active between repeats and clears after clearAfterMs of quiet', async (t) => {
  const { state, advance, sync } = setup();
  for (let i = 0; i < 3; i++) state.record(sync);
  advance(100_000);
  t.same(state.evaluate(), [], 'still active 100 s after the last match');
  state.record(sync);
  advance(119_000);
  t.same(state.evaluate(), []);
  advance(1_000);
  t.match(state.evaluate(), [{ class: 'proxy-sync-failure', active: false }]);
  t.equal(state.isActive('proxy-sync-failure'), false);
  state.record(sync);
  t.equal(state.isActive('proxy-sync-failure'), false, 'a recovered node needs a new burst to go active again');
});

t.test('reports last match time and the worst severity while active', async (t) => {
  const { state, advance, sync } = setup();
  state.record(sync);
  state.record({ ...sync, severity: 'critical', component: 'k3s' });
  advance(5);
  state.record(sync);
  const [signal] = state.classes();
  t.match(signal, { class: 'proxy-sync-failure', active: true, lastMatchAt: 1_000_005, severity: 'critical', recent: 3 });
  t.same(state.counters().map((r) => [r.component, r.count]), [['kube-proxy', 2], ['k3s', 1]]);
});
