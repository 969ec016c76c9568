// deploy/base/{rbac,admission-policy}.yaml agree with lib/kube: exactly the verbs used, exactly our
// condition types and taint key.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { OWNED_CONDITION_TYPES, TAINT_KEY } from '../../../lib/kube/conditions.ts';

const load = (f: string) => parseAllDocuments(readFileSync(new URL(`../../../deploy/base/${f}`, import.meta.url), 'utf8')).map((d) => d.toJS()).filter(Boolean);

t.test('RBAC grants exactly what lib/kube uses', async (t) => {
  const docs = load('rbac.yaml');
  const role = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'dataplane-sentinel');
  const rules = role.rules.map((r: any) => `${r.apiGroups.join(',')}|${r.resources.join(',')}|${[...r.verbs].sort().join(',')}`);
  t.same(rules, ['|services|list,watch', 'discovery.k8s.io|endpointslices|list,watch', '|nodes|get,list,watch', '|nodes/status|patch']);
  const taints = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'dataplane-sentinel-taints');
  t.same(taints.rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['patch'] }]);
  t.notOk(docs.some((d) => d.kind === 'ClusterRoleBinding' && d.roleRef.name === 'dataplane-sentinel-taints'), 'taint role not bound by default');
  const events = docs.find((d) => d.kind === 'Role');
  t.same([events.metadata.namespace, events.rules], ['default', [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }]]);
  t.notOk(JSON.stringify(docs).includes('"*"'), 'no wildcards');
});

t.test('the admission policy names exactly our condition types and taint key', async (t) => {
  const [policy, binding] = load('admission-policy.yaml');
  t.equal(policy.kind, 'ValidatingAdmissionPolicy');
  t.equal(binding.spec.policyName, policy.metadata.name);
  t.same(binding.spec.validationActions, ['Deny']);
  const vars = Object.fromEntries(policy.spec.variables.map((v: any) => [v.name, v.expression]));
  const types = JSON.parse(vars.ownConditionTypes.replace(/'/g, '"'));
  t.same(types, [...OWNED_CONDITION_TYPES]);
  t.equal(vars.taintKey, `'${TAINT_KEY}'`);
  t.match(policy.spec.matchConditions[0].expression, /system:serviceaccount:dataplane-sentinel:dataplane-sentinel/);
  t.same(policy.spec.matchConstraints.resourceRules[0].resources, ['nodes', 'nodes/status']);
});
