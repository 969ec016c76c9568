/**
 * Reads kube-proxy's state back out of a parsed ruleset: which service addresses are captured and
 * where they jump, how each service chain spreads new connections over endpoint chains, and where each
 * endpoint chain DNATs. Pure; values are compared canonically (addresses, marks, probabilities).
 */
import { targetOption } from '../iptables/rule.ts';
import { chainFacts, ruleFacts } from '../iptables/rule-facts.ts';
import type { RuleFacts } from '../iptables/rule-facts.ts';
import type { Chain, Ruleset } from '../iptables/types.ts';
import { canonicalIP, parseCidr, parseMark, parseProbability } from '../iptables/values.ts';

/** Rules indexed by what they match. */
export interface KubeIndex {
  readonly nat: ReadonlyMap<string, Chain>;
  readonly filter: ReadonlyMap<string, Chain>;
  readonly mangle: ReadonlyMap<string, Chain>;
  /** nat KUBE-SERVICES by `ip|proto|port`. */
  readonly natServices: Map<string, RuleFacts[]>;
  /** nat KUBE-NODEPORTS by `proto|port`. */
  readonly natNodePorts: Map<string, RuleFacts[]>;
  /** filter KUBE-SERVICES by `ip|proto|port`. */
  readonly filterServices: Map<string, RuleFacts[]>;
  /** filter KUBE-EXTERNAL-SERVICES by `ip|proto|port`, NodePorts by `LOCAL|proto|port`. */
  readonly filterExternal: Map<string, RuleFacts[]>;
  /** filter KUBE-PROXY-FIREWALL by `ip|proto|port`. */
  readonly filterFirewall: Map<string, RuleFacts[]>;
  /** filter KUBE-NODEPORTS by `proto|port`. */
  readonly filterNodePorts: Map<string, RuleFacts[]>;
  /** Rules of those chains the index could not key (e.g. no destination): checked as stale. */
  readonly unkeyed: RuleFacts[];
}

/** Empty chains map for a missing table. */
const NONE: ReadonlyMap<string, Chain> = new Map();

/** Indexes the kube-proxy chains of one ruleset. */
export function indexKubeRules(ruleset: Ruleset): KubeIndex {
  const nat = ruleset.tables.get('nat')?.chains ?? NONE;
  const filter = ruleset.tables.get('filter')?.chains ?? NONE;
  const mangle = ruleset.tables.get('mangle')?.chains ?? NONE;
  const index: KubeIndex = {
    nat, filter, mangle,
    natServices: new Map(), natNodePorts: new Map(), filterServices: new Map(),
    filterExternal: new Map(), filterFirewall: new Map(), filterNodePorts: new Map(), unkeyed: [],
  };
  const add = (map: Map<string, RuleFacts[]>, key: string | undefined, rule: RuleFacts): void => {
    if (key === undefined) { index.unkeyed.push(rule); return; }
    const list = map.get(key);
    if (list === undefined) map.set(key, [rule]);
    else list.push(rule);
  };
  for (const rule of chainFacts(nat.get('KUBE-SERVICES'))) {
    if (rule.target === 'KUBE-NODEPORTS') continue;
    add(index.natServices, addressKey(rule), rule);
  }
  for (const rule of chainFacts(nat.get('KUBE-NODEPORTS'))) add(index.natNodePorts, portKey(rule), rule);
  for (const rule of chainFacts(filter.get('KUBE-SERVICES'))) add(index.filterServices, addressKey(rule), rule);
  for (const rule of chainFacts(filter.get('KUBE-EXTERNAL-SERVICES'))) {
    if (rule.destination === undefined && rule.dstTypeLocal) {
      const pk = portKey(rule);
      add(index.filterExternal, pk === undefined ? undefined : `LOCAL|${pk}`, rule);
    } else {
      add(index.filterExternal, addressKey(rule), rule);
    }
  }
  for (const rule of chainFacts(filter.get('KUBE-PROXY-FIREWALL'))) add(index.filterFirewall, addressKey(rule), rule);
  for (const rule of chainFacts(filter.get('KUBE-NODEPORTS'))) add(index.filterNodePorts, portKey(rule), rule);
  return index;
}

/** `proto|port` of a rule matching `-p proto --dport port`. */
export function portKey(rule: RuleFacts): string | undefined {
  const port = rule.dport;
  if (rule.protocol === undefined || port === undefined || !/^\d+$/.test(port)) return undefined;
  return `${rule.protocol.toLowerCase()}|${Number(port)}`;
}

/** `ip|proto|port` of a rule matching `-d ip -p proto --dport port`. */
export function addressKey(rule: RuleFacts): string | undefined {
  const dst = rule.destination;
  if (dst === undefined || rule.destinationNegated) return undefined;
  const ip = hostAddress(dst);
  const pk = portKey(rule);
  if (ip === undefined || pk === undefined) return undefined;
  return `${ip}|${pk}`;
}

/** The canonical IP of a host address (`10.0.0.1`, `10.0.0.1/32`), undefined for a network. */
export function hostAddress(text: string): string | undefined {
  const c = parseCidr(text);
  if (c === undefined) return undefined;
  return c.prefix === (c.family === 4 ? 32 : 128) ? c.ip : undefined;
}

/** One rule of a service chain that sends traffic to an endpoint chain. */
export interface Spread {
  readonly sep: string;
  /** Share of new connections (without affinity) this rule takes, 0..1. */
  readonly share: number;
  /** Line of the rule in the dump. */
  readonly line: number;
}

