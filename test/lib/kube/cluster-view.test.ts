// The whole view (three informers) through the real client against the fake API server.
import t from 'tap';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';
import { kubeApiFor } from '../../helpers/kube-client.ts';
import { makeNode, makeService, makeSlice } from '../../helpers/kube-objects.ts';
import { memoryLogger, waitFor } from '../../helpers/kube-testing.ts';
import { createClusterView } from '../../../lib/kube/cluster-view.ts';
import { systemClock } from '../../../lib/kube/deps.ts';
import { unpackEndpointSlice } from '../../../lib/kube/packed-slice.ts';
import { judgeDrift, EMPTY_HISTORY } from '../../../lib/kube/drift-judgement.ts';

const fast = { backoff: { baseMs: 20, maxMs: 100 }, freshness: { maxViewAgeMs: 500, unreachableAfterFailures: 2 } };

t.test('a snapshot holds the three views, their freshness and per-Service change times', async (t) => {
  const server = await FakeApiServer.start({ token: 'test-token', bookmarkIntervalMs: 100 });
  server.load('services', [makeService(1), makeService(2)]);
  server.load('endpointslices', [makeSlice(1, 2), makeSlice(2, 2)]);
  server.load('nodes', [makeNode('node-a'), makeNode('node-b')]);
  const view = createClusterView({ api: kubeApiFor(server.url), nodeName: 'node-a', log: memoryLogger(), clock: systemClock, ...fast });
  t.teardown(async () => {
    await view.close();
    await server.stop();
  });
  view.start();
  await view.waitForSync();
  const s = view.snapshot();
  t.equal(s.services.length, 2);
  t.equal(s.endpointSlices.length, 2);
  t.equal(s.node?.metadata.name, 'node-a', 'only our own Node');
  t.equal(s.state, 'synced');
  t.equal(s.judgeable, true);
  t.same(Object.keys(s.freshness), ['services', 'endpointSlices', 'node']);
  const nodeList = server.requests.find((r) => r.path === '/api/v1/nodes')!;
  t.equal(nodeList.query['fieldSelector'], 'metadata.name=node-a');
  const before = Date.now();
  const slice = makeSlice(1, 3);
  server.upsert('endpointslices', slice);
  await waitFor(() => (view.snapshot().serviceChangedAt.get('ns-1/svc-1') ?? 0) >= before, 2000, 'slice change attributed to its Service');
  server.remove('services', 'ns-2', 'svc-2');
  await waitFor(() => view.snapshot().serviceChangedAt.has('ns-2/svc-2'), 2000, 'deletion noted');
  t.ok((view.snapshot().lastChangeAt ?? 0) >= before);
});

t.test('API down at start, and lost mid-run: Unknown verdicts, never drift', async (t) => {
  const server = await FakeApiServer.start({ token: 'test-token', bookmarkIntervalMs: 100 });
  server.load('services', [makeService(1)]);
  server.load('nodes', [makeNode('node-a')]);
  await server.down();
  const view = createClusterView({ api: kubeApiFor(server.url), nodeName: 'node-a', log: memoryLogger(), clock: systemClock, ...fast });
  t.teardown(async () => {
    await view.close();
    await server.stop();
  });
  view.start();
  await waitFor(() => view.snapshot().state === 'api-unreachable', 3000, 'unreachable at start');
  const judge = () => {
    const s = view.snapshot();
    return judgeDrift({ drifts: [{ key: 'x' }], now: s.takenAt, view: s, serviceChangedAt: s.serviceChangedAt, history: EMPTY_HISTORY }).condition;
  };
  t.match(judge(), { status: 'Unknown', reason: 'APIUnreachable' });
  await server.up();
  await view.waitForSync();
  await waitFor(() => view.snapshot().state === 'synced', 3000, 'synced');
  t.match(judge(), { status: 'False' });
  await server.down();
  await waitFor(() => !view.snapshot().judgeable, 3000, 'unjudgeable after the loss');
  t.equal(view.snapshot().services.length, 1, 'last view kept');
  t.equal(judge().status, 'Unknown');
});

t.test('initial sync of 10k Services and 100k endpoints', async (t) => {
  const server = await FakeApiServer.start({ record: false });
  server.load('services', Array.from({ length: 10_000 }, (_, i) => makeService(i)));
  server.load('endpointslices', Array.from({ length: 10_000 }, (_, i) => makeSlice(i, 10)));
  server.load('nodes', [makeNode('node-1')]);
  const view = createClusterView({ api: kubeApiFor(server.url), nodeName: 'node-1', log: memoryLogger(), clock: systemClock });
  t.teardown(async () => {
    await view.close();
    await server.stop();
  });
  const start = performance.now();
  view.start();
  await view.waitForSync();
  const ms = performance.now() - start;
  const s = view.snapshot();
  t.equal(s.services.length, 10_000);
  t.equal(s.endpointSlices.reduce((n, e) => n + (unpackEndpointSlice(e).endpoints as unknown[]).length, 0), 100_000);
  t.ok(ms < 10_000, `synced in ${Math.round(ms)} ms (limit 10 s; server in-process here, see bench/kube-sync.ts)`);
});
