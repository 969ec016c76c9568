/**
 * Benchmark of issue 4: what bringing the scan worker's cluster view up to date costs the main
 * thread (the one that serves /health) in API mode, at N Services × 10 endpoints (default 10k /
 * 100k). The API source runs against a real scan worker; its informers are replaced by a view
 * whose stores hold the generated objects, trimmed and frozen as the informers keep them.
 *
 * Figures (main-thread CPU per sync, and the longest event-loop stall seen during it):
 *  - first load: a new worker gets the whole view;
 *  - one change: one EndpointSlice replaced (median of the runs);
 *  - after a recycle: a new worker, one change (median of 5).
 * Run: `node bench/view-send.ts [services] [runs]`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { Registry } from 'prom-client';
import { createApiClusterSource } from '../agent/api-cluster-source.ts';
import { createAgentMetrics } from '../agent/metrics.ts';
import { ScanWorkerClient } from '../agent/scan-worker-client.ts';
import type { ClusterSnapshot } from '../lib/kube/cluster-view.ts';
import { silentLogger } from '../lib/kube/deps.ts';
import { computeFreshness } from '../lib/kube/freshness.ts';
import { deepFreeze, Interner } from '../lib/kube/intern.ts';
import { trimEndpointSlice, trimService, type TrimmedEndpointSlice, type TrimmedService } from '../lib/kube/trim.ts';
import { generateCluster } from './generate.ts';

const services = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 15);
const g = generateCluster(services, 10);
const interner = new Interner();
const keep = <T>(r: { ok: true; value: T } | { ok: false }): T => deepFreeze((r as { value: T }).value);
let svc: TrimmedService[] = g.items.filter((o) => o.kind === 'Service').map((o) => keep(trimService(o, interner)));
let slices: TrimmedEndpointSlice[] = g.items.filter((o) => o.kind === 'EndpointSlice').map((o) => keep(trimEndpointSlice(o, interner)));
let changedAt = 1;
const fresh = computeFreshness({ lastListAt: Date.now(), lastEventAt: undefined, lastWatchStartAt: undefined, synced: true, watching: true, consecutiveFailures: 0 }, Date.now());
const view = {
  start() {},
  waitForSync: async () => {},
  close: async () => {},
  snapshot: (): ClusterSnapshot => ({
    takenAt: Date.now(), services: svc, endpointSlices: slices, node: undefined,
    freshness: { services: fresh, endpointSlices: fresh, node: fresh }, state: 'synced', judgeable: true,
    lastChangeAt: changedAt, serviceChangedAt: new Map(), apiPath: undefined, stats: undefined as never,
  }),
};
// One slice gets a new endpoint list (a new object, as a watch event makes).
const change = (i: number): void => {
  slices = slices.slice();
  const s = slices[i % slices.length]!;
  slices[i % slices.length] = deepFreeze({ ...s, metadata: { ...s.metadata, resourceVersion: String(i) }, endpoints: (s.endpoints as unknown[]).slice(1) });
  svc = svc.slice();
  changedAt++;
};

const worker = new ScanWorkerClient();
const source = createApiClusterSource({ view, log: silentLogger, metrics: createAgentMetrics(new Registry(), { version: 'bench' }), timeoutMs: 600_000 });
const signal = new AbortController().signal;
const histogram = monitorEventLoopDelay({ resolution: 1 });
async function measure(): Promise<{ cpuMs: number; stallMs: number }> {
  histogram.reset();
  histogram.enable();
  const before = process.threadCpuUsage();
  await source.sync(worker, signal);
  const used = process.threadCpuUsage(before);
  histogram.disable();
  return { cpuMs: (used.user + used.system) / 1000, stallMs: histogram.max / 1e6 };
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (m: { cpuMs: number; stallMs: number }): string => `${m.cpuMs.toFixed(1)} ms CPU, longest stall ${m.stallMs.toFixed(1)} ms`;

const endpoints = slices.reduce((n, s) => n + (s.endpoints as unknown[]).length, 0);
console.log(`view-send: ${svc.length} Services, ${slices.length} EndpointSlices, ${endpoints} endpoints; ${cpus().length} cores, node ${process.version}`);
try {
  console.log(`  first load          ${fmt(await measure())}`);
  const each: { cpuMs: number; stallMs: number }[] = [];
  for (let i = 0; i < runs; i++) {
    change(i);
    each.push(await measure());
  }
  console.log(`  one change (median) ${fmt({ cpuMs: median(each.map((m) => m.cpuMs)), stallMs: median(each.map((m) => m.stallMs)) })}`);
  const recycled: { cpuMs: number; stallMs: number }[] = [];
  for (let i = 0; i < 5; i++) {
    await worker.recycle();
    change(runs + i);
    recycled.push(await measure());
  }
  console.log(`  after a recycle     ${fmt({ cpuMs: median(recycled.map((m) => m.cpuMs)), stallMs: median(recycled.map((m) => m.stallMs)) })} (median of 5)`);
} finally {
  await worker.close();
}
