/**
 * kube-proxy's fixed rules: the jumps from the built-in chains, KUBE-MARK-MASQ, KUBE-POSTROUTING,
 * KUBE-FORWARD, and the canary chains whose disappearance means the tables were flushed. Pure.
 */
import type { Rule } from '../iptables/types.ts';
import { matchOption, targetOption } from '../iptables/rule.ts';
import { parseMark } from '../iptables/values.ts';
import type { KubeIndex } from './actual.ts';
import { masqueradeMark } from './actual.ts';
import type { Finding, Severity } from './findings.ts';

/** [table, from chain, to chain] jumps kube-proxy ensures on every full sync (proxier.go iptablesJumpChains). */
const JUMPS: readonly (readonly [string, string, string])[] = [
  ['filter', 'INPUT', 'KUBE-EXTERNAL-SERVICES'],
  ['filter', 'FORWARD', 'KUBE-EXTERNAL-SERVICES'],
  ['filter', 'INPUT', 'KUBE-NODEPORTS'],
  ['filter', 'FORWARD', 'KUBE-SERVICES'],
  ['filter', 'OUTPUT', 'KUBE-SERVICES'],
  ['filter', 'FORWARD', 'KUBE-FORWARD'],
  ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL'],
  ['filter', 'OUTPUT', 'KUBE-PROXY-FIREWALL'],
  ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL'],
  ['nat', 'OUTPUT', 'KUBE-SERVICES'],
  ['nat', 'PREROUTING', 'KUBE-SERVICES'],
  ['nat', 'POSTROUTING', 'KUBE-POSTROUTING'],
];

