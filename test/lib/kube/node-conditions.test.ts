import t from 'tap';
import { ownedConditions, planConditions, type NodeCondition } from '../../../lib/kube/node-conditions.ts';
import type { DesiredCondition } from '../../../lib/kube/conditions.ts';

const now = Date.parse('2025-01-01T12:00:00Z');
const earlier = '2025-01-01T10:00:00Z';
const drift = (status: DesiredCondition['status'], reason = 'RulesInSync', message = 'ok'): DesiredCondition => ({ type: 'ServiceRulesDrift', status, reason, message });
const onNode = (status: NodeCondition['status'], reason = 'RulesInSync', message = 'ok'): NodeCondition => ({
  type: 'ServiceRulesDrift', status, reason, message, lastTransitionTime: earlier, lastHeartbeatTime: earlier,
});

t.test('only our condition types are read from the node', async (t) => {
  const got = ownedConditions([
    { type: 'Ready', status: 'True' },
    { type: 'ServiceRulesDrift', status: 'False', reason: 'RulesInSync', message: 'ok', lastTransitionTime: new Date(earlier), lastHeartbeatTime: earlier },
    { type: 'CNIFailing', status: 'weird' },
    null,
  ]);
  t.same(got.map((c) => `${c.type}=${c.status}`), ['ServiceRulesDrift=False', 'CNIFailing=Unknown']);
  t.equal(got[0]!.lastTransitionTime, earlier, 'client Date objects become RFC 3339');
});

t.test('plans', async (t) => {
  const cases: [string, NodeCondition[], DesiredCondition[], boolean, { patch: boolean; why: string[]; transitions: string[] }][] = [
    ['first verdict False: written, no event', [], [drift('False')], false, { patch: true, why: ['changed'], transitions: [] }],
    ['first verdict True: written, event', [], [drift('True', 'RulesOutOfSync')], false, { patch: true, why: ['changed'], transitions: ['undefined->True'] }],
    ['restart with the same verdict: nothing written (NPD#304)', [onNode('False')], [drift('False')], false, { patch: false, why: [], transitions: [] }],
    ['same verdict, heartbeat due', [onNode('False')], [drift('False')], true, { patch: true, why: ['heartbeat'], transitions: [] }],
    ['message change only: written, no event', [onNode('True', 'RulesOutOfSync', 'a')], [drift('True', 'RulesOutOfSync', 'b')], false, { patch: true, why: ['changed'], transitions: [] }],
    ['recovery: True -> False, event', [onNode('True', 'RulesOutOfSync')], [drift('False')], false, { patch: true, why: ['changed'], transitions: ['True->False'] }],
    ['to Unknown: event', [onNode('False')], [drift('Unknown', 'APIViewStale')], false, { patch: true, why: ['changed'], transitions: ['False->Unknown'] }],
  ];
  for (const [what, current, desired, heartbeatDue, expected] of cases) {
    const p = planConditions({ current, desired, now, heartbeatDue });
    t.equal(p.patch !== undefined, expected.patch, `${what}: patch`);
    t.same(p.why, expected.why, `${what}: why`);
    t.same(p.transitions.map((x) => `${x.from}->${x.to}`), expected.transitions, `${what}: transitions`);
  }
});

t.test('lastTransitionTime moves only when the status changes; heartbeat always', async (t) => {
  const same = planConditions({ current: [onNode('True', 'RulesOutOfSync', 'a')], desired: [drift('True', 'RulesOutOfSync', 'b')], now, heartbeatDue: false });
  t.same(same.patch!.status.conditions, [
    { type: 'ServiceRulesDrift', status: 'True', reason: 'RulesOutOfSync', message: 'b', lastTransitionTime: earlier, lastHeartbeatTime: '2025-01-01T12:00:00Z' },
  ]);
  const flip = planConditions({ current: [onNode('True', 'RulesOutOfSync')], desired: [drift('False')], now, heartbeatDue: false });
  t.equal(flip.next[0]!.lastTransitionTime, '2025-01-01T12:00:00Z');
});

t.test('an owned type no longer reported is deleted, not left behind (NPD#215)', async (t) => {
  const cni: NodeCondition = { ...onNode('True', 'CNIAddFailed'), type: 'CNIFailing' };
  const p = planConditions({ current: [onNode('False'), cni], desired: [drift('False')], now, heartbeatDue: false });
  t.same(p.patch!.status.conditions.at(-1), { type: 'CNIFailing', $patch: 'delete' });
  t.same(p.next.map((c) => c.type), ['ServiceRulesDrift']);
});

t.test('duplicate desired types: the first wins', async (t) => {
  const p = planConditions({ current: [], desired: [drift('True', 'A'), drift('False', 'B')], now, heartbeatDue: false });
  t.equal(p.next.length, 1);
  t.equal(p.next[0]!.reason, 'A');
});
