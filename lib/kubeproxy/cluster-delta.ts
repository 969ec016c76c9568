/**
 * The sending side of {@link ClusterStore}: what changed in the agent's API view since it was last
 * taken, as upserts and deletes. The informers keep frozen objects and replace an object (a new
 * one) whenever it changes, so comparing references finds every change without looking inside
 * the objects. Each object is also kept encoded (once, when it changes), so that the whole view,
 * for a new worker, is a copy of bytes rather than a structured clone of every object. Pure
 * (the encoder is given).
 */
import { objectKey } from './cluster-store.ts';
import type { ObjectCounts, ObjectKind, ObjectRef } from './cluster-store.ts';

/** The view's objects, as the informers keep them (without `kind`). */
export interface ViewObjects {
  readonly services: readonly object[];
  readonly endpointSlices: readonly object[];
  readonly node: object | undefined;
}

/** The whole view as bytes: object `i` is `bytes[ends[i-1] ?? 0, ends[i])`. */
export interface EncodedView {
  readonly bytes: Uint8Array;
  readonly ends: number[];
}

/** Changes since the last take: objects with their `kind`, keys to remove, and the counts after. */
export interface ClusterDelta {
  readonly upserts: unknown[];
  readonly deletes: ObjectRef[];
  readonly counts: ObjectCounts;
}

// The objects of one kind last taken: by key (with their encoding), and the set of them (references).
interface Kept {
  readonly byKey: Map<string, { readonly object: object; readonly encoded: Uint8Array }>;
  readonly refs: Set<object>;
}

/**
 * Remembers the view last taken (references only) to tell what changed since. A take costs one set
 * lookup per object, plus a key per changed object; finding deletions costs one set of the
 * objects, only when the counts say something was deleted.
 */
export class ClusterDeltaTracker {
  readonly #kept = new Map<ObjectKind, Kept>((['Service', 'EndpointSlice', 'Node'] as const).map((k) => [k, { byKey: new Map(), refs: new Set() }]));
  readonly #encode: (item: unknown) => Uint8Array;

  /** `encode`: an object with its `kind` to bytes (the worker decodes them). */
  constructor(encode: (item: unknown) => Uint8Array) {
    this.#encode = encode;
  }

  /** Takes the view as it is now; returns the changes since the last take (the first: everything). */
  take(view: ViewObjects): ClusterDelta {
    const upserts: unknown[] = [];
    const deletes: ObjectRef[] = [];
    const lists: [ObjectKind, readonly object[]][] = [['Service', view.services], ['EndpointSlice', view.endpointSlices], ['Node', view.node === undefined ? [] : [view.node]]];
    for (const [kind, objects] of lists) {
      const { byKey, refs } = this.#kept.get(kind)!;
      for (const o of objects) {
        if (refs.has(o)) continue;
        const key = objectKey(o);
        const before = byKey.get(key);
        if (before !== undefined) refs.delete(before.object);
        const item = { kind, ...o };
        byKey.set(key, { object: o, encoded: this.#encode(item) });
        refs.add(o);
        upserts.push(item);
      }
      // Every object now has its key kept (keys are unique): more keys mean deletions.
      if (byKey.size === objects.length) continue;
      const now = new Set(objects);
      for (const [key, { object }] of byKey) {
        if (now.has(object)) continue;
        byKey.delete(key);
        refs.delete(object);
        deletes.push({ kind, key });
      }
    }
    return { upserts, deletes, counts: this.counts() };
  }

  /** Every object last taken, encoded (a full snapshot). */
  encoded(): EncodedView {
    const parts: Uint8Array[] = [];
    const ends: number[] = [];
    let size = 0;
    for (const { byKey } of this.#kept.values()) {
      for (const { encoded } of byKey.values()) {
        parts.push(encoded);
        size += encoded.byteLength;
        ends.push(size);
      }
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    return { bytes, ends };
  }

  /** Objects last taken, by kind. */
  counts(): ObjectCounts {
    const size = (kind: ObjectKind): number => this.#kept.get(kind)!.byKey.size;
    return { services: size('Service'), slices: size('EndpointSlice'), nodes: size('Node') };
  }
}
