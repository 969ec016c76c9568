/**
 * What a kube-proxy service chain (KUBE-SVC/KUBE-SVL) and endpoint chain (KUBE-SEP) do, read from a
 * parsed chain: how new connections are spread, where they are DNATed, affinity and hairpin
 * masquerade. Compact service chains (compact-chains.ts) and endpoint rows (endpoint-rows.ts)
 * answer from what they kept; others are read from their rule texts. Pure.
 */
import { ruleFacts } from '../iptables/rule-facts.ts';
import type { RuleFacts } from '../iptables/rule-facts.ts';
import { plainTokenEnd } from '../iptables/tokenize.ts';
import type { Chain } from '../iptables/types.ts';
import type { CascadeColumns } from './cascade-columns.ts';
import type { EndpointRows } from './endpoint-rows.ts';
import { RECENT_MASK, RECENT_MASK6 } from './rule-scan.ts';
import { canonicalIP, parseProbability } from '../iptables/values.ts';

/** One rule of a service chain that sends traffic to an endpoint chain. */
export interface Spread {
  readonly sep: string;
  /** The endpoint chain itself, when the parser already resolved the jump (compact chains). */
  readonly target?: Chain | undefined;
  /** Share of new connections (without affinity) this rule takes, 0..1. */
  readonly share: number;
  /** Line of the rule in the dump. */
  readonly line: number;
}

/** A rule kube-proxy does not write in one of its chains, whose target can take the connections it matches. */
export interface ForeignRule {
  readonly line: number;
  readonly target: string;
}

