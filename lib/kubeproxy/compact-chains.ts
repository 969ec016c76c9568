/**
 * Compact forms of the chains kube-proxy writes per endpoint (KUBE-SEP: a hairpin masquerade and a
 * DNAT) and per service port (KUBE-SVC/KUBE-SVL: the probability cascade). At 10k services they are
 * 95% of a dump; kept as texts they would hold most of it in memory. A rule of exactly the shape
 * kube-proxy writes is kept as the few values that matter; anything else (affinity, counters, an
 * unusual option, rules out of kube-proxy's order) turns the chain back into plain texts, so no
 * rule is ever misread. Rendered back, a compact rule is an equivalent rule without its comment.
 * Used through {@link kubeChainFactory}, one factory per parse, as the parser's chain factory.
 */
import { bytesAre, bytesStartWith, sameBytes } from '../iptables/bytes.ts';
import { parseRuleText } from '../iptables/chain.ts';
import type { Copy } from '../iptables/bytes.ts';
import type { ChainFactory, DumpInfo, ParsedChain } from '../iptables/chain.ts';
import type { Chain, Rule } from '../iptables/types.ts';
import { parseProbability } from '../iptables/values.ts';
import { canonicalEndpoint, readEndpointRules, readServiceRules } from './chain-view.ts';
import type { EndpointChainView, ServiceChainView, Spread } from './chain-view.ts';

/** A chain factory for one parse: compact KUBE-SEP / KUBE-SVC / KUBE-SVL chains in nat tables. */
export function kubeChainFactory(): ChainFactory {
  let tableChains: ReadonlyMap<string, Chain> | undefined;
  let endpoints = new EndpointIndex();
  return (table, name, policy, _counters, line, info, chains) => {
    if (table !== 'nat' || policy !== undefined || name.length !== 25) return undefined;
    if (chains !== tableChains) {
      tableChains = chains; // another dump's nat table
      endpoints = new EndpointIndex();
    }
    if (name.startsWith('KUBE-SEP-')) return endpoints.add(new EndpointChain(name, line, info));
    if (name.startsWith('KUBE-SVC-') || name.startsWith('KUBE-SVL-')) return new ServiceChain(name, line, info, endpoints);
    return undefined;
  };
}

/**
 * The endpoint chains of one nat table by their name's hash, so that a jump in a service chain is
 * resolved straight from the dump's bytes: no name string made, no map's string hashing.
 */
class EndpointIndex {
  #slots: (EndpointChain | undefined)[] = new Array<EndpointChain | undefined>(1 << 12).fill(undefined);
  #size = 0;

  add(chain: EndpointChain): EndpointChain {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    this.#put(chain);
    this.#size++;
    return chain;
  }

  /** The chain whose 25-character name is at bytes[at, at + 25), if declared. */
  find(bytes: Uint8Array, at: number): EndpointChain | undefined {
    const mask = this.#slots.length - 1;
    for (let i = hashBytes(bytes, at) & mask; ; i = (i + 1) & mask) {
      const c = this.#slots[i];
      if (c === undefined) return undefined;
      if (bytesStartWith(bytes, at, c.name)) return c;
    }
  }

  #put(chain: EndpointChain): void {
    const mask = this.#slots.length - 1;
    let i = hashName(chain.name) & mask;
    while (this.#slots[i] !== undefined) i = (i + 1) & mask;
    this.#slots[i] = chain;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array<EndpointChain | undefined>(old.length * 4).fill(undefined);
    for (const c of old) if (c !== undefined) this.#put(c);
  }
}

// Hash of the 16 base32 characters after "KUBE-SEP-" (they are themselves a SHA-256 prefix).
function hashName(name: string): number {
  let h = 0;
  for (let i = 9; i < 25; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) | 0;
  return h >>> 0;
}

// The same hash, of a name in the dump's bytes.
function hashBytes(bytes: Uint8Array, at: number): number {
  let h = 0;
  for (let i = at + 9; i < at + 25; i++) h = (Math.imul(h, 31) + (bytes[i] as number)) | 0;
  return h >>> 0;
}

// What scanRule found: the rule's shape and where its values are in the text.
const NONE = 0, MASQ = 1, DNAT = 2, SPREAD = 3;
interface Scan {
  src0: number; src1: number; proto0: number; proto1: number; prob0: number; prob1: number;
  target0: number; target1: number; dest0: number; dest1: number;
  /** `-m recent --set --name <this chain> --mask 255.255.255.255 --rsource` (ClientIP affinity). */
  recentSet: boolean;
}
const scan: Scan = { src0: 0, src1: 0, proto0: 0, proto1: 0, prob0: 0, prob1: 0, target0: 0, target1: 0, dest0: 0, dest1: 0, recentSet: false };
const RECENT_MASK = ' --mask 255.255.255.255 --rsource';