/** Checks the fixed rules and canaries of one family's ruleset. */
export function checkBaseRules(index: KubeIndex, family: 4 | 6, options: { needNodePorts: boolean }): Finding[] {
  const fam = family === 4 ? 'IPv4' : 'IPv6';
  const out: Finding[] = [];
  const missing = (chain: string, message: string, kind: 'missing-base-rules' | 'missing-canary' = 'missing-base-rules', severity: Severity = 'error'): void => {
    out.push({ kind, severity, service: undefined, port: undefined, protocol: undefined, endpoint: undefined, chain, family: fam, message });
  };
  const tables = { nat: index.nat, filter: index.filter, mangle: index.mangle };
  if (index.nat.size === 0 || !index.nat.has('KUBE-SERVICES')) {
    missing('nat/KUBE-SERVICES', index.nat.size === 0
      ? 'the nat table is missing: kube-proxy rules were flushed or kube-proxy never ran'
      : 'the nat table has no KUBE-SERVICES chain: kube-proxy rules were flushed or kube-proxy never ran');
  }
  if (index.filter.size === 0 || !index.filter.has('KUBE-SERVICES')) {
    missing('filter/KUBE-SERVICES', 'the filter table has no KUBE-SERVICES chain: kube-proxy rules were flushed or kube-proxy never ran');
  }
  for (const [table, from, to] of JUMPS) {
    const chains = tables[table as 'nat' | 'filter'];
    if (!chains.has(to)) continue; // reported with its chain
    const rules = chains.get(from)?.rules ?? [];
    const at = rules.findIndex((r) => r.target === to);
    if (at === -1) missing(`${table}/${from}`, `no jump from ${table} ${from} to ${to}`);
    else endsBefore(rules, at, `${table}/${from}`, `its jump to ${to}: kube-proxy's rules there are never reached`);
  }
  for (const [table, to] of [['filter', 'KUBE-EXTERNAL-SERVICES'], ['filter', 'KUBE-FORWARD'], ['filter', 'KUBE-PROXY-FIREWALL'], ['filter', 'KUBE-NODEPORTS'], ['nat', 'KUBE-POSTROUTING'], ['nat', 'KUBE-MARK-MASQ'], ['nat', 'KUBE-NODEPORTS']] as const) {
    if (!tables[table].has(to) && tables[table].has('KUBE-SERVICES')) missing(`${table}/${to}`, `chain ${to} is missing from the ${table} table`);
  }
  // A rule that ends the chain for every packet (ACCEPT, DROP, RETURN, REJECT without a match), ahead
  // of the rule that matters. (Conditional ones are left alone: CNIs and host firewalls put their own
  // ahead of kube-proxy's jumps for their own traffic.)
  function endsBefore(rules: readonly Rule[], at: number, chain: string, what: string): void {
    for (let i = 0; i < at; i++) {
      const r = rules[i] as Rule;
      if (r.target === undefined || !ENDING_TARGETS.has(r.target) || !isUnconditional(r)) continue;
      missing(chain, `${chain} line ${r.line} (-j ${r.target}) ends the chain for every packet before ${what}`);
    }
  }
  const mark = masqueradeMark(index);
  if (index.nat.has('KUBE-MARK-MASQ') && mark === undefined) {
    missing('nat/KUBE-MARK-MASQ', 'KUBE-MARK-MASQ does not set the masquerade mark: no service traffic is SNATed');
  }
  const post = index.nat.get('KUBE-POSTROUTING')?.rules ?? [];
  const masquerade = post.findIndex((r) => r.target === 'MASQUERADE');
  if (index.nat.has('KUBE-POSTROUTING') && masquerade === -1) {
    missing('nat/KUBE-POSTROUTING', 'KUBE-POSTROUTING has no MASQUERADE rule: marked service traffic is not SNATed');
  }
  if (masquerade !== -1) endsBefore(post, masquerade, 'nat/KUBE-POSTROUTING', 'its MASQUERADE rule: marked service traffic is not SNATed');
  const markRules = index.nat.get('KUBE-MARK-MASQ')?.rules ?? [];
  const marking = markRules.findIndex((r) => r.target === 'MARK');
  if (marking !== -1) endsBefore(markRules, marking, 'nat/KUBE-MARK-MASQ', 'its MARK rule: no service traffic is marked for masquerade');
  const test = mark === undefined ? -1 : post.findIndex((r) => usesMark(r, mark));
  if (mark !== undefined && index.nat.has('KUBE-POSTROUTING') && test === -1) {
    missing('nat/KUBE-POSTROUTING', `KUBE-POSTROUTING does not test the masquerade mark 0x${mark.toString(16)}`);
  }
  if (mark !== undefined && test !== -1) {
    // kube-proxy's order: return unmarked packets, clear the mark, masquerade
    const clear = post.findIndex((r) => clearsMark(r, mark));
    if (clear !== -1 && clear < test) missing('nat/KUBE-POSTROUTING', `KUBE-POSTROUTING clears the masquerade mark (line ${(post[clear] as Rule).line}) before testing it (line ${(post[test] as Rule).line}): no service traffic is masqueraded`);
    if (masquerade !== -1 && masquerade < test) missing('nat/KUBE-POSTROUTING', `KUBE-POSTROUTING masquerades (line ${(post[masquerade] as Rule).line}) before testing the mark (line ${(post[test] as Rule).line}): every packet leaving the node is masqueraded, not only service traffic`);
  }
  if (mark !== undefined && index.nat.has('KUBE-POSTROUTING') && masquerade !== -1 && !post.some((r, i) => i < masquerade && clearsMark(r, mark))) {
    // (proxier.go: "Clear the mark to avoid re-masquerading if the packet re-traverses the network stack")
    missing('nat/KUBE-POSTROUTING', `KUBE-POSTROUTING does not clear the masquerade mark (-j MARK --xor-mark 0x${mark.toString(16)}): a packet that goes through the stack again (a tunnel) is masqueraded again`, 'missing-base-rules', 'warning');
  }
  const fwd = index.filter.get('KUBE-FORWARD')?.rules;
  if (fwd !== undefined) {
    if (mark !== undefined && !fwd.some((r) => r.target === 'ACCEPT' && usesMark(r, mark))) {
      missing('filter/KUBE-FORWARD', 'KUBE-FORWARD does not accept marked service traffic');
    }
    if (!fwd.some((r) => r.target === 'ACCEPT' && /RELATED,ESTABLISHED|ESTABLISHED,RELATED/.test(matchOption(r, 'conntrack', 'ctstate')?.values[0] ?? ''))) {
      missing('filter/KUBE-FORWARD', 'KUBE-FORWARD does not accept established connections');
    }
  }
  if (options.needNodePorts && index.nat.has('KUBE-SERVICES') && !(index.nat.get('KUBE-SERVICES')?.texts ?? []).some((text) => text.endsWith(' -j KUBE-NODEPORTS'))) {
    // kube-proxy omits this jump when nodePortAddresses matches no address of the node, so it is a warning
    out.push({
      kind: 'missing-base-rules', severity: 'warning', service: undefined, port: undefined, protocol: undefined, endpoint: undefined,
      chain: 'nat/KUBE-SERVICES', family: fam,
      message: 'no jump from KUBE-SERVICES to KUBE-NODEPORTS: NodePorts do not work (expected only when kube-proxy\'s nodePortAddresses matches no address of this node)',
    });
  }
  for (const table of ['mangle', 'nat', 'filter'] as const) {
    if (!tables[table].has('KUBE-PROXY-CANARY')) {
      missing(`${table}/KUBE-PROXY-CANARY`, `the ${table} table has no KUBE-PROXY-CANARY chain: it was flushed (kube-proxy resyncs when it notices)`, 'missing-canary');
    }
  }
  return out;
}

/** Targets that end a chain's traversal for the packets a rule matches. */
const ENDING_TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT']);

// True when a rule matches every packet (no address, protocol, interface, fragment or match module).
function isUnconditional(r: Rule): boolean {
  return r.source === undefined && r.destination === undefined && r.protocol === undefined && r.inInterface === undefined &&
    r.outInterface === undefined && r.fragment === undefined && r.matches.every((m) => m.module === 'comment');
}

// `-j MARK --xor-mark M` (iptables-save prints `--set-xmark M/0x0`).
function clearsMark(rule: Rule, mark: number): boolean {
  if (rule.target !== 'MARK') return false;
  const xor = targetOption(rule, 'xor-mark');
  if (xor !== undefined) return parseMark(xor.values[0] ?? '')?.value === mark;
  const x = targetOption(rule, 'set-xmark');
  const m = x === undefined ? undefined : parseMark(x.values[0] ?? '');
  return m !== undefined && m.value === mark && m.mask === 0;
}

function usesMark(rule: Rule, mark: number): boolean {
  const m = matchOption(rule, 'mark', 'mark');
  if (m === undefined) return false;
  const [v] = (m.values[0] ?? '').split('/');
  return v !== undefined && (Number(v) >>> 0) === mark;
}