/** Targets that let a packet go on through the chain (or only count or mark it): not foreign in effect. */
const PASSING_TARGETS = new Set(['LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'TRACE', 'AUDIT', 'NFACCT', 'KUBE-MARK-MASQ']);

/** True when a rule with this target (undefined: none) sends what it matches out of the chain. */
export function takesConnections(target: string | undefined): target is string {
  if (target === undefined) return false;
  // (kube-proxy's own chains first: 13k entry rules at 10k services, no set lookup for them)
  if (target.startsWith('KUBE-')) return target !== 'KUBE-MARK-MASQ';
  return !PASSING_TARGETS.has(target);
}

/** Shared and never written: most chains have no foreign rule. */
export const NO_FOREIGN: readonly ForeignRule[] = [];

/** How a KUBE-SVC/KUBE-SVL chain distributes traffic. */
export interface ServiceChainView {
  readonly exists: boolean;
  /** Rules other than kube-proxy's (masquerade, affinity, cascade) that take connections. */
  readonly foreign: readonly ForeignRule[];
  readonly spreads: readonly Spread[];
  /** Endpoint chain → `--seconds` of its `recent --rcheck` affinity rule. */
  readonly affinity: ReadonlyMap<string, number>;
  /** Endpoint chain → what keeps its affinity rule from pinning each client (see {@link affinityFault}); usually empty. */
  readonly affinityFaults: ReadonlyMap<string, string>;
  /** Lines of the masquerade rules (`-j KUBE-MARK-MASQ`) in the chain. */
  readonly masqLines: readonly number[];
  /** True when a masquerade rule matches a destination (kube-proxy's ClusterIP masquerade rule). */
  readonly masqDestination: boolean;
  /** The texts of those rules, for the diff to read their destination, protocol and port. */
  readonly masqDestinationTexts: readonly string[];
  /** The spreads as endpoint rows, when a compact chain has nothing else (see {@link RowCascade}). */
  readonly cascade?: RowCascade | undefined;
}

/**
 * A compact service chain's cascade as endpoint rows (endpoint-rows.ts), parallel to `spreads`:
 * rules [start, start + count) of the table's cascade columns, read by the diff without a Spread
 * object or a chain name string per endpoint.
 */
export interface RowCascade {
  readonly rows: EndpointRows;
  readonly columns: CascadeColumns;
  readonly start: number;
  readonly count: number;
  /** Share of new connections the rules before the cascade leave to it (1 when they take none). */
  readonly remaining: number;
}

/** A chain that knows its own view (the compact chains of compact-chains.ts). */
interface ServiceViewSource { serviceView(): ServiceChainView }
/** A chain that knows its own view (the endpoint rows of endpoint-rows.ts). */
interface EndpointViewSource { endpointView(): EndpointChainView }

/** Reads a KUBE-SVC/SVL chain: the probability cascade and the affinity rules. */
export function readServiceChain(chain: Chain): ServiceChainView {
  if ('serviceView' in chain) return (chain as Chain & ServiceViewSource).serviceView();
  return readServiceRules(chain, chain.size);
}

/**
 * The same for the first `count` rules of a chain, read from their texts; `remaining` is the share
 * of new connections no rule took, for a caller that reads the rest of the cascade itself.
 */
export function readServiceRules(chain: Chain, count: number): ServiceChainView & { spreads: Spread[]; remaining: number } {
  const spreads: Spread[] = [];
  let affinity: Map<string, number> | undefined; // (most chains have none: no map each)
  let affinityFaults: Map<string, string> | undefined;
  let masqLines: number[] | undefined; // (an array made for one: a first push reserves 17)
  let masqDestination = false;
  let masqTexts: string[] | undefined;
  let foreign: ForeignRule[] | undefined;
  let remaining = 1;
  for (let i = 0; i < count; i++) {
    const text = chain.text(i);
    // The ClusterIP masquerade rule, whose destination iptables-save prints first: "[!] -s X -d Y ...
    // -j KUBE-MARK-MASQ" (first: no fast path below takes a rule that ends so).
    if (text.endsWith(' -j KUBE-MARK-MASQ') && leadingDestination(text, chain.name.length) && (chain.plain || (text.indexOf('\\') === -1 && text.indexOf("'") === -1))) {
      if (masqLines === undefined) masqLines = [chain.lineOf(i)]; else masqLines.push(chain.lineOf(i));
      // (only ahead of the cascade, as kube-proxy writes it: after a spread, not every connection meets it)
      if (spreads.length === 0) {
        masqDestination = true;
        if (masqTexts === undefined) masqTexts = [text]; else masqTexts.push(text);
      }
      continue;
    }
    // Fast path for the lines kube-proxy writes here: "... [-m statistic ... --probability P] -j KUBE-SEP-X".
    // (What the fast paths look for must come after the last quote: never inside a comment.)
    const j = text.lastIndexOf(' -j KUBE-SEP-');
    const simple = j !== -1 && text.indexOf(' ', j + 4) === -1 && (chain.plain || (text.indexOf('\\') === -1 && text.indexOf("'") === -1));
    const lastQuote = simple ? text.lastIndexOf('"') : -1;
    if (simple && text.indexOf(' -m recent') === -1) {
      const at = text.indexOf(' --probability ');
      if (at === -1 || at > lastQuote) {
        const p = at === -1 ? 1 : parseProbability(text.slice(at + 15, text.indexOf(' ', at + 15))) ?? 1;
        spreads.push({ sep: text.slice(j + 4), share: remaining * p, line: chain.lineOf(i) });
        remaining *= 1 - p;
        continue;
      }
    }
    // ... and the affinity rule: "... -m recent --rcheck --seconds N ... -j KUBE-SEP-X".
    const rcheck = simple ? text.indexOf(' -m recent --rcheck --seconds ') : -1;
    if (rcheck > lastQuote && rcheck < j) {
      const from = rcheck + 30;
      const to = text.indexOf(' ', from);
      const sep = text.slice(j + 4);
      if (to > from && to <= j && isDigits(text, from, to) && isKubeProxyRecentCheck(text, to, j, sep)) {
        if (spreads.length === 0) (affinity ??= new Map()).set(sep, Number(text.slice(from, to)));
        continue;
      }
    }
    const rule = ruleFacts(chain.name, text, chain.lineOf(i));
    const target = rule.target;
    if (target === 'KUBE-MARK-MASQ') {
      if (masqLines === undefined) masqLines = [rule.line]; else masqLines.push(rule.line);
      if (rule.destination !== undefined && spreads.length === 0) {
        masqDestination = true;
        if (masqTexts === undefined) masqTexts = [text]; else masqTexts.push(text);
      }
      continue;
    }
    if (target === undefined || !target.startsWith('KUBE-SEP-')) {
      // (after a rule that takes every connection, nothing is reached)
      if (takesConnections(target) && remaining > 0) (foreign ??= []).push({ line: rule.line, target });
      continue;
    }
    if (rule.recentCheck) {
      if (spreads.length === 0) {
        (affinity ??= new Map()).set(target, rule.seconds === undefined ? 0 : Number(rule.seconds));
        const fault = affinityFault(rule, target);
        if (fault !== undefined) (affinityFaults ??= new Map()).set(target, fault);
      }
      continue;
    }
    const p = rule.probability === undefined ? 1 : parseProbability(rule.probability) ?? 1;
    spreads.push({ sep: target, share: remaining * p, line: rule.line });
    remaining *= 1 - p;
  }
  return { exists: true, foreign: foreign ?? NO_FOREIGN, spreads, affinity: affinity ?? NO_AFFINITY, affinityFaults: affinityFaults ?? NO_FAULTS, masqLines: masqLines ?? NO_LINES, masqDestination, masqDestinationTexts: masqTexts ?? NO_TEXTS, remaining };
}

const NO_AFFINITY: ReadonlyMap<string, number> = new Map();
const NO_FAULTS: ReadonlyMap<string, string> = new Map();
const NO_LINES: readonly number[] = [];
const NO_TEXTS: readonly string[] = [];

/** What iptables-save prints after kube-proxy's `--rcheck --seconds N --reap --name CHAIN` (rule-scan.ts). */
const HOST_MASKS = [RECENT_MASK, RECENT_MASK6] as const;
const HOST_MASK_VALUES: ReadonlySet<string | undefined> = new Set(['255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);

// True when text[to, j) is exactly what iptables-save prints after kube-proxy's `--rcheck --seconds N`:
// ` --reap --name <the rule's target> --mask <host mask> --rsource`.
function isKubeProxyRecentCheck(text: string, to: number, j: number, sep: string): boolean {
  if (!text.startsWith(' --reap --name ', to) || !text.startsWith(sep, to + 15)) return false;
  const at = to + 15 + sep.length;
  for (const tail of HOST_MASKS) if (at + tail.length === j && text.startsWith(tail, at)) return true;
  return false;
}

/**
 * What keeps a `recent` rule (kube-proxy's `--rcheck` in a service chain, or `--set` in an endpoint
 * chain) from pinning each client to one endpoint, undefined when nothing does. `set`: the recent set
 * it must use, the endpoint chain's name (the other rule of the pair uses it too).
 */
export function affinityFault(rule: RuleFacts, set: string): string | undefined {
  const name = rule.recentName ?? 'DEFAULT';
  if (name !== set) return `uses the recent set "${name}", not "${set}"`;
  if (rule.recentRdest) return 'records destination addresses (--rdest), not clients';
  if (rule.recentMask !== undefined && !HOST_MASK_VALUES.has(canonicalIP(rule.recentMask))) return `records client networks (--mask ${rule.recentMask}), not single clients`;
  if (rule.recentHitcount !== undefined) return `holds a client only after ${rule.recentHitcount} connections (--hitcount)`;
  return undefined;
}

// True when the rule `-A NAME ...` (nameLength long) starts with a destination match, optionally
// after a source match: `[!] -s X [!] -d `, as iptables-save prints them (the source has no quote).
function leadingDestination(text: string, nameLength: number): boolean {
  if (text.charCodeAt(3 + nameLength) !== 32) return false;
  let at = 4 + nameLength;
  const not = text.startsWith('! ', at) ? 2 : 0;
  if (text.startsWith('-s ', at + not)) {
    const end = plainTokenEnd(text, at + not + 3);
    if (end === -1 || end === text.length) return false;
    at = end + 1;
  }
  if (text.startsWith('! ', at)) at += 2;
  return text.startsWith('-d ', at);
}

function isDigits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** What a KUBE-SEP chain does. */
export interface EndpointChainView {
  readonly exists: boolean;
  /** The DNAT destination (`ip:port` / `[ip6]:port`), canonical. */
  readonly dnat: string | undefined;
  /** The protocol the DNAT rule is limited to (`-p`, lower case); undefined: any. */
  readonly dnatProtocol: string | undefined;
  /** True when the hairpin masquerade rule (`-s ip -j KUBE-MARK-MASQ`) is there. */
  readonly masq: boolean;
  /** Its source as printed (`10.0.0.1/32`), which must be the endpoint's own address (undefined: not read, or no rule). */
  readonly masqSource: string | undefined;
  /** True when the DNAT rule records the client for affinity (`-m recent --set`). */
  readonly recentSet: boolean;
  /** What keeps that rule from recording each client as kube-proxy's does (see {@link affinityFault}). */
  readonly recentFault: string | undefined;
  /** Rules other than kube-proxy's (hairpin masquerade, DNAT) that take connections. */
  readonly foreign: readonly ForeignRule[];
}

/** Reads a KUBE-SEP chain. */
export function readEndpointChain(chain: Chain): EndpointChainView {
  if ('endpointView' in chain) return (chain as Chain & EndpointViewSource).endpointView();
  return readEndpointRules(chain);
}

/** The same, read from the chain's rule texts. */
export function readEndpointRules(chain: Chain): EndpointChainView {
  let dnat: string | undefined;
  let dnatProtocol: string | undefined;
  let masq = false;
  let masqSource: string | undefined;
  let recentSet = false;
  let recentFault: string | undefined;
  let foreign: ForeignRule[] | undefined;
  for (let i = 0; i < chain.size; i++) {
    const text = chain.text(i);
    if (chain.plain || (text.indexOf('\\') === -1 && text.indexOf("'") === -1)) {
      // Fast path: the two lines kube-proxy writes (hairpin masquerade, DNAT).
      if (text.endsWith(' -j KUBE-MARK-MASQ')) {
        const s = text.indexOf(' -s ');
        if (s === -1 || text.indexOf(' ! -s ') !== -1) continue;
        const end = plainTokenEnd(text, s + 4);
        if (end !== -1) {
          // (after the DNAT rule, the service's connections never meet it)
          if (dnat === undefined) {
            masq = true;
            masqSource ??= text.slice(s + 4, end);
          }
          continue;
        }
      }
      // (a rule with `-m recent` goes to the full reader: its set, mask and direction are read there)
      const d = text.indexOf(' -j DNAT --to-destination ');
      const p = d === -1 || text.indexOf(' -m recent ') !== -1 ? -1 : protocolAt(text, d);
      if (d !== -1 && p !== -1) {
        const end = text.indexOf(' ', d + 26);
        if (dnat === undefined) {
          dnat = canonicalEndpoint(text.slice(d + 26, end === -1 ? text.length : end));
          if (p !== 0) dnatProtocol = text.slice(p, text.indexOf(' ', p)).toLowerCase();
        }
        continue;
      }
    }
    const rule = ruleFacts(chain.name, text, chain.lineOf(i));
    if (rule.target === 'KUBE-MARK-MASQ' && rule.source !== undefined && !rule.sourceNegated) {
      if (dnat === undefined) {
        masq = true;
        masqSource ??= rule.source;
      }
    } else if (rule.target === 'DNAT') {
      if (rule.toDestination !== undefined && dnat === undefined) {
        dnat = canonicalEndpoint(rule.toDestination);
        dnatProtocol = rule.protocol?.toLowerCase();
      }
      if (rule.recentSet) {
        recentSet = true;
        recentFault ??= affinityFault(rule, chain.name);
      }
    } else if (takesConnections(rule.target)) {
      (foreign ??= []).push({ line: rule.line, target: rule.target });
    }
  }
  return { exists: true, dnat, dnatProtocol, masq, masqSource, recentSet, recentFault, foreign: foreign ?? NO_FOREIGN };
}

// Where the value of the DNAT rule's `-p` starts (save output prints it before the comment, restore
// input after it: never inside the quotes), 0 without one, -1 when only the full reader can tell.
function protocolAt(text: string, d: number): number {
  const first = text.indexOf('"');
  const last = text.lastIndexOf('"');
  const before = text.indexOf(' -p ');
  if (before !== -1 && before < d && (first === -1 || before < first)) return before + 4;
  const after = last === -1 ? -1 : text.indexOf(' -p ', last);
  if (after !== -1 && after < d) return after + 4;
  if (text.indexOf(' ! -p ') !== -1 || text.indexOf(' --protocol ') !== -1) return -1;
  return first === -1 || before === -1 ? 0 : -1;
}

// 10.0.0.1:80 with no leading zeros is already canonical (the common case, checked without allocating)
const CANONICAL_V4_ENDPOINT = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d):[1-9]\d{0,4}$/;

/** Canonical `ip:port` / `[ip6]:port` of a DNAT destination, or the text as is if it is not one. */
export function canonicalEndpoint(text: string): string {
  if (CANONICAL_V4_ENDPOINT.test(text)) return text;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6 !== null) {
    const ip = canonicalIP(v6[1] ?? '');
    return ip === undefined ? text : `[${ip}]:${Number(v6[2])}`;
  }
  const colon = text.lastIndexOf(':');
  if (colon === -1) return text;
  const ip = canonicalIP(text.slice(0, colon));
  const port = text.slice(colon + 1);
  return ip === undefined || !/^\d+$/.test(port) ? text : `${ip}:${Number(port)}`;
}