// End of the token at `at` (a space or the line's end); -1 when it has a quote or a backslash,
// which only the full tokenizer reads.
function tokenEnd(b: Uint8Array, at: number, end: number): number {
  for (let i = at; i < end; i++) {
    const c = b[i];
    if (c === 32) return i;
    if (c === 34 || c === 39 || c === 92) return -1;
  }
  return end;
}


/**
 * Reads `-A NAME` followed only by `-s X`, `-p P`, `-m P`, `-m comment --comment C`,
 * `-m statistic --mode random --probability F`, kube-proxy's affinity `-m recent --set ...` and a
 * final `-j T` (`-j DNAT --to-destination D`). Returns the shape, or NONE for anything else.
 */
function scanRule(b: Uint8Array, start: number, end: number, nameLength: number): number {
  scan.src0 = scan.proto0 = scan.prob0 = scan.target0 = scan.dest0 = -1;
  scan.recentSet = false;
  let p = start + 4 + nameLength;
  while (p < end) {
    const q = tokenEnd(b, p, end);
    if (q - p !== 2 || b[p] !== 45 /* - */ || q === end) return NONE;
    const flag = b[p + 1];
    const v = q + 1;
    const w = tokenEnd(b, v, end);
    if (w < 0) return NONE;
    if (flag === 115 /* s */ && scan.src0 === -1) {
      scan.src0 = v; scan.src1 = w; p = w + 1;
    } else if (flag === 112 /* p */ && scan.proto0 === -1) {
      scan.proto0 = v; scan.proto1 = w; p = w + 1;
    } else if (flag === 106 /* j */) {
      scan.target0 = v; scan.target1 = w;
      if (w === end) return shape(b);
      if (!bytesAre(b, v, w, 'DNAT') || !bytesStartWith(b, w, ' --to-destination ')) return NONE;
      scan.dest0 = w + 18;
      scan.dest1 = tokenEnd(b, scan.dest0, end);
      return scan.dest1 === end && scan.dest1 > scan.dest0 ? shape(b) : NONE;
    } else if (flag === 109 /* m */) {
      if (bytesAre(b, v, w, 'comment')) {
        if (!bytesStartWith(b, w, ' --comment ')) return NONE;
        let c = w + 11;
        if (b[c] === 34 /* " */) {
          let close = c + 1;
          for (let ch = b[close]; ch !== 34; ch = b[++close]) {
            if (ch === 92 /* \\ */ || close >= end) return NONE;
          }
          c = close + 1;
        } else {
          c = tokenEnd(b, c, end);
          if (c < 0) return NONE;
        }
        if (c >= end || b[c] !== 32) return NONE;
        p = c + 1;
      } else if (bytesAre(b, v, w, 'recent') && !scan.recentSet) {
        // exactly what kube-proxy writes: the set is named after this chain
        const name = w + 14;
        if (!bytesStartWith(b, w, ' --set --name ') || b[name + nameLength] !== 32 ||
          !sameBytes(b, name, name + nameLength, start + 3, start + 3 + nameLength) || !bytesStartWith(b, name + nameLength, RECENT_MASK)) return NONE;
        p = name + nameLength + RECENT_MASK.length + 1;
        if (p > end || b[p - 1] !== 32) return NONE;
        scan.recentSet = true;
      } else if (bytesAre(b, v, w, 'statistic') && scan.prob0 === -1) {
        if (!bytesStartWith(b, w, ' --mode random --probability ')) return NONE;
        scan.prob0 = w + 29;
        scan.prob1 = tokenEnd(b, scan.prob0, end);
        if (scan.prob1 === end || scan.prob1 < 0) return NONE;
        p = scan.prob1 + 1;
      } else if (scan.proto0 !== -1 && w !== end && sameBytes(b, v, w, scan.proto0, scan.proto1)) {
        p = w + 1; // `-m tcp` after `-p tcp`, without options
      } else {
        return NONE;
      }
    } else {
      return NONE;
    }
  }
  return NONE;
}


