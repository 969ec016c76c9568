// The scan worker's numbered API view, through the real client and child process: changes apply
// only to the view they follow, counts must match, and a scan naming another view gets needCluster.
// The worker dumps the rules itself (here from a --rules-file).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { loadConfig, rulesConfig } from '../../agent/config.ts';
import { ScanWorkerClient } from '../../agent/scan-worker-client.ts';
import { ClusterDeltaTracker } from '../../lib/kubeproxy/cluster-delta.ts';
import { demoItems, rulesFor, splitByKind } from '../helpers/demo-cluster.ts';

type Obj = Record<string, any>;
const MS = 60_000;
// A worker reading the rules from a file in a new directory; `setRules` writes them.
function worker(t: { teardown(fn: () => Promise<void> | void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'dps-worker-'));
  const file = join(dir, 'node.rules');
  const config = loadConfig({ argv: ['--node', 'demo-node', '--rules-file', file], env: {} }).config!;
  const w = new ScanWorkerClient({ rules: rulesConfig(config) });
  t.teardown(async () => { await w.close(); rmSync(dir, { recursive: true, force: true }); });
  return { w, setRules: (items: Obj[]) => writeFileSync(file, rulesFor(items)) };
}
const scan = (w: ScanWorkerClient, clusterSeq: number) =>
  w.scan({ nodeName: 'demo-node', previousHashes: {}, reuse: false, clusterSeq }, MS);

t.test('a view sent whole, then changed by a delta, is checked; out-of-step requests drop it', async (t) => {
  const { w, setRules } = worker(t);
  const items = demoItems();
  setRules(items);
  const tracker = new ClusterDeltaTracker(serialize);
  tracker.take(splitByKind(items));
  t.match(await w.loadCluster({ kind: 'encoded', ...tracker.encoded() }, false, MS, 1), { ok: true, services: 5, slices: 4, nodes: 1 });
  t.same((await scan(w, 1)).result?.findings.filter((f) => f.severity === 'error'), [], 'in sync');
  t.match(await scan(w, 2), { needCluster: true, result: undefined }, 'a scan naming another view: needCluster');

  // One endpoint gone from a slice in the API (the rules still have it).
  const changed = items.map((o) => o.metadata.name === 'web-x7k2p' ? { ...o, endpoints: o.endpoints.slice(1) } : o);
  const delta = tracker.take(splitByKind(changed));
  t.equal(delta.upserts.length, 1, 'one object changed');
  t.match(await w.updateCluster({ from: 1, to: 2, ...delta }, MS), { ok: true });
  const drift = await scan(w, 2);
  t.ok(drift.result?.findings.some((f) => f.kind === 'stale-endpoint' && f.service === 'shop/web'), 'judged on the changed view');

  t.match(await w.updateCluster({ from: 1, to: 3, ...delta }, MS), { ok: false, error: { message: /out of step: the worker holds view 2/ } }, 'a delta that does not follow');
  t.equal(w.hasCluster, false, 'the view is dropped');
  t.match(await scan(w, 2), { needCluster: true });

  await w.loadCluster({ kind: 'encoded', ...tracker.encoded() }, false, MS, 2);
  t.match(await w.updateCluster({ from: 2, to: 3, upserts: [], deletes: [], counts: { services: 9, slices: 4, nodes: 1 } }, MS), { ok: false, error: { message: /objects, the agent/ } }, 'counts that differ');
  t.equal(w.hasCluster, false);
});
