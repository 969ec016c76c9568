// The node reporter against the fake API server through the real client; patches asserted by content.
import t, { type Test } from 'tap';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';
import { kubeApiFor } from '../../helpers/kube-client.ts';
import { makeNode } from '../../helpers/kube-objects.ts';
import { FakeClock, memoryLogger } from '../../helpers/kube-testing.ts';
import { NodeReporter, type NodeReporterOptions } from '../../../lib/kube/node-reporter.ts';
import { TAINT_KEY, type DesiredCondition } from '../../../lib/kube/conditions.ts';
import { DEFAULT_TAINT_POLICY } from '../../../lib/kube/taint-policy.ts';

const drift = (status: DesiredCondition['status'], reason = status === 'True' ? 'RulesOutOfSync' : 'RulesInSync'): DesiredCondition => ({
  type: 'ServiceRulesDrift', status, reason, message: `drift ${status}`,
});
const skew: DesiredCondition = { type: 'KubeProxyVersionSkew', status: 'False', reason: 'VersionSkewSupported', message: 'same' };
const taintsOn = { ...DEFAULT_TAINT_POLICY, enabled: true, dryRun: false, conditionTypes: ['ServiceRulesDrift' as const] };

async function setup(t: Test, extra: Partial<NodeReporterOptions> = {}, nodes = 1) {
  const server = await FakeApiServer.start({ token: 'test-token' });
  server.upsert('nodes', makeNode('node-0', { taints: [{ key: 'example.com/maintenance', effect: 'NoSchedule' }] }));
  for (let i = 1; i < nodes; i++) server.upsert('nodes', makeNode(`node-${i}`));
  const api = kubeApiFor(server.url);
  const clock = new FakeClock();
  const log = memoryLogger();
  const make = (more: Partial<NodeReporterOptions> = {}) => new NodeReporter({ api, nodeName: 'node-0', log, clock, taintJitterMs: 0, ...extra, ...more });
  const reporter = make();
  t.teardown(async () => {
    await reporter.close();
    await server.stop();
  });
  const statusPatches = () => server.patches.filter((p) => p.path.endsWith('/status'));
  const specPatches = () => server.patches.filter((p) => !p.path.endsWith('/status'));
  return { server, api, clock, log, reporter, make, statusPatches, specPatches };
}

t.test('writes only our conditions with a strategic-merge patch and announces a problem', async (t) => {
  const { server, reporter, statusPatches } = await setup(t);
  const r = await reporter.report([drift('True'), skew], { viewFresh: true });
  t.equal(r.wrote, true);
  t.equal(r.error, undefined);
  const [p] = statusPatches();
  t.equal(p!.contentType, 'application/strategic-merge-patch+json');
  t.same(p!.body, {
    status: {
      conditions: [
        { type: 'ServiceRulesDrift', status: 'True', reason: 'RulesOutOfSync', message: 'drift True', lastTransitionTime: '2025-01-01T00:00:00Z', lastHeartbeatTime: '2025-01-01T00:00:00Z' },
        { type: 'KubeProxyVersionSkew', status: 'False', reason: 'VersionSkewSupported', message: 'same', lastTransitionTime: '2025-01-01T00:00:00Z', lastHeartbeatTime: '2025-01-01T00:00:00Z' },
      ],
    },
  });
  const node = server.get('nodes', undefined, 'node-0')!;
  t.same(node.status.conditions.map((c: { type: string }) => c.type), ['Ready', 'ServiceRulesDrift', 'KubeProxyVersionSkew'], "kubelet's Ready kept");
  t.equal(server.events.length, 1, 'one event: the problem (a False first verdict is not news)');
  t.match(server.events[0], { type: 'Warning', reason: 'RulesOutOfSync', involvedObject: { kind: 'Node', name: 'node-0' }, source: { component: 'dataplane-sentinel' }, metadata: { namespace: 'default' } });
  const patchReq = server.requests.find((q) => q.method === 'PATCH')!;
  t.equal(patchReq.query['fieldManager'], 'dataplane-sentinel');
});

