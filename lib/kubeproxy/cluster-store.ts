/**
 * The cluster view kept up to date one object at a time: API objects (Services, EndpointSlices,
 * Nodes) keyed by kind and `namespace/name`, each read once with {@link readClusterObjects} when it
 * arrives, and the {@link ClusterView} assembled from them when asked for (then kept until the next
 * change). The scan worker holds one, so that a change in the API costs the agent the changed
 * objects, not the whole view. Pure.
 */
import { readClusterObjects } from './cluster-input.ts';
import type { ClusterView, InputProblem, NodeInput, ServiceInput, SliceInput } from './cluster.ts';

/** The kinds kept. */
export type ObjectKind = 'Service' | 'EndpointSlice' | 'Node';

/** An object to remove: its kind and key (`namespace/name`, or `name` for a Node). */
export interface ObjectRef {
  readonly kind: ObjectKind;
  readonly key: string;
}

/** How many objects of each kind are kept (as sent: before kube-proxy's reading rules). */
export interface ObjectCounts {
  services: number;
  slices: number;
  nodes: number;
}

// One object as read: at most one entry in one of the lists, or a problem, or an ignored Service.
type Entry = Pick<ClusterView, 'services' | 'slices' | 'nodes' | 'skipped' | 'ignoredServices'>;

const WHERE = { where: () => 'API' };

/** The key of an object: `namespace/name`, or `name` for cluster-scoped kinds. */
export function objectKey(item: unknown): string {
  const meta = (item as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const name = typeof meta?.name === 'string' ? meta.name : '';
  return typeof meta?.namespace === 'string' ? `${meta.namespace}/${name}` : name;
}

/** The store. */
export class ClusterStore {
  readonly #entries = new Map<string, Entry>();
  readonly #counts: ObjectCounts = { services: 0, slices: 0, nodes: 0 };
  #view: ClusterView | undefined;

  /** Replaces everything with `items` (objects with their `kind`); returns what was skipped. */
  replace(items: readonly unknown[]): InputProblem[] {
    this.#entries.clear();
    this.#counts.services = this.#counts.slices = this.#counts.nodes = 0;
    return this.apply(items, []);
  }

  /** Removes `deletes`, then adds or replaces `upserts`; returns what was skipped among `upserts`. */
  apply(upserts: readonly unknown[], deletes: readonly ObjectRef[]): InputProblem[] {
    this.#view = undefined;
    for (const d of deletes) {
      if (this.#entries.delete(`${d.kind} ${d.key}`)) this.#count(d.kind, -1);
    }
    const skipped: InputProblem[] = [];
    for (const item of upserts) {
      const entry = readClusterObjects([item], WHERE);
      skipped.push(...entry.skipped);
      const kind = (item as { kind?: unknown } | null)?.kind;
      if (!isKind(kind)) continue; // not kept: other kinds play no part in the view
      const id = `${kind} ${objectKey(item)}`;
      if (!this.#entries.has(id)) this.#count(kind, 1);
      this.#entries.set(id, entry);
    }
    return skipped;
  }

  /** Objects kept, by kind. */
  counts(): ObjectCounts {
    return { ...this.#counts };
  }

  /** The view of everything kept. */
  view(): ClusterView {
    if (this.#view !== undefined) return this.#view;
    const services: ServiceInput[] = [];
    const slices: SliceInput[] = [];
    const nodes: NodeInput[] = [];
    const skipped: InputProblem[] = [];
    let ignoredServices = 0;
    for (const e of this.#entries.values()) {
      for (const s of e.services) services.push(s);
      for (const s of e.slices) slices.push(s);
      for (const n of e.nodes) nodes.push(n);
      for (const p of e.skipped) skipped.push(p);
      ignoredServices += e.ignoredServices;
    }
    this.#view = { services, slices, nodes, skipped, ignoredServices };
    return this.#view;
  }

  #count(kind: ObjectKind, by: number): void {
    if (kind === 'Service') this.#counts.services += by;
    else if (kind === 'EndpointSlice') this.#counts.slices += by;
    else this.#counts.nodes += by;
  }
}

function isKind(kind: unknown): kind is ObjectKind {
  return kind === 'Service' || kind === 'EndpointSlice' || kind === 'Node';
}
