// deploy/base/admission-policy.yaml evaluated, not just schema-checked: its CEL runs in
// @marcbachmann/cel-js (optional types on) the way kube-apiserver runs a ValidatingAdmissionPolicy,
// against realistic Node objects and requests from the agent, the kubelet and other users.
//
// What `admit` reproduces (k8s.io/apiserver/pkg/admission/plugin/policy/validating):
// - matchConstraints.resourceRules decide whether the policy sees the request at all;
// - matchConditions: any false → policy not applied; an error (and none false) → failurePolicy;
// - variables are evaluated lazily, once, and each is visible to later ones as `variables.<name>`;
// - validations in order: false → denied with its message and reason, an error or a non-bool
//   result → failurePolicy (Fail denies); the first failure is the one reported;
// - `request` is the AdmissionRequest as the API server builds it and converts it to unstructured,
//   which drops empty fields (omitempty): a user without extras has no `userInfo.extra` at all, and
//   reading a missing field is an error ("no such key"), as in the API server.
import t, { type Test } from 'tap';
import { Environment } from '@marcbachmann/cel-js';
import { TAINT_KEY } from '../../lib/kube/conditions.ts';
import { loadYaml } from './helpers.ts';

const [policy, binding] = loadYaml('deploy/base/admission-policy.yaml');
const AGENT = 'system:serviceaccount:dataplane-sentinel:dataplane-sentinel';
const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name';

const env = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true });
const compiled = new Map<string, (ctx: Record<string, unknown>) => unknown>();
function evaluate(expression: string, ctx: Record<string, unknown>): unknown {
  let program = compiled.get(expression);
  if (program === undefined) compiled.set(expression, (program = env.parse(expression)));
  return program(ctx);
}

type Node = Record<string, any>;
type Request = {
  username: string;
  extra?: Record<string, string[]>;
  operation?: 'CREATE' | 'UPDATE' | 'DELETE';
  subResource?: 'status';
  oldObject: Node;
  object: Node;
};
type Decision = { allowed: true; applied: boolean } | { allowed: false; message: string; reason?: string };

