/**
 * Pure: the stored form of an EndpointSlice. 100k endpoints as JS objects cost more heap than
 * their JSON (an object, an `addresses` array and a string each, ~150 bytes for a 120-byte
 * endpoint), and keeping 300k small objects alive makes V8 grow its young generation during the
 * initial list (peak RSS). So the informer keeps each slice's trimmed `endpoints` array as one
 * JSON string: one object per slice, the exact kept values (wrong-typed primitives included,
 * for lib/kubeproxy to report), and a cheap structured clone to the scan worker, which unpacks.
 */
import { trimEndpointSlice, type TrimResult, type TrimmedEndpointSlice } from './trim.ts';
import type { Interner } from './intern.ts';

/** A trimmed EndpointSlice with its endpoints packed as JSON text. */
export interface PackedEndpointSlice {
  metadata: TrimmedEndpointSlice['metadata'];
  addressType?: unknown;
  ports?: unknown;
  /** The trimmed `endpoints` array as JSON (absent when the slice had no `endpoints` list). */
  endpointsJson?: string;
}

/** Packs a trimmed slice (its endpoints were read from JSON, so the round trip is exact). */
export function packEndpointSlice(s: TrimmedEndpointSlice): PackedEndpointSlice {
  const out: PackedEndpointSlice = { metadata: s.metadata };
  if ('addressType' in s) out.addressType = s.addressType;
  if ('ports' in s) out.ports = s.ports;
  if (s.endpoints !== undefined) out.endpointsJson = JSON.stringify(s.endpoints);
  return out;
}

/** The trimmed slice again, with fresh `endpoints` objects (same keys, in the same order). */
export function unpackEndpointSlice(p: PackedEndpointSlice): TrimmedEndpointSlice {
  const out: TrimmedEndpointSlice = { metadata: p.metadata };
  if ('addressType' in p) out.addressType = p.addressType;
  if ('ports' in p) out.ports = p.ports;
  if (p.endpointsJson !== undefined) out.endpoints = JSON.parse(p.endpointsJson) as unknown;
  return out;
}

/**
 * {@link trimEndpointSlice}, then {@link packEndpointSlice}: the informer's trim step. The
 * endpoints are not interned: they become one JSON string at once, so sharing would be lost.
 */
export function trimPackedEndpointSlice(obj: unknown, interner?: Interner): TrimResult<PackedEndpointSlice> {
  const r = trimEndpointSlice(obj, interner, null);
  return r.ok ? { ok: true, key: r.key, value: packEndpointSlice(r.value) } : r;
}

/**
 * For a list of API items (`{kind, ...object}`, as the agent sends them to the scan worker):
 * EndpointSlices that carry `endpointsJson` are unpacked, everything else is passed through.
 */
export function unpackApiItems(items: readonly unknown[]): unknown[] {
  return items.map((item) => {
    const o = item as ({ kind?: unknown } & PackedEndpointSlice) | null;
    if (o === null || typeof o !== 'object' || o.kind !== 'EndpointSlice' || typeof o.endpointsJson !== 'string') return item;
    const { kind, ...packed } = o;
    return { kind, ...unpackEndpointSlice(packed) };
  });
}