/** How a KUBE-SVC/KUBE-SVL chain distributes traffic. */
export interface ServiceChainView {
  readonly exists: boolean;
  readonly spreads: readonly Spread[];
  /** Endpoint chain → `--seconds` of its `recent --rcheck` affinity rule. */
  readonly affinity: ReadonlyMap<string, number>;
  /** Masquerade rules (`-j KUBE-MARK-MASQ`) in the chain. */
  readonly masqRules: readonly RuleFacts[];
}

/** Reads a KUBE-SVC/SVL chain: the probability cascade and the affinity rules. */
export function readServiceChain(chain: Chain): ServiceChainView {
  const spreads: Spread[] = [];
  const affinity = new Map<string, number>();
  const masqRules: RuleFacts[] = [];
  let remaining = 1;
  for (let i = 0; i < chain.size; i++) {
    const text = chain.text(i);
    // Fast path for the lines kube-proxy writes here: "... [-m statistic ... --probability P] -j KUBE-SEP-X".
    const j = text.lastIndexOf(' -j KUBE-SEP-');
    if (j !== -1 && text.indexOf(' ', j + 4) === -1 && (chain.plain || text.indexOf('\\') === -1) && text.indexOf(' -m recent') === -1) {
      const target = text.slice(j + 4);
      const at = text.indexOf(' --probability ');
      const p = at === -1 ? 1 : parseProbability(text.slice(at + 15, text.indexOf(' ', at + 15))) ?? 1;
      spreads.push({ sep: target, share: remaining * p, line: chain.lineOf(i) });
      remaining *= 1 - p;
      continue;
    }
    const rule = ruleFacts(chain.name, text, chain.lineOf(i));
    const target = rule.target;
    if (target === 'KUBE-MARK-MASQ') { masqRules.push(rule); continue; }
    if (target === undefined || !target.startsWith('KUBE-SEP-')) continue;
    if (rule.recentCheck) {
      affinity.set(target, rule.seconds === undefined ? 0 : Number(rule.seconds));
      continue;
    }
    const p = rule.probability === undefined ? 1 : parseProbability(rule.probability) ?? 1;
    spreads.push({ sep: target, share: remaining * p, line: rule.line });
    remaining *= 1 - p;
  }
  return { exists: true, spreads, affinity, masqRules };
}

/** What a KUBE-SEP chain does. */
export interface EndpointChainView {
  readonly exists: boolean;
  /** The DNAT destination (`ip:port` / `[ip6]:port`), canonical. */
  readonly dnat: string | undefined;
  /** True when the hairpin masquerade rule (`-s ip -j KUBE-MARK-MASQ`) is there. */
  readonly masq: boolean;
  /** True when the DNAT rule records the client for affinity (`-m recent --set`). */
  readonly recentSet: boolean;
}

/** Reads a KUBE-SEP chain. */
export function readEndpointChain(chain: Chain): EndpointChainView {
  let dnat: string | undefined;
  let masq = false;
  let recentSet = false;
  for (let i = 0; i < chain.size; i++) {
    const text = chain.text(i);
    if (chain.plain || (text.indexOf('\\') === -1 && text.indexOf("'") === -1)) {
      // Fast path: the two lines kube-proxy writes (hairpin masquerade, DNAT).
      if (text.endsWith(' -j KUBE-MARK-MASQ')) {
        if (text.indexOf(' -s ') !== -1 && text.indexOf(' ! -s ') === -1) masq = true;
        continue;
      }
      const d = text.indexOf(' -j DNAT --to-destination ');
      if (d !== -1) {
        const end = text.indexOf(' ', d + 26);
        if (dnat === undefined) dnat = canonicalEndpoint(text.slice(d + 26, end === -1 ? text.length : end));
        if (text.indexOf(' -m recent ') !== -1 && / --set( |$)/.test(text)) recentSet = true;
        continue;
      }
    }
    const rule = ruleFacts(chain.name, text, chain.lineOf(i));
    if (rule.target === 'KUBE-MARK-MASQ' && rule.source !== undefined && !rule.sourceNegated) masq = true;
    else if (rule.target === 'DNAT') {
      if (rule.toDestination !== undefined && dnat === undefined) dnat = canonicalEndpoint(rule.toDestination);
      if (rule.recentSet) recentSet = true;
    }
  }
  return { exists: true, dnat, masq, recentSet };
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

/** The masquerade mark kube-proxy uses, read from KUBE-MARK-MASQ (`--set-xmark M/M` or `--or-mark M`). */
export function masqueradeMark(index: KubeIndex): number | undefined {
  for (const rule of index.nat.get('KUBE-MARK-MASQ')?.rules ?? []) {
    if (rule.target !== 'MARK') continue;
    const or = targetOption(rule, 'or-mark');
    if (or !== undefined) return parseMark(or.values[0] ?? '')?.value;
    const xmark = targetOption(rule, 'set-xmark') ?? targetOption(rule, 'set-mark');
    const mark = xmark === undefined ? undefined : parseMark(xmark.values[0] ?? '');
    if (mark !== undefined && (mark.value & mark.mask) === mark.value && mark.value !== 0) return mark.value;
  }
  return undefined;
}

/** The service-port name a kube-proxy comment starts with (`"ns/svc:p80 cluster IP"` → `ns/svc:p80`). */
export function commentServicePort(comment: string | undefined): string | undefined {
  if (comment === undefined) return undefined;
  const first = comment.split(' ')[0] ?? '';
  return /^[a-z0-9.-]+\/[a-z0-9.-]+(:[^\s]+)?$/i.test(first) ? first : undefined;
}
