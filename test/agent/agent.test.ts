// The wired agent over real HTTP on 127.0.0.1 with real files and processes: healthy when the rules
// match, and for every bad input (iptables-save missing, failing, hanging, printing garbage or too much; the
// cluster file invalid; a log directory missing) it keeps serving, says Unknown with the reason,
// and counts it in /metrics. It stops within 5 s.
import t from 'tap';
import { execa } from 'execa';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createAgent } from '../../agent/agent.ts';
import { loadConfig } from '../../agent/config.ts';
import { systemClock } from '../../lib/kube/deps.ts';
import { agentHttp, checkOf, eventually } from '../helpers/agent-http.ts';
import { demoClusterText, demoItems, rulesFor } from '../helpers/demo-cluster.ts';
import { memoryLogger, waitFor } from '../helpers/kube-testing.ts';
import { processesRunning } from '../helpers/processes.ts';

const rules = rulesFor(demoItems());
const fixture = (name: string): string => new URL(`../fixtures/agent/${name}`, import.meta.url).pathname;

async function start(t: { teardown(fn: () => Promise<void> | void): void }, extra: string[], files: { rules?: string; cluster?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dps-agent-'));
  mkdirSync(join(dir, 'pods', 'kube-system_kube-proxy-x_uid', 'kube-proxy'), { recursive: true });
  writeFileSync(join(dir, 'pods', 'kube-system_kube-proxy-x_uid', 'kube-proxy', '0.log'), '');
  writeFileSync(join(dir, 'node.rules'), files.rules ?? rules);
  writeFileSync(join(dir, 'cluster.yaml'), files.cluster ?? demoClusterText);
  const argv = ['--node', 'demo-node', '--listen', '127.0.0.1:0', '--cluster-file', join(dir, 'cluster.yaml'), '--interval', '100ms', '--jitter', '0',
    '--grace', '0s', '--persist-scans', '1', '--pod-log-dir', join(dir, 'pods'), '--log-state-file', join(dir, 'state.json'), '--no-journal', '--no-kube-proxy-probe', ...extra];
  if (!extra.some((a) => a.startsWith('--rules'))) argv.push('--rules-file', join(dir, 'node.rules'));
  // Scans back to back (the budget's stretching has its own test below): a worker's start-up alone
  // is ~0.3 CPU-s from the sources, which would stretch the 100 ms interval to seconds.
  if (!extra.includes('--cpu-budget')) argv.push('--cpu-budget', '1');
  const config = loadConfig({ argv: argv.map((a) => a.replace('$DIR', dir)), env: {} }).config!;
  const log = memoryLogger();
  const stop = new AbortController();
  const agent = await createAgent({ config, log, clock: systemClock, registry: new Registry(), signal: stop.signal, version: 'test' });
  const url = await agent.listen();
  t.teardown(async () => { stop.abort(); await agent.close(); rmSync(dir, { recursive: true, force: true }); });
  const { health, metrics, until } = agentHttp(url);
  return { agent, url, dir, log, health, metrics, until };
}

t.test('a node whose rules match is healthy; /metrics passes promtool; a log line shows within 1 s', async (t) => {
  const a = await start(t, []);
  const h = await a.until((x) => x.body.status === 'healthy', 'healthy');
  t.equal(h.code, 200);
  t.same((await fetch(`${a.url}/readyz`)).status, 200);
  const text = await a.metrics();
  t.match(text, /dataplane_sentinel_node_status\{status="healthy"\} 1/);
  t.match(text, /dataplane_sentinel_rules\{family="IPv4",backend="\w+"\} [1-9]\d*/);
  const probe = await execa('promtool', ['--version'], { reject: false });
  if (probe.exitCode === 0) {
    const r = await execa('promtool', ['check', 'metrics'], { input: text, reject: false });
    t.equal(r.exitCode, 0, r.stderr);
  } else t.comment('promtool not installed: lint skipped');
  // kube-proxy's pod log gets a failure line
  const at = Date.now();
  appendFileSync(join(a.dir, 'pods', 'kube-system_kube-proxy-x_uid', 'kube-proxy', '0.log'), `${new Date().toISOString()} stderr F E0314 18:02:11.532201       1 proxier.go:1525] "Failed to execute iptables-restore" err="exit status 1"\n`);
  const seen = await eventually(async () => /log_matches_total\{class="proxy-sync-failure",component="kube-proxy"\} 1/.test(await a.metrics()), 3000);
  t.ok(seen, 'the match is counted');
  t.ok(Date.now() - at < 1500, `shown within ~1 s (${Date.now() - at} ms)`);
});

t.test('the scan interval stretches to keep the CPU budget', async (t) => {
  const a = await start(t, ['--cpu-budget', '0.05']);
  await a.until((x) => x.body.status === 'healthy', 'healthy');
  const m = /^dataplane_sentinel_scan_interval_seconds (\S+)$/m.exec(await a.metrics());
  // the first scan started a worker (Node and its modules: well over 5 ms of CPU), so 100 ms at 5% cannot hold
  t.ok(m !== null && Number(m[1]) > 0.1, `interval ${m?.[1]} s is stretched beyond the configured 0.1 s`);
});

t.test('unchanged dumps skip the parse; a changed dump counts as a ruleset change', async (t) => {
  const a = await start(t, []);
  await a.until((x) => x.body.status === 'healthy', 'healthy');
  t.ok(await eventually(async () => /scans_total\{result="skipped-unchanged"\} [1-9]/.test(await a.metrics())), 'unchanged scans are skipped');
  writeFileSync(join(a.dir, 'node.rules'), rules.replace(/^-A KUBE-SERVICES .*shop\/web.*$/m, ''));
  const h = await a.until((x) => x.body.status === 'unhealthy', 'unhealthy after the rules changed');
  t.match(checkOf(h, 'rules'), { reason: 'RulesOutOfSync' });
  t.match(await a.metrics(), /ruleset_changes_total\{family="IPv4"\} [1-9]/);
});

for (const [name, args, code] of [
  ['printing garbage', ['--rules-command', fixture('garbage.sh')], 'DPS_ERR_RULES_'],
  ['failing', ['--rules-command', fixture('fail.sh')], 'DPS_ERR_AGENT_EXEC_FAILED'],
  ['hanging', ['--rules-command', fixture('hang.sh'), '--exec-timeout', '300ms'], 'DPS_ERR_AGENT_EXEC_TIMEOUT'],
  ['missing', ['--rules-command', 'no-such-iptables-save'], 'DPS_ERR_AGENT_EXEC_NOT_FOUND'],
  ['printing too much', ['--rules-command', `${fixture('print.sh')} $DIR/node.rules`, '--max-dump-bytes', '1024'], 'DPS_ERR_AGENT_EXEC_OUTPUT_LIMIT'],
] as const) {
  t.test(`iptables-save ${name}: the agent keeps serving, /health is unknown with the reason, metrics count it`, async (t) => {
    const a = await start(t, [...args]);
    const h = await a.until((x) => x.body.checks.some((c) => c.name === 'rules' && c.reason === 'ScanFailed'), 'a failed scan');
    t.equal(h.code, 503);
    t.equal(h.body.status, 'unknown');
    t.match(checkOf(h, 'rules')?.message, code);
    t.match(await a.metrics(), new RegExp(`scan_errors_total\\{code="${code}`));
    t.equal((await fetch(`${a.url}/livez`)).status, 200, 'the agent itself is alive');
  });
}

t.test('an invalid cluster file makes the verdict unknown until it is fixed', async (t) => {
  const a = await start(t, []);
  await a.until((x) => x.body.status === 'healthy', 'healthy');
  writeFileSync(join(a.dir, 'cluster.yaml'), 'items: [ this is not yaml');
  const h = await a.until((x) => x.body.status === 'unknown', 'unknown');
  t.match(checkOf(h, 'api'), { status: 'unknown', reason: 'ClusterFileInvalid' });
  t.match(await a.metrics(), /dataplane_sentinel_api_up 0/);
  writeFileSync(join(a.dir, 'cluster.yaml'), demoClusterText);
  await a.until((x) => x.body.status === 'healthy', 'healthy again');
});

t.test('a missing log directory makes the log checks unknown; --unknown-status 200 answers 200', async (t) => {
  const a = await start(t, ['--pod-log-dir', '$DIR/no-such-dir', '--unknown-status', '200']);
  const h = await a.until((x) => x.body.checks.some((c) => c.reason === 'LogSourceMissing'), 'log source missing');
  t.equal(h.body.status, 'unknown');
  t.equal(h.code, 200);
  t.match(checkOf(h, 'kube-proxy-logs')?.message, /no-such-dir/);
});

t.test('close() stops everything within 5 s, even during a hanging command, which the worker does not leave behind', async (t) => {
  const token = `32.${process.pid}${Date.now() % 1000}`;
  const a = await start(t, ['--rules-command', `sleep ${token}`]);
  await waitFor(() => processesRunning(['sleep', token]) === 1, 5000, 'the command running in the worker');
  const started = Date.now();
  await a.agent.close();
  t.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
  await t.rejects(fetch(`${a.url}/health`));
  await waitFor(() => processesRunning(['sleep', token]) === 0, 1000, 'the command gone');
  t.pass('the command is gone');
});
