/**
 * Compact form of the chains kube-proxy writes per service port (KUBE-SVC/KUBE-SVL: the
 * probability cascade), whose jumps are resolved to the endpoint rows (endpoint-rows.ts) while
 * parsing. A rule of exactly the shape kube-proxy writes is kept as the few values that matter;
 * anything else (an unusual option, rules out of kube-proxy's order) turns the chain back into
 * plain texts, so no rule is ever misread. Rendered back, a compact rule is an equivalent rule
 * without its comment. Used through {@link kubeChainFactory} with {@link natChainsFactory}.
 */
import type { Copy } from '../iptables/bytes.ts';
import type { ChainFactory, DumpInfo, TableChainsFactory } from '../iptables/chain.ts';
import { RenderedChain } from '../iptables/rendered-chain.ts';
import { readServiceRules } from './chain-view.ts';
import type { ForeignRule, RowCascade, ServiceChainView, Spread } from './chain-view.ts';
import { CascadeColumns } from './cascade-columns.ts';
import type { EndpointRows } from './endpoint-rows.ts';
import { NatChains } from './nat-chains.ts';
import { probabilityAt, scan, scanRule, SPREAD } from './rule-scan.ts';

// Shared and never written: a chain replaces them before it keeps a text.
const NO_TEXTS: string[] = [];
const NO_LINES: number[] = [];

/** The chains maps for one parse: nat tables keep their KUBE-SEP chains as rows. */
export function natChainsFactory(): TableChainsFactory {
  return (table, info) => (table === 'nat' ? new NatChains(info) : undefined);
}

/** A chain factory for one parse: compact KUBE-SVC / KUBE-SVL chains in nat tables. */
export function kubeChainFactory(): ChainFactory {
  return (table, name, policy, _counters, line, info, chains) => {
    if (table !== 'nat' || policy !== undefined || name.length !== 25) return undefined;
    if (name.startsWith('KUBE-SVC-') || name.startsWith('KUBE-SVL-')) {
      return chains instanceof NatChains ? new ServiceChain(name, line, info, chains.rows, chains.cascades) : new ServiceChain(name, line, info, undefined, new CascadeColumns());
    }
    return undefined;
  };
}

/** The chain's rules as plain texts, once it holds a rule it cannot keep compactly. */
interface Fallback {
  texts: string[];
  lines: number[];
}

/** KUBE-SVC/KUBE-SVL-<hash>: other rules first (masquerade, affinity) as texts, then the cascade. */
export class ServiceChain extends RenderedChain {
  readonly name: string;
  readonly line: number;
  readonly #info: DumpInfo;
  readonly #endpoints: EndpointRows | undefined;
  /** Set once the chain holds a rule it cannot keep compactly: from then on, all rules as texts. */
  protected fallback: Fallback | undefined;
  /** The rules before the cascade, as texts (one array shared by all chains while it is empty: most have one or two). */
  #texts: string[] = NO_TEXTS;
  #lines: number[] = NO_LINES;
  /** The cascade: rules [#start, #start + #count) of the table's columns (their targets resolved to endpoint rows while parsing, as declarations come first in a dump). */
  readonly #cascades: CascadeColumns;
  #start = 0;
  #count = 0;
  #kept: ServiceChainView | undefined;

  constructor(name: string, line: number, info: DumpInfo, endpoints: EndpointRows | undefined, cascades: CascadeColumns) {
    super();
    this.name = name;
    this.line = line;
    this.#info = info;
    this.#endpoints = endpoints;
    this.#cascades = cascades;
  }

  get plain(): boolean {
    return this.#info.plain;
  }

  protected get source(): string {
    return this.#info.source;
  }

  get size(): number {
    return this.fallback !== undefined ? this.fallback.texts.length : this.#texts.length + this.#count;
  }

