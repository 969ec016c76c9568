/**
 * Benchmark of the agent (issue 5) on the reference workload: N services × 10 endpoints
 * (default 10k / 100k, about 436k iptables-save lines) loaded into a throwaway network namespace,
 * the real agent (the installed entry point `bin/dataplane-sentinel.js agent` when `dist/` is built, as
 * users run it; else `node agent/main.ts agent`), a separate process, reading it with
 * `nsenter … iptables-legacy-save`, a load generator (bench/load.ts) on 127.0.0.1.
 *
 * Phases, each figure next to its baseline from the same run:
 *  A. no scan running (interval 1h, after the first scan): /health p99/max at 1,000 req/s,
 *     /metrics render time, log line → /metrics latency, RSS;
 *  B. scans back to back (cpu budget 1, a rule toggled every 3 s so every scan parses):
 *     the same figures;
 *  C. defaults (interval 10 s, budget 5%): average CPU (iptables-save included) and RSS.
 * Run: `node bench/agent.ts [services] [phaseCSeconds]` as root with iptables installed.
 */
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { systemExec } from '../agent/exec.ts';
import { holdNetworkNamespace } from '../agent/netns-holder.ts';
import { AGENT_ENTRY } from './entry.ts';
import { generateCluster } from './generate.ts';
import { percentile } from './load.ts';
import type { LoadResult } from './load.ts';

