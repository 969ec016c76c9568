// The API view travels to the scan worker as changes (ClusterDeltaTracker) applied to a store
// (ClusterStore): after any sequence of changes the store's view is the one read from the objects
// the agent holds, and a whole encoded view reads back the same.
import t from 'tap';
import { deserialize, serialize } from 'node:v8';
import { ClusterDeltaTracker } from '../../../lib/kubeproxy/cluster-delta.ts';
import type { ViewObjects } from '../../../lib/kubeproxy/cluster-delta.ts';
import { readClusterObjects } from '../../../lib/kubeproxy/cluster-input.ts';
import { ClusterStore } from '../../../lib/kubeproxy/cluster-store.ts';
import type { ClusterView } from '../../../lib/kubeproxy/cluster.ts';
import { demoItems, splitByKind } from '../../helpers/demo-cluster.ts';

type Obj = Record<string, any>;
// The demo cluster as the informers keep it: objects without `kind`, frozen.
const viewOf = (items: Obj[]) => splitByKind(items, (o) => { const { kind: _, ...rest } = o; return Object.freeze(rest); });
const withKinds = (v: ViewObjects): unknown[] => [
  ...v.services.map((o) => ({ kind: 'Service', ...o })),
  ...v.endpointSlices.map((o) => ({ kind: 'EndpointSlice', ...o })),
  ...(v.node === undefined ? [] : [{ kind: 'Node', ...v.node }]),
];
// A view's content, in a canonical order (the store keeps its own order).
const sorted = (v: ClusterView) => ({
  services: [...v.services].map((s) => JSON.stringify(s)).sort(),
  slices: [...v.slices].map((s) => JSON.stringify(s)).sort(),
  nodes: [...v.nodes].map((s) => JSON.stringify(s)).sort(),
  skipped: [...v.skipped].map((p) => `${p.object}: ${p.reason}`).sort(),
  ignoredServices: v.ignoredServices,
});

t.test('changes applied one take at a time leave the store with the view of the objects held', async (t) => {
  const tracker = new ClusterDeltaTracker(serialize);
  const store = new ClusterStore();
  let v = viewOf(demoItems());
  const step = (what: string, next: typeof v): void => {
    v = next;
    const d = tracker.take(v);
    store.apply(d.upserts, d.deletes);
    t.same(store.counts(), { services: v.services.length, slices: v.endpointSlices.length, nodes: v.node === undefined ? 0 : 1 }, `${what}: counts`);
    t.same(d.counts, store.counts(), `${what}: the delta carries the counts`);
    t.same(sorted(store.view()), sorted(readClusterObjects(withKinds(v), { where: () => 'API' })), `${what}: the same view`);
  };
  step('first take', v);
  const first = tracker.take(v);
  t.same([first.upserts.length, first.deletes.length], [0, 0], 'nothing changed: an empty delta');

  const slice = v.endpointSlices[0]!;
  const changed = Object.freeze({ ...slice, endpoints: slice.endpoints.slice(1) });
  step('a slice replaced', { ...v, endpointSlices: [changed, ...v.endpointSlices.slice(1)] });
  const d = tracker.take({ ...v, endpointSlices: v.endpointSlices.slice(1) });
  t.same(d.deletes, [{ kind: 'EndpointSlice', key: `${slice.metadata.namespace}/${slice.metadata.name}` }], 'a deletion by key');
  store.apply(d.upserts, d.deletes);
  v = { ...v, endpointSlices: v.endpointSlices.slice(1) };
  t.same(sorted(store.view()), sorted(readClusterObjects(withKinds(v), { where: () => 'API' })), 'a slice deleted: the same view');

  const bad = Object.freeze({ metadata: { namespace: 'x', name: 'bad' }, spec: { clusterIP: '10.0.0.99', ports: [{ port: 80, protocol: 'QUIC' }] } });
  step('a Service added, one with a problem', { ...v, services: [...v.services, bad] });
  t.match(store.view().skipped, [{ where: 'API', object: 'Service x/bad', reason: /protocol "QUIC"/ }], 'its problem is listed');
  step('the node gone', { ...v, node: undefined });
  step('the node back, a Service replaced at the same key', { ...v, node: viewOf(demoItems()).node, services: v.services.map((s) => Object.freeze({ ...s })) });
});

t.test('the whole view, encoded object by object, reads back as the view held', async (t) => {
  const tracker = new ClusterDeltaTracker(serialize);
  const v = viewOf(demoItems());
  tracker.take(v);
  const { bytes, ends } = tracker.encoded();
  t.equal(ends.length, v.services.length + v.endpointSlices.length + 1, 'one object per end');
  t.equal(ends.at(-1), bytes.byteLength);
  const items = ends.map((end, i) => deserialize(bytes.subarray(ends[i - 1] ?? 0, end)));
  const store = new ClusterStore();
  t.same(store.replace(items), [], 'nothing skipped');
  t.same(sorted(store.view()), sorted(readClusterObjects(withKinds(v), { where: () => 'API' })));
  t.equal(store.view(), store.view(), 'the view is kept until the next change');
});

t.test('the store reports objects of other kinds as skipped, without keeping them', async (t) => {
  const store = new ClusterStore();
  const skipped = store.apply([{ metadata: { name: 'x' } }, { kind: 'ConfigMap', metadata: { name: 'y' } }], []);
  t.match(skipped, [{ reason: /no "kind"/ }], 'an object without a kind is reported');
  t.same(store.counts(), { services: 0, slices: 0, nodes: 0 });
  t.same(store.view().services, []);
});