t.test('writes only on change, plus a heartbeat', async (t) => {
  const { reporter, clock, statusPatches } = await setup(t, { heartbeatMs: 300_000 });
  await reporter.report([drift('False')], { viewFresh: true });
  clock.advance(60_000);
  const r = await reporter.report([drift('False')], { viewFresh: true });
  t.equal(r.wrote, false, 'nothing changed');
  t.equal(statusPatches().length, 1);
  clock.advance(240_000);
  const hb = await reporter.sync();
  t.same(hb.why, ['heartbeat']);
  t.equal(statusPatches().length, 2);
  const beat = (statusPatches()[1]!.body as any).status.conditions[0];
  t.equal(beat.lastHeartbeatTime, '2025-01-01T00:05:00Z');
  t.equal(beat.lastTransitionTime, '2025-01-01T00:00:00Z', 'transition time kept');
});

t.test('a restarted agent with the same verdict writes nothing and announces nothing (NPD#304)', async (t) => {
  const { server, reporter, make, statusPatches } = await setup(t);
  await reporter.report([drift('True')], { viewFresh: true });
  await reporter.close();
  const again = make();
  t.teardown(() => again.close());
  const r = await again.report([drift('True')], { viewFresh: true });
  t.equal(r.wrote, false);
  t.equal(statusPatches().length, 1);
  t.equal(server.events.length, 1);
  t.same(again.conditions?.map((c) => `${c.type}=${c.status}@${c.lastTransitionTime}`), ['ServiceRulesDrift=True@2025-01-01T00:00:00Z']);
});

t.test('nothing is written before the first verdict', async (t) => {
  const { reporter, server } = await setup(t);
  const r = await reporter.sync();
  t.equal(r.wrote, false);
  t.equal(server.requests.length, 0);
});

t.test('recovery clears the condition and says so', async (t) => {
  const { server, reporter, clock } = await setup(t);
  await reporter.report([drift('True')], { viewFresh: true });
  clock.advance(30_000);
  const r = await reporter.report([drift('False')], { viewFresh: true });
  t.same(r.transitions.map((x) => `${x.from}->${x.to}`), ['True->False']);
  const c = server.get('nodes', undefined, 'node-0')!.status.conditions.find((x: any) => x.type === 'ServiceRulesDrift');
  t.match(c, { status: 'False', reason: 'RulesInSync', lastTransitionTime: '2025-01-01T00:00:30Z' });
  t.match(server.events.at(-1), { type: 'Normal', reason: 'RulesInSync' });
});

t.test('a failed write is retried; its event is sent once, after success', async (t) => {
  const { server, reporter, clock, statusPatches } = await setup(t, { retryMs: 10_000 });
  server.addFault({ match: { method: 'PATCH' }, action: { status: 500 } });
  const r = await reporter.report([drift('True')], { viewFresh: true });
  t.equal(r.error?.code, 'HTTP500');
  t.equal(server.events.length, 0);
  clock.advance(5_000);
  t.equal((await reporter.sync()).wrote, false, 'not before retryMs');
  clock.advance(5_000);
  const retry = await reporter.sync();
  t.equal(retry.wrote, true);
  t.equal(server.events.length, 1);
  t.equal(server.requests.filter((q) => q.method === 'PATCH').length, 2, 'the failed attempt and the retry');
  t.equal(statusPatches().length, 1, 'one reached the node');
});

t.test('dry run logs and announces the taint it would add, once, and writes nothing', async (t) => {
  const { server, reporter, log, specPatches } = await setup(t, { taints: { ...taintsOn, dryRun: true } });
  for (let i = 0; i < 3; i++) await reporter.report([drift('True')], { viewFresh: true });
  t.equal(specPatches().length, 0);
  const dry = server.events.filter((e) => e.reason === 'DataplaneTaintDryRun');
  t.equal(dry.length, 1);
  t.match(dry[0]!.message, /would add taint dataplane\.sentinel\.io\/unhealthy=ServiceRulesDrift:NoSchedule/);
  t.ok(log.records.some((r) => r.fields['dryRun'] === true));
});

