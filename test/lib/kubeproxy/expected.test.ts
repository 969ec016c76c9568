// The expected model picks endpoints as kube-proxy does, from the slices' packed endpoint columns:
// conditions, the terminating fallback, local endpoints, duplicates across slices, topology hints.
import t from 'tap';
import { readClusterObjects } from '../../../lib/kubeproxy/cluster-input.ts';
import { READY, SERVING, TERMINATING } from '../../../lib/kubeproxy/cluster.ts';
import { expectedServicePorts } from '../../../lib/kubeproxy/expected.ts';
import type { ExpectedServicePort } from '../../../lib/kubeproxy/expected.ts';

type Obj = Record<string, unknown>;

const service = (spec: Obj = {}): Obj => ({
  apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name: 'web' },
  spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ...spec },
});
const slice = (name: string, endpoints: Obj[]): Obj => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { namespace: 'ns', name, labels: { 'kubernetes.io/service-name': 'web' } },
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  endpoints,
});
const ep = (ip: string, extra: Obj = {}): Obj => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'n1', ...extra });

function model(items: Obj[], zone?: string): ExpectedServicePort {
  const view = readClusterObjects(items, { where: String });
  const [port] = expectedServicePorts(view, { family: 4, node: { name: 'n1', zone, addresses: [] } });
  if (port === undefined) throw new Error('no service port');
  return port;
}
const ids = (sets: ExpectedServicePort['clusterCandidates']): string[][] => sets.map((s) => s.map((e) => e.id));

t.test('a slice keeps its endpoints as columns: addresses, a condition character each, node names, hints only when some endpoint has them', async (t) => {
  const view = readClusterObjects([service(), slice('a', [
    ep('10.1.0.1'),
    ep('10.1.0.02', { conditions: { ready: false, serving: true, terminating: true }, nodeName: undefined }),
    ep('10.1.0.3', { hints: { forZones: [{ name: 'z1' }], forNodes: [{ name: 'n1' }] } }),
  ])], { where: String });
  const endpoints = view.slices[0]?.endpoints;
  t.same(endpoints?.ips, ['10.1.0.1', '10.1.0.2', '10.1.0.3'], 'canonical addresses');
  t.same([...endpoints?.conditions ?? ''].map((c) => c.charCodeAt(0) - 48), [READY | SERVING, SERVING | TERMINATING, READY | SERVING]);
  t.same(endpoints?.nodeNames, ['n1', '', 'n1'], 'no nodeName is an empty name');
  t.same(endpoints?.hints, [null, null, { zones: ['z1'], nodes: ['n1'] }]);
  const plain = readClusterObjects([service(), slice('a', [ep('10.1.0.1')])], { where: String });
  t.notOk('hints' in (plain.slices[0]?.endpoints ?? {}), 'no hints column without hints');
});

t.test('ready endpoints are used, sorted as kube-proxy sorts them; not-ready ones are left out', async (t) => {
  const p = model([service(), slice('a', [ep('10.1.0.9'), ep('10.1.0.10'), ep('10.1.0.5', { conditions: { ready: false } })])]);
  t.same(ids(p.clusterCandidates), [['10.1.0.10:8080', '10.1.0.9:8080']]);
  t.ok(p.hasEndpoints);
});

t.test('short and long endpoint lists, in any order, come out sorted by id as Array#sort sorts them', async (t) => {
  for (const n of [0, 1, 2, 31, 32, 33, 200]) {
    // a fixed shuffle (an LCG), with addresses whose text order differs from their numeric order
    const ips = Array.from({ length: n }, (_, i) => `10.${i % 3}.${(i * 7) % 11}.${i}`);
    let seed = n + 1;
    for (let i = ips.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [ips[i], ips[j]] = [ips[j] as string, ips[i] as string];
    }
    const p = model([service(), slice('a', ips.map((ip) => ep(ip)))]);
    const want = ips.map((ip) => `${ip}:8080`).sort();
    t.same(ids(p.clusterCandidates), [want], `${n} endpoints`);
  }
});

t.test('with no ready endpoint, serving terminating endpoints are used', async (t) => {
  const p = model([service(), slice('a', [
    ep('10.1.0.1', { conditions: { ready: false, serving: true, terminating: true } }),
    ep('10.1.0.2', { conditions: { ready: false, serving: false, terminating: true } }),
  ])]);
  t.same(ids(p.clusterCandidates), [['10.1.0.1:8080']]);
});

t.test('an endpoint on this node is local; internalTrafficPolicy Local uses only those', async (t) => {
  const p = model([service({ internalTrafficPolicy: 'Local' }), slice('a', [ep('10.1.0.1'), ep('10.1.0.2', { nodeName: 'n2' }), ep('10.1.0.3', { nodeName: undefined })])]);
  t.same(p.localEndpoints.map((e) => e.id), ['10.1.0.1:8080']);
  t.same(p.localEndpoints.map((e) => e.local), [true]);
});

t.test('the same address in two slices counts once: the last one that is not terminating', async (t) => {
  const p = model([service({ internalTrafficPolicy: 'Local' }), slice('a', [ep('10.1.0.1', { nodeName: 'n2' })]), slice('b', [ep('10.1.0.1')])]);
  t.same(p.localEndpoints.map((e) => e.id), ['10.1.0.1:8080'], 'the second slice says it is on this node');
  const q = model([service({ internalTrafficPolicy: 'Local' }), slice('a', [ep('10.1.0.1')]), slice('b', [ep('10.1.0.1', { nodeName: 'n2', conditions: { ready: true, terminating: true } })])]);
  t.same(q.localEndpoints.map((e) => e.id), ['10.1.0.1:8080'], 'a terminating duplicate does not win');
});

t.test('zone hints: the node\'s zone selects its endpoints; an unknown zone accepts every zone\'s subset and all', async (t) => {
  const items = [service(), slice('a', [
    ep('10.1.0.1', { hints: { forZones: [{ name: 'z1' }] } }),
    ep('10.1.0.2', { hints: { forZones: [{ name: 'z2' }] } }),
  ])];
  t.same(ids(model(items, 'z1').clusterCandidates), [['10.1.0.1:8080']]);
  t.same(ids(model(items).clusterCandidates), [['10.1.0.1:8080'], ['10.1.0.2:8080'], ['10.1.0.1:8080', '10.1.0.2:8080']]);
  const partly = [service(), slice('a', [ep('10.1.0.1', { hints: { forZones: [{ name: 'z1' }] } }), ep('10.1.0.2')])];
  t.same(ids(model(partly, 'z1').clusterCandidates), [['10.1.0.1:8080', '10.1.0.2:8080']], 'hints are ignored unless every endpoint has them');
});

t.test('node hints (PreferSameNode): this node\'s endpoints, or all of them as older kube-proxy does', async (t) => {
  const items = [service(), slice('a', [
    ep('10.1.0.1', { hints: { forNodes: [{ name: 'n1' }] } }),
    ep('10.1.0.2', { nodeName: 'n2', hints: { forNodes: [{ name: 'n2' }] } }),
  ])];
  t.same(ids(model(items).clusterCandidates), [['10.1.0.1:8080'], ['10.1.0.1:8080', '10.1.0.2:8080']]);
});
