/**
 * The facts of a rule that the kube-proxy check reads, taken from its text in one pass without
 * tokenizing it into objects: base matches, the target, and a fixed set of module options. Lines this
 * scanner is not sure about (escaped quotes, unusual spellings) go through the full parser instead, so
 * both paths give the same answer. Pure.
 */
import { parseRuleText } from './chain.ts';
import type { Chain, Rule } from './types.ts';

/** What the kube-proxy check needs to know about a rule. */
export interface RuleFacts {
  readonly chain: string;
  /** 1-based line in the dump. */
  readonly line: number;
  target: string | undefined;
  source: string | undefined;
  sourceNegated: boolean;
  destination: string | undefined;
  destinationNegated: boolean;
  protocol: string | undefined;
  inInterface: string | undefined;
  /** `--dport` value (tcp/udp/sctp module), when present and not negated. */
  dport: string | undefined;
  comment: string | undefined;
  /** DNAT `--to-destination`. */
  toDestination: string | undefined;
  /** statistic `--probability`. */
  probability: string | undefined;
  /** recent `--rcheck` present. */
  recentCheck: boolean;
  /** recent `--set` present. */
  recentSet: boolean;
  /** recent `--seconds`. */
  seconds: string | undefined;
  /** recent `--name` (the set; iptables' default is `DEFAULT`). */
  recentName: string | undefined;
  /** recent `--mask`. */
  recentMask: string | undefined;
  /** recent `--rdest` (the set records destination addresses, not sources). */
  recentRdest: boolean;
  /** recent `--hitcount`. */
  recentHitcount: string | undefined;
  /** Any `-m addrtype` match. */
  addrtype: boolean;
  /** `-m addrtype --dst-type LOCAL` (not negated). */
  dstTypeLocal: boolean;
  /** `-m addrtype --src-type LOCAL` (not negated): traffic the node itself sends. */
  srcTypeLocal: boolean;
  /** `-m set` match sets (ipvs mode). */
  matchSet: string | undefined;
}

function blank(chain: string, line: number): RuleFacts {
  return {
    chain, line, target: undefined, source: undefined, sourceNegated: false, destination: undefined, destinationNegated: false,
    protocol: undefined, inInterface: undefined, dport: undefined, comment: undefined, toDestination: undefined,
    probability: undefined, recentCheck: false, recentSet: false, seconds: undefined,
    recentName: undefined, recentMask: undefined, recentRdest: false, recentHitcount: undefined, addrtype: false, dstTypeLocal: false, srcTypeLocal: false, matchSet: undefined,
  };
}

// Which value a token introduces.
const V_NONE = 0, V_SRC = 1, V_DST = 2, V_PROTO = 3, V_IN = 4, V_MODULE = 5, V_TARGET = 6, V_DPORT = 7, V_COMMENT = 8,
  V_TODEST = 9, V_PROB = 10, V_SECONDS = 11, V_DSTTYPE = 12, V_SET = 13, V_SKIP = 14, V_SRCTYPE = 15,
  V_RECENT_NAME = 16, V_RECENT_MASK = 17, V_RECENT_HITCOUNT = 18;

// Long options by name; short ones are told by their letter (see optionAt).
const LONG_OPTIONS: readonly (readonly [string, number])[] = [
  ['--source', V_SRC], ['--destination', V_DST], ['--protocol', V_PROTO], ['--in-interface', V_IN], ['--match', V_MODULE],
  ['--jump', V_TARGET], ['--goto', V_TARGET], ['--dport', V_DPORT], ['--destination-port', V_DPORT], ['--comment', V_COMMENT],
  ['--to-destination', V_TODEST], ['--probability', V_PROB], ['--seconds', V_SECONDS], ['--dst-type', V_DSTTYPE],
  ['--src-type', V_SRCTYPE], ['--match-set', V_SET],
];
const UNKNOWN = -1;

