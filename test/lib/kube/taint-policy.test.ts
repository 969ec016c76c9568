import t from 'tap';
import { decideTaint, DEFAULT_TAINT_POLICY, parseTaintPolicy, taintBudget, validateTaintPolicy, type TaintPolicy } from '../../../lib/kube/taint-policy.ts';
import { TAINT_KEY, type DesiredCondition } from '../../../lib/kube/conditions.ts';

const on: TaintPolicy = { ...DEFAULT_TAINT_POLICY, enabled: true, dryRun: false, conditionTypes: ['ServiceRulesDrift'] };
const drift = (status: DesiredCondition['status']): DesiredCondition => ({ type: 'ServiceRulesDrift', status, reason: 'RulesOutOfSync', message: 'm' });
const ours = { key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' };
const theirs = { key: 'example.com/maintenance', effect: 'NoSchedule' };

t.test('budget: 10% of nodes, at least one', async (t) => {
  const cases: [number, number][] = [[0, 1], [5, 1], [10, 1], [19, 1], [20, 2], [100, 10], [5000, 500]];
  for (const [nodes, budget] of cases) t.equal(taintBudget(nodes, DEFAULT_TAINT_POLICY), budget, `${nodes} nodes`);
  t.equal(taintBudget(10, { maxTaintedShare: 0, minTaintedAllowed: 0 }), 0);
});

t.test('decisions', async (t) => {
  const cases: [string, Parameters<typeof decideTaint>[0], string][] = [
    ['off by default', { policy: DEFAULT_TAINT_POLICY, conditions: [drift('True')], viewFresh: true, nodeTaints: [] }, 'none/TaintsDisabled'],
    ['enabled but no condition opted in', { policy: { ...on, conditionTypes: [] }, conditions: [drift('True')], viewFresh: true, nodeTaints: [] }, 'none/TaintsDisabled'],
    ['a True opt-in condition asks for the cluster count first', { policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [] }, 'need-cluster-count'],
    ['then adds when under budget', { policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [theirs], cluster: { nodes: 100, tainted: 9 } }, 'add/RulesOutOfSync'],
    ['refuses at the budget', { policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [], cluster: { nodes: 100, tainted: 10 } }, 'skip/TaintBudgetExhausted'],
    ['small cluster: one node may be tainted', { policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [], cluster: { nodes: 3, tainted: 0 } }, 'add/RulesOutOfSync'],
    ['small cluster: not a second one', { policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [], cluster: { nodes: 3, tainted: 1 } }, 'skip/TaintBudgetExhausted'],
    ['never on a stale view', { policy: on, conditions: [drift('True')], viewFresh: false, nodeTaints: [] }, 'skip/StaleView'],
    ['a stale view holds an existing taint', { policy: on, conditions: [drift('False')], viewFresh: false, nodeTaints: [ours] }, 'none/StaleViewHold'],
    ['already tainted', { policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [ours] }, 'none/AlreadyTainted'],
    ['removes when healthy again', { policy: on, conditions: [drift('False')], viewFresh: true, nodeTaints: [theirs, ours] }, 'remove/Recovered'],
    ['holds while Unknown', { policy: on, conditions: [drift('Unknown')], viewFresh: true, nodeTaints: [ours] }, 'none/UnknownHold'],
    ['a non-opt-in True condition does nothing', { policy: on, conditions: [{ ...drift('True'), type: 'CNIFailing' }], viewFresh: true, nodeTaints: [] }, 'none/Healthy'],
    ['never removes a taint it does not own (other key)', { policy: on, conditions: [drift('False')], viewFresh: true, nodeTaints: [theirs] }, 'none/Healthy'],
    ['never removes our key with another effect (set by someone else)', { policy: on, conditions: [drift('False')], viewFresh: true, nodeTaints: [{ key: TAINT_KEY, effect: 'NoExecute' }] }, 'none/Healthy'],
  ];
  for (const [what, input, expected] of cases) {
    const d = decideTaint(input);
    const got = d.action === 'need-cluster-count' ? d.action : `${d.action}/${d.reason}`;
    t.equal(got, expected, what);
  }
  const add = decideTaint({ policy: on, conditions: [drift('True')], viewFresh: true, nodeTaints: [], cluster: { nodes: 10, tainted: 0 } });
  t.same(add.action === 'add' && add.taint, { key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' }, 'NoSchedule, value names the condition');
  const custom = decideTaint({ policy: { ...on, effect: 'NoExecute' }, conditions: [drift('True')], viewFresh: true, nodeTaints: [], cluster: { nodes: 10, tainted: 0 } });
  t.equal(custom.action === 'add' && custom.taint.effect, 'NoExecute', 'effect only when configured');
});

t.test('impossible settings are coded errors', async (t) => {
  t.throws(() => validateTaintPolicy({ ...on, maxTaintedShare: 1.5 }), { code: 'DPS_ERR_KUBE_OPTIONS' });
  t.throws(() => validateTaintPolicy({ ...on, minTaintedAllowed: -1 }), { code: 'DPS_ERR_KUBE_OPTIONS' });
  t.throws(() => validateTaintPolicy({ ...on, effect: 'Evict' as never }), { code: 'DPS_ERR_KUBE_OPTIONS' });
  t.equal(validateTaintPolicy(on), on);
});

t.test('the config file section: missing means the defaults, given fields override them', async (t) => {
  t.same(parseTaintPolicy(undefined), DEFAULT_TAINT_POLICY);
  t.same(parseTaintPolicy(null), DEFAULT_TAINT_POLICY);
  t.same(parseTaintPolicy({ enabled: true, dryRun: false, conditionTypes: ['ServiceRulesDrift'] }), on);
  t.same(parseTaintPolicy({ effect: 'NoExecute', maxTaintedShare: 0.2, minTaintedAllowed: 2 }), { ...DEFAULT_TAINT_POLICY, effect: 'NoExecute', maxTaintedShare: 0.2, minTaintedAllowed: 2 });
  t.not(parseTaintPolicy({}).conditionTypes, DEFAULT_TAINT_POLICY.conditionTypes, 'a new policy, never the shared default');
});

t.test('the config file section: every bad field is named in one coded error', async (t) => {
  t.throws(() => parseTaintPolicy([], 'c.yaml: taints'), { code: 'DPS_ERR_KUBE_OPTIONS', message: /`c.yaml: taints` to be a mapping, got a list/ });
  t.throws(() => parseTaintPolicy('on'), { message: /got string/ });
  const bad = { enabled: 'yes', dryRun: 1, maxTaintedShare: '10%', minTaintedAllowed: null, conditionTypes: ['Ready'], enable: true };
  t.throws(() => parseTaintPolicy(bad), { code: 'DPS_ERR_KUBE_OPTIONS', message: /`enable` is not a taint option.*enabled: expected true or false.*dryRun: expected true or false.*maxTaintedShare: expected a number.*minTaintedAllowed: expected a number.*conditionTypes: expected a list/ });
  t.throws(() => parseTaintPolicy({ conditionTypes: 'ServiceRulesDrift' }), { message: /conditionTypes/ });
  t.throws(() => parseTaintPolicy({ maxTaintedShare: 2 }), { code: 'DPS_ERR_KUBE_OPTIONS', message: /between 0 and 1/ });
});
