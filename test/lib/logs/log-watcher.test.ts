import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BUILTIN_RULES } from '../../../lib/logs/builtin-rules.ts';
import { compileRules } from '../../../lib/logs/compile-rules.ts';
import { parseLogConfig } from '../../../lib/logs/log-config.ts';
import { LogWatcher } from '../../../lib/logs/log-watcher.ts';
import type { SourcedMatch } from '../../../lib/logs/log-watcher.ts';

const FAKE = new URL('../../fixtures/logs/journal/fake-journalctl.mjs', import.meta.url).pathname;
const ENTRIES = new URL('../../fixtures/logs/journal/kubelet-cni-not-ready.jsonl', import.meta.url).pathname;
const rules = compileRules(BUILTIN_RULES);
const now = () => new Date().toISOString();
const SYNC_FAILED = () => `${now()} stderr F I0928 23:55:47.039519       1 proxier.go:858] "Sync failed" retryingTime="30s"\n`;
const BENIGN = () => `${now()} stderr F I1028 20:41:24.249572       1 config.go:167] Calling handler.OnEndpointsUpdate\n`;

function layout(t: { teardown: (fn: () => void) => void }) {
  const root = mkdtempSync(join(tmpdir(), 'dps-watch-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const pods = join(root, 'pods');
  const proxyDir = join(pods, 'kube-system_kube-proxy-abc_uid1', 'kube-proxy');
  mkdirSync(proxyDir, { recursive: true });
  mkdirSync(join(pods, 'default_web_uid2', 'nginx'), { recursive: true });
  writeFileSync(join(pods, 'default_web_uid2', 'nginx', '0.log'), `${now()} stdout F Sync failed; retrying in 30s (an app, not kube-proxy)\n`);
  const journalDir = join(root, 'journal');
  mkdirSync(journalDir);
  const config = parseLogConfig({
    podLogDir: pods,
    files: [{ glob: join(root, 'calico', 'cni.log'), component: 'calico-cni' }],
    journal: { command: FAKE, directories: [journalDir, join(root, 'run-journal')], units: ['kubelet'], kernel: false },
    stateFile: join(root, 'state', 'positions.json'),
    pollIntervalMs: 50, discoveryIntervalMs: 100, stateFlushIntervalMs: 100,
  });
  return { root, pods, proxyDir, config };
}

function startWatcher(config: ReturnType<typeof parseLogConfig>, t: { teardown: (fn: () => Promise<void>) => void }) {
  const matches: SourcedMatch[] = [];
  const logs: { level: string; obj: object; msg: string }[] = [];
  const log = Object.fromEntries(['info', 'warn', 'error', 'debug'].map((level) => [level, (obj: object, msg: string) => logs.push({ level, obj, msg })])) as never;
  const controller = new AbortController();
  const watcher = new LogWatcher({ config, rules, log, clock: { now: () => Date.now() }, signal: controller.signal, nodeName: 'node-a', onMatch: (m) => matches.push(m) });
  const done = watcher.run();
  t.teardown(async () => { controller.abort(); await done; });
  return { watcher, matches, logs, stop: async () => { controller.abort(); await done; } };
}

async function until(check: () => boolean, ms = 5000, what = ''): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what || check.toString()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

t.test('follows pods, restarts, plain files and journald; resumes after a restart without double counting', async (t) => {
  process.env.FAKE_JOURNAL_ENTRIES = ENTRIES;
  t.teardown(() => { delete process.env.FAKE_JOURNAL_ENTRIES; });
  const { root, pods, proxyDir, config } = layout(t);
  writeFileSync(join(proxyDir, '0.log'), BENIGN() + SYNC_FAILED());
  const first = startWatcher(config, t);
  await until(() => first.matches.some((m) => m.source.endsWith('0.log')));
  await until(() => first.matches.filter((m) => m.source.startsWith('journal:')).length === 3);

  // a line appended to a watched file is counted within 2 s
  appendFileSync(join(proxyDir, '0.log'), SYNC_FAILED());
  const latency = await until(() => first.matches.filter((m) => m.source.endsWith('kube-proxy/0.log')).length === 2);
  t.ok(latency < 2000, `appended line seen in ${latency} ms`);

  // a container restart (1.log), a new pod, and a plain file that appears later
  writeFileSync(join(proxyDir, '1.log'), SYNC_FAILED());
  const newPod = join(pods, 'kube-system_coredns-1_uid3', 'coredns');
  mkdirSync(newPod, { recursive: true });
  writeFileSync(join(newPod, '0.log'), `${now()} stdout F [ERROR] plugin/errors: 2 github.com. AAAA: read udp 172.17.0.2:46499->192.168.49.1:53: i/o timeout\n`);
  mkdirSync(join(root, 'calico'));
  writeFileSync(join(root, 'calico', 'cni.log'), '2024-10-01 10:00:30.001 [ERROR][206547] plugin.go 580: Final result of CNI DEL was an error. error=error getting ClusterInformation: Get "https://10.43.0.1:443/x": dial tcp 10.43.0.1:443: i/o timeout\n');
  await until(() => first.matches.some((m) => m.source.endsWith('kube-proxy/1.log'))
    && first.matches.some((m) => m.class === 'dns-upstream-timeout') && first.matches.some((m) => m.component === 'calico-cni'));
  await first.stop();

  const metrics = first.watcher.metrics();
  t.same(metrics.matches.find((m) => m.class === 'proxy-sync-failure' && m.component === 'kube-proxy')?.count, 3);
  t.same(metrics.matches.find((m) => m.class === 'cni-not-ready')?.count, 1, 'journald kubelet line');
  t.notOk(first.matches.some((m) => m.source.includes('nginx')), 'an app container is not followed');
  t.ok(metrics.linesRead >= 5);
  t.ok((metrics.sourceErrors.DPS_ERR_LOGS_SOURCE_MISSING ?? 0) >= 1, 'the missing journal directory was reported');
  const state = JSON.parse(readFileSync(config.stateFile, 'utf8')) as { node: string; files: Record<string, unknown>; journal: Record<string, string> };
  t.equal(state.node, 'node-a');
  t.ok(state.files[join(proxyDir, '0.log')]);

  // while the agent is down: kubelet rotates 0.log and writes more
  appendFileSync(join(proxyDir, '0.log'), SYNC_FAILED());
  renameSync(join(proxyDir, '0.log'), join(proxyDir, '0.log.20240101-000000'));
  writeFileSync(join(proxyDir, '0.log'), SYNC_FAILED());
  const second = startWatcher(config, t);
  await until(() => second.matches.length >= 2);
  await new Promise((r) => setTimeout(r, 300));
  await second.stop();
  t.same(second.matches.map((m) => m.source.replace(proxyDir, '')).sort(), ['/0.log', '/0.log'],
    'only the two new lines (one from the rotated file, one from the new file); nothing twice, journald resumed after its cursor');
});

t.test('a corrupt state file is logged with its code and the watcher goes on', async (t) => {
  const { proxyDir, config } = layout(t);
  mkdirSync(join(config.stateFile, '..'), { recursive: true });
  writeFileSync(config.stateFile, '{not json');
  writeFileSync(join(proxyDir, '0.log'), SYNC_FAILED());
  const w = startWatcher(parseLogConfig({ ...config, journal: { enabled: false } }), t);
  await until(() => w.matches.length === 1);
  await w.stop();
  t.ok(w.logs.some((l) => l.level === 'warn' && (l.obj as { code?: string }).code === 'DPS_ERR_LOGS_STATE_CORRUPT'));
  t.equal(w.watcher.metrics().sourceErrors.DPS_ERR_LOGS_STATE_CORRUPT, 1);
  t.doesNotThrow(() => JSON.parse(readFileSync(config.stateFile, 'utf8')), 'rewritten as valid JSON');
});
