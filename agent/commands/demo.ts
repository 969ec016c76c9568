/**
 * `dataplane-sentinel demo`: the real agent (HTTP, metrics, scan worker, log watcher) against an
 * embedded scenario, no cluster needed. The node is a throwaway network namespace loaded with the
 * rules kube-proxy would write for examples/demo/cluster.yaml (or the same rules in a file when
 * not root); the cluster is a file the demo edits; kube-proxy's log is a CRI pod log the demo
 * appends to. It shows /health healthy, breaks the node the way the incidents did (a pod deleted
 * while kube-proxy cannot sync, `Failed to execute iptables-restore` in its log, a flushed nat
 * table), shows /health and /metrics turning, repairs it and shows recovery. Everything it
 * creates (namespace, temp dir) is removed on exit, Ctrl-C included.
 */
import { readFileSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';
import { systemClock } from '../../lib/kube/deps.ts';
import { readClusterObjects } from '../../lib/kubeproxy/cluster-input.ts';
import { parseClusterText } from '../../lib/kubeproxy/cluster-text.ts';
import { expectedServicePorts } from '../../lib/kubeproxy/expected.ts';
import { renderKubeProxyRules } from '../../lib/kubeproxy/render.ts';
import { createAgent } from '../agent.ts';
import { loadConfig } from '../config.ts';
import { createDemoNode } from '../demo-node.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/demo/', import.meta.url));
const NODE = 'demo-node';
const POD_DIR = 'kube-system_kube-proxy-demo_6f1c2a4e-9b7d-4c1e-8a55-0e2b7d9c1f30';
type Obj = Record<string, unknown>;

