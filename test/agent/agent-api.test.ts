// The wired agent in API mode, end to end: the real agent (informers over the real
// @kubernetes/client-node, the node reporter, the HTTP server) against the in-test API server that
// speaks the wire protocol, with the node's rules from --rules-file. Asserted over real HTTP on
// 127.0.0.1 and by the content of what the agent wrote to the API (Node status patches, Node
// JSON patches, Events). Scans every 100 ms; grace and persistence are short. Reached through a
// host kubeconfig (plain HTTP), or through --api-server over HTTPS verified against the
// service-account CA (certificates made at test time).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createAgent } from '../../agent/agent.ts';
import { loadConfig } from '../../agent/config.ts';
import { TAINT_KEY } from '../../lib/kube/conditions.ts';
import { systemClock } from '../../lib/kube/deps.ts';
import { agentHttp, checkOf, distinctSamples } from '../helpers/agent-http.ts';
import { demoItems, rulesFor, splitByKind } from '../helpers/demo-cluster.ts';
import { FakeApiServer } from '../helpers/fake-apiserver.ts';
import { makeNode } from '../helpers/kube-objects.ts';
import { memoryLogger, waitFor } from '../helpers/kube-testing.ts';
import { childProcesses } from '../helpers/processes.ts';
import { makeTestPki, type TestPki } from '../helpers/test-pki.ts';

type Obj = Record<string, any>;
const NODE = 'demo-node';
const TOKEN = 'service-account-token';