const services = Number(process.argv[2] ?? 10_000);
const phaseCSeconds = Number(process.argv[3] ?? 150);
const here = new URL('.', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dps-bench-agent-'));
const log = (s: string): void => { console.log(s); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TICKS = 100;

// CPU seconds and RSS (MiB) of a process and every live descendant (the scan worker is a child
// process: its memory and CPU count as the agent's). CPU includes reaped children (iptables-save,
// finished workers); RSS is the sum over the tree.
function usage(pid: number): { cpu: number; rssMiB: number } {
  let cpu = 0;
  let rss = 0;
  const visit = (p: number): void => {
    let stat: string;
    try { stat = readFileSync(`/proc/${p}/stat`, 'utf8'); } catch { return; } // exited meanwhile
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpu += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
    try { rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024; } catch { /* exited */ }
    let tasks: string[] = [];
    try { tasks = readdirSync(`/proc/${p}/task`); } catch { return; }
    for (const tid of tasks) {
      let children = '';
      try { children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8'); } catch { continue; }
      for (const c of children.split(' ').filter((x) => x !== '')) visit(Number(c));
    }
  };
  visit(pid);
  return { cpu, rssMiB: rss };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]);
}

let port = 19700;
async function startAgent(holderPid: number, extra: string[]): Promise<{ proc: ResultPromise; url: string; pid: number }> {
  const url = `http://127.0.0.1:${++port}`;
  const proc = execa(process.execPath, [AGENT_ENTRY, 'agent', '--node', 'node-0', '--listen', `127.0.0.1:${port}`,
    '--cluster-file', join(dir, 'cluster.json'), '--rules-command', `nsenter -t ${holderPid} -n iptables-legacy-save`,
    '--log-path', join(dir, 'kube-proxy.log'), '--pod-log-dir', join(dir, 'pods'), '--log-state-file', join(dir, 'state.json'),
    '--no-journal', '--no-kube-proxy-probe', '--log-level', 'warn', '--scan-timeout', '10m', ...extra], { reject: false, stdout: 'ignore', stderr: 'inherit' });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}/livez`).then(() => true, () => false)) break;
    await sleep(100);
  }
  return { proc, url, pid: proc.pid! };
}

async function stopAgent(a: { proc: ResultPromise }): Promise<number> {
  const t0 = performance.now();
  a.proc.kill('SIGTERM');
  await a.proc;
  return performance.now() - t0;
}

// Time from appending a matching line to seeing the counter move on /metrics, n samples.
async function logLatency(url: string, n: number): Promise<{ p50: number; p99: number; max: number }> {
  const name = 'dataplane_sentinel_log_matches_total{class="proxy-sync-failure",component="kube-proxy"}';
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = (await metric(url, name)) || 0;
    const t0 = performance.now();
    appendFileSync(join(dir, 'kube-proxy.log'), `${new Date().toISOString()} stderr F E0314 18:02:11.532201       1 proxier.go:1525] "Failed to execute iptables-restore" err="exit status 1"\n`);
    while (((await metric(url, name)) || 0) <= before && performance.now() - t0 < 10_000) await sleep(5);
    out.push(performance.now() - t0);
    await sleep(50);
  }
  out.sort((a, b) => a - b);
  return { p50: percentile(out, 50), p99: percentile(out, 99), max: out[out.length - 1]! };
}

async function metricsLatency(url: string, n: number): Promise<{ p50: number; p99: number; max: number }> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await (await fetch(`${url}/metrics`)).text();
    out.push(performance.now() - t0);
    await sleep(20);
  }
  out.sort((a, b) => a - b);
  return { p50: percentile(out, 50), p99: percentile(out, 99), max: out[out.length - 1]! };
}

// The load generator runs in a child process of its own.
async function runLoad(o: { url: string; rps: number; durationMs: number; maxRequests: number }): Promise<LoadResult> {
  const r = await execa(process.execPath, [join(here, 'load-child.ts'), o.url, String(o.rps), String(o.durationMs), String(o.maxRequests)], { timeout: o.durationMs + 60_000 });
  return JSON.parse(r.stdout) as LoadResult;
}

const fmt = (r: { p50: number; p99: number; max: number }): string => `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`;

const holder = await holdNetworkNamespace();
try {
  log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`);
  let g: ReturnType<typeof generateCluster> | undefined = generateCluster(services, 10);
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: g.items }));
  writeFileSync(join(dir, 'kube-proxy.log'), '');
  mkdirSync(join(dir, 'pods'));
  const ns = holder.nsenterArgs([]);
  await execa('nsenter', [...ns, 'iptables-legacy-restore'], { input: g.restore });
  g = undefined; // the generated cluster is on disk now
  const saves: { ms: number; cpu: number; lines: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await systemExec({ file: 'nsenter', args: [...ns, 'iptables-legacy-save'], timeoutMs: 120_000, maxBytes: 1 << 30, signal: new AbortController().signal });
    saves.push({ ms: r.durationMs, cpu: r.cpuSeconds, lines: Buffer.from(r.stdout).toString().split('\n').length });
  }
  const save = saves.sort((a, b) => a.ms - b.ms)[1]!;
  log(`workload: ${services} services x 10 endpoints, ${save.lines} iptables-save lines`);
  log(`baseline iptables-legacy-save: ${save.ms.toFixed(0)} ms wall, ${save.cpu.toFixed(2)} CPU-s (median of 3)`);

  // A: no scans running.
  const a = await startAgent(holder.pid, ['--interval', '1h']);
  const t0 = performance.now();
  while ((await fetch(`${a.url}/health`).then((r) => r.json() as Promise<{ status: string }>)).status === 'unknown' && performance.now() - t0 < 600_000) await sleep(200);
  const firstScan = await metric(a.url, 'dataplane_sentinel_scan_duration_seconds_sum');
  const firstCpu = await metric(a.url, 'dataplane_sentinel_scan_cpu_seconds_total');
  log(`first scan (dump + parse + check in the worker): ${firstScan.toFixed(1)} s wall, ${firstCpu.toFixed(1)} CPU-s; verdict ${(await (await fetch(`${a.url}/health`)).json() as { status: string }).status}`);
  await sleep(3000);
  const rssA = usage(a.pid).rssMiB;
  const healthA = await runLoad({ url: `${a.url}/health`, rps: 1000, durationMs: 10_000, maxRequests: 10_000 });
  const metricsA = await metricsLatency(a.url, 100);
  const logA = await logLatency(a.url, 30);
  const stopA = await stopAgent(a);

  // B: scans back to back, every one a full parse (a rule toggled every 3 s).
  const b = await startAgent(holder.pid, ['--interval', '1s', '--cpu-budget', '1']);
  while ((await fetch(`${b.url}/health`).then((r) => r.json() as Promise<{ status: string }>)).status === 'unknown') await sleep(200);
  let toggle = true;
  const mutator = setInterval(() => {
    void execa('nsenter', [...ns, 'iptables-legacy', '-t', 'filter', toggle ? '-A' : '-D', 'INPUT', '-s', '192.0.2.99/32', '-j', 'ACCEPT'], { reject: false });
    toggle = !toggle;
  }, 3000);
  const scansBefore = await metric(b.url, 'dataplane_sentinel_scans_total{result="ok"}');
  let rssMaxB = 0;
  const sampler = setInterval(() => { rssMaxB = Math.max(rssMaxB, usage(b.pid).rssMiB); }, 200);
  const healthB = await runLoad({ url: `${b.url}/health`, rps: 1000, durationMs: 20_000, maxRequests: 20_000 });
  const metricsB = await metricsLatency(b.url, 100);
  const logB = await logLatency(b.url, 30);
  const scansDuring = (await metric(b.url, 'dataplane_sentinel_scans_total{result="ok"}')) - scansBefore;
  clearInterval(mutator);
  clearInterval(sampler);
  const stopB = await stopAgent(b);

  // C: defaults; CPU and RSS over the run.
  const c = await startAgent(holder.pid, []);
  const start = usage(c.pid);
  const cStart = performance.now();
  const rss: number[] = [];
  while (performance.now() - cStart < phaseCSeconds * 1000) {
    await sleep(1000);
    rss.push(usage(c.pid).rssMiB);
  }
  const end = usage(c.pid);
  const wall = (performance.now() - cStart) / 1000;
  const scanCpu = await metric(c.url, 'dataplane_sentinel_scan_cpu_seconds_total');
  const interval = await metric(c.url, 'dataplane_sentinel_scan_interval_seconds');
  const skipped = await metric(c.url, 'dataplane_sentinel_scans_total{result="skipped-unchanged"}');
  const full = await metric(c.url, 'dataplane_sentinel_scans_total{result="ok"}');
  const stopC = await stopAgent(c);
  const tail = rss.slice(-30).sort((x, y) => x - y);

  log('\n| figure | with scans running | baseline (same run) | target |');
  log('| --- | --- | --- | --- |');
  log(`| /health at 1,000 req/s | ${fmt(healthB)} (${healthB.ok}/${healthB.sent} answered, ${scansDuring} full scans during the load) | no scan running: ${fmt(healthA)} | p99 ≤ 25 ms, max ≤ 100 ms |`);
  log(`| /metrics render (sequential GETs) | ${fmt(metricsB)} | no scan running: ${fmt(metricsA)} | ≤ 20 ms |`);
  log(`| log line → /metrics | ${fmt(logB)} | no scan running: ${fmt(logA)} | p99 ≤ 1 s |`);
  log(`| RSS | max ${rssMaxB.toFixed(0)} MiB while parsing; steady (phase C, last 30 s median) ${percentile(tail, 50).toFixed(0)} MiB | idle after the first scan: ${rssA.toFixed(0)} MiB | steady ≤ 128 MiB |`);
  log(`| average CPU, defaults, ${wall.toFixed(0)} s from start | ${(((end.cpu - start.cpu) / wall) * 1000).toFixed(0)} millicores (scans: ${scanCpu.toFixed(1)} CPU-s, ${full} full + ${skipped} skipped scans; interval now ${interval.toFixed(0)} s, so ≤ ${((scanCpu / Math.max(1, full + skipped)) / interval * 1000).toFixed(0)} mc per scan cycle long-run) | iptables-legacy-save alone: ${save.cpu.toFixed(2)} CPU-s per dump = ${(save.cpu / 10 * 1000).toFixed(0)} mc at a 10 s interval | ≤ 50 mc |`);
  log(`| shutdown on SIGTERM | A ${stopA.toFixed(0)} ms, B (mid-scan) ${stopB.toFixed(0)} ms, C ${stopC.toFixed(0)} ms | | ≤ 5 s |`);
} finally {
  await holder.close();
  rmSync(dir, { recursive: true, force: true });
}
