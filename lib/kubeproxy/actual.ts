/**
 * Reads kube-proxy's state back out of a parsed ruleset: which service addresses are captured and
 * where they jump (what service and endpoint chains do is read by chain-view.ts). Pure; values are compared canonically (addresses, marks, probabilities).
 */
import { targetOption } from '../iptables/rule.ts';
import { chainFacts } from '../iptables/rule-facts.ts';
import type { RuleFacts } from '../iptables/rule-facts.ts';
import type { Chain, Ruleset } from '../iptables/types.ts';
import { isCanonicalIPv4, parseCidr, parseMark } from '../iptables/values.ts';

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
  // the common case, a host as iptables-save prints it: canonical IPv4 and /32 (no object made)
  if (text.endsWith('/32')) {
    const ip = text.slice(0, -3);
    if (isCanonicalIPv4(ip)) return ip;
  }
  const c = parseCidr(text);
  if (c === undefined) return undefined;
  return c.prefix === (c.family === 4 ? 32 : 128) ? c.ip : undefined;
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
