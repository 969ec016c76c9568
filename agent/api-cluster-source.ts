/**
 * The cluster view from the API (lib/kube informers, built by the caller and imported lazily so
 * the file source never pays for the client).
 *
 * How the view reaches the scan worker: once whole (a new worker: first start, after a recycle or
 * a timeout), then per scan only the objects that changed since the last one (upserts and deletes,
 * in the trimmed form the informers keep), found by {@link ClusterDeltaTracker}. The whole view
 * goes as the bytes the tracker keeps per object (each serialized once, when it changed): a
 * worker is recycled after every big parse, so a new one needing the whole view is common. Each state of the
 * view is numbered (`version`); the worker checks that a delta follows the view it holds and that
 * its object counts then match, and every scan names the version it must be checked against: a
 * worker holding any other answers `needCluster` and gets the whole view again. So the worker
 * checks exactly the objects the main thread holds at scan time, or nothing.
 */
import { serialize } from 'node:v8';
import type { ClusterSnapshot as Snapshot } from '../lib/kube/cluster-view.ts';
import type { Logger } from '../lib/kube/deps.ts';
import { ClusterDeltaTracker } from '../lib/kubeproxy/cluster-delta.ts';
import type { ClusterDelta } from '../lib/kubeproxy/cluster-delta.ts';
import { countSkipped } from './cluster-source.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { AgentMetrics } from './metrics.ts';
import type { ScanWorkerClient } from './scan-worker-client.ts';

// What sending the view (or its changes) cost the worker, and the objects it skipped.
type Loaded = { cpuMs: number; skipped: readonly { object: string; reason: string }[] };

/** The API source. */
export function createApiClusterSource(deps: {
  view: { start(): void; waitForSync(): Promise<void>; snapshot(): Snapshot; close(): Promise<void> };
  log: Logger; metrics: AgentMetrics; timeoutMs: number;
}): ClusterSource {
  const log = deps.log.child({ component: 'cluster-api' });
  const tracker = new ClusterDeltaTracker(serialize);
  // What the tracker last took (change time and sizes: nothing changed while they are the same).
  let takenKey = '';
  let version = 0;
  // The worker (by ScanWorkerClient.started) that holds view `version`, if any.
  let heldBy: number | undefined;
  let loaded = false;
  let synced = false;
  let last: Snapshot | undefined;
  deps.view.start();
  const snap = (): Snapshot => {
    last = deps.view.snapshot();
    const f = last.freshness;
    if (f.services.synced && f.endpointSlices.synced && f.node.synced) synced = true;
    deps.metrics.setApi({
      up: last.judgeable,
      lastContact: { services: f.services.lastContactAt, endpointslices: f.endpointSlices.lastContactAt, node: f.node.lastContactAt },
      objects: { services: last.services.length, endpointslices: last.endpointSlices.length, node: last.node === undefined ? 0 : 1 },
    });
    return last;
  };
  const inStep = (worker: ScanWorkerClient): boolean => worker.hasCluster && heldBy === worker.started;

  // Sends the whole view (a structured clone of every object: only for a worker without it).
  const loadAll = async (worker: ScanWorkerClient): Promise<Loaded> => {
    heldBy = undefined;
    const reply = await worker.loadCluster({ kind: 'encoded', ...tracker.encoded() }, false, deps.timeoutMs, version);
    if (!reply.ok) return { cpuMs: reply.cpuMs, skipped: [] };
    heldBy = worker.started;
    loaded = true;
    log.debug({ version, objects: tracker.counts() }, 'cluster view sent whole to the scan worker');
    return { cpuMs: reply.cpuMs, skipped: reply.skipped };
  };

  // Sends the changes that made view `version`; a worker out of step gets the whole view.
  // What it skipped is counted by the caller (as for a whole view sent by sync).
  const sendDelta = async (worker: ScanWorkerClient, delta: ClusterDelta): Promise<Loaded> => {
    heldBy = undefined;
    const reply = await worker.updateCluster({ from: version - 1, to: version, ...delta }, deps.timeoutMs);
    if (reply.ok) {
      heldBy = worker.started;
      log.debug({ version, upserts: delta.upserts.length, deletes: delta.deletes.length }, 'cluster view changes sent to the scan worker');
      return { cpuMs: reply.cpuMs, skipped: reply.skipped };
    }
    log.warn({ problem: reply.error.message }, 'scan worker view out of step: sending it whole');
    const full = await loadAll(worker);
    return { cpuMs: reply.cpuMs + full.cpuMs, skipped: full.skipped };
  };

  return {
    kind: 'api',
    async sync(worker) {
      const s = snap();
      const key = `${s.lastChangeAt ?? 0}:${s.services.length}:${s.endpointSlices.length}:${s.node === undefined ? 0 : 1}`;
      let cpuMs = 0;
      if (synced && (key !== takenKey || !loaded)) {
        takenKey = key;
        const delta = tracker.take({ services: s.services, endpointSlices: s.endpointSlices, node: s.node });
        if (delta.upserts.length > 0 || delta.deletes.length > 0 || !loaded) {
          version++;
          const sent = inStep(worker) ? await sendDelta(worker, delta) : await loadAll(worker);
          countSkipped(deps.metrics, sent.skipped);
          cpuMs = sent.cpuMs;
        }
      }
      return { loaded, version, seq: version, judgeable: s.judgeable && loaded, state: s.state, serviceChangedAt: s.serviceChangedAt, cpuMs };
    },
    async ensureLoaded(worker) {
      return takenKey === '' ? 0 : (await loadAll(worker)).cpuMs;
    },
    whenReady: () => deps.view.waitForSync(),
    apiInput() {
      const s = last ?? snap();
      const server = s.apiPath?.server ?? 'the API server';
      if (s.judgeable && s.state === 'synced') return { kind: 'api', state: 'fresh', message: `In contact with ${server}.` };
      // Lost, but the last view is still young enough to judge on (until --api-max-view-age).
      if (s.judgeable) return { kind: 'api', state: 'fresh', message: `The API view is ${s.state} (${server}); drift is judged on the last view until it is too old.` };
      const state = s.state === 'synced' ? 'stalled' : s.state;
      return { kind: 'api', state, message: `The API view is ${s.state}${s.apiPath === undefined ? '' : ` (${s.apiPath.server})`}; drift is not judged on it.` };
    },
    ready: () => synced,
    kubeletVersion: () => last?.node?.status.nodeInfo?.kubeletVersion,
    close: () => deps.view.close(),
  };
}