t.test('adds a NoSchedule taint, leaves foreign taints alone, removes it on recovery', async (t) => {
  const { server, reporter, specPatches } = await setup(t, { taints: taintsOn }, 20);
  const r = await reporter.report([drift('True')], { viewFresh: true });
  t.equal(r.taintApplied, true);
  t.equal(specPatches()[0]!.contentType, 'application/json-patch+json');
  t.match(specPatches()[0]!.body, [{ op: 'test', path: '/metadata/resourceVersion' }, { op: 'add', path: '/spec/taints/-', value: { key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' } }]);
  t.same(server.get('nodes', undefined, 'node-0')!.spec.taints.map((x: any) => x.key), ['example.com/maintenance', TAINT_KEY]);
  t.ok(server.events.some((e) => e.reason === 'DataplaneTaintAdded'));
  // Steady: nothing more.
  await reporter.report([drift('True')], { viewFresh: true });
  t.equal(specPatches().length, 1);
  // Stale view while healthy: hold.
  await reporter.report([drift('Unknown', 'APIViewStale')], { viewFresh: false });
  t.equal(specPatches().length, 1);
  await reporter.report([drift('False')], { viewFresh: true });
  t.equal(specPatches().length, 2);
  t.same(server.get('nodes', undefined, 'node-0')!.spec.taints.map((x: any) => x.key), ['example.com/maintenance']);
  t.ok(server.events.some((e) => e.reason === 'DataplaneTaintRemoved'));
});

t.test('guard rail: many nodes already tainted, no taint', async (t) => {
  const { server, reporter, specPatches } = await setup(t, { taints: taintsOn }, 40);
  // 40 nodes → budget 4; four others already carry the taint.
  for (let i = 1; i <= 4; i++) server.upsert('nodes', makeNode(`node-${i}`, { taints: [{ key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' }] }));
  const r = await reporter.report([drift('True')], { viewFresh: true });
  t.match(r.taint, { action: 'skip', reason: 'TaintBudgetExhausted' });
  t.equal(specPatches().length, 0);
  const ev = server.events.filter((e) => e.reason === 'DataplaneTaintSkipped');
  t.equal(ev.length, 1);
  t.match(ev[0]!.message, /4 of 40 nodes already carry/);
  const list = server.requests.find((q) => q.path === '/api/v1/nodes' && q.method === 'GET')!;
  t.equal(list.query['resourceVersion'], '0', 'counted from the watch cache');
  t.equal(list.query['fieldSelector'], undefined);
});

t.test('never taints on a stale view', async (t) => {
  const { server, reporter, specPatches } = await setup(t, { taints: taintsOn }, 5);
  const r = await reporter.report([drift('True')], { viewFresh: false });
  t.match(r.taint, { action: 'skip', reason: 'StaleView' });
  t.equal(specPatches().length, 0);
  t.equal(server.requests.filter((q) => q.path === '/api/v1/nodes').length, 0, 'did not even count');
});

t.test('a concurrent change to the node makes the taint patch fail and retry, never clobber', async (t) => {
  const { server, api, clock, make, specPatches } = await setup(t, { taints: taintsOn }, 5);
  let reads = 0;
  const racing = make({
    api: {
      ...api,
      readNode: async (name, signal) => {
        const n = await api.readNode(name, signal);
        if (++reads === 2) {
          // The read right before the taint patch.
          // Someone else changes the node between our read and our patch.
          server.upsert('nodes', { ...server.get('nodes', undefined, 'node-0')!, metadata: { ...server.get('nodes', undefined, 'node-0')!.metadata, labels: { changed: 'yes' } } });
        }
        return n;
      },
    },
  });
  t.teardown(() => racing.close());
  const first = await racing.report([drift('True')], { viewFresh: true });
  t.equal(first.error?.code, 'HTTP422', 'resourceVersion test failed');
  clock.advance(10_000);
  const second = await racing.sync();
  t.equal(second.taintApplied, true);
  t.equal(specPatches().length, 2);
  t.equal(server.get('nodes', undefined, 'node-0')!.metadata.labels.changed, 'yes', 'the other change survived');
});
