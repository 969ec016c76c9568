import t from 'tap';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { judgeKubeProxySync, parsePrometheusText, readKubeProxyMetrics, type KubeProxyScrape } from '../../../lib/kube/kube-proxy-signals.ts';
import { scrapeKubeProxy } from '../../../lib/kube/kube-proxy-probe.ts';
import { FakeClock } from '../../helpers/kube-testing.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/kube/kube-proxy/${name}`, import.meta.url), 'utf8');

t.test('reads the signals from a real-shaped scrape', async (t) => {
  t.same(readKubeProxyMetrics(fixture('metrics-healthy.txt')), {
    restoreFailures: 0, lastQueuedAt: 1735689600, lastSyncedAt: 1735689600.5, version: 'v1.30.2',
  });
  t.same(readKubeProxyMetrics('garbage\n{}\n'), { restoreFailures: undefined, lastQueuedAt: undefined, lastSyncedAt: undefined, version: undefined });
  t.same(parsePrometheusText('a{x="q\\"uote"} 1 1700000000\nb +Inf\nc NaN').get('a'), [{ labels: { x: 'q"uote' }, value: 1 }]);
});

t.test('judgement', async (t) => {
  const at = 1735689600_000 + 1000;
  const m = (over: Partial<KubeProxyScrape['metrics'] & object> = {}) => ({ restoreFailures: 0, lastQueuedAt: 1735689600, lastSyncedAt: 1735689600.5, version: 'v1.30.2', ...over });
  const cases: [string, KubeProxyScrape, KubeProxyScrape | undefined, string][] = [
    ['healthy', { at, metrics: m(), livezStatus: 200, error: undefined }, undefined, 'False/SyncHealthy'],
    ['restore failures went up', { at, metrics: m({ restoreFailures: 3 }), livezStatus: 200, error: undefined }, { at, metrics: m(), livezStatus: 200, error: undefined }, 'True/IptablesRestoreFailing'],
    ['a high but steady failure count is history, not news', { at, metrics: m({ restoreFailures: 3 }), livezStatus: 200, error: undefined }, { at, metrics: m({ restoreFailures: 3 }), livezStatus: 200, error: undefined }, 'False/SyncHealthy'],
    ['queued 61 s ago, never synced since', { at: at + 60_000, metrics: m({ lastQueuedAt: 1735689600.9, lastSyncedAt: 1735689600.5 }), livezStatus: 200, error: undefined }, undefined, 'True/SyncLagging'],
    ['queued recently: kube-proxy is just busy', { at, metrics: m({ lastQueuedAt: 1735689600.9, lastSyncedAt: 1735689600.5 }), livezStatus: 200, error: undefined }, undefined, 'False/SyncHealthy'],
    ['livez 503', { at, metrics: m(), livezStatus: 503, error: undefined }, undefined, 'True/LivezFailing'],
    ['nothing reachable', { at, metrics: undefined, livezStatus: undefined, error: 'ECONNREFUSED' }, undefined, 'Unknown/MetricsUnavailable'],
  ];
  for (const [what, cur, prev, expected] of cases) {
    const c = judgeKubeProxySync(cur, prev);
    t.equal(`${c.status}/${c.reason}`, expected, what);
  }
});

t.test('scrapes metrics and livez over HTTP, bounded', async (t) => {
  let livez = 200;
  const srv = http.createServer((req, res) => {
    if (req.url === '/metrics') res.end(fixture('metrics-restore-failing.txt'));
    else if (req.url === '/livez') {
      res.statusCode = livez;
      res.end('{}');
    } else if (req.url === '/hang') {
      /* never answers */
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const clock = new FakeClock();
  const s = await scrapeKubeProxy({ metricsUrl: `${base}/metrics`, livezUrl: `${base}/livez`, clock });
  t.equal(s.metrics?.restoreFailures, 7);
  t.equal(s.livezStatus, 200);
  livez = 503;
  const hung = await scrapeKubeProxy({ metricsUrl: `${base}/hang`, livezUrl: `${base}/livez`, clock, timeoutMs: 100 });
  t.equal(hung.metrics, undefined);
  t.equal(hung.livezStatus, 503);
  t.match(hung.error, /metrics:/);
  const gone = await scrapeKubeProxy({ metricsUrl: `${base}/nope`, livezUrl: 'http://127.0.0.1:1/livez', clock, timeoutMs: 500 });
  t.equal(judgeKubeProxySync(gone, undefined).status, 'Unknown');
});
