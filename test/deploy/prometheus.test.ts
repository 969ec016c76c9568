// deploy/prometheus: the rules pass `promtool check rules`, every alert passes its
// `promtool test rules` unit tests (fires on its scenario, silent on a healthy fleet and on a
// single stray log line), the PrometheusRule carries exactly the plain rule file's groups, and
// every alert names only contract metrics and has a summary, a description and a runbook.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROOT, checkAgainstContract, have, loadYaml, run } from './helpers.ts';

const RULES = 'deploy/prometheus/dataplane-sentinel.rules.yaml';
const rules = loadYaml(RULES)[0];
const alerts: any[] = rules.groups.flatMap((g: any) => g.rules.filter((r: any) => r.alert));
const operations = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
const promtool = have('promtool') ? 'promtool' : undefined;
const noPromtool = 'promtool is not installed (Debian package prometheus; .ci/run installs it)';

// GitHub-style heading anchors of a Markdown document.
function anchors(md: string): Set<string> {
  return new Set([...md.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')));
}

t.test('the PrometheusRule carries exactly the plain rule file', async (t) => {
  const [cr] = loadYaml('deploy/prometheus/prometheusrule.yaml');
  t.equal(cr.kind, 'PrometheusRule');
  t.same(cr.spec, rules);
});

t.test('every alert: contract metrics, severity, summary, description, runbook in docs/operations.md', async (t) => {
  const sections = anchors(operations);
  t.same(alerts.map((a) => a.alert).sort(), [
    'DataplaneSentinelAPIViewStale', 'DataplaneSentinelAgentDown', 'DataplaneSentinelAgentsAbsent', 'DataplaneSentinelCNIAPIUnreachable',
    'DataplaneSentinelKubeProxySyncFailing', 'DataplaneSentinelManyNodesUnhealthy', 'DataplaneSentinelScansStale', 'DataplaneSentinelServiceRulesDrift',
  ], 'the alerts the issue asks for (drift, kube-proxy sync, CNI API, agent down/stale, many nodes)');
  for (const a of alerts) {
    t.same(checkAgainstContract(a.expr, a.alert), [], `${a.alert}: only metrics and labels from docs/metrics.md`);
    t.match(a.labels?.severity, /^(critical|warning)$/, `${a.alert}: severity`);
    t.ok(a.annotations?.summary?.length > 10, `${a.alert}: summary`);
    t.ok(a.annotations?.description?.length > 40, `${a.alert}: description`);
    const [file, anchor] = String(a.annotations?.runbook_url).split('#');
    t.equal(file, 'docs/operations.md', `${a.alert}: runbook in docs/operations.md`);
    t.ok(anchor && sections.has(anchor), `${a.alert}: docs/operations.md has a section #${anchor}`);
    t.match(a.for, /^\d+m$/, `${a.alert}: must hold for minutes, not fire on one evaluation`);
  }
});

t.test('promtool check rules', { skip: promtool ? false : noPromtool }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [cr] = loadYaml('deploy/prometheus/prometheusrule.yaml');
  writeFileSync(join(dir, 'from-cr.yaml'), stringify(cr.spec));
  for (const f of [join(ROOT, RULES), join(dir, 'from-cr.yaml')]) {
    const r = run('promtool', ['check', 'rules', f]);
    t.equal(r.status, 0, `${f}: ${r.stdout}${r.stderr}`);
  }
});

t.test('promtool test rules: each alert fires on its scenario and only there', { skip: promtool ? false : noPromtool }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-promtool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The unit tests name labels only: run them against the rules without annotations.
  const bare = structuredClone(rules);
  for (const g of bare.groups) for (const r of g.rules) delete r.annotations;
  writeFileSync(join(dir, 'dataplane-sentinel.alerts-only.yaml'), stringify(bare));
  copyFileSync(join(ROOT, 'test/deploy/promtool/alerts.test.yaml'), join(dir, 'alerts.test.yaml'));
  const r = run('promtool', ['test', 'rules', join(dir, 'alerts.test.yaml')], { timeoutMs: 60_000 });
  t.equal(r.status, 0, r.stdout + r.stderr);
  // Every alert has a firing expectation and a silent one somewhere in the tests.
  const tests = loadYaml('test/deploy/promtool/alerts.test.yaml')[0].tests.flatMap((x: any) => x.alert_rule_test);
  for (const a of alerts) {
    t.ok(tests.some((x: any) => x.alertname === a.alert && x.exp_alerts.length > 0), `${a.alert} is tested firing`);
    t.ok(tests.some((x: any) => x.alertname === a.alert && x.exp_alerts.length === 0), `${a.alert} is tested silent`);
  }
});

t.test('promtool test rules: the annotations render with the labels and value', { skip: promtool ? false : noPromtool }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-promtool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, RULES), join(dir, 'rules.yaml'));
  const drift = alerts.find((a) => a.alert === 'DataplaneSentinelServiceRulesDrift');
  const labels = { job: 'dataplane-sentinel', instance: '10.0.0.2:9808', node: 'n2' };
  const render = (s: string) => s.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => (labels as Record<string, string>)[k] ?? '').replace(/\{\{ \$value \}\}/g, '3');
  const spec = {
    rule_files: ['rules.yaml'],
    evaluation_interval: '30s',
    tests: [{
      interval: '30s',
      input_series: [{ series: 'dataplane_sentinel_findings{job="dataplane-sentinel",instance="10.0.0.2:9808",node="n2",kind="stale-endpoint",family="IPv4"}', values: '3x40' }],
      alert_rule_test: [{
        eval_time: '10m', alertname: drift.alert,
        exp_alerts: [{ exp_labels: { ...labels, severity: 'critical' }, exp_annotations: Object.fromEntries(Object.entries(drift.annotations).map(([k, v]) => [k, render(String(v))])) }],
      }],
    }],
  };
  writeFileSync(join(dir, 'render.test.yaml'), stringify(spec));
  const r = run('promtool', ['test', 'rules', join(dir, 'render.test.yaml')]);
  t.equal(r.status, 0, r.stdout + r.stderr);
});