// The request variable as the API server has it: CreateAdmissionRequest, then ToUnstructured (empty
// extra/subResource omitted).
function admissionRequest(r: Request) {
  const gvk = { group: '', version: 'v1', kind: 'Node' };
  const gvr = { group: '', version: 'v1', resource: 'nodes' };
  const extra = r.extra !== undefined && Object.keys(r.extra).length > 0 ? { extra: r.extra } : {};
  const sub = r.subResource !== undefined ? { subResource: r.subResource, requestSubResource: r.subResource } : {};
  return {
    kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr, ...sub,
    name: r.object.metadata.name, operation: r.operation ?? 'UPDATE', dryRun: false,
    userInfo: { username: r.username, uid: 'b1c5c4a8-5c3e-4a6e-9b8e-3a2f1d0c9e71', groups: ['system:serviceaccounts', 'system:authenticated'], ...extra },
    options: { kind: 'PatchOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'dataplane-sentinel' },
  };
}

function matchesConstraints(r: Request): boolean {
  const resource = r.subResource === undefined ? 'nodes' : `nodes/${r.subResource}`;
  return policy.spec.matchConstraints.resourceRules.some((rule: any) =>
    rule.apiGroups.includes('') && rule.apiVersions.includes('v1') &&
    rule.operations.includes(r.operation ?? 'UPDATE') && rule.resources.includes(resource));
}

/** Runs the policy (through its binding) on one request, as kube-apiserver would. */
function admit(r: Request): Decision {
  if (!matchesConstraints(r)) return { allowed: true, applied: false };
  const failed = (message: string): Decision => (policy.spec.failurePolicy === 'Ignore' ? { allowed: true, applied: true } : { allowed: false, message });
  const ctx: Record<string, unknown> = { request: admissionRequest(r), object: r.object, oldObject: r.oldObject };

  let conditionError: string | undefined;
  for (const mc of policy.spec.matchConditions ?? []) {
    try {
      const v = evaluate(mc.expression, ctx);
      if (v === false) return { allowed: true, applied: false };
      if (v !== true) conditionError ??= `matchCondition ${mc.name} returned ${String(v)}`;
    } catch (err) {
      conditionError ??= `matchCondition ${mc.name}: ${(err as Error).message}`;
    }
  }
  if (conditionError !== undefined) return failed(conditionError);

  // Lazy, memoised variables (results and errors), each seeing the ones declared before it.
  const variables: Record<string, unknown> = {};
  const vctx = { ...ctx, variables };
  for (const v of policy.spec.variables ?? []) {
    let memo: { value: unknown } | { error: unknown } | undefined;
    Object.defineProperty(variables, v.name, {
      enumerable: true,
      get() {
        if (memo === undefined) {
          try { memo = { value: evaluate(v.expression, vctx) }; } catch (error) { memo = { error }; }
        }
        if ('error' in memo) throw memo.error;
        return memo.value;
      },
    });
  }

  for (const v of policy.spec.validations) {
    let result: unknown;
    try { result = evaluate(v.expression, vctx); } catch (err) { return failed(`expression '${v.expression}' resulted in error: ${(err as Error).message}`); }
    if (result === false) return { allowed: false, message: v.message, reason: v.reason };
    if (result !== true) return failed(`expression '${v.expression}' returned ${String(result)}, not a bool`);
  }
  return { allowed: true, applied: true };
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a kubelet-registered worker Node and the agent's requests.
// ---------------------------------------------------------------------------------------------

const cond = (type: string, status: string, reason: string, message: string, at = '2026-11-22T10:00:00Z') =>
  ({ type, status, reason, message, lastHeartbeatTime: at, lastTransitionTime: at });

function workerNode(name = 'worker-1'): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: '5d3a9f0e-7c41-4c2b-a0a4-0f6de1c2b9aa',
      resourceVersion: '418233',
      creationTimestamp: '2026-11-01T08:12:44Z',
      labels: {
        'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'm6i.large',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: {
      podCIDR: '10.244.1.0/24',
      podCIDRs: ['10.244.1.0/24'],
      providerID: `aws:///eu-west-1a/i-0a1b2c3d4e5f60718`,
      taints: [{ key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule', timeAdded: '2026-11-22T09:00:00Z' }],
    },
    status: {
      capacity: { cpu: '2', memory: '7934424Ki', pods: '110' },
      allocatable: { cpu: '1930m', memory: '7217624Ki', pods: '110' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'True', 'KubeletHasDiskPressure', 'kubelet has disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        cond('KubeProxySyncFailing', 'False', 'SyncOK', 'kube-proxy syncs succeed'),
      ],
      addresses: [{ type: 'InternalIP', address: '10.0.12.34' }, { type: 'Hostname', address: name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: { kubeletVersion: 'v1.31.4', kubeProxyVersion: 'v1.31.4', containerRuntimeVersion: 'containerd://1.7.24', osImage: 'Ubuntu 24.04.1 LTS' },
    },
  };
}

// The bound token of the agent's pod on worker-1 (Kubernetes >= 1.30 puts the node in extra).
const podTokenExtra = (node = 'worker-1') => ({
  'authentication.kubernetes.io/credential-id': ['JTI=7f0c2d1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f'],
  [NODE_NAME_KEY]: [node],
  'authentication.kubernetes.io/node-uid': ['5d3a9f0e-7c41-4c2b-a0a4-0f6de1c2b9aa'],
  'authentication.kubernetes.io/pod-name': ['dataplane-sentinel-x7k2p'],
  'authentication.kubernetes.io/pod-uid': ['c0ffee00-1234-4abc-8def-0123456789ab'],
});

/** The agent's UPDATE of worker-1 (nodes/status unless `subResource: undefined`), `change` applied to a copy. */
function agentUpdate(change: (n: Node) => void, o: Partial<Request> = {}): Request {
  const oldObject = o.oldObject ?? workerNode();
  const object = structuredClone(oldObject);
  change(object);
  return { username: AGENT, extra: podTokenExtra(), subResource: 'status', oldObject, object, ...o };
}
const conditions = (n: Node): any[] => n.status.conditions;
const byType = (n: Node, type: string) => conditions(n).find((c) => c.type === type);
const taintUpdate = (change: (n: Node) => void, o: Partial<Request> = {}) => agentUpdate(change, { subResource: undefined, ...o });

const NODE_MSG = /only the Node its pod runs on/;
const COND_MSG = /only its own node condition types/;
const TAINT_MSG = /only taints with its own key/;
const META_MSG = /may not change Node labels, annotations/;

const allowed = (t: Test, r: Request, what: string) => t.same(admit(r), { allowed: true, applied: true }, what);
const denied = (t: Test, r: Request, message: RegExp, what: string) => {
  const d = admit(r);
  t.equal(d.allowed, false, what);
  if (!d.allowed) { t.match(d.message, message, `${what}: message`); t.equal(d.reason, 'Forbidden', `${what}: reason`); }
};

// ---------------------------------------------------------------------------------------------

t.test('every expression of the policy parses and type-checks with optional types on', async (t) => {
  const expressions = [...policy.spec.matchConditions, ...policy.spec.variables, ...policy.spec.validations].map((e: any) => e.expression as string);
  t.equal(expressions.length, 13);
  for (const e of expressions) t.ok(env.parse(e).check().valid, e);
});

t.test('the binding denies, and the policy sees every UPDATE of nodes and nodes/status', async (t) => {
  t.equal(binding.kind, 'ValidatingAdmissionPolicyBinding');
  t.equal(binding.spec.policyName, policy.metadata.name);
  t.same(binding.spec.validationActions, ['Deny'], 'Deny, not Warn/Audit only');
  t.equal(binding.spec.matchResources, undefined, 'no narrowing: the binding covers everything the policy matches');
  t.equal(binding.spec.paramRef, undefined);
  t.equal(policy.spec.paramKind, undefined);
  t.equal(policy.spec.failurePolicy, 'Fail', 'an evaluation error denies');
  // RBAC gives the agent `patch` on nodes and nodes/status only; a patch is an UPDATE in admission.
  t.same(policy.spec.matchConstraints.resourceRules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['nodes', 'nodes/status'] }]);
  t.equal(admit(agentUpdate((n) => { n.metadata.labels.x = 'y'; }, { subResource: undefined })).allowed, false, 'nodes');
  t.equal(admit(agentUpdate((n) => { conditions(n).pop(); })).allowed, true, 'nodes/status');
});

t.test('the agent may add, change and remove its own condition types on its own Node', async (t) => {
  allowed(t, agentUpdate((n) => { conditions(n).push(cond('CNIFailing', 'True', 'CNIErrors', '3 CNI errors in 5m', '2026-11-22T10:05:00Z')); }), 'add CNIFailing');
  allowed(t, agentUpdate((n) => {
    for (const type of ['ServiceRulesDrift', 'KubeProxyVersionSkew']) conditions(n).push(cond(type, 'False', 'OK', 'fine'));
  }), 'add two at once');
  allowed(t, agentUpdate((n) => { Object.assign(byType(n, 'KubeProxySyncFailing'), { status: 'True', reason: 'SyncFailed', lastTransitionTime: '2026-11-22T10:05:00Z' }); }), 'change KubeProxySyncFailing');
  allowed(t, agentUpdate((n) => { byType(n, 'KubeProxySyncFailing').lastHeartbeatTime = '2026-11-22T10:06:00Z'; }), 'heartbeat only');
  allowed(t, agentUpdate((n) => { n.status.conditions = conditions(n).filter((c) => c.type !== 'KubeProxySyncFailing'); }), 'remove KubeProxySyncFailing');
  allowed(t, agentUpdate(() => {}), 'no-op patch');
  // A Node that has no conditions yet (and no taints): the optional reads fall back to [].
  const bare = workerNode();
  delete bare.status.conditions;
  delete bare.spec.taints;
  allowed(t, agentUpdate((n) => { n.status.conditions = [cond('CNIFailing', 'False', 'OK', 'fine')]; }, { oldObject: bare }), 'first condition on a bare Node');
});

t.test('the agent may not touch any other condition', async (t) => {
  denied(t, agentUpdate((n) => { Object.assign(byType(n, 'Ready'), { status: 'False', reason: 'KubeletNotReady' }); }), COND_MSG, "change kubelet's Ready");
  denied(t, agentUpdate((n) => { byType(n, 'Ready').lastHeartbeatTime = '2026-11-22T10:06:00Z'; }), COND_MSG, "heartbeat kubelet's Ready");
  denied(t, agentUpdate((n) => { n.status.conditions = conditions(n).filter((c) => c.type !== 'DiskPressure'); }), COND_MSG, 'remove DiskPressure');
  denied(t, agentUpdate((n) => { conditions(n).push(cond('NetworkUnavailable', 'True', 'NoRouteCreated', 'x')); }), COND_MSG, 'add NetworkUnavailable');
  denied(t, agentUpdate((n) => {
    conditions(n).push(cond('CNIFailing', 'True', 'CNIErrors', 'x'));
    byType(n, 'MemoryPressure').status = 'True';
  }), COND_MSG, 'own and foreign in one patch');
});

t.test('the agent may change only the Node its pod runs on', async (t) => {
  const change = (n: Node) => { conditions(n).push(cond('CNIFailing', 'True', 'CNIErrors', 'x')); };
  denied(t, agentUpdate(change, { extra: podTokenExtra('worker-2') }), NODE_MSG, 'token bound to worker-2, Node worker-1');
  const other = workerNode('worker-2');
  denied(t, agentUpdate(change, { oldObject: other }), NODE_MSG, 'token bound to worker-1, Node worker-2');
  // Tokens without the node claim: no extra at all (dropped by the API server) or other extras only.
  denied(t, agentUpdate(change, { extra: undefined }), NODE_MSG, 'no extra');
  denied(t, agentUpdate(change, { extra: { 'authentication.kubernetes.io/credential-id': ['JTI=1'] } }), NODE_MSG, 'extra without node-name');
  denied(t, agentUpdate(change, { extra: { [NODE_NAME_KEY]: [] } }), NODE_MSG, 'empty node-name claim');
  denied(t, agentUpdate(change, { extra: { [NODE_NAME_KEY]: [''] } }), NODE_MSG, 'blank node-name claim');
});

t.test('a token without extras fails validation 1 itself, not through an evaluation error', async (t) => {
  // Why callerNode reads `request.userInfo.?extra`: the plain read is an error when the API
  // server drops the empty map, which denies only because failurePolicy is Fail.
  const ctx = { request: admissionRequest(agentUpdate(() => {}, { extra: undefined })) };
  t.throws(() => evaluate(`'${NODE_NAME_KEY}' in request.userInfo.extra`, ctx), /no such key/i);
  const callerNode = policy.spec.variables.find((v: any) => v.name === 'callerNode').expression;
  t.equal(evaluate(callerNode, ctx), '');
});

t.test('the agent may add, change and remove only its own taint', async (t) => {
  const own = { key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' };
  allowed(t, taintUpdate((n) => { n.spec.taints.push(own); }), 'add own taint');
  const tainted = workerNode();
  tainted.spec.taints.push(own);
  allowed(t, taintUpdate((n) => { n.spec.taints = n.spec.taints.filter((x: any) => x.key !== TAINT_KEY); }, { oldObject: tainted }), 'remove own taint');
  allowed(t, taintUpdate((n) => { n.spec.taints.find((x: any) => x.key === TAINT_KEY).value = 'CNIFailing'; }, { oldObject: tainted }), 'change own taint');
  const untainted = workerNode();
  delete untainted.spec.taints;
  allowed(t, taintUpdate((n) => { n.spec.taints = [own]; }, { oldObject: untainted }), 'first taint on a Node without taints');

  denied(t, taintUpdate((n) => { n.spec.taints.push({ key: 'example.com/maintenance', effect: 'NoExecute' }); }), TAINT_MSG, 'add a foreign taint');
  denied(t, taintUpdate((n) => { n.spec.taints = [own]; }), TAINT_MSG, 'replace the disk-pressure taint with its own');
  denied(t, taintUpdate((n) => { n.spec.taints[0].effect = 'NoExecute'; }), TAINT_MSG, "change the disk-pressure taint's effect");
  denied(t, taintUpdate((n) => { n.spec.taints.push(own); }, { extra: podTokenExtra('worker-2') }), NODE_MSG, 'own taint on a Node not its own');
});

t.test('the agent may not change labels, annotations, owners, finalizers or other spec fields', async (t) => {
  const cases: [string, (n: Node) => void][] = [
    ['add a label', (n) => { n.metadata.labels['node-role.kubernetes.io/worker'] = ''; }],
    ['change a label', (n) => { n.metadata.labels['kubernetes.io/hostname'] = 'evil'; }],
    ['remove all labels', (n) => { delete n.metadata.labels; }],
    ['add an annotation', (n) => { n.metadata.annotations['example.com/x'] = 'y'; }],
    ['add an owner reference (the GC would delete the Node)', (n) => { n.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: '00000000-0000-0000-0000-000000000001' }]; }],
    ['add a finalizer', (n) => { n.metadata.finalizers = ['example.com/hold']; }],
    ['cordon', (n) => { n.spec.unschedulable = true; }],
    ['change podCIDRs', (n) => { n.spec.podCIDRs = ['10.244.9.0/24']; }],
    ['change providerID', (n) => { n.spec.providerID = 'aws:///eu-west-1a/i-0ffffffffffffffff'; }],
  ];
  for (const [what, change] of cases) {
    denied(t, taintUpdate(change), META_MSG, `${what} (nodes)`);
    denied(t, agentUpdate(change), META_MSG, `${what} (nodes/status)`);
  }
  // Server-managed metadata is not compared.
  allowed(t, agentUpdate((n) => { n.metadata.resourceVersion = '418240'; }), 'resourceVersion bump');
});

t.test('status fields other than conditions are compared', async (t) => {
  const STATUS_MSG = /may change only its own conditions in a Node's status/;
  denied(t, agentUpdate((n) => { n.status.addresses[0].address = '10.0.99.99'; }), STATUS_MSG, 'change InternalIP');
  denied(t, agentUpdate((n) => { n.status.allocatable.pods = '0'; }), STATUS_MSG, 'zero allocatable pods');
  denied(t, agentUpdate((n) => { n.status.daemonEndpoints.kubeletEndpoint.Port = 10999; }), STATUS_MSG, 'move the kubelet port');
  denied(t, agentUpdate((n) => { delete n.status.nodeInfo; }), STATUS_MSG, 'remove nodeInfo');
  allowed(t, agentUpdate((n) => { Object.assign(byType(n, 'ServiceRulesDrift') ?? {}, { lastHeartbeatTime: '2026-11-22T23:59:00Z' }); }), 'a heartbeat of its own condition, everything else as it was');
});

t.test('other users and other operations are not subject to the policy', async (t) => {
  const kubeletReady = (n: Node) => { Object.assign(byType(n, 'Ready'), { status: 'False', reason: 'KubeletNotReady' }); };
  t.same(admit({ ...agentUpdate(kubeletReady), username: 'system:node:worker-1', extra: {} }), { allowed: true, applied: false }, 'the kubelet');
  t.same(admit({ ...agentUpdate(kubeletReady), username: 'system:serviceaccount:kube-system:node-controller' }), { allowed: true, applied: false }, 'node-controller');
  t.same(admit({ ...agentUpdate(kubeletReady), username: 'system:serviceaccount:other:dataplane-sentinel' }), { allowed: true, applied: false }, 'same name, other namespace');
  t.same(admit({ ...agentUpdate(kubeletReady), username: 'kubernetes-admin' }), { allowed: true, applied: false }, 'an admin');
  // CREATE and DELETE are not granted by RBAC, so the policy does not match them.
  t.same(admit(agentUpdate(kubeletReady, { operation: 'DELETE', subResource: undefined })), { allowed: true, applied: false }, 'DELETE');
});
