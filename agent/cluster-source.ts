/**
 * The cluster view drift is judged against, from one of two sources:
 *  - a file or directory (`--cluster-file`): re-read (in the scan worker) when its size, mtime or
 *    inode changes; Services whose objects changed are put under the sync grace period, as the
 *    informers do for API changes;
 *  - the API (lib/kube informers), loaded lazily so the file source never pays for the client.
 * Either way `sync()` brings the worker's copy up to date before a scan and says whether the view
 * may be judged on. The API source is in api-cluster-source.ts.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatError } from '../lib/errors.ts';
import type { Clock, Logger } from '../lib/kube/deps.ts';
import type { FreshnessState } from '../lib/kube/freshness.ts';
import type { ApiInput } from './verdict.ts';
import type { AgentMetrics } from './metrics.ts';
import { fromPlain } from './plain-error.ts';
import type { ScanWorkerClient } from './scan-worker-client.ts';

/** What a scan needs to know about the view. */
export interface ClusterState {
  /** The worker holds a view (possibly an old one). */
  readonly loaded: boolean;
  /** Changes whenever the worker's view changes. */
  readonly version: number;
  /** The number the worker's view must carry at scan time (API views), when checked. */
  readonly seq: number | undefined;
  readonly judgeable: boolean;
  readonly state: FreshnessState;
  readonly serviceChangedAt: ReadonlyMap<string, number>;
  /** Worker CPU spent loading the view in this sync (ms). */
  readonly cpuMs: number;
}

/** A cluster source. */
export interface ClusterSource {
  readonly kind: 'file' | 'api';
  sync(worker: ScanWorkerClient, signal: AbortSignal): Promise<ClusterState>;
  /** Loads the current view into a worker that has none or another (new, recycled, out of step); worker CPU ms. */
  ensureLoaded(worker: ScanWorkerClient): Promise<number>;
  /** Resolves once the source has synced (the API's first lists; a file at once: it is read by the scans). */
  whenReady(): Promise<void>;
  /** For the api check. */
  apiInput(): ApiInput;
  /** Synced at least once. */
  ready(): boolean;
  /** The kubelet version on the Node object, when known (for the skew check). */
  kubeletVersion(): unknown;
  close(): Promise<void>;
}

/** A short, bounded label for a skipped object's reason: `service:spec.ports.protocol`. */
export function skipReasonLabel(p: { object: string; reason: string }): string {
  const kind = p.object.split(' ')[0]?.toLowerCase() ?? 'item';
  return `${kind}:${(p.reason.split(/[\s:]/)[0] ?? '').replace(/\[\d+\]/g, '')}`;
}

/** Counts skipped objects in the metrics, by {@link skipReasonLabel}. */
export function countSkipped(metrics: AgentMetrics, skipped: readonly { object: string; reason: string }[]): void {
  const byReason: Record<string, number> = {};
  for (const p of skipped) byReason[skipReasonLabel(p)] = (byReason[skipReasonLabel(p)] ?? 0) + 1;
  for (const [reason, n] of Object.entries(byReason)) metrics.countInputSkipped(reason, n);
}

// A signature of the file, or of every cluster file under a directory.
async function signature(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return `${info.ino}:${info.size}:${info.mtimeMs}`;
  const parts: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true, recursive: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile() || !/\.(json|ya?ml)$/.test(entry.name)) continue;
    const s = await stat(join(entry.parentPath, entry.name));
    parts.push(`${entry.parentPath}/${entry.name}:${s.ino}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('|');
}

/** The file source. */
export function createFileClusterSource(deps: { path: string; log: Logger; clock: Clock; metrics: AgentMetrics; timeoutMs: number }): ClusterSource {
  const log = deps.log.child({ component: 'cluster-file', path: deps.path });
  let lastSignature: string | undefined;
  let fingerprints: Map<string, string> | undefined;
  const changedAt = new Map<string, number>();
  let version = 0;
  let loaded = false;
  let problem: string | undefined = 'not read yet';
  let everOk = false;

  const fail = (message: string): void => {
    if (problem !== message) log.warn({ problem: message }, 'cluster file unusable: drift is not judged until it is fixed');
    problem = message;
    lastSignature = undefined;
  };

  // Reads the file into the worker; Services whose objects changed go under grace.
  const load = async (worker: ScanWorkerClient, sig: string): Promise<number> => {
        const reply = await worker.loadCluster({ kind: 'file', path: deps.path }, true, deps.timeoutMs);
        const cpuMs = reply.cpuMs;
        if (!reply.ok) {
          fail(formatError(fromPlain(reply.error)));
        } else {
          const next = new Map(reply.fingerprints ?? []);
          const now = deps.clock.now();
          let changed = fingerprints === undefined;
          if (fingerprints !== undefined) {
            for (const [k, fp] of next) if (fingerprints.get(k) !== fp) { changedAt.set(k, now); changed = true; }
            for (const k of fingerprints.keys()) if (!next.has(k)) { changedAt.set(k, now); changed = true; }
          }
          if (changed) version++;
          fingerprints = next;
          loaded = true;
          lastSignature = sig;
          if (problem !== undefined) log.info({ services: reply.services, slices: reply.slices, nodes: reply.nodes, skipped: reply.skipped.length }, 'cluster file read');
          problem = undefined;
          everOk = true;
          if (changed) countSkipped(deps.metrics, reply.skipped);
          deps.metrics.setApi({ up: true, lastContact: {}, objects: { services: reply.services, endpointslices: reply.slices, node: reply.nodes } });
        }
        return cpuMs;
  };

  return {
    kind: 'file',
    async sync(worker) {
      let cpuMs = 0;
      let sig: string | undefined;
      try {
        sig = await signature(deps.path);
      } catch (error) {
        fail(`${deps.path}: ${(error as Error).message}`);
      }
      if (sig !== undefined && sig !== lastSignature) cpuMs = await load(worker, sig);
      deps.metrics.setApi({ up: problem === undefined, lastContact: {}, objects: {} });
      return { loaded, version, seq: undefined, judgeable: problem === undefined, state: problem === undefined ? 'synced' : 'stalled', serviceChangedAt: changedAt, cpuMs };
    },
    apiInput() {
      if (problem === undefined) return { kind: 'file', state: 'fresh', message: `Read from ${deps.path}.` };
      return { kind: 'file', state: everOk || problem !== 'not read yet' ? 'invalid' : 'syncing', message: problem === 'not read yet' ? `${deps.path} has not been read yet.` : `The cluster file cannot be used: ${problem}` };
    },
    async ensureLoaded(worker) {
      if (worker.hasCluster) return 0;
      return load(worker, lastSignature ?? (await signature(deps.path)));
    },
    ready: () => everOk,
    whenReady: () => Promise.resolve(),
    kubeletVersion: () => undefined,
    close: async () => {},
  };
}
