/**
 * Reads kube-proxy's state back out of a parsed ruleset: which service addresses are captured and
 * where they jump, how each service chain spreads new connections over endpoint chains, and where each
 * endpoint chain DNATs. Pure; values are compared canonically (addresses, marks, probabilities).
 */
import { anyMatchOption, hasMatch, matchOption, targetOption } from '../iptables/rule.ts';
import type { Chain, Rule, Ruleset } from '../iptables/types.ts';
import { canonicalIP, parseCidr, parseMark, parseProbability } from '../iptables/values.ts';

/** Rules indexed by what they match. */
export interface KubeIndex {
  readonly nat: ReadonlyMap<string, Chain>;
  readonly filter: ReadonlyMap<string, Chain>;
  readonly mangle: ReadonlyMap<string, Chain>;
  /** nat KUBE-SERVICES by `ip|proto|port`. */
  readonly natServices: Map<string, Rule[]>;
  /** nat KUBE-NODEPORTS by `proto|port`. */
  readonly natNodePorts: Map<string, Rule[]>;
  /** filter KUBE-SERVICES by `ip|proto|port`. */
  readonly filterServices: Map<string, Rule[]>;
  /** filter KUBE-EXTERNAL-SERVICES by `ip|proto|port`, NodePorts by `LOCAL|proto|port`. */
  readonly filterExternal: Map<string, Rule[]>;
  /** filter KUBE-PROXY-FIREWALL by `ip|proto|port`. */
  readonly filterFirewall: Map<string, Rule[]>;
  /** filter KUBE-NODEPORTS by `proto|port`. */
  readonly filterNodePorts: Map<string, Rule[]>;
  /** Rules of those chains the index could not key (e.g. no destination): checked as stale. */
  readonly unkeyed: Rule[];
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
  const add = (map: Map<string, Rule[]>, key: string | undefined, rule: Rule): void => {
    if (key === undefined) { index.unkeyed.push(rule); return; }
    const list = map.get(key);
    if (list === undefined) map.set(key, [rule]);
    else list.push(rule);
  };
  for (const rule of nat.get('KUBE-SERVICES')?.rules ?? []) {
    if (rule.target === 'KUBE-NODEPORTS') continue;
    add(index.natServices, addressKey(rule), rule);
  }
  for (const rule of nat.get('KUBE-NODEPORTS')?.rules ?? []) add(index.natNodePorts, portKey(rule), rule);
  for (const rule of filter.get('KUBE-SERVICES')?.rules ?? []) add(index.filterServices, addressKey(rule), rule);
  for (const rule of filter.get('KUBE-EXTERNAL-SERVICES')?.rules ?? []) {
    const local = matchOption(rule, 'addrtype', 'dst-type');
    if (rule.destination === undefined && local !== undefined && !local.negated && local.values[0] === 'LOCAL') {
      const pk = portKey(rule);
      add(index.filterExternal, pk === undefined ? undefined : `LOCAL|${pk}`, rule);
    } else {
      add(index.filterExternal, addressKey(rule), rule);
    }
  }
  for (const rule of filter.get('KUBE-PROXY-FIREWALL')?.rules ?? []) add(index.filterFirewall, addressKey(rule), rule);
  for (const rule of filter.get('KUBE-NODEPORTS')?.rules ?? []) add(index.filterNodePorts, portKey(rule), rule);
  return index;
}

/** `proto|port` of a rule matching `-p proto --dport port`. */
export function portKey(rule: Rule): string | undefined {
  const proto = rule.protocol;
  const dport = anyMatchOption(rule, 'dport');
  if (proto === undefined || proto.negated || dport === undefined || dport.negated) return undefined;
  const port = dport.values[0];
  if (port === undefined || !/^\d+$/.test(port)) return undefined;
  return `${proto.value.toLowerCase()}|${Number(port)}`;
}

/** `ip|proto|port` of a rule matching `-d ip -p proto --dport port`. */
export function addressKey(rule: Rule): string | undefined {
  const dst = rule.destination;
  if (dst === undefined || dst.negated) return undefined;
  const ip = hostAddress(dst.value);
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
  readonly rule: Rule;
}

/** How a KUBE-SVC/KUBE-SVL chain distributes traffic. */
export interface ServiceChainView {
  readonly exists: boolean;
  readonly spreads: readonly Spread[];
  /** Endpoint chain → `--seconds` of its `recent --rcheck` affinity rule. */
  readonly affinity: ReadonlyMap<string, number>;
  /** Masquerade rules (`-j KUBE-MARK-MASQ`) in the chain. */
  readonly masqRules: readonly Rule[];
}

/** Reads a KUBE-SVC/SVL chain: the probability cascade and the affinity rules. */
export function readServiceChain(index: KubeIndex, name: string): ServiceChainView {
  const chain = index.nat.get(name);
  if (chain === undefined) return { exists: false, spreads: [], affinity: new Map(), masqRules: [] };
  const spreads: Spread[] = [];
  const affinity = new Map<string, number>();
  const masqRules: Rule[] = [];
  let remaining = 1;
  for (const rule of chain.rules) {
    const target = rule.target;
    if (target === 'KUBE-MARK-MASQ') { masqRules.push(rule); continue; }
    if (target === undefined || !target.startsWith('KUBE-SEP-')) continue;
    const rcheck = matchOption(rule, 'recent', 'rcheck');
    if (rcheck !== undefined) {
      const seconds = matchOption(rule, 'recent', 'seconds')?.values[0];
      affinity.set(target, seconds === undefined ? 0 : Number(seconds));
      continue;
    }
    let p = 1;
    if (hasMatch(rule, 'statistic')) {
      const prob = matchOption(rule, 'statistic', 'probability');
      const parsed = prob === undefined ? undefined : parseProbability(prob.values[0] ?? '');
      p = parsed ?? 1;
    }
    spreads.push({ sep: target, share: remaining * p, rule });
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
export function readEndpointChain(index: KubeIndex, name: string): EndpointChainView {
  const chain = index.nat.get(name);
  if (chain === undefined) return { exists: false, dnat: undefined, masq: false, recentSet: false };
  let dnat: string | undefined;
  let masq = false;
  let recentSet = false;
  for (const rule of chain.rules) {
    if (rule.target === 'KUBE-MARK-MASQ' && rule.source !== undefined && !rule.source.negated) masq = true;
    else if (rule.target === 'DNAT') {
      const to = targetOption(rule, 'to-destination')?.values[0];
      if (to !== undefined && dnat === undefined) dnat = canonicalEndpoint(to);
      if (matchOption(rule, 'recent', 'set') !== undefined) recentSet = true;
    }
  }
  return { exists: true, dnat, masq, recentSet };
}

/** Canonical `ip:port` / `[ip6]:port` of a DNAT destination, or the text as is if it is not one. */
export function canonicalEndpoint(text: string): string {
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
