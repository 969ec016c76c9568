// The informer against the fake API server, through the real @kubernetes/client-node code.
import t, { type Test } from 'tap';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';
import { kubeApiFor } from '../../helpers/kube-client.ts';
import { makeNode, makeService, makeSlice } from '../../helpers/kube-objects.ts';
import { memoryLogger, waitFor } from '../../helpers/kube-testing.ts';
import { Informer } from '../../../lib/kube/informer.ts';
import { trimEndpointSlice, trimService, type TrimmedEndpointSlice, type TrimmedService } from '../../../lib/kube/trim.ts';
import { systemClock } from '../../../lib/kube/deps.ts';

const fast = { backoff: { baseMs: 20, maxMs: 100 }, freshness: { maxViewAgeMs: 400, unreachableAfterFailures: 3 } };

async function setup(t: Test, opts: { services?: number; inactivityMs?: number; bookmarkIntervalMs?: number; listTimeoutMs?: number } = {}) {
  const server = await FakeApiServer.start({ token: 'test-token', bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 0 });
  server.load('services', Array.from({ length: opts.services ?? 5 }, (_, i) => makeService(i)));
  const api = kubeApiFor(server.url, { watchInactivityMs: opts.inactivityMs ?? 5000 });
  const log = memoryLogger();
  const changes: string[] = [];
  const inf = new Informer<TrimmedService>({
    resource: 'services',
    path: '/api/v1/services',
    list: api.listServices,
    watch: api.watch,
    trim: trimService,
    pageSize: 2,
    listTimeoutMs: opts.listTimeoutMs ?? 5000,
    log,
    clock: systemClock,
    onChange: (c) => changes.push(`${c.current ? (c.previous ? 'update' : 'add') : 'delete'} ${c.key}`),
    ...fast,
  });
  t.teardown(async () => {
    await inf.close();
    await server.stop();
  });
  return { server, api, inf, log, changes };
}

t.test('lists in pages, then follows adds, updates and deletes from the watch', async (t) => {
  const { server, inf, changes } = await setup(t);
  inf.start();
  await inf.waitForSync();
  t.equal(inf.values().length, 5);
  const lists = server.requests.filter((r) => r.path === '/api/v1/services' && r.query['watch'] === undefined);
  t.equal(lists.length, 3, 'five objects in pages of two');
  t.equal(lists[0]!.query['limit'], '2');
  t.equal(lists[0]!.query['resourceVersion'], '0', 'first page served from the watch cache');
  t.ok(lists[1]!.query['continue'], 'continued pages carry the token');
  t.notOk(lists[1]!.query['resourceVersion'], 'and no resourceVersion');
  t.equal(lists[0]!.authorization, 'Bearer test-token');

  await waitFor(() => server.openWatches === 1, 2000, 'watch open');
  const watchReq = server.requests.find((r) => r.query['watch'] === 'true')!;
  t.equal(watchReq.query['allowWatchBookmarks'], 'true', 'asks for bookmarks');
  t.ok(Number(watchReq.query['timeoutSeconds']) >= 300, 'server-side timeout is jittered from 300 s');

  server.upsert('services', makeService(99));
  server.upsert('services', { ...makeService(1), spec: { ...makeService(1).spec, clusterIP: '10.96.9.9' } });
  server.remove('services', 'ns-2', 'svc-2');
  await waitFor(() => inf.values().length === 5 && inf.get('ns-2/svc-2') === undefined, 2000, 'events applied');
  t.equal(inf.get('ns-1/svc-1')!.spec['clusterIP'], '10.96.9.9');
  t.ok(inf.get('ns-49/svc-99'));
  t.same(changes.slice(5), ['add ns-49/svc-99', 'update ns-1/svc-1', 'delete ns-2/svc-2']);
  t.equal(inf.resourceVersion, String(server.resourceVersion));
  const f = inf.freshness();
  t.equal(f.state, 'synced');
  t.equal(f.judgeable, true);
  t.ok(Object.isFrozen(inf.get('ns-1/svc-1')), 'stored objects are frozen');
});

t.test('keeps only the fields used, as plain JSON', async (t) => {
  const { inf } = await setup(t);
  inf.start();
  await inf.waitForSync();
  const s = inf.get('ns-0/svc-0')!;
  t.same(Object.keys(s.metadata).sort(), ['name', 'namespace', 'resourceVersion'], 'no uid: nothing reads it');
  t.notOk('selector' in s.spec, 'selector dropped');
  t.notOk('targetPort' in (s.spec['ports'] as object[])[0]!, 'targetPort dropped');
  t.same(JSON.parse(JSON.stringify(s)), s, 'round-trips through JSON');
});