// Which value the option text[start, end) introduces (UNKNOWN: not one read here), told without
// making a string of it (~8 options in each of kube-proxy's 13k entry rules at 10k services).
function optionAt(text: string, start: number, end: number): number {
  const n = end - start;
  if (n === 2) {
    switch (text.charCodeAt(start + 1)) {
      case 115 /* s */: return V_SRC;
      case 100 /* d */: return V_DST;
      case 112 /* p */: return V_PROTO;
      case 105 /* i */: return V_IN;
      case 109 /* m */: return V_MODULE;
      case 106 /* j */: case 103 /* g */: return V_TARGET;
      case 65 /* A */: case 73 /* I */: return V_SKIP;
      default: return UNKNOWN;
    }
  }
  for (let k = 0; k < LONG_OPTIONS.length; k++) {
    const option = LONG_OPTIONS[k] as readonly [string, number];
    const name = option[0];
    if (name.length === n && text.startsWith(name, start)) return option[1];
  }
  return UNKNOWN;
}

// The match module being read (what some options mean depends on it).
const M_NONE = 0, M_ADDRTYPE = 1, M_RECENT = 2, M_OTHER = 3, M_TARGET = 4;

// A `recent` option: a flag is noted now; for one with a value we read, the value's kind is returned.
function recentOptionAt(f: RuleFacts, text: string, start: number, end: number): number {
  const n = end - start;
  if (n === 8 && text.startsWith('--rcheck', start)) f.recentCheck = true;
  else if (n === 5 && text.startsWith('--set', start)) f.recentSet = true;
  else if (n === 7 && text.startsWith('--rdest', start)) f.recentRdest = true;
  else if (n === 6 && text.startsWith('--name', start)) return V_RECENT_NAME;
  else if (n === 6 && text.startsWith('--mask', start)) return V_RECENT_MASK;
  else if (n === 10 && text.startsWith('--hitcount', start)) return V_RECENT_HITCOUNT;
  return V_NONE;
}

/** Facts of the i-th rule of a chain. */
export function chainRuleFacts(chain: Chain, i: number): RuleFacts {
  return ruleFacts(chain.name, chain.text(i), chain.lineOf(i));
}

/** Facts of every rule of a chain (empty for a missing chain). */
export function chainFacts(chain: Chain | undefined): RuleFacts[] {
  if (chain === undefined) return [];
  const out: RuleFacts[] = new Array(chain.size);
  for (let i = 0; i < out.length; i++) out[i] = ruleFacts(chain.name, chain.text(i), chain.lineOf(i));
  return out;
}

