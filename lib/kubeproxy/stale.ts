/**
 * What is left over after the diff: rules in kube-proxy's entry chains that no service port in the
 * API accounts for (stale services), and per-service chains that nothing jumps to. Pure.
 */
import type { RuleFacts } from '../iptables/rule-facts.ts';
import type { Chain } from '../iptables/types.ts';
import { PER_SERVICE_PREFIXES } from './chain-names.ts';
import type { IndexedRule, KubeIndex } from './actual.ts';
import { commentServicePort } from './actual.ts';
import type { Finding } from './findings.ts';
import { chainObjects, NatChains } from './nat-chains.ts';

/** Rules in kube-proxy's entry chains that no expected service port accounts for (not marked taken by the diff). */
export function staleRules(index: KubeIndex, family: 'IPv4' | 'IPv6'): Finding[] {
  const out: Finding[] = [];
  const groups: [string, ReadonlyMap<string, IndexedRule[]>][] = [
    ['nat/KUBE-SERVICES', index.natServices], ['nat/KUBE-NODEPORTS', index.natNodePorts],
    ['filter/KUBE-SERVICES', index.filterServices], ['filter/KUBE-EXTERNAL-SERVICES', index.filterExternal],
    ['filter/KUBE-PROXY-FIREWALL', index.filterFirewall], ['filter/KUBE-NODEPORTS', index.filterNodePorts],
  ];
  const seen = new Set<string>();
  const emit = (chain: string, rule: RuleFacts): void => {
    const sp = commentServicePort(rule.comment);
    const [service, port] = sp === undefined ? [undefined, undefined] : splitServicePort(sp);
    const what = describeRule(rule);
    const key = `${chain}|${sp ?? ''}|${what}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({
      kind: 'stale-service', severity: 'error', service, port, protocol: rule.protocol?.toLowerCase(),
      endpoint: undefined, chain, family,
      message: sp === undefined
        ? `${chain} line ${rule.line} (${what}) matches no service port in the API`
        : `${chain} still handles ${sp} (${what}), which the API no longer has`,
    });
  };
  for (const [chain, lists] of groups) for (const rules of lists.values()) for (const r of rules) if (!r.taken) emit(chain, r.facts());
  for (const { table, facts: r } of index.unkeyed) {
    // Rules kube-proxy writes without an address/port key: the nodeports jump, and a RETURN in a
    // filter chain (a fall-through; in nat KUBE-SERVICES or KUBE-NODEPORTS it skips services)
    if (r.target === 'KUBE-NODEPORTS' || (r.target === 'RETURN' && table === 'filter')) continue;
    emit(`${table}/${r.chain}`, r);
  }
  return out;
}

/**
 * Per-service chains that exist but that no rule jumps to: not in `visited` (the chains the diff
 * got to), and for endpoint rows, not marked with the diff's `visit`.
 */
export function staleChains(index: KubeIndex, visited: ReadonlySet<Chain>, visit: number, family: 'IPv4' | 'IPv6'): Finding[] {
  const nat = index.nat;
  const rows = nat instanceof NatChains ? nat.rows : undefined;
  // name → line of its declaration, reported in declaration order (as the dump lists them)
  const candidates = new Map<string, number>();
  for (const chain of chainObjects(nat)) {
    if (visited.has(chain) || chain.name.charCodeAt(0) !== 75 /* K */) continue;
    if (PER_SERVICE_PREFIXES.some((p) => chain.name.startsWith(p))) candidates.set(chain.name, chain.line);
  }
  if (rows !== undefined) for (const row of rows.unreached(visit)) candidates.set(rows.name(row), rows.line(row));
  if (candidates.size === 0) return [];
  // Only when there are candidates: which chains does any rule jump to? (Endpoint rows kept as
  // values jump nowhere but KUBE-MARK-MASQ and DNAT.)
  const jumpers = (function* (): Iterable<Chain> {
    yield* chainObjects(nat);
    if (rows !== undefined) yield* rows.textChains();
  })();
  for (const chain of jumpers) {
    for (let i = 0; i < chain.size; i++) {
      const known = chain.knownTarget?.(i);
      if (known !== undefined) { candidates.delete(known); continue; }
      const text = chain.text(i);
      const j = text.lastIndexOf(' -j ');
      if (j === -1) continue;
      const end = text.indexOf(' ', j + 4);
      candidates.delete(text.slice(j + 4, end === -1 ? text.length : end));
    }
  }
  return [...candidates].sort((a, b) => a[1] - b[1]).map(([name]) => ({
    kind: 'stale-chain', severity: 'warning', service: undefined, port: undefined, protocol: undefined,
    endpoint: undefined, chain: `nat/${name}`, family, message: `${name} exists but no rule jumps to it`,
  }));
}

/** Splits `ns/svc:port` into [`ns/svc`, `port`]. */
export function splitServicePort(name: string): [string, string | undefined] {
  const colon = name.indexOf(':');
  return colon === -1 ? [name, undefined] : [name.slice(0, colon), name.slice(colon + 1)];
}

function describeRule(rule: RuleFacts): string {
  const parts: string[] = [];
  if (rule.destination !== undefined) parts.push(`-d ${rule.destination}`);
  if (rule.protocol !== undefined) parts.push(`-p ${rule.protocol}`);
  if (rule.dport !== undefined) parts.push(`--dport ${rule.dport}`);
  if (rule.target !== undefined) parts.push(`-j ${rule.target}`);
  return parts.join(' ');
}

