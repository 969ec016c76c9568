/**
 * Reads a rule of kube-proxy's entry chains (KUBE-SERVICES, KUBE-NODEPORTS and their filter
 * counterparts) in the exact shapes kube-proxy writes, from its text: the address, protocol and
 * port it matches and where it jumps, without the general rule reader (13k rules at 10k services,
 * read on every check). Anything else, or anything this scanner is not sure about (a negation,
 * another module, an escaped quote), is undefined: the caller reads it with the full reader. Pure.
 */
import { hasQuoteOrBackslash, plainTokenEnd } from '../iptables/tokenize.ts';

/** What an entry rule matches and its target (the facts the index keys it by). */
export interface EntryRule {
  readonly destination: string | undefined;
  readonly protocol: string | undefined;
  readonly dport: string | undefined;
  readonly target: string;
}

/**
 * `-A NAME` (NAME `nameLength` long) followed only by `-d X`, `-p P`, `-m P` (the protocol's own
 * module) with `--dport N`, `-m comment --comment C`, each at most once and in any order, and a
 * final `-j T`; else undefined.
 */
export function scanEntryRule(text: string, nameLength: number): EntryRule | undefined {
  if (!text.startsWith('-A ') || text.charCodeAt(3 + nameLength) !== 32) return undefined;
  let destination: string | undefined;
  let protocol: string | undefined;
  let dport: string | undefined;
  let comment = false;
  let protoModule = false; // the last -m was the protocol's module: --dport belongs to it
  const n = text.length;
  let i = 4 + nameLength;
  while (i < n) {
    const end = valueEnd(text, i);
    if (end === -1 || end === n) return undefined; // every option here takes a value
    const v = end + 1;
    const c1 = text.charCodeAt(i + 1);
    if (end - i === 2 && text.charCodeAt(i) === 45 /* - */) {
      if (c1 === 106 /* j */) {
        const t = valueEnd(text, v);
        return t === n && t > v ? { destination, protocol, dport, target: text.slice(v, t) } : undefined;
      }
      if (c1 === 109 /* m */ && text.startsWith('comment --comment ', v) && !comment) {
        const value = v + 18;
        let close: number;
        if (text.charCodeAt(value) === 34 /* " */) {
          close = text.indexOf('"', value + 1);
          if (close === -1 || hasQuoteOrBackslash(text, value + 1, close)) return undefined;
          close++;
        } else {
          close = valueEnd(text, value);
          if (close <= value) return undefined;
        }
        if (close >= n || text.charCodeAt(close) !== 32) return undefined;
        comment = true;
        protoModule = false;
        i = close + 1;
        continue;
      }
      const w = valueEnd(text, v);
      if (w === -1 || w === n || w === v) return undefined;
      if (c1 === 100 /* d */ && destination === undefined) destination = text.slice(v, w);
      else if (c1 === 112 /* p */ && protocol === undefined) protocol = text.slice(v, w);
      else if (c1 === 109 /* m */ && protocol !== undefined && !protoModule && w - v === protocol.length && text.startsWith(protocol, v)) protoModule = true;
      else return undefined;
      i = w + 1;
      continue;
    }
    if (protoModule && dport === undefined && end - i === 7 && text.startsWith('--dport', i)) {
      const w = valueEnd(text, v);
      if (w === -1 || w === n || w === v) return undefined;
      dport = text.slice(v, w);
      i = w + 1;
      continue;
    }
    return undefined;
  }
  return undefined;
}

// End of the token at `at`, as plainTokenEnd; -1 also when it starts with `!` (a negation: the full reader's).
function valueEnd(text: string, at: number): number {
  return text.charCodeAt(at) === 33 /* ! */ ? -1 : plainTokenEnd(text, at);
}