t.test('relists after 410 Gone on the watch, and the view stays whole', async (t) => {
  const { server, inf, log } = await setup(t);
  inf.start();
  await inf.waitForSync();
  await waitFor(() => server.openWatches === 1);
  server.upsert('services', makeService(50));
  await waitFor(() => inf.get('ns-0/svc-50'));
  const kept = inf.get('ns-1/svc-1');
  t.ok(kept);
  // History is compacted while the watch is away: the resume point is gone.
  server.stallWatches(true);
  server.remove('services', 'ns-0', 'svc-0');
  server.compact();
  server.stallWatches(false);
  server.closeWatches();
  await waitFor(() => inf.stats().relistsAfterGone === 1, 3000, 'relist after 410');
  await waitFor(() => inf.get('ns-0/svc-0') === undefined && inf.stats().lists === 2, 3000, 'relisted');
  t.equal(inf.values().length, 5);
  t.equal(inf.get('ns-1/svc-1'), kept, 'an object unchanged by the relist is the same object');
  const relist = server.requests.filter((r) => r.path === '/api/v1/services' && r.query['watch'] === undefined && r.query['continue'] === undefined);
  t.equal(relist.at(-1)!.query['resourceVersion'], '', 'relist after 410 is a consistent read');
  t.ok(log.records.some((r) => r.msg?.includes('410 Gone')));
  t.equal(inf.freshness().state, 'synced');
});

t.test('API down at start: api-unreachable, then syncs when it comes up', async (t) => {
  const { server, inf, log } = await setup(t);
  await server.down();
  inf.start();
  await waitFor(() => inf.stats().failures >= 2, 3000, 'failures');
  const f = inf.freshness();
  t.equal(f.state, 'api-unreachable');
  t.equal(log.records.filter((r) => r.level === 'warn' && r.msg === 'API view state changed').length, 1, 'the first failure is logged at warn, the retries not');
  t.equal(f.judgeable, false);
  t.equal(inf.values().length, 0);
  t.match(inf.stats().lastError?.code, /ECONNREFUSED|TypeError/);
  await server.up();
  await inf.waitForSync();
  await waitFor(() => inf.freshness().state === 'synced', 3000, 'synced');
  t.equal(inf.values().length, 5);
});

t.test('API lost mid-run: keeps the last view, turns unjudgeable, recovers', async (t) => {
  const { server, inf, log } = await setup(t);
  inf.start();
  await inf.waitForSync();
  await waitFor(() => server.openWatches === 1);
  await server.down();
  await waitFor(() => inf.freshness().state === 'api-unreachable', 3000, 'api-unreachable');
  t.equal(inf.values().length, 5, 'last view kept');
  t.match(log.records.find((r) => r.msg === 'API view state changed'), { level: 'warn', fields: { state: 'api-unreachable', code: /ECONNREFUSED|UND_ERR/ } }, 'the loss is logged at warn, with the error');
  await waitFor(() => !inf.freshness().judgeable, 3000, 'too old to judge');
  await server.up();
  server.upsert('services', makeService(77));
  await waitFor(() => inf.get('ns-27/svc-77'), 5000, 'change after recovery');
  t.equal(inf.freshness().state, 'synced');
  t.equal(inf.freshness().judgeable, true);
});

t.test('a silently stalled watch is detected and healed by a relist', async (t) => {
  const { server, inf, log } = await setup(t, { inactivityMs: 150 });
  inf.start();
  await inf.waitForSync();
  await waitFor(() => server.openWatches === 1);
  server.stallWatches(true);
  server.upsert('services', makeService(60)); // never delivered by the stalled watch
  await waitFor(() => log.records.some((r) => r.msg === 'watch silent; reconnecting'), 3000, 'silent watch noticed');
  await waitFor(() => inf.get('ns-10/svc-60'), 3000, 'relist brought the missed change');
  t.ok(inf.stats().lists >= 2, 'relisted');
  server.stallWatches(false);
});

t.test('a stalled watch with hanging lists turns the view stale', async (t) => {
  const { server, inf } = await setup(t, { inactivityMs: 150, listTimeoutMs: 200 });
  inf.start();
  await inf.waitForSync();
  server.stallWatches(true);
  server.addFault({ match: { method: 'GET', watch: false }, action: { hang: true }, times: Infinity });
  await waitFor(() => !inf.freshness().judgeable, 3000, 'unjudgeable');
  t.match(inf.freshness().state, /stalled|api-unreachable/);
  t.equal(inf.values().length, 5, 'last view kept');
});

