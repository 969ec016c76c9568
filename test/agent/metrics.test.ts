// The metrics contract (docs/metrics.md): every name is registered on the agent's own registry,
// vocabularies are pre-registered at 0, per-service series are capped, and promtool accepts it.
import t from 'tap';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { Registry, register as globalRegister } from 'prom-client';
import { createAgentMetrics, MAX_SERVICE_SERIES } from '../../agent/metrics.ts';
import { composeVerdict } from '../../agent/verdict.ts';
import type { Finding } from '../../lib/kubeproxy/findings.ts';

const contract = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const finding = (service: string): Finding => ({ kind: 'stale-endpoint', severity: 'error', service, port: 'http', protocol: 'tcp', endpoint: '10.0.0.1:80', chain: undefined, family: 'IPv4', message: 'x' });

function filled(): { registry: Registry; metrics: ReturnType<typeof createAgentMetrics> } {
  const registry = new Registry();
  const metrics = createAgentMetrics(registry, { version: '0.1.0' });
  metrics.setVerdict(composeVerdict([{ name: 'rules', enabled: true, status: 'unhealthy', reason: 'R', message: 'm' }]), [finding('shop/web')]);
  metrics.recordScan({ result: 'ok', durationSeconds: 0.5, cpuSeconds: 0.3, at: Date.now(), dumps: [{ family: 'IPv4', backend: 'legacy', durationSeconds: 0.1, hashChanged: true }], counts: [{ family: 'IPv4', backend: 'legacy', rules: 81, chains: 48 }] });
  metrics.recordScan({ result: 'error', errorCode: 'DPS_ERR_RULES_SYNTAX', durationSeconds: 0.1, cpuSeconds: 0, at: Date.now(), dumps: [] });
  metrics.setInterval(10);
  metrics.logMatch('proxy-sync-failure', 'kube-proxy');
  metrics.setLogSignals([{ class: 'proxy-sync-failure', active: true, lastMatchAt: Date.now() }]);
  metrics.setLogTotals({ lines: { file: 10, journal: 2 }, errors: { DPS_ERR_LOGS_SOURCE_MISSING: 1 } });
  metrics.setApi({ up: true, lastContact: { services: Date.now() }, objects: { services: 5 } });
  metrics.countInputSkipped('service:spec.clusterIP', 1);
  metrics.setKubeProxy({ up: true, syncLagSeconds: 0, restoreFailures: 3 });
  metrics.setConditions([{ type: 'ServiceRulesDrift', status: 'True' }]);
  return { registry, metrics };
}

t.test('every metric of the contract is exposed, on our registry and not the global one', async (t) => {
  const text = await filled().registry.metrics();
  const names = [...contract.matchAll(/^\| `(dataplane_sentinel_[a-z_]+)`/gm)].map((m) => m[1]!);
  t.ok(names.length > 20);
  for (const name of names) t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exposed`);
  t.match(text, /^dataplane_sentinel_process_cpu_user_seconds_total /m);
  t.match(text, /^dataplane_sentinel_nodejs_eventloop_lag_seconds /m);
  t.notMatch(await globalRegister.metrics(), /dataplane_sentinel_/, 'nothing on the global registry');
});

t.test('finding kinds, statuses and built-in log classes are there at 0 before anything happens', async (t) => {
  const text = await new Registry().metrics().then(async () => {
    const registry = new Registry();
    createAgentMetrics(registry, { version: 'x' });
    return registry.metrics();
  });
  t.match(text, /dataplane_sentinel_findings\{kind="missing-canary",family="IPv6"\} 0/);
  t.match(text, /dataplane_sentinel_node_status\{status="unknown"\} 1/);
  t.match(text, /dataplane_sentinel_log_signal_active\{class="cni-api-unreachable"\} 0/);
});

t.test(`per-service series are capped at ${MAX_SERVICE_SERIES}, the rest summed under _other`, async (t) => {
  const { registry, metrics } = filled();
  metrics.setVerdict(composeVerdict([]), Array.from({ length: MAX_SERVICE_SERIES + 10 }, (_, i) => finding(`ns/svc${i}`)));
  const text = await registry.metrics();
  t.equal(text.match(/^dataplane_sentinel_service_findings\{/gm)?.length, MAX_SERVICE_SERIES + 1);
  t.match(text, /dataplane_sentinel_service_findings\{service="_other",kind="stale-endpoint"\} 10/);
  metrics.setVerdict(composeVerdict([]), []);
  t.notMatch(await registry.metrics(), /^dataplane_sentinel_service_findings\{/m, 'gone once the findings are');
});

t.test('promtool check metrics accepts the output', async (t) => {
  const probe = await execa('promtool', ['--version'], { reject: false });
  if (probe.exitCode !== 0) {
    t.comment('skipped: promtool is not installed (apt-get install prometheus)');
    return;
  }
  const text = await filled().registry.metrics();
  const r = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
  t.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
});