/** Reads the facts of one rule's text (`-A CHAIN ...`). */
export function ruleFacts(chain: string, text: string, line: number): RuleFacts {
  if (text.indexOf('\\') !== -1 || text.indexOf("'") !== -1 || text.indexOf('\t') !== -1 || text.charCodeAt(0) === 91) {
    return factsFromRule(parseRuleText(chain, text, line, 'rules'));
  }
  const f = blank(chain, line);
  const n = text.length;
  let i = 0;
  let expect = V_NONE;
  let negate = false;
  let module = M_NONE;
  let first = true;
  while (i < n) {
    while (i < n && text.charCodeAt(i) === 32) i++;
    if (i >= n) break;
    let start = i;
    let end: number;
    let quoted = false;
    if (text.charCodeAt(i) === 34 /* " */) {
      const close = text.indexOf('"', i + 1);
      if (close === -1) return factsFromRule(parseRuleText(chain, text, line, 'rules'));
      start = i + 1;
      end = close;
      i = close + 1;
      quoted = true;
    } else {
      end = text.indexOf(' ', i);
      if (end === -1) end = n;
      i = end;
    }
    if (first) { first = false; expect = V_SKIP; continue; } // "-A"
    if (expect !== V_NONE) {
      // the token is the value of the previous option
      const v = expect;
      expect = V_NONE;
      if (v === V_SKIP) continue;
      const n = end - start;
      switch (v) {
        case V_SRC: f.source = text.slice(start, end); f.sourceNegated = negate; break;
        case V_DST: f.destination = text.slice(start, end); f.destinationNegated = negate; break;
        case V_PROTO: if (!negate) f.protocol = text.slice(start, end); break;
        case V_IN: if (!negate) f.inInterface = text.slice(start, end); break;
        case V_MODULE:
          module = n === 8 && text.startsWith('addrtype', start) ? M_ADDRTYPE : n === 6 && text.startsWith('recent', start) ? M_RECENT : M_OTHER;
          if (module === M_ADDRTYPE) f.addrtype = true;
          break;
        case V_TARGET: f.target = text.slice(start, end); module = M_TARGET; break;
        case V_DPORT: if (!negate) f.dport = text.slice(start, end); break;
        case V_COMMENT: if (f.comment === undefined) f.comment = text.slice(start, end); break;
        case V_TODEST: f.toDestination = text.slice(start, end); break;
        case V_PROB: f.probability = text.slice(start, end); break;
        case V_SECONDS: f.seconds = text.slice(start, end); break;
        case V_DSTTYPE: if (!negate && n === 5 && text.startsWith('LOCAL', start)) f.dstTypeLocal = true; break;
        case V_SRCTYPE: if (!negate && n === 5 && text.startsWith('LOCAL', start)) f.srcTypeLocal = true; break;
        case V_SET: f.matchSet = text.slice(start, end); break;
        case V_RECENT_NAME: f.recentName = text.slice(start, end); break;
        case V_RECENT_MASK: f.recentMask = text.slice(start, end); break;
        case V_RECENT_HITCOUNT: f.recentHitcount = text.slice(start, end); break;
        default: break;
      }
      negate = false;
      continue;
    }
    if (quoted) continue; // a stray value of an option we do not read
    const c0 = text.charCodeAt(start);
    if (c0 === 33 /* ! */ && end - start === 1) { negate = true; continue; }
    if (c0 !== 45 /* - */) continue; // a further value of an option we do not read
    const kind = optionAt(text, start, end);
    if (kind === UNKNOWN) {
      if (module === M_RECENT) expect = recentOptionAt(f, text, start, end);
      negate = false;
      continue;
    }
    // a long option after a match module: whose it is, the full parser knows
    if ((kind === V_DST || kind === V_SRC) && end - start > 2 && module !== M_NONE) return factsFromRule(parseRuleText(chain, text, line, 'rules'));
    expect = kind;
  }
  return f;
}

/** The same facts from a fully parsed rule (the slow, exact path). */
export function factsFromRule(rule: Rule): RuleFacts {
  const f = blank(rule.chain, rule.line);
  f.target = rule.target;
  f.source = rule.source?.value;
  f.sourceNegated = rule.source?.negated ?? false;
  f.destination = rule.destination?.value;
  f.destinationNegated = rule.destination?.negated ?? false;
  f.protocol = rule.protocol?.negated === true ? undefined : rule.protocol?.value;
  f.inInterface = rule.inInterface?.negated === true ? undefined : rule.inInterface?.value;
  f.comment = rule.comment;
  for (const m of rule.matches) {
    if (m.module === 'addrtype') f.addrtype = true;
    for (const o of m.options) {
      const v = o.values[0];
      if ((o.name === 'dport' || o.name === 'destination-port') && !o.negated) f.dport = v;
      else if (o.name === 'probability') f.probability = v;
      else if (o.name === 'rcheck' && m.module === 'recent') f.recentCheck = true;
      else if (o.name === 'set' && m.module === 'recent') f.recentSet = true;
      else if (o.name === 'rdest' && m.module === 'recent') f.recentRdest = true;
      else if (o.name === 'name' && m.module === 'recent') f.recentName = v;
      else if (o.name === 'mask' && m.module === 'recent') f.recentMask = v;
      else if (o.name === 'hitcount' && m.module === 'recent') f.recentHitcount = v;
      else if (o.name === 'seconds') f.seconds = v;
      else if (o.name === 'dst-type' && !o.negated && v === 'LOCAL') f.dstTypeLocal = true;
      else if (o.name === 'src-type' && !o.negated && v === 'LOCAL') f.srcTypeLocal = true;
      else if (o.name === 'match-set') f.matchSet = v;
    }
  }
  for (const o of rule.targetOptions) if (o.name === 'to-destination') f.toDestination = o.values[0];
  return f;
}
