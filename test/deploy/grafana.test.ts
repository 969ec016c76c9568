// deploy/grafana: the dashboard is valid JSON of the shape Grafana imports, covers what the issue
// asks for (nodes by verdict, findings by kind, log signals by class, scan cost), uses only
// contract metrics and labels, and every query is valid PromQL (promtool).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROOT, checkAgainstContract, have, run } from './helpers.ts';

const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dataplane-sentinel.json'), 'utf8'));
const panels: any[] = dashboard.panels.filter((p: any) => p.type !== 'row');
const exprs = panels.flatMap((p) => p.targets.map((x: any) => ({ panel: p.title as string, expr: x.expr as string })));

t.test('the dashboard has the shape Grafana imports', async (t) => {
  t.equal(dashboard.uid, 'dataplane-sentinel');
  t.ok(dashboard.title);
  t.ok(Number.isInteger(dashboard.schemaVersion));
  const ids = dashboard.panels.map((p: any) => p.id);
  t.same(ids.filter((id: number, i: number) => ids.indexOf(id) !== i), [], 'panel ids are unique');
  for (const p of dashboard.panels) {
    const g = p.gridPos;
    t.ok(g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title}: gridPos inside the 24-column grid`);
  }
  for (const p of panels) {
    t.ok(p.description, `${p.title}: has a description`);
    t.equal(p.datasource.uid, '${datasource}', `${p.title}: uses the datasource variable`);
    t.ok(p.targets.length > 0 && p.targets.every((x: any) => x.refId && x.expr), `${p.title}: has queries`);
  }
  const vars = dashboard.templating.list.map((v: any) => v.name);
  t.same(vars, ['datasource', 'job', 'node']);
});

t.test('the dashboard covers the fleet view the issue asks for', async (t) => {
  const all = exprs.map((e) => e.expr).join('\n');
  t.match(all, /sum by \(status\) \(dataplane_sentinel_node_status/, 'nodes by verdict');
  t.match(all, /sum by \(kind\) \(dataplane_sentinel_findings/, 'findings by kind');
  t.match(all, /sum by \(class\) \(rate\(dataplane_sentinel_log_matches_total/, 'log signals by class');
  t.match(all, /sum by \(class\) \(dataplane_sentinel_log_signal_active/, 'active log signals by class');
  t.match(all, /dataplane_sentinel_scan_duration_seconds_bucket/, 'scan cost: duration');
  t.match(all, /dataplane_sentinel_scan_cpu_seconds_total/, 'scan cost: CPU');
});

t.test('every query uses only metrics and labels from docs/metrics.md', async (t) => {
  for (const e of exprs) t.same(checkAgainstContract(e.expr, e.panel), [], e.panel);
  for (const e of exprs) t.match(e.expr, /job="\$job"/, `${e.panel}: filtered by $job`);
});

t.test('every query is valid PromQL (promtool check rules)', { skip: have('promtool') ? false : 'promtool is not installed (Debian package prometheus; .ci/run installs it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-dash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Grafana's variables replaced by what they expand to.
  const concrete = (s: string) => s.replace(/\$__rate_interval/g, '2m').replace(/\$job/g, 'dataplane-sentinel').replace(/\$node/g, '.*');
  const groups = [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: concrete(e.expr) })) }];
  writeFileSync(join(dir, 'dashboard.rules.yaml'), stringify({ groups }));
  const r = run('promtool', ['check', 'rules', join(dir, 'dashboard.rules.yaml')]);
  t.equal(r.status, 0, r.stdout + r.stderr);
});
