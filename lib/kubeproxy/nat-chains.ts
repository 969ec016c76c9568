/**
 * The chains map of a nat table parsed for the kube-proxy check: KUBE-SEP chains live as rows of
 * {@link EndpointRows} (no object or map entry each), every other chain as an object in the map.
 * To its readers it is an ordinary map of all chains: a KUBE-SEP chain looked up or iterated is
 * its {@link EndpointRowChain}. Pure.
 */
import type { Copy } from '../iptables/bytes.ts';
import type { ByteChains, DumpInfo } from '../iptables/chain.ts';
import type { Chain } from '../iptables/types.ts';
import { CascadeColumns } from './cascade-columns.ts';
import { EndpointRows, isSepName } from './endpoint-rows.ts';

export class NatChains extends Map<string, Chain> implements ByteChains {
  /** The KUBE-SEP chains. */
  readonly rows: EndpointRows;
  /** The service chains' probability cascades (compact-chains.ts). */
  readonly cascades: CascadeColumns;
  /** True once a KUBE-SEP name is kept as an object (never, for what kube-proxy writes). */
  #sepObjects = false;

  constructor(info: DumpInfo) {
    super();
    this.rows = new EndpointRows(info);
    // about one cascade rule per endpoint chain (see EndpointRows' sizing)
    this.cascades = new CascadeColumns(Math.min(1 << 20, Math.ceil((info.sizeHint ?? 0) / 400)));
  }

  declareAt(bytes: Uint8Array, start: number, end: number, line: number): boolean {
    // a KUBE-SEP name already kept as an object (declared with a policy) stays one
    if (this.#sepObjects && super.has(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end))) return false;
    return this.rows.declareAt(bytes, start, end, line);
  }

  declare(name: string, line: number): boolean {
    if (this.#sepObjects && super.has(name)) return false;
    return this.rows.declare(name, line);
  }

  override set(name: string, chain: Chain): this {
    if (isSepName(name)) this.#sepObjects = true;
    return super.set(name, chain);
  }

  appendAt(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): number {
    return this.rows.appendAt(bytes, start, end, line, copy, text);
  }

  override get(name: string): Chain | undefined {
    if (isSepName(name)) {
      const row = this.rows.find(name);
      if (row !== -1) return this.rows.chain(row);
    }
    return super.get(name);
  }

  override has(name: string): boolean {
    return (isSepName(name) && this.rows.find(name) !== -1) || super.has(name);
  }

  override delete(name: string): boolean {
    const row = this.rows.find(name);
    if (row === -1) return super.delete(name);
    this.rows.remove(row);
    return true;
  }

  override clear(): void {
    this.rows.removeAll();
    super.clear();
  }

  override get size(): number {
    return super.size + this.rows.live;
  }

  /** The chains kept as objects (not the KUBE-SEP rows). */
  objectChains(): IterableIterator<Chain> {
    return super.values();
  }

  override *values(): MapIterator<Chain> {
    yield* super.values();
    yield* this.rows.chains();
  }

  override *keys(): MapIterator<string> {
    for (const c of this.values()) yield c.name;
  }

  override *entries(): MapIterator<[string, Chain]> {
    for (const c of this.values()) yield [c.name, c];
  }

  override [Symbol.iterator](): MapIterator<[string, Chain]> {
    return this.entries();
  }

  override forEach(callback: (value: Chain, key: string, map: Map<string, Chain>) => void, thisArg?: unknown): void {
    for (const c of this.values()) callback.call(thisArg, c, c.name, this);
  }
}

/** The chains of a table kept as objects: all of a plain map's, none of a NatChains' endpoint rows. */
export function chainObjects(chains: ReadonlyMap<string, Chain>): Iterable<Chain> {
  return chains instanceof NatChains ? chains.objectChains() : chains.values();
}