// The protocol strings, shared instead of copied 100k times.
function protocolAt(b: Uint8Array, from: number, to: number, copy: Copy): string {
  if (bytesAre(b, from, to, 'tcp')) return 'tcp';
  if (bytesAre(b, from, to, 'udp')) return 'udp';
  if (bytesAre(b, from, to, 'sctp')) return 'sctp';
  return copy(from, to);
}

// A `--probability` value: `0.` and up to 11 digits read from the bytes (what iptables-save prints),
// anything else through the general reader.
function probabilityAt(b: Uint8Array, from: number, to: number, copy: Copy): number | undefined {
  if (to - from > 2 && to - from <= 13 && b[from] === 48 /* 0 */ && b[from + 1] === 46 /* . */) {
    let n = 0;
    let scale = 1;
    for (let i = from + 2; i < to; i++) {
      const d = (b[i] as number) - 48;
      if (d < 0 || d > 9) return parseProbability(copy(from, to));
      n = n * 10 + d;
      scale *= 10;
    }
    return n / scale;
  }
  return parseProbability(copy(from, to));
}

// True when bytes[from, to) is `a.b.c.d:port` as canonicalEndpoint returns it (no leading zeros,
// octets up to 255, port 1-99999 as its regex allows).
function isCanonicalV4EndpointAt(b: Uint8Array, from: number, to: number): boolean {
  let i = from;
  for (let octet = 0; octet < 4; octet++) {
    const start = i;
    let value = 0;
    while (i < to && (b[i] as number) >= 48 && (b[i] as number) <= 57) value = value * 10 + (b[i++] as number) - 48;
    const digits = i - start;
    if (digits === 0 || digits > 3 || (digits > 1 && b[start] === 48) || value > 255) return false;
    if (b[i++] !== (octet === 3 ? 58 /* : */ : 46 /* . */)) return false;
  }
  const digits = to - i;
  if (digits < 1 || digits > 5 || b[i] === 48) return false;
  for (; i < to; i++) if ((b[i] as number) < 48 || (b[i] as number) > 57) return false;
  return true;
}

// Marks a hairpin masquerade whose source is the DNAT address (`-s IP/32`, as kube-proxy writes it).
const SAME_AS_DNAT = '(the DNAT address)/32';

function shape(b: Uint8Array): number {
  if (bytesAre(b, scan.target0, scan.target1, 'KUBE-MARK-MASQ')) {
    return scan.src0 !== -1 && scan.proto0 === -1 && scan.prob0 === -1 && !scan.recentSet ? MASQ : NONE;
  }
  if (scan.dest0 !== -1) return scan.src0 === -1 && scan.prob0 === -1 ? DNAT : NONE;
  if (scan.target1 - scan.target0 === 25 && bytesStartWith(b, scan.target0, 'KUBE-SEP-')) {
    return scan.src0 === -1 && scan.proto0 === -1 && !scan.recentSet ? SPREAD : NONE;
  }
  return NONE;
}

/** A compact chain's rules as plain texts, once it holds a rule it cannot keep compactly, and their view. */
interface Fallback {
  texts: string[];
  lines: number[];
  view?: EndpointChainView | undefined;
}

/** Shared parts of the compact chains: identity, and the plain-text form they fall back to. */
abstract class CompactChain implements ParsedChain {
  readonly name: string;
  readonly line: number;
  protected readonly info: DumpInfo;
  /** Set once the chain holds a rule it cannot keep compactly: from then on, all rules as texts. */
  protected fallback: Fallback | undefined;
  #rules: Rule[] | undefined;

  constructor(name: string, line: number, info: DumpInfo) {
    this.name = name;
    this.line = line;
    this.info = info;
  }

  // prototype getters, not fields: 100k chains, two words each
  get policy(): undefined {
    return undefined;
  }

  get counters(): undefined {
    return undefined;
  }

  get plain(): boolean {
    return this.info.plain;
  }