/** Runs the demo; exit 0 when every step showed what it should. */
export async function runDemo(_argv: readonly string[], io: CliIo): Promise<number> {
  const say = (s: string): void => { io.stdout.write(`${s}\n`); };
  const dir = await mkdtemp(join(tmpdir(), 'dataplane-sentinel-demo-'));
  const node = await createDemoNode(dir, io.signal);
  const stop = new AbortController();
  const signal = AbortSignal.any([io.signal, stop.signal]);
  let agent: Awaited<ReturnType<typeof createAgent>> | undefined;
  let failing: NodeJS.Timeout | undefined;
  try {
    const items = parseClusterText(await readFile(join(EXAMPLES, 'cluster.yaml'), 'utf8'), 'cluster.yaml').items as Obj[];
    const clusterFile = join(dir, 'cluster.yaml');
    const kubeProxyLog = join(dir, 'pods', POD_DIR, 'kube-proxy', '0.log');
    await mkdir(join(dir, 'pods', POD_DIR, 'kube-proxy'), { recursive: true });
    await copyFile(join(EXAMPLES, 'logs', 'kube-proxy.log'), kubeProxyLog);
    await copyFile(join(EXAMPLES, 'logs', 'calico-cni.log'), join(dir, 'calico-cni.log'));
    await writeFile(clusterFile, stringify({ apiVersion: 'v1', kind: 'List', items }));
    await writeFile(join(dir, 'agent.yaml'), stringify({ logs: { containers: ['kube-proxy'], files: [], pollIntervalMs: 100, discoveryIntervalMs: 500, signal: { windowMs: 30_000, activateCount: 3, clearAfterMs: 1500 } } }));
    await node.load(render(items));

    say(`dataplane-sentinel demo: the agent on node ${NODE}, no cluster needed`);
    say(`  rules:   ${node.description}`);
    say('  cluster: examples/demo/cluster.yaml as --cluster-file (the demo edits a copy)');
    say('  logs:    a CRI pod log of kube-proxy and a Calico CNI log (copies of examples/demo/logs)\n');

    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _e, done) { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
    const loaded = loadConfig({
      argv: ['--node', NODE, '--listen', '127.0.0.1:0', '--cluster-file', clusterFile, ...node.agentFlags, '--config', join(dir, 'agent.yaml'),
        // scans every 250 ms of a tiny ruleset; no CPU budget: starting the scan worker from the sources
        // alone (~0.3 CPU-s) would stretch the interval to seconds at the default 5%
        '--interval', '250ms', '--jitter', '0', '--cpu-budget', '1', '--grace', '1s', '--persist-scans', '2', '--pod-log-dir', join(dir, 'pods'),
        '--log-path', join(dir, 'calico-cni.log'), '--log-state-file', join(dir, 'positions.json'), '--no-journal', '--no-kube-proxy-probe'],
      env: {}, readFile: (p) => readFileSync(p, 'utf8'),
    });
    agent = await createAgent({ config: loaded.config!, log: pino({ level: 'info' }, sink), clock: systemClock, registry: new Registry(), signal, version: 'demo' });
    const url = await agent.listen();
    say(`agent listening on ${url} (GET /health, /metrics, /livez, /readyz)\n`);
    const show = showAgentLog(lines, say);

    let ok = true;
    const step = async (title: string, want: (h: Health) => boolean, what: string): Promise<Health> => {
      say(`== ${title}`);
      const h = await waitForHealth(url, want, signal);
      show();
      printHealth(say, h);
      if (!want(h)) { ok = false; say(`   !! expected ${what}`); }
      return h;
    };

    await step('1. a healthy node: rules match the API, logs are quiet', (h) => h.body.status === 'healthy', '/health healthy');
    await printMetrics(say, url, /node_status\{status="healthy"\}|scans_total\{result="(ok|skipped-unchanged)"\}|rules\{|chains\{/);

    say('\n   Breaking it as in the CircleCI outage: pod 10.244.2.12 (shop/web) is deleted in the API while');
    say('   kube-proxy cannot run iptables-restore; its rules stay as they were and it logs the failures.');
    const withoutPod = items.map((i) => (i.kind === 'EndpointSlice' && (i.metadata as Obj).name === 'web-x7k2p'
      ? { ...i, endpoints: (i.endpoints as { addresses: string[] }[]).filter((e) => e.addresses[0] !== '10.244.2.12') } : i));
    await writeFile(clusterFile, stringify({ apiVersion: 'v1', kind: 'List', items: withoutPod }));
    await appendFile(kubeProxyLog, failureLines(3));
    // While stuck, kube-proxy retries and fails again and again (every 30 s for real; faster here).
    failing = setInterval(() => void appendFile(kubeProxyLog, failureLines(1)).catch(() => undefined), 400);
    const stale = await step('2. stale endpoint: traffic still goes to the dead pod', (h) => h.body.status === 'unhealthy' && hasFinding(h, 'stale-endpoint') && checkIs(h, 'kube-proxy-logs', 'unhealthy'), '/health unhealthy with a stale endpoint and kube-proxy log failures');
    printFindings(say, stale);
    await printMetrics(say, url, /node_status\{status="unhealthy"\}|check_status\{.*\} 1|findings\{kind="stale-endpoint"|log_matches_total\{class="proxy-sync-failure",component="kube-proxy"\}|log_signal_active\{class="proxy-sync-failure"\}/);

    say('\n   Someone flushes the nat table (iptables -t nat -F).');
    await node.flushNat();
    const flushed = await step('3. flushed nat table: no service is reachable', (h) => h.body.status === 'unhealthy' && hasFinding(h, 'missing-service'), '/health unhealthy with missing services');
    printFindings(say, flushed);

    say('\n   kube-proxy recovers (restarted on a fixed version) and resyncs every rule.');
    clearInterval(failing);
    await node.load(render(withoutPod));
    await appendFile(kubeProxyLog, recoveryLines());
    await step('4. repaired: in sync again, the log signal cleared', (h) => h.body.status === 'healthy', '/health healthy again');
    await printMetrics(say, url, /node_status\{status="healthy"\}|findings\{kind="(stale-endpoint|missing-service)",family="IPv4"\}|log_signal_active\{class="proxy-sync-failure"\}|ruleset_changes_total/);
    say(ok ? '\ndemo finished: every step showed the expected verdict' : '\ndemo FAILED: a step did not show the expected verdict');
    return ok ? EXIT.ok : EXIT.drift;
  } finally {
    clearInterval(failing);
    stop.abort();
    await agent?.close();
    await node.close();
    await rm(dir, { recursive: true, force: true });
    io.stdout.write('cleaned up: the agent stopped, the namespace and the temp directory are gone\n');
  }
}

// What kube-proxy would write for these objects on the demo node.
function render(items: readonly unknown[]): string {
  const view = readClusterObjects(items, { where: String });
  const node = view.nodes.find((n) => n.name === NODE) ?? { name: NODE, zone: undefined, addresses: [] };
  return renderKubeProxyRules(expectedServicePorts(view, { family: 4, node }), { family: 4, clusterCIDR: '10.244.0.0/16' });
}

// kube-proxy's own lines from the CircleCI outage, CRI-wrapped as kubelet writes them.
function failureLines(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = new Date();
    const klog = `${String(t.getUTCMonth() + 1).padStart(2, '0')}${String(t.getUTCDate()).padStart(2, '0')} ${t.toISOString().slice(11, 23)}000`;
    out.push(`${t.toISOString().replace('Z', '000Z')} stderr F E${klog}       1 proxier.go:1525] "Failed to execute iptables-restore" err="exit status 1 (iptables-restore: line 8022 failed\\n)"`);
    out.push(`${t.toISOString().replace('Z', '000Z')} stderr F I${klog}       1 proxier.go:832] "Sync failed" retryingTime="30s"`);
  }
  return `${out.join('\n')}\n`;
}

function recoveryLines(): string {
  const t = new Date().toISOString().replace('Z', '000Z');
  return `${t} stderr F I0314 18:05:00.000000       1 proxier.go:794] "SyncProxyRules complete" elapsed="41.7ms"\n`;
}

interface Health { code: number; body: { status: string; checks: { name: string; status: string; reason: string; message: string }[]; reasons: string[]; findings?: { kind: string; service: string | null; endpoint: string | null; chain: string | null; message: string }[] } }

async function getHealth(url: string): Promise<Health> {
  const r = await fetch(`${url}/health?verbose`);
  return { code: r.status, body: (await r.json()) as Health['body'] };
}

// Polls /health (cheap: it reads the last verdict) until `want` holds or 20 s pass.
async function waitForHealth(url: string, want: (h: Health) => boolean, signal: AbortSignal): Promise<Health> {
  const deadline = Date.now() + 20_000;
  let h = await getHealth(url);
  while (!want(h) && Date.now() < deadline && !signal.aborted) {
    await new Promise((r) => setTimeout(r, 100));
    h = await getHealth(url);
  }
  return h;
}

function checkIs(h: Health, name: string, status: string): boolean {
  return h.body.checks.some((c) => c.name === name && c.status === status);
}

function hasFinding(h: Health, kind: string): boolean {
  return (h.body.findings ?? []).some((f) => f.kind === kind);
}

function printHealth(say: (s: string) => void, h: Health): void {
  say(`   GET /health → ${h.code} ${h.body.status.toUpperCase()}`);
  for (const c of h.body.checks) say(`     ${c.name.padEnd(16)} ${c.status.padEnd(9)} ${c.reason}${c.status === 'healthy' ? '' : `: ${c.message.slice(0, 140)}`}`);
}

function printFindings(say: (s: string) => void, h: Health): void {
  const f = h.body.findings ?? [];
  const byKind = new Map<string, number>();
  for (const x of f) byKind.set(x.kind, (byKind.get(x.kind) ?? 0) + 1);
  say(`   GET /health?verbose → ${f.length} confirmed finding(s): ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const x of f.slice(0, 4)) say(`     ${x.kind.padEnd(18)} ${[x.service, x.endpoint ?? x.chain].filter(Boolean).join('  ')}`);
  if (f.length > 4) say(`     ... and ${f.length - 4} more`);
}

async function printMetrics(say: (s: string) => void, url: string, pick: RegExp): Promise<void> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith('dataplane_sentinel_') && pick.test(l));
  say('   GET /metrics (excerpt):');
  for (const l of lines.slice(0, 10)) say(`     ${l}`);
}

// Prints the agent's own log lines (one per state change) as they arrive.
function showAgentLog(lines: string[], say: (s: string) => void): () => void {
  let shown = 0;
  return () => {
    for (; shown < lines.length; shown++) {
      const r = JSON.parse(lines[shown]!) as { level: number; msg: string; component?: string; checks?: Record<string, string> };
      if (r.component !== 'agent' && r.component !== 'rules' && r.component !== 'logs') continue;
      const checks = r.checks === undefined ? '' : ` (${Object.entries(r.checks).map(([k, v]) => `${k} ${v.split('/')[0]}`).join(', ')})`;
      say(`   agent log (${r.level >= 40 ? 'warn' : 'info'}): ${r.msg}${checks}`);
    }
  };
}
