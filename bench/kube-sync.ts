/**
 * Benchmark: initial sync of 10k Services / 100k endpoints (10k EndpointSlices × 10) through
 * the real @kubernetes/client-node code, against the fake API server in a separate process on
 * 127.0.0.1 (its memory is not counted). Reports sync time, RSS (peak and after sync), and the
 * steady-state memory retained by the view against the size of the kept (trimmed) objects.
 *
 * Definitions:
 *  - peak RSS: the highest of the RSS sampled every 20 ms and the kernel's high-water mark
 *    (VmHWM, bench/peak-rss.ts, which also covers startup and spikes between samples);
 *  - retained: heap used + external memory (Buffers, ArrayBuffers) after the sync and three full
 *    GCs, minus the same before the view was created (so it also counts code compiled during the
 *    sync, the interners, the stores' maps and the open watches: everything the view costs);
 *  - kept: the JSON size (UTF-8 bytes) of the trimmed objects in their plain form, i.e. exactly the
 *    fields the view keeps, as lib/kubeproxy reads them (EndpointSlices unpacked, see
 *    lib/kube/packed-slice.ts; their packed JSON text is not what is measured).
 *
 *   node bench/kube-sync.ts [SERVICES] [ENDPOINTS_PER_SERVICE] [PAGE_SIZE]
 *
 * Targets (issue "Kubernetes: watch the API…"): sync ≤ 10 s, RSS ≤ 250 MB, retained ≤ 1.5 × kept.
 * Writes bench/out/kube-sync.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cpus, totalmem } from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { kubeApiFor } from '../test/helpers/kube-client.ts';
import { createClusterView } from '../lib/kube/cluster-view.ts';
import { silentLogger, systemClock } from '../lib/kube/deps.ts';
import { unpackEndpointSlice } from '../lib/kube/packed-slice.ts';
import { peakRssBytes } from './peak-rss.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
};
const mb = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10;

const services = Number(process.argv[2] ?? 10_000);
const perService = Number(process.argv[3] ?? 10);
const pageSize = Number(process.argv[4] ?? 500);

// The server, in its own process.
const child = spawn(process.execPath, [new URL('../test/helpers/kube-fake-apiserver-main.ts', import.meta.url).pathname, String(services), String(perService)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const ready = await new Promise<{ url: string; services: number; endpoints: number; fullJsonBytes: number }>((resolve, reject) => {
  createInterface(child.stdout!).once('line', (l) => resolve(JSON.parse(l)));
  child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
});

try {
  const api = kubeApiFor(ready.url);
  await settle();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

  const start = performance.now();
  const view = createClusterView({ api, nodeName: 'node-1', log: silentLogger, clock: systemClock, pageSize });
  view.start();
  await view.waitForSync();
  const syncMs = performance.now() - start;
  clearInterval(sampler);
  const afterSync = process.memoryUsage();
  peakRss = Math.max(peakRss, afterSync.rss);

  await settle();
  const steady = process.memoryUsage();
  const snap = view.snapshot();
  peakRss = Math.max(peakRss, peakRssBytes());
  let endpoints = 0;
  let keptJsonBytes = Buffer.byteLength(JSON.stringify(snap.services)) + Buffer.byteLength(JSON.stringify(snap.node));
  for (const packed of snap.endpointSlices) {
    const slice = unpackEndpointSlice(packed);
    endpoints += ((slice.endpoints as unknown[] | undefined) ?? []).length;
    keptJsonBytes += Buffer.byteLength(JSON.stringify(slice)) + 1; // + the comma of a JSON array
  }
  const retainedHeap = steady.heapUsed - base.heapUsed;
  const retained = retainedHeap + (steady.external - base.external);
  await view.close();

  const result = {
    machine: { cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    objects: { services: snap.services.length, endpointSlices: snap.endpointSlices.length, endpoints },
    initialSync: { ms: Math.round(syncMs), limitMs: 10_000 },
    rss: { baselineMB: mb(base.rss), peakMB: mb(peakRss), afterSyncMB: mb(afterSync.rss), steadyMB: mb(steady.rss), limitMB: 250 },
    steadyState: {
      retainedMB: mb(retained),
      retainedHeapMB: mb(retainedHeap),
      keptObjectsJsonMB: mb(keptJsonBytes),
      fullObjectsJsonMB: mb(ready.fullJsonBytes),
      retainedOverKept: Math.round((retained / keptJsonBytes) * 100) / 100,
      limitRatio: 1.5,
    },
  };
  const ok = result.initialSync.ms <= 10_000 && result.rss.peakMB <= 250 && result.steadyState.retainedOverKept <= 1.5;
  console.log(`kube-sync: ${result.objects.services} Services, ${result.objects.endpointSlices} EndpointSlices, ${endpoints} endpoints`);
  console.log(`  initial sync        ${result.initialSync.ms} ms (limit 10000)`);
  console.log(`  RSS peak / steady   ${result.rss.peakMB} / ${result.rss.steadyMB} MB (baseline ${result.rss.baselineMB}, limit 250)`);
  console.log(`  retained            ${result.steadyState.retainedMB} MB (heap ${result.steadyState.retainedHeapMB}) for ${result.steadyState.keptObjectsJsonMB} MB of kept objects as JSON = ${result.steadyState.retainedOverKept}× (limit 1.5×); full objects were ${result.steadyState.fullObjectsJsonMB} MB`);
  console.log(`  ${ok ? 'PASS' : 'FAIL'} on ${result.machine.cpus} cores / ${result.machine.memGiB} GiB, node ${result.machine.node}`);
  mkdirSync(new URL('./out/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./out/kube-sync.json', import.meta.url), `${JSON.stringify({ ...result, pass: ok }, null, 2)}\n`);
  process.exitCode = ok ? 0 : 1;
} finally {
  child.stdin!.end();
  child.kill('SIGTERM');
}
