import t from 'tap';
import { trimEndpointSlice, trimNode, trimService } from '../../../lib/kube/trim.ts';
import { Interner } from '../../../lib/kube/intern.ts';
import { makeNode, makeService, makeSlice } from '../../helpers/kube-objects.ts';

t.test('a Service keeps exactly the fields the checker uses', async (t) => {
  const svc = makeService(3);
  svc.metadata.labels['service.kubernetes.io/service-proxy-name'] = 'other-proxy';
  svc.spec.type = 'LoadBalancer';
  svc.spec.ports[0].nodePort = 30080;
  svc.spec.externalTrafficPolicy = 'Local';
  svc.spec.healthCheckNodePort = 31000;
  svc.spec.sessionAffinity = 'ClientIP';
  svc.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 600 } };
  svc.spec.loadBalancerSourceRanges = ['1.2.3.0/24'];
  svc.spec.trafficDistribution = 'PreferClose';
  svc.status = { loadBalancer: { ingress: [{ ip: '203.0.113.7', ipMode: 'VIP', ports: [{ port: 80 }] }] } };
  const r = trimService(svc);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.key, 'ns-3/svc-3');
  t.same(r.value, {
    metadata: { namespace: 'ns-3', name: 'svc-3', labels: { 'service.kubernetes.io/service-proxy-name': 'other-proxy' } },
    spec: {
      type: 'LoadBalancer', clusterIP: '10.96.0.3', clusterIPs: ['10.96.0.3'], ipFamilies: ['IPv4'], loadBalancerSourceRanges: ['1.2.3.0/24'],
      externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Cluster', sessionAffinity: 'ClientIP', healthCheckNodePort: 31000,
      trafficDistribution: 'PreferClose',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }, { name: 'metrics', protocol: 'TCP', port: 9090 }],
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
    },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.7', ipMode: 'VIP' }] } },
  });
});

t.test('Services share their ipFamilies and port lists, but not lists with node ports', async (t) => {
  const interner = new Interner();
  const spec = (i: number, nodePort?: number) => {
    const svc = makeService(i);
    if (nodePort !== undefined) svc.spec.ports[0].nodePort = nodePort;
    const r = trimService(svc, interner);
    if (!r.ok) throw new Error('dropped');
    return r.value.spec;
  };
  const [a, b] = [spec(1), spec(2)];
  t.equal(a['ports'], b['ports'], 'one port list');
  t.equal(a['ipFamilies'], b['ipFamilies'], 'one ipFamilies list');
  t.not(a['clusterIPs'], b['clusterIPs'], 'cluster IPs are not pooled');
  const [c, d] = [spec(3, 30001), spec(4, 30001)];
  t.not(c['ports'], d['ports'], 'lists with a node port are not pooled');
  t.same(c['ports'], d['ports']);
});

t.test('bad field values pass through untouched for lib/kubeproxy to judge', async (t) => {
  const svc = makeService(1);
  delete svc.spec.clusterIP;
  svc.spec.clusterIPs = ['010.096.000.001'];
  svc.spec.ports = [{ protocol: 'BOGUS', port: 'eighty' }, 'junk'];
  const r = trimService(svc);
  t.ok(r.ok);
  if (!r.ok) return;
  t.notOk('clusterIP' in r.value.spec);
  t.same(r.value.spec['clusterIPs'], ['010.096.000.001']);
  t.same(r.value.spec['ports'], [{ protocol: 'BOGUS', port: 'eighty' }, {}]);
});

t.test('transport-level problems drop the object with a reason', async (t) => {
  const cases: [string, unknown, string][] = [
    ['null', null, 'not-an-object'],
    ['an array', [], 'not-an-object'],
    ['no metadata', { spec: {} }, 'missing-name'],
    ['empty name', { metadata: { name: '', namespace: 'a' } }, 'missing-name'],
    ['no namespace', { metadata: { name: 'a' } }, 'missing-namespace'],
  ];
  for (const [what, obj, reason] of cases) {
    const r = trimService(obj);
    t.same(r, { ok: false, reason }, what);
    t.same(trimEndpointSlice(obj), { ok: false, reason }, `${what} (slice)`);
  }
  t.same(trimNode({ metadata: {} }), { ok: false, reason: 'missing-name' });
  t.same(trimNode('x'), { ok: false, reason: 'not-an-object' });
});

t.test('an EndpointSlice keeps addresses, conditions, topology and hints', async (t) => {
  const s = makeSlice(7, 1);
  s.endpoints[0].hints = { forZones: [{ name: 'zone-1', extra: 1 }], forNodes: [{ name: 'node-3' }] };
  s.endpoints[0].deprecatedTopology = { a: 'b' };
  const r = trimEndpointSlice(s);
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.value, {
    metadata: { namespace: 'ns-7', name: 'svc-7-abcde', labels: { 'kubernetes.io/service-name': 'svc-7' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'metrics', protocol: 'TCP', port: 9090 }],
    endpoints: [{
      addresses: ['10.0.0.7'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-7', zone: 'zone-1',
      hints: { forZones: [{ name: 'zone-1' }], forNodes: [{ name: 'node-3' }] },
    }],
  });
});

t.test('a Node keeps name, zone, taints, addresses, conditions and versions; dates become RFC 3339', async (t) => {
  const n = makeNode('n1', { taints: [{ key: 'k', effect: 'NoSchedule', timeAdded: new Date('2025-01-02T03:04:05.678Z') }] });
  const r = trimNode(n);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.key, 'n1');
  t.same(r.value.metadata, { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'zone-0' } });
  t.same(r.value.spec.taints, [{ key: 'k', effect: 'NoSchedule', timeAdded: '2025-01-02T03:04:05Z' }]);
  t.same(r.value.status.nodeInfo, { kubeletVersion: 'v1.30.2', kubeProxyVersion: 'v1.30.2' });
  t.notOk('images' in r.value.status);
});

t.test('the interner shares strings and frozen values', async (t) => {
  const i = new Interner(3);
  const a = i.value({ ready: true });
  t.equal(i.value({ ready: true }), a);
  t.ok(Object.isFrozen(a));
  t.equal(i.string('abc'), 'abc');
  const long = 'x'.repeat(100);
  t.equal(i.string(long), long, 'long strings are not kept');
  i.string('d');
  i.string('e');
  i.string('f'); // over the bound: the pool is reset, never unbounded
  t.ok(i.size <= 4);
});
