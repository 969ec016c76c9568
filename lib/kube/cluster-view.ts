/**
 * I/O: the agent's view of the API. Three informers (Services and EndpointSlices in all
 * namespaces, the agent's own Node by field selector) and one immutable-by-contract snapshot
 * of plain, trimmed JSON objects for lib/kubeproxy/cluster-input.ts, with per-resource
 * freshness and the time each Service last changed (for the sync grace period).
 */
import type { Clock, Logger } from './deps.ts';
import type { ApiPath, KubeApi } from './client.ts';
import { Informer, type InformerStats, type StoreChange } from './informer.ts';
import { worstState, type Freshness, type FreshnessLimits, type FreshnessState } from './freshness.ts';
import { trimNode, trimService, type TrimmedNode, type TrimmedService } from './trim.ts';
import { trimPackedEndpointSlice, type PackedEndpointSlice } from './packed-slice.ts';
import type { BackoffPolicy } from './backoff.ts';

/** Everything the checker needs from the API at one instant. */
export interface ClusterSnapshot {
  /** When the snapshot was taken. */
  takenAt: number;
  services: readonly TrimmedService[];
  /** Endpoints packed as JSON text (see packed-slice.ts: `unpackEndpointSlice`). */
  endpointSlices: readonly PackedEndpointSlice[];
  node: TrimmedNode | undefined;
  freshness: { services: Freshness; endpointSlices: Freshness; node: Freshness };
  /** Worst of the three states: one word for logs and /health. */
  state: FreshnessState;
  /** True when all three views are synced and young enough to judge drift on. */
  judgeable: boolean;
  /** Last change to any of the three stores. */
  lastChangeAt: number | undefined;
  /**
   * Last change per Service (`namespace/name`), counting changes to its EndpointSlices
   * (by the `kubernetes.io/service-name` label) and deletions. Entries older than the
   * retention are pruned.
   */
  serviceChangedAt: ReadonlyMap<string, number>;
  /** Which path to the API server is in use. */
  apiPath: ApiPath | undefined;
  stats: { services: InformerStats; endpointSlices: InformerStats; node: InformerStats };
}

/** Options of {@link createClusterView}. */
export interface ClusterViewOptions {
  api: KubeApi;
  nodeName: string;
  apiPath?: ApiPath;
  log: Logger;
  clock: Clock;
  signal?: AbortSignal;
  random?: () => number;
  pageSize?: number;
  resyncMs?: number;
  watchTimeoutSeconds?: number;
  listTimeoutMs?: number;
  backoff?: BackoffPolicy;
  freshness?: FreshnessLimits;
  /** How long per-Service change times are kept. Default 10 min (≫ any grace period). */
  changeRetentionMs?: number;
  /** Called after every change to any store (e.g. to schedule a scan). */
  onChange?: () => void;
}

/** The live view. */
export interface ClusterView {
  /** Starts the informers; idempotent. */
  start(): void;
  /** Resolves when all three have listed once (or the view was closed). */
  waitForSync(): Promise<void>;
  snapshot(): ClusterSnapshot;
  /** Stops everything; idempotent. */
  close(): Promise<void>;
}

const SERVICE_LABEL = 'kubernetes.io/service-name';

/** Builds the view; nothing runs until {@link ClusterView.start}. */
export function createClusterView(o: ClusterViewOptions): ClusterView {
  const log = o.log.child({ component: 'kube-view' });
  const changedAt = new Map<string, number>();
  const retention = o.changeRetentionMs ?? 10 * 60_000;
  let lastPruneAt = 0;

  const note = (key: string | undefined, at: number): void => {
    if (key !== undefined) {
      changedAt.delete(key); // re-insert: the map stays ordered by time
      changedAt.set(key, at);
    }
  };
  const prune = (now: number): void => {
    if (now - lastPruneAt < 10_000) return;
    lastPruneAt = now;
    for (const [k, t] of changedAt) {
      if (now - t <= retention) break;
      changedAt.delete(k);
    }
  };
  // The first list says nothing about when objects changed: they are not put under grace.
  const onService = (c: StoreChange<TrimmedService>): void => {
    if (c.initial) return;
    note(c.key, c.at);
    o.onChange?.();
  };
  const sliceService = (s: PackedEndpointSlice | undefined): string | undefined => {
    const svc = s?.metadata.labels?.[SERVICE_LABEL];
    return svc === undefined ? undefined : `${s!.metadata.namespace}/${svc}`;
  };
  const onSlice = (c: StoreChange<PackedEndpointSlice>): void => {
    if (c.initial) return;
    note(sliceService(c.current), c.at);
    const before = sliceService(c.previous);
    if (before !== sliceService(c.current)) note(before, c.at);
    o.onChange?.();
  };

  const common = {
    log: o.log,
    clock: o.clock,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.random ? { random: o.random } : {}),
    ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
    ...(o.resyncMs !== undefined ? { resyncMs: o.resyncMs } : {}),
    ...(o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
    ...(o.listTimeoutMs !== undefined ? { listTimeoutMs: o.listTimeoutMs } : {}),
    ...(o.backoff ? { backoff: o.backoff } : {}),
    ...(o.freshness ? { freshness: o.freshness } : {}),
    watch: o.api.watch,
  };
  const services = new Informer<TrimmedService>({ ...common, resource: 'services', path: '/api/v1/services', list: o.api.listServices, trim: trimService, onChange: onService });
  const endpointSlices = new Informer<PackedEndpointSlice>({
    ...common,
    resource: 'endpointslices',
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    list: o.api.listEndpointSlices,
    trim: trimPackedEndpointSlice,
    onChange: onSlice,
  });
  const fieldSelector = `metadata.name=${o.nodeName}`;
  const node = new Informer<TrimmedNode>({
    ...common,
    resource: 'node',
    path: '/api/v1/nodes',
    fieldSelector,
    list: o.api.listNodes(fieldSelector),
    trim: trimNode,
    onChange: () => o.onChange?.(),
  });
  const all = [services, endpointSlices, node];
  let closed = false;

  return {
    start() {
      if (closed) return;
      log.info({ apiPath: o.apiPath, node: o.nodeName }, 'starting API informers');
      if (o.apiPath?.viaServiceClusterIP) {
        log.warn({ server: o.apiPath.server }, 'API reached through the kubernetes Service ClusterIP: a broken dataplane can blind the agent; pass --api-server');
      }
      for (const i of all) i.start();
    },
    async waitForSync() {
      await Promise.all(all.map((i) => i.waitForSync()));
    },
    snapshot() {
      const now = o.clock.now();
      prune(now);
      const f = { services: services.freshness(now), endpointSlices: endpointSlices.freshness(now), node: node.freshness(now) };
      const changes = all.map((i) => i.lastChangeAt).filter((t): t is number => t !== undefined);
      return {
        takenAt: now,
        services: services.values(),
        endpointSlices: endpointSlices.values(),
        node: node.get(o.nodeName),
        freshness: f,
        state: worstState([f.services.state, f.endpointSlices.state, f.node.state]),
        judgeable: f.services.judgeable && f.endpointSlices.judgeable && f.node.judgeable,
        lastChangeAt: changes.length > 0 ? Math.max(...changes) : undefined,
        serviceChangedAt: new Map(changedAt),
        apiPath: o.apiPath,
        stats: { services: services.stats(), endpointSlices: endpointSlices.stats(), node: node.stats() },
      };
    },
    async close() {
      closed = true;
      await Promise.all(all.map((i) => i.close()));
    },
  };
}
