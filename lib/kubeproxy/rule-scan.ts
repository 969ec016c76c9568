/**
 * Reads a rule of the exact shapes kube-proxy writes in its per-endpoint and per-service chains
 * straight from the dump's bytes, without making a string: where its source, protocol,
 * probability, target and DNAT destination are. Anything else is NONE, for the caller to keep as
 * text. Pure.
 */
import { bytesAre, bytesStartWith, sameBytes } from '../iptables/bytes.ts';
import type { Copy } from '../iptables/bytes.ts';
import { parseProbability } from '../iptables/values.ts';

// What scanRule found: the rule's shape and where its values are in the text.
export const NONE = 0, MASQ = 1, DNAT = 2, SPREAD = 3;
export interface Scan {
  src0: number; src1: number; proto0: number; proto1: number; prob0: number; prob1: number;
  target0: number; target1: number; dest0: number; dest1: number;
  /** `-m recent --set --name <this chain> --mask 255.255.255.255 --rsource` (ClientIP affinity). */
  recentSet: boolean;
}
/** The last {@link scanRule}'s findings (one shared record: the scan runs 300k times per dump). */
export const scan: Scan = { src0: 0, src1: 0, proto0: 0, proto1: 0, prob0: 0, prob1: 0, target0: 0, target1: 0, dest0: 0, dest1: 0, recentSet: false };
/** What iptables-save prints after kube-proxy's `recent --set --name CHAIN` (and `--rcheck ... --name CHAIN`): a host mask, the source. */
export const RECENT_MASK = ' --mask 255.255.255.255 --rsource';
/** The same in ip6tables-save's output. */
export const RECENT_MASK6 = ' --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource';

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
 * `text`, when given, is the piece as latin1 and has no backslash: a quoted comment ends at the next
 * quote, found with String#indexOf (memchr) instead of a byte loop, and fixed words are compared with
 * String#startsWith.
 *
 * Reads `-A NAME` followed only by `-s X`, `-p P`, `-m P`, `-m comment --comment C`,
 * `-m statistic --mode random --probability F`, kube-proxy's affinity `-m recent --set ...` and a
 * final `-j T` (`-j DNAT --to-destination D`). Returns the shape, or NONE for anything else.
 */
