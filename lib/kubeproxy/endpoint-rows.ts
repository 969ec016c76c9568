/**
 * kube-proxy's per-endpoint chains (KUBE-SEP-<hash>) of one nat table, kept as columns: at 10k
 * services they are 100k chains of two rules each, most of a dump. A chain is a row number: its
 * name as four 32-bit words, found through an open-addressing table on them, and the few
 * values that matter (hairpin masquerade source, protocol, DNAT destination as bytes, affinity
 * mark, lines) in typed arrays. No object, string or map entry is made per chain while parsing.
 *
 * A rule of exactly the shape kube-proxy writes is kept as values; any other rule (an unusual
 * option, a third rule, rules out of order) turns the row into plain texts, so no rule is ever
 * misread. A row seen as a {@link Chain} (a lookup by name, iteration) is an {@link EndpointRowChain},
 * made on demand and kept, so that a chain has one identity. Pure.
 */
import { latin1At } from '../iptables/bytes.ts';
import type { Copy } from '../iptables/bytes.ts';
import type { DumpInfo } from '../iptables/chain.ts';
import { RenderedChain } from '../iptables/rendered-chain.ts';
import { RULE_KEPT_TEXT as KEPT_TEXT, RULE_NOT_MINE as NOT_MINE, RULE_READ as READ } from '../iptables/chain.ts';
import { canonicalEndpoint, NO_FOREIGN, readEndpointRules } from './chain-view.ts';
import type { EndpointChainView, ForeignRule } from './chain-view.ts';
import { DNAT, isCanonicalV4EndpointAt, MASQ, RECENT_MASK, scan, scanRule } from './rule-scan.ts';

/** Length of a KUBE-SEP name: the prefix and 16 base32 characters of a SHA-256. */
export const SEP_NAME_LENGTH = 25;
const SEP_PREFIX = 'KUBE-SEP-';


// row state bits
const HAS_MASQ = 1; // the hairpin masquerade rule (its source is in the arena)
const HAS_DNAT = 2; // the DNAT rule (its destination is in the arena)
const RECENT = 4; // the DNAT rule records the client for affinity (`-m recent --set`)
const REMOVED = 8; // deleted (`-X`): no longer found by name
const TEXTS = 16; // holds a rule it cannot keep as values: all its rules are texts now
const CANONICAL = 32; // the destination's bytes are its canonical form (compared without a string)
const SOURCE_IS_DESTINATION = 64; // the masquerade source is the DNAT's IPv4 address and /32: not kept apart
const PROTOCOL_SHIFT = 8; // bits 8-9: the DNAT rule's `-p`, an index in PROTOCOLS (0: none)
const PROTOCOL_BITS = 3 << PROTOCOL_SHIFT;

const PROTOCOLS = ['', 'tcp', 'udp', 'sctp'] as const;

/** A row's rules as texts, once it holds a rule it cannot keep as values, and their view. */
interface Texts {
  texts: string[];
  lines: number[];
  view?: EndpointChainView | undefined;
}

/** The index of a protocol (`tcp`, `udp`, `sctp`) in the rows' codes, for {@link EndpointRows.hairpinAndProtocol}. */
export function protocolIndex(protocol: string): number {
  const i = PROTOCOLS.indexOf(protocol as (typeof PROTOCOLS)[number]);
  return i < 1 ? -1 : i;
}

/** True when `name` is a KUBE-SEP chain name these rows keep (ASCII, as kube-proxy's are: a byte per character). */
export function isSepName(name: string): boolean {
  if (name.length !== SEP_NAME_LENGTH || !name.startsWith(SEP_PREFIX)) return false;
  for (let i = SEP_PREFIX.length; i < SEP_NAME_LENGTH; i++) if (name.charCodeAt(i) > 126) return false;
  return true;
}