  append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): boolean {
    this.#kept = undefined;
    if (this.fallback === undefined) {
      const prob = scanRule(bytes, start, end, this.name.length, text) !== SPREAD ? undefined
        : scan.prob0 === -1 ? 1 : probabilityAt(bytes, scan.prob0, scan.prob1, copy);
      if (prob !== undefined) {
        const row = this.#endpoints?.findAt(bytes, scan.target0) ?? -1;
        const other = row === -1 ? copy(scan.target0, scan.target1) : undefined;
        this.#start = this.#cascades.append(this.#start, this.#count, row, scan.prob0 === -1 ? -1 : prob, line, other);
        this.#count++;
        return true;
      }
      if (this.#count === 0) {
        // (a chain's first arrays are made for one: pushing to an empty array reserves 17)
        if (this.#texts === NO_TEXTS) { this.#texts = [copy(start, end)]; this.#lines = [line]; } else { this.#texts.push(copy(start, end)); this.#lines.push(line); }
        return false;
      }
    }
    this.insert(copy(start, end), line, undefined);
    return false;
  }

  text(i: number): string {
    if (this.fallback !== undefined) return this.fallback.texts[i] as string;
    if (i < this.#texts.length) return this.#texts[i] as string;
    const k = i - this.#texts.length;
    const prob = this.#cascades.prob(this.#start + k);
    return `-A ${this.name}${prob < 0 ? '' : ` -m statistic --mode random --probability ${prob.toFixed(11)}`} -j ${this.#targetName(k)}`;
  }

  lineOf(i: number): number {
    if (this.fallback !== undefined) return this.fallback.lines[i] as number;
    return i < this.#lines.length ? this.#lines[i] as number : this.#cascades.line(this.#start + i - this.#lines.length);
  }

  knownTarget(i: number): string | undefined {
    if (this.fallback !== undefined || i < this.#texts.length) return undefined;
    return this.#targetName(i - this.#texts.length);
  }

  /**
   * Reads the view now and keeps it until the chain changes (`check` reads the views while the
   * cluster is still being read). Otherwise a view is read on each call: one kept per chain would
   * outlive the diff (20k at 10k services, promoted out of the young generation).
   */
  keepView(): void {
    this.#kept = this.serviceView();
  }

  /** How the chain spreads new connections (see chain-view.ts). */
  serviceView(): ServiceChainView {
    if (this.#kept !== undefined) return this.#kept;
    // the rules kept as texts (all of them once the chain fell back), then the compact cascade
    const head = readServiceRules(this, this.fallback !== undefined ? this.size : this.#texts.length);
    const cascade: RowCascade | undefined = this.#endpoints !== undefined && head.spreads.length === 0 && this.#count > 0
      ? { rows: this.#endpoints, columns: this.#cascades, start: this.#start, count: this.#count, remaining: head.remaining }
      : undefined;
    return new CompactServiceView(head, cascade, this);
  }

  /** The cascade as spreads after the head's (`remaining`: the share the head leaves), for the diff's slow path (a name string and an object each). */
  cascadeSpreads(remaining: number): Spread[] {
    const out: Spread[] = [];
    for (let k = 0; k < this.#count; k++) {
      const i = this.#start + k;
      const row = this.#cascades.jump(i);
      const prob = this.#cascades.prob(i);
      const p = prob < 0 ? 1 : prob;
      out.push({
        sep: this.#targetName(k), target: row === -1 ? undefined : this.#endpoints?.chain(row),
        share: remaining * p, line: this.#cascades.line(i),
      });
      remaining *= 1 - p;
    }
    return out;
  }

  #targetName(k: number): string {
    const i = this.#start + k;
    const row = this.#cascades.jump(i);
    return row === -1 ? this.#cascades.other(i) as string : (this.#endpoints as EndpointRows).name(row);
  }

  insert(rule: string, line: number, at: number | undefined): void {
    this.#kept = undefined;
    const f = this.#toTexts();
    if (at === undefined) { f.texts.push(rule); f.lines.push(line); } else { f.texts.splice(at, 0, rule); f.lines.splice(at, 0, line); }
  }

  flush(): void {
    this.#kept = undefined;
    this.fallback = undefined;
    this.#clear();
  }

  // Turns the chain into plain texts (compact rules rendered), for a rule it cannot keep compactly.
  #toTexts(): Fallback {
    if (this.fallback === undefined) {
      const f = { texts: this.texts, lines: this.lineNumbers };
      this.#clear();
      this.fallback = f;
    }
    return this.fallback;
  }

  #clear(): void {
    this.#texts = NO_TEXTS;
    this.#lines = NO_LINES;
    this.#count = 0;
  }
}

/** A compact chain's view: the spreads are made only when asked for (the diff reads the cascade). */
class CompactServiceView implements ServiceChainView {
  readonly exists = true;
  readonly foreign: readonly ForeignRule[];
  readonly affinity: ReadonlyMap<string, number>;
  readonly affinityFaults: ReadonlyMap<string, string>;
  readonly masqLines: readonly number[];
  readonly masqDestination: boolean;
  readonly masqDestinationTexts: readonly string[];
  readonly cascade: RowCascade | undefined;
  #head: Spread[];
  #remaining: number;
  #chain: ServiceChain | undefined;

  constructor(head: ServiceChainView & { spreads: Spread[]; remaining: number }, cascade: RowCascade | undefined, chain: ServiceChain) {
    this.#head = head.spreads;
    this.#remaining = head.remaining;
    this.affinity = head.affinity;
    this.affinityFaults = head.affinityFaults;
    this.masqLines = head.masqLines;
    this.masqDestination = head.masqDestination;
    this.masqDestinationTexts = head.masqDestinationTexts;
    this.foreign = head.foreign;
    this.cascade = cascade;
    this.#chain = chain;
  }

  get spreads(): readonly Spread[] {
    if (this.#chain !== undefined) {
      for (const s of this.#chain.cascadeSpreads(this.#remaining)) this.#head.push(s);
      this.#chain = undefined;
    }
    return this.#head;
  }
}
