// The node's verdict from its checks: unhealthy beats unknown beats healthy; unknown is never healthy.
import t from 'tap';
import { apiCheck, composeVerdict, driftItems, findingKey, kubeProxyCheck, logCheck, rulesCheck } from '../../agent/verdict.ts';
import type { CheckResult } from '../../agent/verdict.ts';
import { judgeDrift, EMPTY_HISTORY } from '../../lib/kube/drift-judgement.ts';
import type { Finding } from '../../lib/kubeproxy/findings.ts';

const check = (name: CheckResult['name'], status: CheckResult['status'], enabled = true): CheckResult => ({ name, status, enabled, reason: 'R', message: 'm' });
const finding: Finding = { kind: 'stale-endpoint', severity: 'error', service: 'shop/web', port: 'http', protocol: 'tcp', endpoint: '10.244.2.12:8080', chain: 'nat/KUBE-SEP-X', family: 'IPv4', message: 'x' };

t.test('the node is unhealthy when any enabled check is, whatever the others say', async (t) => {
  const v = composeVerdict([check('rules', 'unhealthy'), check('api', 'unknown'), check('cni-logs', 'healthy')]);
  t.equal(v.status, 'unhealthy');
  t.same(v.reasons, ['rules: R: m', 'api: R: m']);
});

t.test('the node is unknown, not healthy, when an enabled check cannot judge', async (t) => {
  t.equal(composeVerdict([check('rules', 'healthy'), check('api', 'unknown')]).status, 'unknown');
});

t.test('a disabled check does not count', async (t) => {
  t.equal(composeVerdict([check('rules', 'healthy'), check('kube-proxy', 'unknown', false)]).status, 'healthy');
});

t.test('a finding key is kind+service+port+protocol+endpoint+chain+family; warnings are not drift', async (t) => {
  t.equal(findingKey(finding), 'stale-endpoint|shop/web|http|tcp|10.244.2.12:8080|nat/KUBE-SEP-X|IPv4');
  const items = driftItems([finding, { ...finding, kind: 'stale-chain', severity: 'warning' }]);
  t.equal(items.length, 1);
  t.equal(items[0]!.service, 'shop/web');
});

t.test('the rules check: not judged yet, failed scan, stale, then the drift condition', async (t) => {
  const base = { judgement: undefined, error: undefined, judgedAt: undefined, now: 100_000, staleAfterMs: 30_000 };
  t.equal(rulesCheck(base).reason, 'NotJudgedYet');
  t.match(rulesCheck({ ...base, error: { code: 'DPS_ERR_RULES_SYNTAX', message: 'bad' } }), { status: 'unknown', reason: 'ScanFailed', message: 'bad [DPS_ERR_RULES_SYNTAX]' });
  const judgement = judgeDrift({ drifts: driftItems([finding]), now: 0, view: { judgeable: true, state: 'synced' }, serviceChangedAt: new Map(), history: EMPTY_HISTORY }, { graceMs: 0, persistScans: 1 });
  t.match(rulesCheck({ ...base, judgement, judgedAt: 90_000 }), { status: 'unhealthy', reason: 'RulesOutOfSync' });
  t.match(rulesCheck({ ...base, judgement, judgedAt: 10_000 }), { status: 'unknown', reason: 'ScanStale' });
  const stale = judgeDrift({ drifts: [], now: 0, view: { judgeable: false, state: 'api-unreachable' }, serviceChangedAt: new Map(), history: EMPTY_HISTORY });
  t.match(rulesCheck({ ...base, judgement: stale, judgedAt: 90_000 }), { status: 'unknown', reason: 'APIUnreachable' });
});

t.test('the log checks: an active class of their own makes them unhealthy, a missing source unknown', async (t) => {
  const active = [{ class: 'proxy-sync-failure', severity: 'critical' }];
  t.match(logCheck({ name: 'kube-proxy-logs', enabled: true, active, missing: [] }), { status: 'unhealthy', reason: 'LogSignalActive' });
  t.match(logCheck({ name: 'cni-logs', enabled: true, active, missing: [] }), { status: 'healthy' });
  t.match(logCheck({ name: 'cni-logs', enabled: true, active: [], missing: ['/var/log/pods (missing)'] }), { status: 'unknown', reason: 'LogSourceMissing' });
});

t.test('the api and kube-proxy checks', async (t) => {
  t.match(apiCheck({ kind: 'file', state: 'invalid', message: 'x' }), { status: 'unknown', reason: 'ClusterFileInvalid' });
  t.match(apiCheck({ kind: 'api', state: 'fresh', message: 'x' }), { status: 'healthy' });
  t.match(kubeProxyCheck(true, undefined), { status: 'unknown', reason: 'NotScrapedYet' });
  t.match(kubeProxyCheck(true, { type: 'KubeProxySyncFailing', status: 'True', reason: 'IptablesRestoreFailing', message: 'm' }), { status: 'unhealthy' });
});