/** The KUBE-SEP chains of one nat table. */
export class EndpointRows {
  readonly #info: DumpInfo;
  #count = 0;
  #live = 0;
  /** Each row's name after "KUBE-SEP-": its 16 characters as four little-endian 32-bit words. */
  #words = new Int32Array(4 * 1024);
  // The name being looked up (#readName), as four words: compared with a row's in four steps.
  #w0 = 0;
  #w1 = 0;
  #w2 = 0;
  #w3 = 0;
  // A view of the bytes names were last read from (a dump's piece): four 32-bit reads per name.
  #data: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  #dataOf: Uint8Array | undefined;
  // A name to write a row's words into (name()).
  readonly #scratchBytes = Buffer.from(SEP_PREFIX.padEnd(SEP_NAME_LENGTH), 'latin1');
  readonly #scratch = new DataView(this.#scratchBytes.buffer, this.#scratchBytes.byteOffset, SEP_NAME_LENGTH);
  /** Open addressing, a pair per slot: row + 1 (0: empty, -1: its row was deleted) and the name's hash. */
  #slots = new Int32Array(2 * 4096);
  #state = new Uint16Array(1024);
  #declLine = new Int32Array(1024);
  #masqLine = new Int32Array(1024);
  #dnatLine = new Int32Array(1024);
  #srcAt = new Int32Array(1024);
  #srcLength = new Uint8Array(1024);
  #destAt = new Int32Array(1024);
  #destLength = new Uint8Array(1024);
  #reached = new Int32Array(1024);
  #arena = Buffer.alloc(1 << 16);
  #arenaUsed = 0;
  #last = -1;
  #epoch = 0;
  readonly #texts = new Map<number, Texts>();
  readonly #chains = new Map<number, EndpointRowChain>();
  readonly #dnats = new Map<number, string>();

  constructor(info: DumpInfo) {
    this.#info = info;
    // A dump of kube-proxy's rules has at least ~400 bytes per endpoint chain (its declaration, two
    // rules, the service chain's jump): sized from the dump's size, the tables never grow (each
    // growth copies the columns and rehashes every name). Capacity a dump of other rules leaves
    // unused is mostly never touched (zeroed pages are mapped on first write), and it is capped
    // at 1M endpoint chains (~100 MB of virtual memory), beyond which the rows grow as before.
    const rows = Math.min(1 << 20, Math.ceil((info.sizeHint ?? 0) / 400));
    if (rows > this.#state.length) {
      this.#size(rows);
      this.#slots = new Int32Array(2 * 2 ** Math.ceil(Math.log2(rows * 1.5)));
      this.#arena = Buffer.alloc(rows * 28); // a source and a destination address each
    }
  }

  /** Chains declared and not deleted. */
  get live(): number {
    return this.#live;
  }

  /** Name of the input, for messages. */
  get source(): string {
    return this.#info.source;
  }

  get plain(): boolean {
    return this.#info.plain;
  }

