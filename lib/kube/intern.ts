/**
 * Interning for the informers' stores. A large cluster repeats the same small values
 * thousands of times (namespaces, node names, zones, protocols, `{ready, serving,
 * terminating}` triplets, a Service's port list in each of its slices). Sharing one frozen
 * copy keeps the steady-state heap close to the size of the distinct data.
 * Pure; one interner per store, so nothing is global.
 */

/** Shares equal strings and equal small frozen JSON values. */
export class Interner {
  readonly #strings = new Map<string, string>();
  readonly #values = new Map<string, unknown>();
  readonly #maxEntries: number;

  constructor(maxEntries = 200_000) {
    this.#maxEntries = maxEntries;
  }

  /** The shared copy of `s` (short strings only: long ones are rarely repeated). */
  string(s: string): string {
    if (s.length > 64) return s;
    const found = this.#strings.get(s);
    if (found !== undefined) return found;
    if (this.#strings.size >= this.#maxEntries) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }

  /** The shared, deep-frozen copy of a small JSON value (keyed by its JSON text). */
  value<T>(v: T): T {
    const key = JSON.stringify(v);
    const found = this.#values.get(key);
    if (found !== undefined) return found as T;
    if (this.#values.size >= this.#maxEntries) this.#values.clear();
    const frozen = deepFreeze(v);
    this.#values.set(key, frozen);
    return frozen;
  }

  /** Number of distinct entries held (strings + values). */
  get size(): number {
    return this.#strings.size + this.#values.size;
  }
}

/** Freezes a JSON value and everything under it; returns it. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as object)) deepFreeze(child);
  }
  return v;
}
