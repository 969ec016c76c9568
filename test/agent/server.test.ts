// The HTTP routes read state and never scan: /health maps the verdict to 200/503, /livez follows the
// agent's loops only, /metrics renders the registry; tested with inject() and over real HTTP.
import t from 'tap';
import { Registry } from 'prom-client';
import { buildServer } from '../../agent/server.ts';
import type { ServerDeps, HealthState } from '../../agent/server.ts';
import { composeVerdict } from '../../agent/verdict.ts';
import type { CheckResult } from '../../agent/verdict.ts';
import type { Finding } from '../../lib/kubeproxy/findings.ts';

const rules = (status: CheckResult['status']): CheckResult => ({ name: 'rules', enabled: true, status, reason: status === 'healthy' ? 'RulesInSync' : 'RulesOutOfSync', message: 'm' });
const finding: Finding = { kind: 'stale-endpoint', severity: 'error', service: 'shop/web', port: 'http', protocol: 'tcp', endpoint: '10.244.2.12:8080', chain: 'nat/KUBE-SEP-X', family: 'IPv4', message: 'x' };

function server(status: CheckResult['status'], over: Partial<ServerDeps> = {}) {
  const health = (): HealthState => ({ node: 'n1', verdict: composeVerdict([rules(status)]), checkedAt: 0, findings: [finding], unconfirmed: 2 });
  return buildServer({ health, livez: () => ({ ok: true, loops: [] }), readyz: () => ({ ok: false, waitingFor: ['first scan'] }), registry: new Registry(), unknownStatusCode: 503, debug: undefined, ...over });
}

t.test('/health is 200 healthy, 503 unhealthy with the failing check and its reason', async (t) => {
  const ok = await server('healthy').inject('/health');
  t.equal(ok.statusCode, 200);
  t.match(ok.json(), { status: 'healthy', node: 'n1', checks: [{ name: 'rules', status: 'healthy' }], reasons: [] });
  t.notOk('findings' in ok.json(), 'findings only with ?verbose');
  const bad = await server('unhealthy').inject('/health');
  t.equal(bad.statusCode, 503);
  t.match(bad.json(), { status: 'unhealthy', reasons: ['rules: RulesOutOfSync: m'] });
});

t.test('/health?verbose adds the confirmed findings', async (t) => {
  const r = await server('unhealthy').inject('/health?verbose');
  t.match(r.json(), { findings: [{ kind: 'stale-endpoint', service: 'shop/web', endpoint: '10.244.2.12:8080' }], unconfirmed: 2 });
});

t.test('unknown is 503 by default and 200 when configured', async (t) => {
  t.equal((await server('unknown').inject('/health')).statusCode, 503);
  t.equal((await server('unknown', { unknownStatusCode: 200 }).inject('/health')).statusCode, 200);
  t.equal((await server('unknown', { unknownStatusCode: 200 }).inject('/health')).json().status, 'unknown');
});

t.test('/livez follows the loops, not the node; /readyz says what it waits for', async (t) => {
  const app = server('unhealthy');
  t.equal((await app.inject('/livez')).statusCode, 200);
  t.same((await app.inject('/readyz')).json(), { status: 'not-ready', waitingFor: ['first scan'] });
  t.equal((await server('healthy', { livez: () => ({ ok: false, loops: [{ name: 'rules', alive: false }] }) }).inject('/livez')).statusCode, 503);
});

t.test('/debug/last-diff exists only when enabled', async (t) => {
  t.equal((await server('healthy').inject('/debug/last-diff')).statusCode, 404);
  t.same((await server('healthy', { debug: () => ({ findings: [] }) }).inject('/debug/last-diff')).json(), { findings: [] });
});

t.test('over real HTTP on 127.0.0.1: /health and /metrics with the Prometheus content type', async (t) => {
  const registry = new Registry();
  const app = server('healthy', { registry });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const h = await fetch(`${url}/health`);
  t.equal(h.status, 200);
  t.equal(h.headers.get('cache-control'), 'no-store');
  const m = await fetch(`${url}/metrics`);
  t.equal(m.status, 200);
  t.match(m.headers.get('content-type'), /text\/plain; version=0\.0\.4/);
});
