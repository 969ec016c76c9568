/**
 * Pure: cut Services, EndpointSlices and Nodes down to the fields the checker uses, as plain
 * JSON-shaped objects (what `kubectl get -o json` prints, minus everything else). Accepts raw
 * JSON and the client's deserialized models alike (dates become RFC 3339 strings).
 *
 * Only transport-level problems drop an object here (not an object, no name, no namespace):
 * each drop has a reason the informer counts and logs. Field-level validation (no clusterIP,
 * unknown protocol, IPs with leading zeros, orphan slices) belongs to lib/kubeproxy, which
 * sees the values untouched: wrong-typed primitives are kept as they are, not "fixed".
 */
import type { Interner } from './intern.ts';

/** A JSON-ish record. */
type Obj = Record<string, unknown>;

/** Why an object was dropped at the transport level. */
export type DropReason = 'not-an-object' | 'missing-name' | 'missing-namespace';

/** Result of trimming one object. */
export type TrimResult<T> = { ok: true; key: string; value: T } | { ok: false; reason: DropReason };

/** The kept part of a Service. */
export interface TrimmedService {
  metadata: { namespace: string; name: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: Obj;
  status?: { loadBalancer: { ingress: Obj[] } };
}

/** The kept part of an EndpointSlice. */
export interface TrimmedEndpointSlice {
  metadata: { namespace: string; name: string; resourceVersion?: string; labels?: Record<string, string> };
  addressType?: unknown;
  ports?: unknown;
  endpoints?: unknown;
}

/** The kept part of a Node. */
export interface TrimmedNode {
  metadata: { name: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: { taints?: Obj[] };
  status: { addresses?: unknown; conditions?: Obj[]; nodeInfo?: { kubeletVersion?: unknown; kubeProxyVersion?: unknown } };
}

/** Service labels the checker reads. */
export const SERVICE_LABELS = ['service.kubernetes.io/service-proxy-name', 'service.kubernetes.io/headless'] as const;
/** EndpointSlice labels the checker reads. */
export const SLICE_LABELS = ['kubernetes.io/service-name'] as const;
/** Node labels the checker reads. */
export const NODE_LABELS = ['topology.kubernetes.io/zone'] as const;

// Enum-like spec fields (few distinct values: interned) and per-Service ones (not interned).
const SERVICE_SPEC_ENUMS = ['type', 'ipFamilies', 'externalTrafficPolicy', 'internalTrafficPolicy', 'sessionAffinity', 'trafficDistribution'] as const;
const SERVICE_SPEC_UNIQUE = ['clusterIP', 'clusterIPs', 'externalIPs', 'loadBalancerSourceRanges', 'healthCheckNodePort'] as const;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// A primitive kept as is (wrong types are for lib/kubeproxy to report); dates become strings.
function prim(v: unknown, interner?: Interner): unknown {
  if (typeof v === 'string') return interner ? interner.string(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return undefined;
}

// Copies the named primitive fields of `src` that are present (with an interner, arrays are shared too).
function pick(src: unknown, fields: readonly string[], interner?: Interner): Obj {
  const out: Obj = {};
  if (!isObj(src)) return out;
  for (const f of fields) {
    const v = src[f];
    if (Array.isArray(v)) {
      const a = v.map((x) => prim(x, interner));
      out[f] = interner ? interner.value(a) : a;
    }
    else {
      const p = prim(v, interner);
      if (p !== undefined) out[f] = p;
    }
  }
  return out;
}

// Copies the listed labels, or undefined when none is present.
function pickLabels(meta: Obj, keys: readonly string[], interner?: Interner): Record<string, string> | undefined {
  const labels = meta['labels'];
  if (!isObj(labels)) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = labels[k];
    if (typeof v === 'string') (out ??= {})[k] = interner ? interner.string(v) : v;
  }
  return out;
}

// Maps an array field through `fn`, keeping non-arrays out.
function mapArray(v: unknown, fn: (x: unknown) => unknown): unknown[] | undefined {
  return Array.isArray(v) ? v.map(fn) : undefined;
}

// metadata.{namespace,name} checks shared by the namespaced kinds.
function namespacedMeta(obj: unknown): { ok: true; meta: Obj; namespace: string; name: string } | { ok: false; reason: DropReason } {
  if (!isObj(obj)) return { ok: false, reason: 'not-an-object' };
  const meta = obj['metadata'];
  if (!isObj(meta) || typeof meta['name'] !== 'string' || meta['name'] === '') return { ok: false, reason: 'missing-name' };
  if (typeof meta['namespace'] !== 'string' || meta['namespace'] === '') return { ok: false, reason: 'missing-namespace' };
  return { ok: true, meta, namespace: meta['namespace'], name: meta['name'] };
}

/** Trims a Service to the fields in {@link TrimmedService}. */
export function trimService(obj: unknown, interner?: Interner): TrimResult<TrimmedService> {
  const m = namespacedMeta(obj);
  if (!m.ok) return m;
  const src = obj as Obj;
  // No uid: nothing reads it (the key and the resourceVersion tell objects and changes apart).
  const metadata: TrimmedService['metadata'] = { namespace: interner?.string(m.namespace) ?? m.namespace, name: m.name };
  if (typeof m.meta['resourceVersion'] === 'string') metadata.resourceVersion = m.meta['resourceVersion'];
  const labels = pickLabels(m.meta, SERVICE_LABELS, interner);
  if (labels) metadata.labels = labels;

  const specIn = src['spec'];
  const spec = { ...pick(specIn, SERVICE_SPEC_UNIQUE), ...pick(specIn, SERVICE_SPEC_ENUMS, interner) };
  // clusterIPs[0] is the clusterIP: one string, not two equal ones.
  const ips = spec['clusterIPs'];
  if (Array.isArray(ips) && ips[0] === spec['clusterIP'] && ips[0] !== undefined) ips[0] = spec['clusterIP'];
  if (isObj(specIn)) {
    // Port lists repeat across Services (80/443, http/https): shared like a slice's ports,
    // unless they hold a node port (unique per Service: sharing would only add a pool entry).
    const ports = mapArray(specIn['ports'], (p) => pick(p, ['name', 'protocol', 'port', 'nodePort'], interner));
    if (ports) spec['ports'] = interner && !ports.some((p) => 'nodePort' in (p as Obj)) ? interner.value(ports) : ports;
    const sac = specIn['sessionAffinityConfig'];
    if (isObj(sac) && isObj(sac['clientIP'])) {
      spec['sessionAffinityConfig'] = { clientIP: pick(sac['clientIP'], ['timeoutSeconds']) };
    }
  }
  const out: TrimmedService = { metadata, spec };
  const status = src['status'];
  const lb = isObj(status) ? status['loadBalancer'] : undefined;
  const ingress = isObj(lb) ? mapArray(lb['ingress'], (i) => pick(i, ['ip', 'ipMode'])) : undefined;
  if (ingress && ingress.length > 0) out.status = { loadBalancer: { ingress: ingress as Obj[] } };
  return { ok: true, key: `${m.namespace}/${m.name}`, value: out };
}

// One endpoint: addresses, conditions, nodeName, zone, hints.
function trimEndpoint(e: unknown, interner?: Interner): unknown {
  if (!isObj(e)) return e === undefined ? undefined : null;
  const out: Obj = {};
  const addresses = mapArray(e['addresses'], (a) => prim(a));
  if (addresses) out['addresses'] = addresses;
  if (isObj(e['conditions'])) {
    const c = pick(e['conditions'], ['ready', 'serving', 'terminating']);
    out['conditions'] = interner ? interner.value(c) : c;
  }
  for (const f of ['nodeName', 'zone'] as const) {
    const p = prim(e[f], interner);
    if (p !== undefined) out[f] = p;
  }
  const hints = e['hints'];
  if (isObj(hints)) {
    const h: Obj = {};
    const forZones = mapArray(hints['forZones'], (z) => pick(z, ['name'], interner));
    if (forZones) h['forZones'] = forZones;
    const forNodes = mapArray(hints['forNodes'], (n) => pick(n, ['name'], interner));
    if (forNodes) h['forNodes'] = forNodes;
    out['hints'] = interner ? interner.value(h) : h;
  }
  return out;
}

/**
 * Trims an EndpointSlice to the fields in {@link TrimmedEndpointSlice}. `endpointInterner`
 * shares the endpoints' values (conditions, hints, node names, zones); it defaults to
 * `interner`, and `null` leaves the endpoints unshared (for callers that serialize them at once,
 * where sharing would only cost the lookups).
 */
export function trimEndpointSlice(
  obj: unknown,
  interner?: Interner,
  endpointInterner: Interner | null | undefined = interner,
): TrimResult<TrimmedEndpointSlice> {
  const m = namespacedMeta(obj);
  if (!m.ok) return m;
  const src = obj as Obj;
  const metadata: TrimmedEndpointSlice['metadata'] = { namespace: interner?.string(m.namespace) ?? m.namespace, name: m.name };
  if (typeof m.meta['resourceVersion'] === 'string') metadata.resourceVersion = m.meta['resourceVersion'];
  const labels = pickLabels(m.meta, SLICE_LABELS, interner);
  if (labels) metadata.labels = labels;
  const out: TrimmedEndpointSlice = { metadata };
  const addressType = prim(src['addressType'], interner);
  if (addressType !== undefined) out.addressType = addressType;
  const ports = mapArray(src['ports'], (p) => pick(p, ['name', 'protocol', 'port'], interner));
  if (ports) out.ports = interner ? interner.value(ports) : ports;
  const endpoints = mapArray(src['endpoints'], (e) => trimEndpoint(e, endpointInterner ?? undefined));
  if (endpoints) out.endpoints = endpoints;
  return { ok: true, key: `${m.namespace}/${m.name}`, value: out };
}

/** Trims a Node to the fields in {@link TrimmedNode}. */
export function trimNode(obj: unknown, interner?: Interner): TrimResult<TrimmedNode> {
  if (!isObj(obj)) return { ok: false, reason: 'not-an-object' };
  const meta = obj['metadata'];
  if (!isObj(meta) || typeof meta['name'] !== 'string' || meta['name'] === '') return { ok: false, reason: 'missing-name' };
  const metadata: TrimmedNode['metadata'] = { name: meta['name'] };
  if (typeof meta['uid'] === 'string') metadata.uid = meta['uid'];
  if (typeof meta['resourceVersion'] === 'string') metadata.resourceVersion = meta['resourceVersion'];
  const labels = pickLabels(meta, NODE_LABELS, interner);
  if (labels) metadata.labels = labels;
  const spec: TrimmedNode['spec'] = {};
  const specIn = obj['spec'];
  if (isObj(specIn)) {
    const taints = mapArray(specIn['taints'], (t) => pick(t, ['key', 'value', 'effect', 'timeAdded']));
    if (taints) spec.taints = taints as Obj[];
  }
  const status: TrimmedNode['status'] = {};
  const st = obj['status'];
  if (isObj(st)) {
    const addresses = mapArray(st['addresses'], (a) => pick(a, ['type', 'address']));
    if (addresses) status.addresses = addresses;
    const conditions = mapArray(st['conditions'], (c) =>
      pick(c, ['type', 'status', 'reason', 'message', 'lastTransitionTime', 'lastHeartbeatTime']),
    );
    if (conditions) status.conditions = conditions as Obj[];
    if (isObj(st['nodeInfo'])) status.nodeInfo = pick(st['nodeInfo'], ['kubeletVersion', 'kubeProxyVersion']);
  }
  return { ok: true, key: metadata.name, value: { metadata, spec, status } };
}