t.test('429 with Retry-After is honoured, 5xx are retried', async (t) => {
  const { server, inf } = await setup(t);
  server.addFault({ match: { watch: false }, action: { status: 429, retryAfter: 1 } });
  server.addFault({ match: { watch: false }, action: { status: 503 } });
  const start = Date.now();
  inf.start();
  await inf.waitForSync();
  t.ok(Date.now() - start >= 950, 'waited for Retry-After');
  t.equal(inf.stats().failures, 2);
  t.equal(inf.stats().lastError?.code, 'HTTP503');
});

t.test('a dropped watch connection resumes from the last resourceVersion without relisting', async (t) => {
  const { server, inf } = await setup(t);
  inf.start();
  await inf.waitForSync();
  await waitFor(() => server.openWatches === 1);
  const rv = inf.resourceVersion;
  server.dropWatches();
  server.upsert('services', makeService(70));
  await waitFor(() => inf.get('ns-20/svc-70'), 3000, 'event after drop');
  t.equal(inf.stats().lists, 1, 'no relist');
  const watches = server.requests.filter((r) => r.query['watch'] === 'true');
  t.equal(watches.at(-1)!.query['resourceVersion'], rv, 'resumed from the last RV');
});

t.test('hanging and slow list responses are bounded', async (t) => {
  const { server, inf } = await setup(t, { listTimeoutMs: 200 });
  server.addFault({ match: { watch: false }, action: { hang: true } });
  server.addFault({ match: { watch: false }, action: { delayMs: 100 } });
  inf.start();
  await inf.waitForSync();
  t.equal(inf.values().length, 5);
  t.equal(inf.stats().failures, 1, 'the hang timed out once');
});

t.test('bookmarks advance the resourceVersion and keep the view fresh', async (t) => {
  const { server, inf } = await setup(t, { bookmarkIntervalMs: 50 });
  inf.start();
  await inf.waitForSync();
  server.upsert('nodes', makeNode('n')); // bumps the global RV without a Service event
  await waitFor(() => inf.stats().bookmarks >= 2, 2000, 'bookmarks');
  t.equal(inf.resourceVersion, String(server.resourceVersion));
  t.ok(inf.freshness().lastEventAt! >= Date.now() - 200);
});

t.test('objects without a name or namespace are dropped with a counted, logged reason', async (t) => {
  const { server, inf, log } = await setup(t);
  server.load('services', [{ metadata: { namespace: 'x' }, spec: {} } as any]);
  inf.start();
  await inf.waitForSync();
  t.equal(inf.values().length, 5);
  t.same(inf.stats().dropped, { 'missing-name': 1 });
  t.ok(log.records.some((r) => r.level === 'warn' && r.fields['reason'] === 'missing-name'));
  // The watch path counts too, and the informer keeps going.
  server.upsert('services', { metadata: { name: 'no-ns' }, spec: {} });
  server.upsert('services', makeService(80));
  await waitFor(() => inf.get('ns-30/svc-80'));
  t.same(inf.stats().dropped, { 'missing-name': 1, 'missing-namespace': 1 });
});

t.test('close is idempotent and ends the watch', async (t) => {
  const { server, inf } = await setup(t);
  inf.start();
  await inf.waitForSync();
  await waitFor(() => server.openWatches === 1);
  await Promise.all([inf.close(), inf.close()]);
  await inf.close();
  await waitFor(() => server.openWatches === 0, 2000, 'watch closed');
  t.pass();
});

t.test('EndpointSlices are trimmed and shared values are interned', async (t) => {
  const server = await FakeApiServer.start();
  server.load('endpointslices', [makeSlice(1, 3), makeSlice(2, 3)]);
  const api = kubeApiFor(server.url);
  const inf = new Informer<TrimmedEndpointSlice>({
    resource: 'endpointslices', path: '/apis/discovery.k8s.io/v1/endpointslices', list: api.listEndpointSlices, watch: api.watch,
    trim: trimEndpointSlice, log: memoryLogger(), clock: systemClock,
  });
  t.teardown(async () => {
    await inf.close();
    await server.stop();
  });
  inf.start();
  await inf.waitForSync();
  const [a, b] = inf.values() as [TrimmedEndpointSlice, TrimmedEndpointSlice];
  const ea = a.endpoints as { conditions: object; targetRef?: unknown }[];
  const eb = b.endpoints as { conditions: object }[];
  t.equal(ea[0]!.conditions, eb[1]!.conditions, 'identical condition triplets are one object');
  t.equal(a.ports, b.ports, 'identical port lists are one object');
  t.notOk('targetRef' in ea[0]!, 'targetRef dropped');
});
