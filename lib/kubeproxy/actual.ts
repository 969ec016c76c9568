/**
 * Reads kube-proxy's state back out of a parsed ruleset: which service addresses are captured and
 * where they jump (what service and endpoint chains do is read by chain-view.ts). Pure; values are compared canonically (addresses, marks, probabilities).
 */
import { targetOption } from '../iptables/rule.ts';
import { chainRuleFacts } from '../iptables/rule-facts.ts';
import type { RuleFacts } from '../iptables/rule-facts.ts';
import type { Chain, Ruleset } from '../iptables/types.ts';
import { isCanonicalIPv4, parseCidr, parseMark } from '../iptables/values.ts';
import { scanEntryRule } from './entry-rule-scan.ts';

/**
 * A rule of an entry chain in the index: where it jumps, at hand; its other facts read from its text
 * when asked (the diff needs only the target of the rules a service port accounts for).
 */
export class IndexedRule {
  readonly target: string | undefined;
  /** The `-d` the rule matches (negated or not), if any: a NodePort rule with one captures only those addresses. */
  readonly destination: string | undefined;
  readonly line: number;
  /** Set by the diff: a service port accounts for the rule (not stale). */
  taken = false;
  readonly #chain: Chain;
  readonly #i: number;
  #facts: RuleFacts | undefined;

  constructor(chain: Chain, i: number, target: string | undefined, destination: string | undefined, facts?: RuleFacts) {
    this.#chain = chain;
    this.#i = i;
    this.target = target;
    this.destination = destination;
    this.line = chain.lineOf(i);
    this.#facts = facts;
  }

  /** Every fact of the rule (read once). */
  facts(): RuleFacts {
    this.#facts ??= chainRuleFacts(this.#chain, this.#i);
    return this.#facts;
  }
}

/** Rules indexed by what they match. */
export interface KubeIndex {
  readonly nat: ReadonlyMap<string, Chain>;
  readonly filter: ReadonlyMap<string, Chain>;
  readonly mangle: ReadonlyMap<string, Chain>;
  /** nat KUBE-SERVICES by `ip|proto|port`. */
  readonly natServices: Map<string, IndexedRule[]>;
  /** nat KUBE-NODEPORTS by `proto|port`. */
  readonly natNodePorts: Map<string, IndexedRule[]>;
  /** filter KUBE-SERVICES by `ip|proto|port`. */
  readonly filterServices: Map<string, IndexedRule[]>;
  /** filter KUBE-EXTERNAL-SERVICES by `ip|proto|port`, NodePorts by `LOCAL|proto|port`. */
  readonly filterExternal: Map<string, IndexedRule[]>;
  /** filter KUBE-PROXY-FIREWALL by `ip|proto|port`. */
  readonly filterFirewall: Map<string, IndexedRule[]>;
  /** filter KUBE-NODEPORTS by `proto|port`. */
  readonly filterNodePorts: Map<string, IndexedRule[]>;
  /** Rules of those chains the index could not key (e.g. no destination), with their table: checked as stale. */
  readonly unkeyed: { readonly table: 'nat' | 'filter'; readonly facts: RuleFacts }[];
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
  const add = (map: Map<string, IndexedRule[]>, key: string, rule: IndexedRule): void => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [rule]);
    else list.push(rule);
  };
  // Each rule of a chain, keyed: kube-proxy's shapes read by scanEntryRule (no negation, no
  // addrtype), any other through its full facts.
  const each = (table: 'nat' | 'filter', chain: Chain | undefined, keyOf: (rule: KeyFacts) => string | undefined, map: Map<string, IndexedRule[]>, skip?: string): void => {
    if (chain === undefined) return;
    for (let i = 0; i < chain.size; i++) {
      const fast = scanEntryRule(chain.text(i), chain.name.length);
      if (fast !== undefined) {
        if (fast.target === skip) continue;
        const key = keyOf(fast);
        if (key !== undefined) { add(map, key, new IndexedRule(chain, i, fast.target, fast.destination)); continue; }
      }
      const facts = chainRuleFacts(chain, i);
      if (skip !== undefined && facts.target === skip) continue;
      const key = keyOf(facts);
      if (key === undefined) index.unkeyed.push({ table, facts });
      else add(map, key, new IndexedRule(chain, i, facts.target, facts.destination, facts));
    }
  };
  const byAddress = (r: KeyFacts): string | undefined => (r.destinationNegated === true ? undefined : addressKeyOf(r.destination, r.protocol, r.dport));
  const byPort = (r: KeyFacts): string | undefined => portKeyOf(r.protocol, r.dport);
  each('nat', nat.get('KUBE-SERVICES'), byAddress, index.natServices, 'KUBE-NODEPORTS');
  each('nat', nat.get('KUBE-NODEPORTS'), byPort, index.natNodePorts);
  each('filter', filter.get('KUBE-SERVICES'), byAddress, index.filterServices);
  // NodePorts (no destination, `--dst-type LOCAL`) by `LOCAL|proto|port`
  each('filter', filter.get('KUBE-EXTERNAL-SERVICES'), (r) => {
    if (r.destination === undefined && r.dstTypeLocal === true) {
      const pk = byPort(r);
      return pk === undefined ? undefined : `LOCAL|${pk}`;
    }
    return byAddress(r);
  }, index.filterExternal);
  each('filter', filter.get('KUBE-PROXY-FIREWALL'), byAddress, index.filterFirewall);
  each('filter', filter.get('KUBE-NODEPORTS'), byPort, index.filterNodePorts);
  return index;
}

/** What a rule is keyed by: read by scanEntryRule (which takes no negated address nor addrtype) or in full. */
type KeyFacts = Pick<RuleFacts, 'destination' | 'protocol' | 'dport'> & Partial<Pick<RuleFacts, 'destinationNegated' | 'dstTypeLocal'>>;

/** `proto|port` of a rule matching `-p proto --dport port`. */
function portKeyOf(protocol: string | undefined, port: string | undefined): string | undefined {
  if (protocol === undefined || port === undefined || !/^\d+$/.test(port)) return undefined;
  return `${protocol.toLowerCase()}|${Number(port)}`;
}

/** `ip|proto|port` of a rule matching `-d ip -p proto --dport port` (a host address). */
function addressKeyOf(destination: string | undefined, protocol: string | undefined, port: string | undefined): string | undefined {
  if (destination === undefined) return undefined;
  const ip = hostAddress(destination);
  const pk = portKeyOf(protocol, port);
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