export function scanRule(b: Uint8Array, start: number, end: number, nameLength: number, text?: string): number {
  scan.src0 = scan.proto0 = scan.prob0 = scan.target0 = scan.dest0 = -1;
  scan.recentSet = false;
  let p = start + 4 + nameLength;
  if (text !== undefined) {
    const known = knownShape(b, start, end, p, nameLength, text);
    if (known !== UNKNOWN) return known;
    scan.src0 = scan.proto0 = scan.prob0 = scan.target0 = scan.dest0 = -1;
    scan.recentSet = false;
  }
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
      if (w === end) return shape(b, text);
      if (!bytesAre(b, v, w, 'DNAT') || !wordAt(b, text, w, ' --to-destination ')) return NONE;
      scan.dest0 = w + 18;
      scan.dest1 = tokenEnd(b, scan.dest0, end);
      return scan.dest1 === end && scan.dest1 > scan.dest0 ? shape(b, text) : NONE;
    } else if (flag === 109 /* m */) {
      if (bytesAre(b, v, w, 'comment')) {
        if (!wordAt(b, text, w, ' --comment ')) return NONE;
        let c = w + 11;
        if (b[c] === 34 /* " */) {
          let close = c + 1;
          if (text !== undefined) {
            close = text.indexOf('"', close);
            if (close === -1 || close >= end) return NONE;
          } else {
            for (let ch = b[close]; ch !== 34; ch = b[++close]) {
              if (ch === 92 /* \\ */ || close >= end) return NONE;
            }
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
        if (!wordAt(b, text, w, ' --set --name ') || b[name + nameLength] !== 32 ||
          !sameBytes(b, name, name + nameLength, start + 3, start + 3 + nameLength) || !wordAt(b, text, name + nameLength, RECENT_MASK)) return NONE;
        p = name + nameLength + RECENT_MASK.length + 1;
        if (p > end || b[p - 1] !== 32) return NONE;
        scan.recentSet = true;
      } else if (bytesAre(b, v, w, 'statistic') && scan.prob0 === -1) {
        if (!wordAt(b, text, w, ' --mode random --probability ')) return NONE;
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


const UNKNOWN = -1;

/**
 * kube-proxy's own rules, in the order iptables-save prints them, matched whole on the piece's text
 * (a few native compares and searches instead of the token loop):
 * - `-s SRC -m comment --comment "C" -j KUBE-MARK-MASQ` (an endpoint's hairpin masquerade);
 * - `-p P -m comment --comment "C" [-m recent --set --name CHAIN --mask 255.255.255.255 --rsource] -m P -j DNAT --to-destination D`;
 * - `-m comment --comment "C" [-m statistic --mode random --probability F] -j KUBE-SEP-X` (a cascade rule).
 * Sets what the loop would set and returns the same shape; UNKNOWN for any other text, which the
 * loop then reads (so a rule either loop reads is read the same: a test compares them).
 * `p`: where the rule's options start.
 */
function knownShape(b: Uint8Array, start: number, end: number, p: number, nameLength: number, text: string): number {
  if (b[p] !== 45 /* - */ || b[p + 2] !== 32) return UNKNOWN;
  switch (b[p + 1]) {
    case 109 /* m */: return knownSpread(b, end, p, text);
    case 115 /* s */: return knownMasquerade(b, end, p, text);
    case 112 /* p */: return knownDnat(b, start, end, p, nameLength, text);
    default: return UNKNOWN;
  }
}

// `-m comment --comment "C" [-m statistic --mode random --probability F] -j KUBE-SEP-X`
function knownSpread(b: Uint8Array, end: number, p: number, text: string): number {
  const q = text.startsWith('-m comment --comment "', p) ? closingQuote(text, p + 22, end) : -1;
  if (q === -1) return UNKNOWN;
  let j = q + 1;
  if (text.startsWith(' -m statistic --mode random --probability ', j)) {
    const f0 = j + 42;
    const f1 = text.indexOf(' ', f0);
    if (f1 === -1 || f1 >= end || !isPlainToken(b, f0, f1)) return UNKNOWN;
    scan.prob0 = f0;
    scan.prob1 = f1;
    j = f1;
  }
  if (j + 29 !== end || !text.startsWith(' -j KUBE-SEP-', j) || !isPlainToken(b, j + 4, end)) return UNKNOWN;
  return withTarget(SPREAD, j + 4, end);
}

// `-s SRC -m comment --comment "C" -j KUBE-MARK-MASQ`
function knownMasquerade(b: Uint8Array, end: number, p: number, text: string): number {
  const s1 = valueBeforeComment(text, p + 3, end);
  const q = s1 === -1 || !isPlainToken(b, p + 3, s1) ? -1 : closingQuote(text, s1 + 23, end);
  if (q === -1 || q + 19 !== end || !text.startsWith('" -j KUBE-MARK-MASQ', q)) return UNKNOWN;
  scan.src0 = p + 3;
  scan.src1 = s1;
  return withTarget(MASQ, q + 5, end);
}

// `-p P -m comment --comment "C" [-m recent --set --name CHAIN --mask 255.255.255.255 --rsource] -m P -j DNAT --to-destination D`
function knownDnat(b: Uint8Array, start: number, end: number, p: number, nameLength: number, text: string): number {
  const p1 = valueBeforeComment(text, p + 3, end);
  const q = p1 === -1 || !isKnownProtocol(text, p + 3, p1) ? -1 : closingQuote(text, p1 + 23, end);
  if (q === -1) return UNKNOWN;
  let k = q + 1;
  if (text.startsWith(' -m recent --set --name ', k)) {
    const name = k + 24;
    if (!sameBytes(b, name, name + nameLength, start + 3, start + 3 + nameLength) || !text.startsWith(RECENT_MASK, name + nameLength)) return UNKNOWN;
    k = name + nameLength + RECENT_MASK.length;
    scan.recentSet = true;
  }
  // ` -m P` after `-p P`
  const m = k + 4;
  const n = p1 - (p + 3);
  if (!text.startsWith(' -m ', k) || b[m + n] !== 32 || !sameBytes(b, m, m + n, p + 3, p1)) return UNKNOWN;
  const j = m + n;
  if (!text.startsWith(' -j DNAT --to-destination ', j) || j + 26 >= end || !isPlainToken(b, j + 26, end)) return UNKNOWN;
  scan.proto0 = p + 3;
  scan.proto1 = p1;
  scan.dest0 = j + 26;
  scan.dest1 = end;
  return withTarget(DNAT, j + 4, j + 8);
}

// Notes the target at [from, to) and returns the shape found.
function withTarget(shape: number, from: number, to: number): number {
  scan.target0 = from;
  scan.target1 = to;
  return shape;
}

// The end of the value at `from` when ` -m comment --comment "` follows it on the line, else -1.
function valueBeforeComment(text: string, from: number, end: number): number {
  const v1 = text.indexOf(' ', from);
  return v1 === -1 || v1 >= end || !text.startsWith(' -m comment --comment "', v1) ? -1 : v1;
}

// The quote that closes a comment opened before `from`, when it is on the line, else -1.
function closingQuote(text: string, from: number, end: number): number {
  const q = text.indexOf('"', from);
  return q >= end ? -1 : q;
}

// True when text[from, to) is `tcp`, `udp` or `sctp` (the protocols of kube-proxy's DNAT rules).
function isKnownProtocol(text: string, from: number, to: number): boolean {
  const n = to - from;
  return n === 3 ? text.startsWith('tcp', from) || text.startsWith('udp', from) : n === 4 && text.startsWith('sctp', from);
}

// True when bytes[from, to) is a token the loop reads as one: not empty, no space, quote or backslash.
function isPlainToken(b: Uint8Array, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c === 32 || c === 34 || c === 39 || c === 92) return false;
  }
  return true;
}

// A `--probability` value: `0.` and up to 11 digits read from the bytes (what iptables-save prints),
// anything else through the general reader.
export function probabilityAt(b: Uint8Array, from: number, to: number, copy: Copy): number | undefined {
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
export function isCanonicalV4EndpointAt(b: Uint8Array, from: number, to: number): boolean {
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

// True when `word` is at `at`: compared by String#startsWith on the piece's text when there is one
// (one native compare), else byte by byte.
function wordAt(b: Uint8Array, text: string | undefined, at: number, word: string): boolean {
  return text !== undefined ? text.startsWith(word, at) : bytesStartWith(b, at, word);
}

function shape(b: Uint8Array, text: string | undefined): number {
  if (scan.target1 - scan.target0 === 14 && wordAt(b, text, scan.target0, 'KUBE-MARK-MASQ')) {
    return scan.src0 !== -1 && scan.proto0 === -1 && scan.prob0 === -1 && !scan.recentSet ? MASQ : NONE;
  }
  if (scan.dest0 !== -1) return scan.src0 === -1 && scan.prob0 === -1 ? DNAT : NONE;
  if (scan.target1 - scan.target0 === 25 && wordAt(b, text, scan.target0, 'KUBE-SEP-')) {
    return scan.src0 === -1 && scan.proto0 === -1 && !scan.recentSet ? SPREAD : NONE;
  }
  return NONE;
}