  abstract get size(): number;
  /** The text of rule i (a compact rule is rendered as an equivalent rule without its comment). */
  abstract text(i: number): string;
  abstract lineOf(i: number): number;
  abstract append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy): boolean;
  protected abstract clear(): void;

  get texts(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.text(i));
  }

  get lineNumbers(): number[] {
    return Array.from({ length: this.size }, (_, i) => this.lineOf(i));
  }

  get rules(): readonly Rule[] {
    this.#rules ??= Array.from({ length: this.size }, (_, i) => parseRuleText(this.name, this.text(i), this.lineOf(i), this.info.source));
    return this.#rules;
  }

  insert(rule: string, line: number, at: number | undefined): void {
    const f = this.toTexts();
    f.view = undefined;
    if (at === undefined) { f.texts.push(rule); f.lines.push(line); } else { f.texts.splice(at, 0, rule); f.lines.splice(at, 0, line); }
  }

  flush(): void {
    this.fallback = undefined;
    this.#rules = undefined;
    this.clear();
  }

  /** Turns the chain into plain texts (compact rules rendered), for a rule it cannot keep compactly. */
  protected toTexts(): Fallback {
    this.#rules = undefined;
    if (this.fallback === undefined) {
      const f = { texts: this.texts, lines: this.lineNumbers };
      this.clear();
      this.fallback = f;
    }
    return this.fallback;
  }
}

/**
 * KUBE-SEP-<hash>: `[-s IP -j KUBE-MARK-MASQ]` then `-p P -j DNAT --to-destination IP:PORT`. A compact
 * chain is its own {@link EndpointChainView}: 100k endpoints, no second object each.
 */
export class EndpointChain extends CompactChain implements EndpointChainView {
  /** Which diff run last counted this chain as reached (the run's own set): lets the diff skip a cache. */
  visitedBy: object | undefined;
  #removed = false;
  #masqSource: string | undefined;
  #masqLine = 0;
  #proto: string | undefined;
  #dest: string | undefined;
  #dnat: string | undefined;
  #dnatLine = 0;
  #recentSet = false;

  get size(): number {
    if (this.fallback !== undefined) return this.fallback.texts.length;
    return (this.#masqSource === undefined ? 0 : 1) + (this.#dest === undefined ? 0 : 1);
  }

  append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy): boolean {
    if (this.fallback === undefined && this.#dest === undefined) {
      const kind = scanRule(bytes, start, end, this.name.length);
      if (kind === MASQ && this.#masqSource === undefined) {
        this.#masqSource = copy(scan.src0, scan.src1);
        this.#masqLine = line;
        return true;
      }
      if (kind === DNAT) {
        this.#proto = scan.proto0 === -1 ? undefined : protocolAt(bytes, scan.proto0, scan.proto1, copy);
        const dest = copy(scan.dest0, scan.dest1);
        this.#dest = dest;
        this.#recentSet = scan.recentSet;
        // canonical as printed (the common case): the canonical form is the very string, no regex later
        this.#dnat = isCanonicalV4EndpointAt(bytes, scan.dest0, scan.dest1) ? dest : undefined;
        const src = this.#masqSource;
        const colon = dest.lastIndexOf(':');
        if (src !== undefined && src.length === colon + 3 && src.endsWith('/32') && dest.startsWith(src.slice(0, colon))) this.#masqSource = SAME_AS_DNAT;
        this.#dnatLine = line;
        return true;
      }
    }
    this.insert(copy(start, end), line, undefined);
    return false;
  }

  text(i: number): string {
    if (this.fallback !== undefined) return this.fallback.texts[i] as string;
    if (i === 0 && this.#masqSource !== undefined) return `-A ${this.name} -s ${this.#source()} -j KUBE-MARK-MASQ`;
    const p = this.#proto === undefined ? '' : ` -p ${this.#proto} -m ${this.#proto}`;
    const recent = this.#recentSet ? ` -m recent --set --name ${this.name}${RECENT_MASK}` : '';
    return `-A ${this.name}${p}${recent} -j DNAT --to-destination ${this.#dest}`;
  }

  #source(): string | undefined {
    const src = this.#masqSource;
    if (src !== SAME_AS_DNAT) return src;
    const dest = this.#dest as string;
    return `${dest.slice(0, dest.lastIndexOf(':'))}/32`;
  }

  lineOf(i: number): number {
    if (this.fallback !== undefined) return this.fallback.lines[i] as number;
    return i === 0 && this.#masqSource !== undefined ? this.#masqLine : this.#dnatLine;
  }

  knownTarget(i: number): string | undefined {
    if (this.fallback !== undefined) return undefined;
    return i === 0 && this.#masqSource !== undefined ? 'KUBE-MARK-MASQ' : 'DNAT';
  }

  /** What the chain does (see chain-view.ts): itself, unless it holds texts. */
  endpointView(): EndpointChainView {
    if (this.fallback === undefined) return this;
    const f = this.fallback;
    f.view ??= readEndpointRules(this); // the chain answers from its texts now
    return f.view as EndpointChainView;
  }

