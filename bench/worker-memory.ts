/**
 * Where the scan worker's memory goes on its first scan: the steps it takes, replayed in a fresh
 * process with its V8 setting, RSS and heap printed after each. The view arrives as the agent
 * encodes it (each trimmed object serialized, EndpointSlices packed); the dump is the generated
 * ruleset's text. Run: `node bench/worker-memory.ts [services]` (default 10000); needs nothing else.
 * It uses the compiled `dist/` when built (`npm run build`), as the agent's worker runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { benchScript, libModule as lib } from './entry.ts';
import { generateCluster } from './generate.ts';
import { peakRssBytes } from './peak-rss.ts';

const { trimPackedEndpointSlice, unpackApiItems } = await import(lib('kube/packed-slice')) as typeof import('../lib/kube/packed-slice.ts');
const { trimService } = await import(lib('kube/trim')) as typeof import('../lib/kube/trim.ts');
const { checkNode } = await import(lib('kubeproxy/check-node')) as typeof import('../lib/kubeproxy/check-node.ts');
const { ClusterStore } = await import(lib('kubeproxy/cluster-store')) as typeof import('../lib/kubeproxy/cluster-store.ts');
const { parseNodeRules } = await import(lib('kubeproxy/parse-node-rules')) as typeof import('../lib/kubeproxy/parse-node-rules.ts');

const [step, dir, node] = process.argv.slice(2);
if (step !== 'replay') {
  // the parent: write the inputs, then replay in a fresh process with the worker's V8 flags
  const services = Number(step ?? 10_000);
  const g = generateCluster(services, 10);
  const work = mkdtempSync(join(tmpdir(), 'dps-wmem-'));
  try {
    const parts: Buffer[] = [];
    const ends: number[] = [];
    let n = 0;
    for (const item of g.items) {
      const r = item.kind === 'Service' ? trimService(item) : item.kind === 'EndpointSlice' ? trimPackedEndpointSlice(item) : undefined;
      if (r === undefined || !r.ok) continue;
      const b = serialize({ kind: item.kind, ...r.value });
      parts.push(b);
      n += b.length;
      ends.push(n);
    }
    writeFileSync(join(work, 'view.bin'), Buffer.concat(parts));
    writeFileSync(join(work, 'ends.json'), JSON.stringify(ends));
    writeFileSync(join(work, 'dump.txt'), g.restore);
    console.log(`${services} services x 10 endpoints; the view encoded as the agent sends it: ${(n / 2 ** 20).toFixed(1)} MiB`);
    // (the agent's modules only here, in the parent: the replay's RSS counts only the worker's)
    const { WORKER_NODE_FLAGS } = await import('./worker-flags.ts');
    execFileSync(process.execPath, [...WORKER_NODE_FLAGS, benchScript('worker-memory'), 'replay', work, g.node], { stdio: 'inherit' });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
} else {
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0).padStart(4);
  const show = (what: string): void => {
    const m = process.memoryUsage();
    console.log(`  ${what.padEnd(40)} RSS ${mib(m.rss)} MiB  heap used ${mib(m.heapUsed)}  external ${mib(m.external)}  peak RSS ${mib(peakRssBytes())}`);
  };
  show('started (modules loaded)');
  const bytes = readFileSync(join(dir as string, 'view.bin'));
  const ends = JSON.parse(readFileSync(join(dir as string, 'ends.json'), 'utf8')) as number[];
  show('the view\'s bytes received');
  const decoded = ends.map((end, i) => deserialize(bytes.subarray(ends[i - 1] ?? 0, end)) as unknown);
  show('objects decoded');
  const store = new ClusterStore();
  store.replace(unpackApiItems(decoded));
  const view = store.view();
  show('slices unpacked, view built');
  const dump = readFileSync(join(dir as string, 'dump.txt'));
  show('the dump\'s bytes (as the command gave them)');
  const rulesets = parseNodeRules(dump, 'dump');
  show('parsed');
  const result = checkNode({ rules: [{ family: 4, rulesets }], cluster: view, nodeName: node as string });
  show(`checked (${result.verdict})`);
  if (result.verdict !== 'in-sync') process.exitCode = 1;
}