// The demo cluster with one endpoint of shop/web (10.244.2.12, on node-b) gone from its slice.
function withoutWebEndpoint(items: Obj[]): Obj[] {
  return items.map((o) => o.kind === 'EndpointSlice' && o.metadata.name === 'web-x7k2p'
    ? { ...o, endpoints: o.endpoints.filter((e: Obj) => e.addresses[0] !== '10.244.2.12') }
    : o);
}
// The demo Node as the API server returns it: a spec, and kubelet's Ready condition.
const asServed = (node: Obj): Obj => ({
  ...node,
  spec: { podCIDR: '10.244.1.0/24' },
  status: { ...node.status, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: '2025-01-01T00:00:00Z', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
});

interface StartOptions {
  /** The API's objects (default the demo cluster). */
  api?: Obj[];
  /** The node's rules (default: what kube-proxy writes for the API's objects). */
  rules?: string;
  /** Other Nodes the API serves. */
  otherNodes?: Obj[];
  /** The --config file's content. */
  config?: string;
  /** The API server is down when the agent starts. */
  down?: boolean;
  /**
   * Reach the API with --api-server over HTTPS, the service account's ca.crt being the test CA;
   * 'untrusted': the server's certificate is signed by another CA; 'wrong-address': signed by the
   * CA, for another address. Default: the host kubeconfig, plain HTTP.
   */
  direct?: 'trusted' | 'untrusted' | 'wrong-address';
}

// The service account's CA and a server certificate it signed; another CA's server certificate.
let pkis: { trusted: TestPki; other: TestPki } | undefined;
const testPkis = () => (pkis ??= { trusted: makeTestPki(), other: makeTestPki('some-other-ca') });

async function start(t: { teardown(fn: () => Promise<void> | void): void }, o: StartOptions = {}) {
  const items = o.api ?? demoItems();
  const pki = o.direct === undefined ? undefined : testPkis();
  const tls = pki === undefined ? undefined : { trusted: pki.trusted, untrusted: pki.other, 'wrong-address': pki.trusted.otherAddress }[o.direct!];
  const server = await FakeApiServer.start({ token: TOKEN, bookmarkIntervalMs: 200, ...(tls ? { tls } : {}) });
  const api = splitByKind(items, structuredClone);
  server.load('services', api.services);
  server.load('endpointslices', api.endpointSlices);
  server.load('nodes', [...(api.node === undefined ? [] : [asServed(api.node)]), ...(o.otherNodes ?? [])]);
  if (o.down) await server.down();
  const dir = mkdtempSync(join(tmpdir(), 'dps-agent-api-'));
  // The pod's service-account token (the agent's credentials); the host kubeconfig gives only the
  // server address (plain HTTP here, hence insecure-skip-tls-verify).
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  if (pki) writeFileSync(join(dir, 'ca.crt'), pki.trusted.caCert);
  writeFileSync(join(dir, 'kubeconfig'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'host',
    clusters: [{ name: 'host', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
    contexts: [{ name: 'host', context: { cluster: 'host', user: 'kube-proxy' } }],
    users: [{ name: 'kube-proxy', user: {} }],
  }));
  writeFileSync(join(dir, 'node.rules'), o.rules ?? rulesFor(items));
  writeFileSync(join(dir, 'config.yaml'), o.config ?? '');
  const apiArgs = pki === undefined ? ['--kubeconfig', join(dir, 'kubeconfig')] : ['--api-server', server.url];
  const argv = ['--node', NODE, '--listen', '127.0.0.1:0', ...apiArgs, '--rules-file', join(dir, 'node.rules'),
    '--config', join(dir, 'config.yaml'), '--interval', '100ms', '--jitter', '0', '--grace', '200ms', '--persist-scans', '2', '--api-max-view-age', '1s',
    '--no-follow-logs', '--no-kube-proxy-probe', '--cpu-budget', '1'];
  const { config } = loadConfig({ argv, env: {}, readFile: (p) => readFileSync(p, 'utf8') });
  const log = memoryLogger();
  const stop = new AbortController();
  const agent = await createAgent({
    config: config!, log, clock: systemClock, registry: new Registry(), signal: stop.signal, version: 'test',
    serviceAccountDir: dir, random: () => 0,
  });
  const url = await agent.listen();
  t.teardown(async () => {
    stop.abort();
    await agent.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const setRules = (forItems: Obj[]): void => writeFileSync(join(dir, 'node.rules'), rulesFor(forItems));
  return { agent, url, server, log, setRules, ...agentHttp(url) };
}

// Our condition of one type in a status patch body, if the patch carries it.
const conditionIn = (body: Obj, type: string): Obj | undefined => body?.status?.conditions?.find((c: Obj) => c.type === type);
// Every ServiceRulesDrift the agent patched onto the Node's status, in order.
const driftPatches = (server: FakeApiServer): Obj[] =>
  server.patches.filter((p) => p.path === `/api/v1/nodes/${NODE}/status`).map((p) => conditionIn(p.body, 'ServiceRulesDrift')).filter((c) => c !== undefined);
// JSON patches of the Node itself (spec: taints).
const nodePatches = (server: FakeApiServer) => server.patches.filter((p) => p.path === `/api/v1/nodes/${NODE}`);
const eventsWith = (server: FakeApiServer, reason: string): Obj[] => server.events.filter((e) => e.reason === reason);

t.test('API reachable and rules matching: ready, healthy with the api check ok, ServiceRulesDrift=False on the Node, freshness in /metrics', async (t) => {
  const a = await start(t);
  const h = await a.until((x) => x.body.status === 'healthy', 'healthy');
  t.equal(h.code, 200);
  t.match(checkOf(h, 'api'), { status: 'healthy', reason: 'ViewFresh' });
  t.match(checkOf(h, 'rules'), { status: 'healthy', reason: 'RulesInSync' });
  t.equal((await fetch(`${a.url}/readyz`)).status, 200);

  const written = await waitFor(() => driftPatches(a.server)[0], 5000, 'the first condition patch');
  t.match(written, { status: 'False', reason: 'RulesInSync', message: /match/ });
  t.ok(Date.parse(written!.lastTransitionTime) > 0 && Date.parse(written!.lastHeartbeatTime) > 0, 'with RFC 3339 times');
  const onNode = a.server.get('nodes', undefined, NODE)!.status.conditions;
  t.match(onNode.find((c: Obj) => c.type === 'ServiceRulesDrift'), { status: 'False', reason: 'RulesInSync' }, 'the Node carries it');
  t.ok(onNode.some((c: Obj) => c.type === 'Ready'), "kubelet's conditions are untouched");
  t.same(a.server.events, [], 'a first False is not news: no event');
  t.ok(a.server.requests.every((r) => r.authorization === `Bearer ${TOKEN}`), "every request carries the service account's token");

  const metrics = await a.metrics();
  t.match(metrics, /dataplane_sentinel_api_up 1/);
  t.match(metrics, /dataplane_sentinel_api_objects\{resource="services"\} 5/);
  t.match(metrics, /dataplane_sentinel_api_objects\{resource="endpointslices"\} 4/);
  t.match(metrics, /dataplane_sentinel_api_objects\{resource="node"\} 1/);
  for (const resource of ['services', 'endpointslices', 'node']) {
    const at = Number(new RegExp(`dataplane_sentinel_api_last_contact_timestamp_seconds\\{resource="${resource}"\\} (\\S+)`).exec(metrics)?.[1]);
    t.ok(Math.abs(Date.now() / 1000 - at) < 30, `${resource}: last contact is recent (${at})`);
  }
});

t.test('start-up: the first scan waits for the API view; no scan failure is logged and the rules check is never ScanFailed', async (t) => {
  const a = await start(t);
  const rulesReasons = new Set<string>();
  await a.until((x) => { rulesReasons.add(checkOf(x, 'rules')!.reason); return x.body.status === 'healthy'; }, 'healthy');
  t.notOk(rulesReasons.has('ScanFailed'), `rules reasons seen: ${[...rulesReasons].join(', ')}`);
  t.same(a.log.records.filter((r) => r.msg?.startsWith('scan failed')), [], 'no scan failure logged');
  t.same(a.log.records.filter((r) => r.level === 'warn' && r.fields.component === 'rules'), [], 'no warning from the rules loop');
  t.match(await a.metrics(), /dataplane_sentinel_scans_total\{result="error"\} 0\n/, 'no failed scan counted');
});

// The scan workers (child processes of this test process: the agent runs in it).
const scanWorkers = (): number[] => childProcesses('scan-worker');

t.test('API changes reach the scan worker as deltas, and as the whole view after the worker is killed: both judged on the current objects', async (t) => {
  const a = await start(t);
  await a.until((x) => x.body.status === 'healthy', 'healthy');
  const sent = (msg: string) => a.log.records.filter((r) => r.msg === `cluster view ${msg} the scan worker`);
  t.equal(sent('sent whole to').length, 1, 'the first view went whole');

  // The worker holds the view: the changed slice goes alone.
  const changed = withoutWebEndpoint(demoItems());
  a.server.upsert('endpointslices', splitByKind(changed, structuredClone).endpointSlices.find((s) => s.metadata.name === 'web-x7k2p')!);
  const drift = await a.until((x) => x.body.status === 'unhealthy', 'unhealthy on the delta');
  t.ok(drift.body.findings?.some((f) => f.kind === 'stale-endpoint' && f.service === 'shop/web' && f.endpoint?.startsWith('10.244.2.12')), 'the stale endpoint is named');
  // (the Node may change too: the agent writes its conditions)
  t.ok(sent('changes sent to').some((r) => r.fields.deletes === 0 && (r.fields.upserts === 1 || r.fields.upserts === 2)), 'only the changed objects were sent');
  t.equal(sent('sent whole to').length, 1, 'never the whole view again');
  a.setRules(changed);
  await a.until((x) => x.body.status === 'healthy', 'healthy again');

  // The worker dies: the next change is judged on the whole view, sent to the new worker.
  const before = sent('sent whole to').length;
  const old = scanWorkers();
  t.ok(old.length > 0, 'a scan worker runs');
  for (const pid of old) process.kill(pid, 'SIGKILL');
  await waitFor(() => scanWorkers().every((p) => !old.includes(p)), 5000, 'the worker gone');
  a.server.upsert('endpointslices', splitByKind(demoItems(), structuredClone).endpointSlices.find((s) => s.metadata.name === 'web-x7k2p')!);
  const missing = await a.until((x) => x.body.status === 'unhealthy', 'unhealthy after the worker was replaced');
  t.ok(missing.body.findings?.some((f) => f.kind !== 'stale-endpoint' && f.service === 'shop/web' && f.endpoint?.startsWith('10.244.2.12')), `the endpoint missing from the rules is named: ${JSON.stringify(missing.body.findings)}`);
  t.ok(sent('sent whole to').length > before, 'the new worker got the whole view');
  a.setRules(demoItems());
  await a.until((x) => x.body.status === 'healthy', 'healthy with the rules caught up');
});

t.test('an endpoint removed in the API while the rules still DNAT to it: unhealthy, ServiceRulesDrift=True with an event; fixed rules recover', async (t) => {
  const a = await start(t);
  await a.until((x) => x.body.status === 'healthy', 'healthy');
  await waitFor(() => driftPatches(a.server).length > 0, 5000, 'the first condition patch');
  const changed = withoutWebEndpoint(demoItems());
  a.server.upsert('endpointslices', splitByKind(changed, structuredClone).endpointSlices.find((s) => s.metadata.name === 'web-x7k2p')!);

  const h = await a.until((x) => x.body.status === 'unhealthy', 'unhealthy after grace and persistence');
  t.equal(h.code, 503);
  t.match(checkOf(h, 'rules'), { status: 'unhealthy', reason: 'RulesOutOfSync', message: /stale-endpoint shop\/web/ });
  t.match(checkOf(h, 'api'), { status: 'healthy' }, 'the API view itself is fine');
  t.ok(h.body.findings?.some((f) => f.kind === 'stale-endpoint' && f.service === 'shop/web' && f.endpoint?.startsWith('10.244.2.12')), 'the finding is named');

  const drift = await waitFor(() => driftPatches(a.server).find((c) => c.status === 'True'), 5000, 'ServiceRulesDrift=True patched');
  t.match(drift, { reason: /^[A-Z][A-Za-z0-9]*$/, message: /stale-endpoint shop\/web/ });
  t.equal(drift!.reason, 'RulesOutOfSync');
  const warning = await waitFor(() => eventsWith(a.server, 'RulesOutOfSync')[0], 5000, 'a Warning event');
  t.match(warning, { type: 'Warning', involvedObject: { kind: 'Node', name: NODE }, source: { component: 'dataplane-sentinel' }, message: /ServiceRulesDrift is True/ });

  a.setRules(changed); // kube-proxy catches up
  const back = await a.until((x) => x.body.status === 'healthy', 'healthy again');
  t.equal(back.code, 200);
  const afterDrift = (): Obj[] => driftPatches(a.server).slice(driftPatches(a.server).findIndex((c) => c.status === 'True') + 1);
  const cleared = await waitFor(() => afterDrift().find((c) => c.status === 'False'), 5000, 'ServiceRulesDrift=False again');
  t.equal(cleared!.reason, 'RulesInSync');
  t.match(await waitFor(() => eventsWith(a.server, 'RulesInSync')[0], 5000, 'a Normal event'), { type: 'Normal', message: /ServiceRulesDrift is False/ });
  t.equal(eventsWith(a.server, 'RulesOutOfSync').length, 1, 'one event per transition');
});

t.test('API down at start: /health is unknown (503), never healthy, while /livez stays 200', async (t) => {
  const a = await start(t, { down: true });
  // Watched for 1.5 s (about 15 scans): every answer is recorded.
  const seen = await distinctSamples(async () => {
    const h = await a.health();
    return `/health ${h.code} ${h.body.status}, /livez ${(await fetch(`${a.url}/livez`)).status}`;
  });
  t.same(seen, ['/health 503 unknown, /livez 200'], 'never healthy, always live');
  const h = await a.until((x) => checkOf(x, 'api')?.reason === 'APIUnreachable', 'the api check says unreachable');
  t.equal(h.code, 503);
  t.equal(h.body.status, 'unknown');
  t.equal((await fetch(`${a.url}/readyz`)).status, 503, 'not ready before the first sync');
  t.match(await a.metrics(), /dataplane_sentinel_api_up 0/);
  t.same(a.server.patches, [], 'nothing written to the Node');
});

t.test('--api-server https://127.0.0.1:PORT, verified against the service-account CA: syncs and is healthy, reports the direct path, patches the Node with the token', async (t) => {
  const a = await start(t, { direct: 'trusted' });
  t.match(a.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const h = await a.until((x) => x.body.status === 'healthy', 'healthy');
  t.equal(h.code, 200);
  t.match(checkOf(h, 'api'), { status: 'healthy', reason: 'ViewFresh', message: `In contact with ${a.server.url}.` }, 'the api check names the server');
  t.match(checkOf(h, 'rules'), { status: 'healthy', reason: 'RulesInSync' });

  const started = a.log.records.find((r) => r.msg === 'starting API informers');
  t.same(started?.fields.apiPath, { source: 'api-server-flag', server: a.server.url, viaServiceClusterIP: false, credentials: 'service-account' }, 'the path in use is logged');
  t.notOk(a.log.records.some((r) => r.msg?.startsWith('API reached through the kubernetes Service ClusterIP')), 'no ClusterIP warning');

  const written = await waitFor(() => driftPatches(a.server)[0], 5000, 'the first condition patch');
  t.match(written, { status: 'False', reason: 'RulesInSync' });
  t.match(a.server.get('nodes', undefined, NODE)!.status.conditions.find((c: Obj) => c.type === 'ServiceRulesDrift'), { status: 'False' }, 'the Node carries it');
  const statusPatches = a.server.requests.filter((r) => r.method === 'PATCH' && r.path === `/api/v1/nodes/${NODE}/status`);
  t.ok(statusPatches.length > 0 && statusPatches.every((r) => r.authorization === `Bearer ${TOKEN}`), 'the status patches carry the token');
  t.ok(a.server.requests.every((r) => r.authorization === `Bearer ${TOKEN}`), "every request carries the service account's token");
  t.same(a.server.tlsErrors, [], 'no refused handshake');
  t.match(await a.metrics(), /dataplane_sentinel_api_up 1/);
});

// A certificate the client must refuse: never trusted for lack of a better answer.
for (const [which, direct, code] of [
  ['not signed by the service-account CA', 'untrusted', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ['signed by the CA for another address', 'wrong-address', 'ERR_TLS_CERT_ALTNAME_INVALID'],
] as const) {
  t.test(`--api-server with a server certificate ${which}: refused, unreachable, never healthy, the token never sent`, async (t) => {
    const a = await start(t, { direct });
    const seen = await distinctSamples(async () => {
      const h = await a.health();
      return `/health ${h.code} ${h.body.status}`;
    });
    t.same(seen, ['/health 503 unknown'], 'never healthy');
    const h = await a.until((x) => checkOf(x, 'api')?.reason === 'APIUnreachable', 'the api check says unreachable');
    t.equal(h.body.status, 'unknown');
    t.notOk(h.body.checks.some((c) => c.status === 'unhealthy'), 'nothing is called unhealthy');
    t.match(await a.metrics(), /dataplane_sentinel_api_up 0/);
    t.ok(a.server.tlsErrors.length > 0, `the client refused the handshake (${a.server.tlsErrors.join(', ')})`);
    t.same(a.server.requests, [], 'no request got through: the token was never sent');
    const refused = a.log.records.filter((r) => r.msg === 'API view state changed' && r.fields.state === 'api-unreachable');
    t.ok(refused.length > 0 && refused.every((r) => r.fields.code === code), `logged with the certificate's fault: ${refused.map((r) => r.fields.code).join(', ')}`);
    t.same(a.server.patches, [], 'nothing written to the Node');
  });
}

// Two ways to lose the API mid-run: the server goes away, or its watches go silent (no events, no bookmarks).
for (const [how, lose, reason] of [
  ['the server stops answering', (s: FakeApiServer) => s.down(), 'APIUnreachable'],
  ['the watches stall silently', (s: FakeApiServer) => s.stallWatches(true), 'APIViewStale'],
] as const) {
  t.test(`API lost mid-run (${how}): after --api-max-view-age, unknown with ${reason}, never drift, no condition True`, async (t) => {
    const a = await start(t);
    await a.until((x) => x.body.status === 'healthy', 'healthy');
    await waitFor(() => driftPatches(a.server).length > 0, 5000, 'the first condition patch');
    await lose(a.server);
    const h = await a.until((x) => checkOf(x, 'api')?.reason === reason, `the api check says ${reason}`);
    const metrics = await a.metrics();
    // The view is as old as its oldest resource: that one passed the limit.
    const oldestContact = Math.min(...[...metrics.matchAll(/dataplane_sentinel_api_last_contact_timestamp_seconds\{resource="\w+"\} (\S+)/g)].map((m) => Number(m[1]) * 1000));
    t.ok(Date.now() - oldestContact >= 1000, `not before the limit: oldest contact ${Date.now() - oldestContact} ms ago`);
    t.equal(h.code, 503);
    t.equal(h.body.status, 'unknown');
    t.match(checkOf(h, 'rules'), { status: 'unknown', reason }, 'the rules are not judged on a lost view');
    t.notOk(h.body.checks.some((c) => c.status === 'unhealthy'), 'nothing is called unhealthy');
    t.equal((await fetch(`${a.url}/livez`)).status, 200);
    t.match(metrics, /dataplane_sentinel_api_up 0/);
    t.notOk(driftPatches(a.server).some((c) => c.status === 'True'), 'ServiceRulesDrift never True');
    t.same(eventsWith(a.server, 'RulesOutOfSync'), []);
  });
}

t.test('a stalled watch while the API still takes writes: ServiceRulesDrift=Unknown on the Node, with the reason', async (t) => {
  const a = await start(t);
  await a.until((x) => x.body.status === 'healthy', 'healthy');
  a.server.stallWatches(true);
  const unknown = await waitFor(() => driftPatches(a.server).find((c) => c.status === 'Unknown'), 5000, 'ServiceRulesDrift=Unknown patched');
  t.equal(unknown!.reason, 'APIViewStale');
  t.match(await waitFor(() => eventsWith(a.server, 'APIViewStale')[0], 5000, 'a Normal event'), { type: 'Normal', message: /ServiceRulesDrift is Unknown/ });
  t.notOk(driftPatches(a.server).some((c) => c.status === 'True'), 'never True');
});

const taints = (o: { dryRun: boolean; maxTaintedShare?: number }) =>
  `taints:\n  enabled: true\n  dryRun: ${o.dryRun}\n  conditionTypes: [ServiceRulesDrift]\n  maxTaintedShare: ${o.maxTaintedShare ?? 0.1}\n  minTaintedAllowed: 1\n`;
// The API without the web endpoint, the rules still sending traffic to it: drift from the start.
const drifting = (): StartOptions => ({ api: withoutWebEndpoint(demoItems()), rules: rulesFor(demoItems()) });

t.test('taints enabled for ServiceRulesDrift: a drifting node gets the NoSchedule taint, removed when it recovers', async (t) => {
  const a = await start(t, { ...drifting(), config: taints({ dryRun: false }) });
  await a.until((x) => x.body.status === 'unhealthy', 'unhealthy');
  const added = await waitFor(() => nodePatches(a.server)[0], 5000, 'a taint patch');
  t.equal(added!.contentType, 'application/json-patch+json');
  t.match(added!.body, [{ op: 'test', path: '/metadata/resourceVersion' }, { op: 'add', path: '/spec/taints', value: [{ key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' }] }]);
  t.match(a.server.get('nodes', undefined, NODE)!.spec.taints, [{ key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' }], 'the Node carries it');
  t.match(await waitFor(() => eventsWith(a.server, 'DataplaneTaintAdded')[0], 5000, 'DataplaneTaintAdded'), { type: 'Warning' });

  a.setRules(withoutWebEndpoint(demoItems()));
  await a.until((x) => x.body.status === 'healthy', 'healthy again');
  await waitFor(() => (a.server.get('nodes', undefined, NODE)!.spec.taints ?? []).length === 0, 5000, 'the taint removed');
  t.match(nodePatches(a.server).at(-1)?.body, [{ op: 'test' }, { op: 'test', path: '/spec/taints/0/key', value: TAINT_KEY }, { op: 'remove', path: '/spec/taints/0' }]);
  t.match(await waitFor(() => eventsWith(a.server, 'DataplaneTaintRemoved')[0], 5000, 'DataplaneTaintRemoved'), { type: 'Normal' });
});

t.test('taints in dry run: the taint is only logged and announced, never written', async (t) => {
  const a = await start(t, { ...drifting(), config: taints({ dryRun: true }) });
  await a.until((x) => x.body.status === 'unhealthy', 'unhealthy');
  const event = await waitFor(() => eventsWith(a.server, 'DataplaneTaintDryRun')[0], 5000, 'DataplaneTaintDryRun');
  t.match(event, { type: 'Warning', message: new RegExp(`would add taint ${TAINT_KEY}=ServiceRulesDrift:NoSchedule`) });
  t.ok(a.log.records.some((r) => r.msg === 'node taint not changed' && r.fields.dryRun === true), 'logged as a dry run');
  t.ok(driftPatches(a.server).some((c) => c.status === 'True'), 'the condition is still written');
  t.same(nodePatches(a.server), [], 'the Node spec is never patched');
  t.notOk(a.server.get('nodes', undefined, NODE)!.spec?.taints);
});

t.test('taints with more than the allowed share of nodes already tainted: not tainted, the refusal announced', async (t) => {
  const tainted = [{ key: TAINT_KEY, value: 'ServiceRulesDrift', effect: 'NoSchedule' }];
  const others = Array.from({ length: 9 }, (_, i) => makeNode(`node-${i}`, i < 3 ? { taints: tainted } : {}));
  const a = await start(t, { ...drifting(), otherNodes: others, config: taints({ dryRun: false }) });
  await a.until((x) => x.body.status === 'unhealthy', 'unhealthy');
  const event = await waitFor(() => eventsWith(a.server, 'DataplaneTaintSkipped')[0], 5000, 'DataplaneTaintSkipped');
  t.match(event, { type: 'Warning', message: /3 of 10 nodes already carry .* \(limit 1\)/ });
  t.same(nodePatches(a.server), [], 'the Node spec is never patched');
  t.notOk(a.server.get('nodes', undefined, NODE)!.spec?.taints);
});