  get exists(): boolean {
    return true;
  }

  /** The DNAT destination, canonical (computed once: usually the very string read). */
  get dnat(): string | undefined {
    if (this.#dest === undefined) return undefined;
    this.#dnat ??= canonicalEndpoint(this.#dest);
    return this.#dnat;
  }

  get masq(): boolean {
    return this.#masqSource !== undefined;
  }

  get recentSet(): boolean {
    return this.#recentSet;
  }

  remove(): void {
    this.#removed = true;
  }

  /** True once deleted (`-X`): jumps resolved to this object no longer reach it. */
  get removed(): boolean {
    return this.#removed;
  }

  protected clear(): void {
    this.#masqSource = this.#proto = this.#dest = this.#dnat = undefined;
    this.#recentSet = false;
  }
}

/** KUBE-SVC/KUBE-SVL-<hash>: other rules first (masquerade, affinity) as texts, then the cascade. */
export class ServiceChain extends CompactChain {
  readonly #endpoints: EndpointIndex;
  #texts: string[] = [];
  #lines: number[] = [];
  /** The cascade's targets: the endpoint chain itself when declared (resolved while parsing, as declarations come first in a dump), else its name. */
  #jumps: (EndpointChain | string)[] = [];
  /** `--probability` values; -1 for a rule without one. */
  #probs: number[] = [];
  #spreadLines: number[] = [];
  #view: ServiceChainView | undefined;

  constructor(name: string, line: number, info: DumpInfo, endpoints: EndpointIndex) {
    super(name, line, info);
    this.#endpoints = endpoints;
  }

  get size(): number {
    return this.fallback !== undefined ? this.fallback.texts.length : this.#texts.length + this.#jumps.length;
  }

  append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy): boolean {
    this.#view = undefined;
    if (this.fallback === undefined) {
      const prob = scanRule(bytes, start, end, this.name.length) !== SPREAD ? undefined
        : scan.prob0 === -1 ? 1 : probabilityAt(bytes, scan.prob0, scan.prob1, copy);
      if (prob !== undefined) {
        // the target's name string is the chain's own when it is declared: no copy, no lookup later
        this.#jumps.push(this.#endpoints.find(bytes, scan.target0) ?? copy(scan.target0, scan.target1));
        this.#probs.push(scan.prob0 === -1 ? -1 : prob);
        this.#spreadLines.push(line);
        return true;
      }
      if (this.#jumps.length === 0) {
        this.#texts.push(copy(start, end));
        this.#lines.push(line);
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
    const prob = this.#probs[k] as number;
    return `-A ${this.name}${prob < 0 ? '' : ` -m statistic --mode random --probability ${prob.toFixed(11)}`} -j ${nameOf(this.#jumps[k] as EndpointChain | string)}`;
  }

  lineOf(i: number): number {
    if (this.fallback !== undefined) return this.fallback.lines[i] as number;
    return i < this.#lines.length ? this.#lines[i] as number : this.#spreadLines[i - this.#lines.length] as number;
  }

  knownTarget(i: number): string | undefined {
    if (this.fallback !== undefined || i < this.#texts.length) return undefined;
    return nameOf(this.#jumps[i - this.#texts.length] as EndpointChain | string);
  }

  /** How the chain spreads new connections (see chain-view.ts). */
  serviceView(): ServiceChainView {
    if (this.#view !== undefined) return this.#view;
    // the rules kept as texts (all of them once the chain fell back), then the compact cascade
    const head = readServiceRules(this, this.fallback !== undefined ? this.size : this.#texts.length);
    const spreads = head.spreads;
    let remaining = head.remaining;
    for (let k = 0; k < this.#jumps.length; k++) {
      const prob = this.#probs[k] as number;
      const p = prob < 0 ? 1 : prob;
      const jump = this.#jumps[k] as EndpointChain | string;
      spreads.push({ sep: nameOf(jump), target: typeof jump === 'string' ? undefined : jump, share: remaining * p, line: this.#spreadLines[k] as number });
      remaining *= 1 - p;
    }
    this.#view = { exists: true, spreads, affinity: head.affinity, masqRules: head.masqRules };
    return this.#view;
  }

  protected clear(): void {
    this.#texts = [];
    this.#lines = [];
    this.#jumps = [];
    this.#probs = [];
    this.#spreadLines = [];
    this.#view = undefined;
  }
}

function nameOf(jump: EndpointChain | string): string {
  return typeof jump === 'string' ? jump : jump.name;
}