  /**
   * Takes the declaration of the name at bytes[start, end) when it is a KUBE-SEP name; a declared
   * chain is flushed (restore input re-declares a chain to flush it). False: not one of ours.
   */
  declareAt(bytes: Uint8Array, start: number, end: number, line: number): boolean {
    if (end - start !== SEP_NAME_LENGTH || !isSepAt(bytes, start) || !isAsciiAt(bytes, start)) return false;
    if (this.#count === this.#state.length) this.#growRows();
    if ((this.#count + 1) * 3 > this.#slots.length) this.#growSlots(); // (load under 2/3)
    // one probe: a declared name is flushed, else the row goes into the empty slot the probe ended on
    this.#readName(bytes, start);
    const h = this.#hash();
    const slot = this.#probe(h);
    const found = (this.#slots[slot] as number) - 1;
    if (found !== -1) {
      this.flush(found);
      return true;
    }
    const row = this.#count++;
    const words = this.#words;
    words[4 * row] = this.#w0;
    words[4 * row + 1] = this.#w1;
    words[4 * row + 2] = this.#w2;
    words[4 * row + 3] = this.#w3;
    this.#declLine[row] = line;
    this.#slots[slot] = row + 1;
    this.#slots[slot + 1] = h;
    this.#live++;
    return true;
  }

  /** The same for a name given as a string (`-N`, declarations read the slow way). */
  declare(name: string, line: number): boolean {
    if (!isSepName(name)) return false;
    return this.declareAt(Buffer.from(name, 'latin1'), 0, SEP_NAME_LENGTH, line);
  }

  /**
   * Takes the rule line `-A NAME ...` at bytes[start, end) when NAME is a declared KUBE-SEP chain:
   * READ when kept as values, KEPT_TEXT when kept as its text (quotes not checked), else NOT_MINE.
   */
  appendAt(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): number {
    const at = start + 3;
    if (bytes[at + SEP_NAME_LENGTH] !== 32 || !isSepAt(bytes, at)) return NOT_MINE;
    let row = this.#last;
    this.#readName(bytes, at);
    if (row === -1 || !this.#isName(row)) {
      // iptables-save prints the chains' rules in declaration order: usually the next row
      row = -1;
      for (let r = this.#last + 1, stop = Math.min(this.#count, this.#last + 5); r < stop; r++) {
        if (((this.#state[r] as number) & REMOVED) === 0 && this.#isName(r)) { row = r; break; }
      }
      if (row === -1) row = (this.#slots[this.#probe(this.#hash())] as number) - 1;
      if (row === -1) return NOT_MINE;
      this.#last = row;
    }
    return this.#append(row, bytes, start, end, line, copy, text);
  }

  /** The row of a chain name, -1 when not declared. */
  find(name: string): number {
    if (!isSepName(name)) return -1;
    return this.#find(Buffer.from(name, 'latin1'), 0);
  }

  /** The row of the KUBE-SEP name at bytes[at, at + 25), -1 when not declared. */
  findAt(bytes: Uint8Array, at: number): number {
    return this.#find(bytes, at);
  }

  /** The chain object of a row (made once). */
  chain(row: number): EndpointRowChain {
    let c = this.#chains.get(row);
    if (c === undefined) {
      c = new EndpointRowChain(this, row);
      this.#chains.set(row, c);
    }
    return c;
  }

  /** Every live row's chain object, in declaration order. */
  *chains(): IterableIterator<EndpointRowChain> {
    for (let row = 0; row < this.#count; row++) if (((this.#state[row] as number) & REMOVED) === 0) yield this.chain(row);
  }

  /** Chain objects of the rows kept as texts (only they may jump to other chains). */
  *textChains(): IterableIterator<EndpointRowChain> {
    for (const row of this.#texts.keys()) if (((this.#state[row] as number) & REMOVED) === 0) yield this.chain(row);
  }

  name(row: number): string {
    // (written into a scratch name and copied out in one slice: a flat string, as a map key wants)
    const w = this.#words;
    const k = 4 * row;
    const scratch = this.#scratch;
    for (let i = 0; i < 4; i++) scratch.setInt32(SEP_PREFIX.length + 4 * i, w[k + i] as number, true);
    return latin1At(this.#scratchBytes, 0, SEP_NAME_LENGTH);
  }

  line(row: number): number {
    return this.#declLine[row] as number;
  }

  removed(row: number): boolean {
    return ((this.#state[row] as number) & REMOVED) !== 0;
  }

  /** True while the row's rules are kept as values (not texts). */
  compact(row: number): boolean {
    return ((this.#state[row] as number) & TEXTS) === 0;
  }

  /** How many rules the live rows hold. */
  ruleCount(): number {
    let n = 0;
    for (let row = 0; row < this.#count; row++) if (!this.removed(row)) n += this.size(row);
    return n;
  }

  /** Deletes every row (a table's chains cleared). */
  removeAll(): void {
    for (let row = 0; row < this.#count; row++) this.remove(row);
  }

  /** Starts a visit (a diff run): rows are marked with the number returned. */
  beginVisit(): number {
    return ++this.#epoch;
  }

  markReached(row: number, visit: number): void {
    this.#reached[row] = visit;
  }

  /** The live rows the visit did not reach. */
  unreached(visit: number): number[] {
    const out: number[] = [];
    for (let row = 0; row < this.#count; row++) {
      if (((this.#state[row] as number) & REMOVED) === 0 && this.#reached[row] !== visit) out.push(row);
    }
    return out;
  }

  size(row: number): number {
    const t = this.#textsOf(row);
    if (t !== undefined) return t.texts.length;
    const s = this.#state[row] as number;
    return (s & HAS_MASQ ? 1 : 0) + (s & HAS_DNAT ? 1 : 0);
  }

  /** The text of rule i (a rule kept as values is rendered as an equivalent rule without its comment). */
  text(row: number, i: number): string {
    const t = this.#textsOf(row);
    if (t !== undefined) return t.texts[i] as string;
    const s = this.#state[row] as number;
    const name = this.name(row);
    if (i === 0 && (s & HAS_MASQ) !== 0) return `-A ${name} -s ${this.#source(row)} -j KUBE-MARK-MASQ`;
    const proto = PROTOCOLS[((s & PROTOCOL_BITS) >> PROTOCOL_SHIFT)] as string;
    const p = proto === '' ? '' : ` -p ${proto} -m ${proto}`;
    const recent = s & RECENT ? ` -m recent --set --name ${name}${RECENT_MASK}` : '';
    return `-A ${name}${p}${recent} -j DNAT --to-destination ${this.#slice(this.#destAt, this.#destLength, row)}`;
  }

  lineOf(row: number, i: number): number {
    const t = this.#textsOf(row);
    if (t !== undefined) return t.lines[i] as number;
    return i === 0 && ((this.#state[row] as number) & HAS_MASQ) !== 0 ? this.#masqLine[row] as number : this.#dnatLine[row] as number;
  }

  knownTarget(row: number, i: number): string | undefined {
    if (this.#textsOf(row) !== undefined) return undefined;
    return i === 0 && ((this.#state[row] as number) & HAS_MASQ) !== 0 ? 'KUBE-MARK-MASQ' : 'DNAT';
  }

  /** The DNAT destination, canonical; undefined without a DNAT rule. */
  dnat(row: number): string | undefined {
    const t = this.#textsOf(row);
    if (t !== undefined) return this.#textView(row, t).dnat;
    const s = this.#state[row] as number;
    if ((s & HAS_DNAT) === 0) return undefined;
    let d = this.#dnats.get(row);
    if (d === undefined) {
      const dest = this.#slice(this.#destAt, this.#destLength, row);
      d = s & CANONICAL ? dest : canonicalEndpoint(dest);
      this.#dnats.set(row, d);
    }
    return d;
  }

  /** True when the row DNATs to `id` (canonical `ip:port`): compared on the bytes when they are canonical. */
  dnatIs(row: number, id: string): boolean {
    const s = this.#state[row] as number;
    if ((s & (CANONICAL | TEXTS | HAS_DNAT)) !== (CANONICAL | HAS_DNAT)) return this.dnat(row) === id;
    const n = this.#destLength[row] as number;
    if (n !== id.length) return false;
    const arena = this.#arena;
    const at = this.#destAt[row] as number;
    for (let i = 0; i < n; i++) if (arena[at + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  /** The protocol the DNAT rule is limited to, undefined: any (or no DNAT rule). */
  dnatProtocol(row: number): string | undefined {
    const t = this.#textsOf(row);
    if (t !== undefined) return this.#textView(row, t).dnatProtocol;
    const s = this.#state[row] as number;
    return (s & HAS_DNAT) === 0 ? undefined : PROTOCOLS[(s & PROTOCOL_BITS) >> PROTOCOL_SHIFT] || undefined;
  }

  /**
   * The common case in one read of the row's state: the hairpin rule's source is the DNAT's address
   * (so the endpoint's, once the DNAT is) and the DNAT rule is for `protocol` (a PROTOCOLS index,
   * see {@link protocolIndex}) or for any. False sends the caller to the separate readers.
   */
  hairpinAndProtocol(row: number, protocol: number): boolean {
    const s = this.#state[row] as number;
    if ((s & (TEXTS | HAS_MASQ | SOURCE_IS_DESTINATION)) !== (HAS_MASQ | SOURCE_IS_DESTINATION)) return false;
    const p = (s & PROTOCOL_BITS) >> PROTOCOL_SHIFT;
    return p === 0 || p === protocol;
  }

  /** Rules other than kube-proxy's in the chain that take connections (only a row kept as texts can have them). */
  foreign(row: number): readonly ForeignRule[] {
    const t = this.#textsOf(row);
    return t === undefined ? NO_FOREIGN : this.#textView(row, t).foreign;
  }

  /** The hairpin masquerade rule's source as printed, undefined without the rule. */
  masqSource(row: number): string | undefined {
    const t = this.#textsOf(row);
    if (t !== undefined) return this.#textView(row, t).masqSource;
    return ((this.#state[row] as number) & HAS_MASQ) !== 0 ? this.#source(row) : undefined;
  }

  /** True when the hairpin masquerade rule (`-s ip -j KUBE-MARK-MASQ`) is there. */
  masq(row: number): boolean {
    const t = this.#textsOf(row);
    if (t !== undefined) return this.#textView(row, t).masq;
    return ((this.#state[row] as number) & HAS_MASQ) !== 0;
  }

  recentSet(row: number): boolean {
    const t = this.#textsOf(row);
    if (t !== undefined) return this.#textView(row, t).recentSet;
    return ((this.#state[row] as number) & RECENT) !== 0;
  }

  /** What keeps the row's `recent --set` from recording each client (a row kept as values has kube-proxy's exact rule). */
  recentFault(row: number): string | undefined {
    const t = this.#textsOf(row);
    return t === undefined ? undefined : this.#textView(row, t).recentFault;
  }

  /** Appends a rule given as bytes (the chain object's append). */
  appendRow(row: number, bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): boolean {
    return this.#append(row, bytes, start, end, line, copy, text) === READ;
  }

  /** Inserts (`at`) or appends a rule given as a string (`-I`, a counters prefix): the row holds texts from then on. */
  insert(row: number, rule: string, line: number, at: number | undefined): void {
    const t = this.#toTexts(row);
    t.view = undefined;
    if (at === undefined) { t.texts.push(rule); t.lines.push(line); } else { t.texts.splice(at, 0, rule); t.lines.splice(at, 0, line); }
  }

  /** Removes every rule. */
  flush(row: number): void {
    this.#texts.delete(row);
    this.#dnats.delete(row);
    this.#state[row] = (this.#state[row] as number) & REMOVED;
  }

  /** Deletes the chain (`-X`): its name is free again; references to the row see it as removed. */
  remove(row: number): void {
    if (this.removed(row)) return;
    // its slot stays taken (probe sequences pass over it), never matched again
    this.#rowName(row);
    this.#slots[this.#probe(this.#hash())] = -1;
    this.flush(row);
    this.#state[row] = REMOVED;
    this.#live--;
    if (this.#last === row) this.#last = -1;
  }

  #append(row: number, bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): number {
    const s = this.#state[row] as number;
    if ((s & (TEXTS | HAS_DNAT)) === 0) {
      const kind = scanRule(bytes, start, end, SEP_NAME_LENGTH, text);
      if (kind === MASQ && (s & HAS_MASQ) === 0 && scan.src1 - scan.src0 < 256) {
        this.#srcAt[row] = this.#store(bytes, scan.src0, scan.src1);
        this.#srcLength[row] = scan.src1 - scan.src0;
        this.#masqLine[row] = line;
        this.#state[row] = s | HAS_MASQ;
        return READ;
      }
      const proto = kind === DNAT ? protocolCode(bytes, scan.proto0, scan.proto1) : -1;
      if (proto !== -1 && scan.dest1 - scan.dest0 < 256) {
        // kube-proxy's hairpin rule masquerades the endpoint itself: its source, stored last, is
        // dropped from the arena and read back from the destination (~17 bytes per endpoint)
        let same = 0;
        if ((s & HAS_MASQ) !== 0 && (this.#srcAt[row] as number) + (this.#srcLength[row] as number) === this.#arenaUsed && this.#sourceIsHostOf(row, bytes, scan.dest0, scan.dest1)) {
          this.#arenaUsed = this.#srcAt[row] as number;
          same = SOURCE_IS_DESTINATION;
        }
        this.#destAt[row] = this.#store(bytes, scan.dest0, scan.dest1);
        this.#destLength[row] = scan.dest1 - scan.dest0;
        this.#dnatLine[row] = line;
        // canonical as printed (the common case): compared on its bytes, no string
        this.#state[row] = s | HAS_DNAT | same | (proto << PROTOCOL_SHIFT) | (scan.recentSet ? RECENT : 0) | (isCanonicalV4EndpointAt(bytes, scan.dest0, scan.dest1) ? CANONICAL : 0);
        return READ;
      }
    }
    this.insert(row, copy(start, end), line, undefined);
    return KEPT_TEXT;
  }

  #toTexts(row: number): Texts {
    let t = this.#texts.get(row);
    if (t === undefined) {
      const n = this.size(row);
      t = { texts: [], lines: [] };
      for (let i = 0; i < n; i++) { t.texts.push(this.text(row, i)); t.lines.push(this.lineOf(row, i)); }
      this.#dnats.delete(row);
      this.#state[row] = ((this.#state[row] as number) & REMOVED) | TEXTS;
      this.#texts.set(row, t);
    }
    return t;
  }

  // The row's texts when it holds texts (a flag read first: no map lookup for the 100k that do not).
  #textsOf(row: number): Texts | undefined {
    return ((this.#state[row] as number) & TEXTS) === 0 ? undefined : this.#texts.get(row);
  }

  #textView(row: number, t: Texts): EndpointChainView {
    t.view ??= readEndpointRules(this.chain(row));
    return t.view;
  }

  // The masquerade rule's source, as printed.
  #source(row: number): string {
    if (((this.#state[row] as number) & SOURCE_IS_DESTINATION) === 0) return this.#slice(this.#srcAt, this.#srcLength, row);
    const dest = this.#slice(this.#destAt, this.#destLength, row);
    return `${dest.slice(0, dest.indexOf(':'))}/32`;
  }

  // True when the row's stored source is `a.b.c.d/32` and the destination at bytes[from, to) is `a.b.c.d:port`.
  #sourceIsHostOf(row: number, bytes: Uint8Array, from: number, to: number): boolean {
    const arena = this.#arena;
    const at = this.#srcAt[row] as number;
    const n = (this.#srcLength[row] as number) - 3;
    if (n <= 0 || from + n >= to || bytes[from + n] !== 58 /* : */) return false;
    if (arena[at + n] !== 47 /* / */ || arena[at + n + 1] !== 51 /* 3 */ || arena[at + n + 2] !== 50 /* 2 */) return false;
    for (let i = 0; i < n; i++) {
      const c = bytes[from + i] as number;
      if (c === 58 || arena[at + i] !== c) return false;
    }
    return true;
  }

  #slice(at: Int32Array, length: Uint8Array, row: number): string {
    const from = at[row] as number;
    return this.#arena.toString('utf8', from, from + (length[row] as number));
  }

  // Copies bytes[from, to) into the arena; returns where.
  #store(bytes: Uint8Array, from: number, to: number): number {
    const n = to - from;
    if (this.#arenaUsed + n > this.#arena.length) {
      const bigger = Buffer.alloc(Math.max(this.#arena.length * 2, this.#arenaUsed + n));
      this.#arena.copy(bigger, 0, 0, this.#arenaUsed);
      this.#arena = bigger;
    }
    const at = this.#arenaUsed;
    copyBytes(bytes, from, this.#arena, at, n);
    this.#arenaUsed += n;
    return at;
  }

  #find(bytes: Uint8Array, at: number): number {
    this.#readName(bytes, at);
    return (this.#slots[this.#probe(this.#hash())] as number) - 1;
  }

  // Reads the KUBE-SEP name at bytes[at, at + 25) (its prefix known to match) as the name being looked up.
  #readName(b: Uint8Array, at: number): void {
    if (b !== this.#dataOf) {
      this.#data = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.#dataOf = b;
    }
    const data = this.#data;
    const a = at + SEP_PREFIX.length;
    this.#w0 = data.getInt32(a, true);
    this.#w1 = data.getInt32(a + 4, true);
    this.#w2 = data.getInt32(a + 8, true);
    this.#w3 = data.getInt32(a + 12, true);
  }

  // The same for a row's own name.
  #rowName(row: number): void {
    const words = this.#words;
    this.#w0 = words[4 * row] as number;
    this.#w1 = words[4 * row + 1] as number;
    this.#w2 = words[4 * row + 2] as number;
    this.#w3 = words[4 * row + 3] as number;
  }

  // Hash of the name being looked up.
  #hash(): number {
    return hashWords(this.#w0, this.#w1, this.#w2, this.#w3);
  }

  // True when row's name is the name being looked up.
  #isName(row: number): boolean {
    const words = this.#words;
    const k = 4 * row;
    return words[k] === this.#w0 && words[k + 1] === this.#w1 && words[k + 2] === this.#w2 && words[k + 3] === this.#w3;
  }

  // The slot (index of its pair) of the live row with the name being looked up (hash h), else of
  // the empty slot that ends its probe sequence. Names are compared only where the hashes are equal.
  #probe(h: number): number {
    const slots = this.#slots;
    const mask = slots.length - 2;
    for (let i = (h << 1) & mask; ; i = (i + 2) & mask) {
      const r = slots[i] as number;
      if (r === 0 || (r > 0 && slots[i + 1] === h && this.#isName(r - 1))) return i;
    }
  }

  #growSlots(): void {
    const slots = new Int32Array(this.#slots.length * 4);
    const mask = slots.length - 2;
    for (let row = 0; row < this.#count; row++) {
      if (this.removed(row)) continue;
      this.#rowName(row);
      const h = this.#hash();
      let i = (h << 1) & mask;
      while (slots[i] !== 0) i = (i + 2) & mask;
      slots[i] = row + 1;
      slots[i + 1] = h;
    }
    this.#slots = slots;
  }

  #growRows(): void {
    this.#size(this.#state.length * 2);
  }

  // Columns for n rows (n >= the current count).
  #size(n: number): void {
    const grow = <T extends Int32Array | Uint16Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    const words = new Int32Array(4 * n);
    words.set(this.#words);
    this.#words = words;
    this.#state = grow(this.#state);
    this.#declLine = grow(this.#declLine);
    this.#masqLine = grow(this.#masqLine);
    this.#dnatLine = grow(this.#dnatLine);
    this.#srcAt = grow(this.#srcAt);
    this.#srcLength = grow(this.#srcLength);
    this.#destAt = grow(this.#destAt);
    this.#destLength = grow(this.#destLength);
    this.#reached = grow(this.#reached);
  }
}

/**
 * A KUBE-SEP row seen as a chain, for code that works with chains (lookups by name, rendering,
 * iteration, restore input's `-I`/`-F`/`-X`). It is its own {@link EndpointChainView}.
 */
export class EndpointRowChain extends RenderedChain implements EndpointChainView {
  readonly rows: EndpointRows;
  readonly row: number;
  #name: string | undefined;

  constructor(rows: EndpointRows, row: number) {
    super();
    this.rows = rows;
    this.row = row;
  }

  get name(): string {
    this.#name ??= this.rows.name(this.row);
    return this.#name;
  }

  get line(): number {
    return this.rows.line(this.row);
  }

  get plain(): boolean {
    return this.rows.plain;
  }

  protected get source(): string {
    return this.rows.source;
  }

  get size(): number {
    return this.rows.size(this.row);
  }

  text(i: number): string {
    return this.rows.text(this.row, i);
  }

  lineOf(i: number): number {
    return this.rows.lineOf(this.row, i);
  }

  knownTarget(i: number): string | undefined {
    return this.rows.knownTarget(this.row, i);
  }

  append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): boolean {
    return this.rows.appendRow(this.row, bytes, start, end, line, copy, text);
  }

  insert(rule: string, line: number, at: number | undefined): void {
    this.rows.insert(this.row, rule, line, at);
  }

  flush(): void {
    this.rows.flush(this.row);
  }

  /** True once deleted (`-X`): jumps resolved to this row no longer reach it. */
  get removed(): boolean {
    return this.rows.removed(this.row);
  }

  endpointView(): EndpointChainView {
    return this;
  }

  get exists(): boolean {
    return true;
  }

  get dnat(): string | undefined {
    return this.rows.dnat(this.row);
  }

  get masq(): boolean {
    return this.rows.masq(this.row);
  }

  get dnatProtocol(): string | undefined {
    return this.rows.dnatProtocol(this.row);
  }

  get foreign(): readonly ForeignRule[] {
    return this.rows.foreign(this.row);
  }

  get masqSource(): string | undefined {
    return this.rows.masqSource(this.row);
  }

  get recentSet(): boolean {
    return this.rows.recentSet(this.row);
  }

  get recentFault(): string | undefined {
    return this.rows.recentFault(this.row);
  }
}

// "KUBE-SEP-" at bytes[at, at + 9)
function isSepAt(b: Uint8Array, at: number): boolean {
  return b[at] === 75 && b[at + 1] === 85 && b[at + 2] === 66 && b[at + 3] === 69 && b[at + 4] === 45 &&
    b[at + 5] === 83 && b[at + 6] === 69 && b[at + 7] === 80 && b[at + 8] === 45;
}

// Copies n bytes (a name, an address: a loop costs less than a subarray for so few).
function copyBytes(from: Uint8Array, at: number, to: Uint8Array, into: number, n: number): void {
  for (let i = 0; i < n; i++) to[into + i] = from[at + i] as number;
}

// True when the name at bytes[at, at + 25) is ASCII (other names are left to plain chains).
function isAsciiAt(b: Uint8Array, at: number): boolean {
  for (let i = at + SEP_PREFIX.length; i < at + SEP_NAME_LENGTH; i++) if ((b[i] as number) > 126) return false;
  return true;
}

// Hash of the 16 base32 characters after "KUBE-SEP-" (themselves a SHA-256 prefix), given as four
// little-endian 32-bit words: combined and mixed (murmur3's constants and finalizer); the table
// indexes by the low bits.
function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0, 0xcc9e2d51) ^ w1;
  h = Math.imul(h, 0x1b873593) ^ w2;
  h = Math.imul(h, 0xcc9e2d51) ^ w3;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

// Index in PROTOCOLS of the `-p` value at bytes[from, to) (0: none), -1 for another protocol.
function protocolCode(b: Uint8Array, from: number, to: number): number {
  if (from === -1) return 0;
  const n = to - from;
  if (n === 3 && b[from] === 116 && b[from + 1] === 99 && b[from + 2] === 112) return 1;
  if (n === 3 && b[from] === 117 && b[from + 1] === 100 && b[from + 2] === 112) return 2;
  if (n === 4 && b[from] === 115 && b[from + 1] === 99 && b[from + 2] === 116 && b[from + 3] === 112) return 3;
  return -1;
}
