/**
 * The whole check for one node: pick the ruleset kube-proxy writes to (and notice mixed backends),
 * check the fixed rules, compute the expected model per family and diff it. Pure: parsed rulesets
 * and cluster facts in, findings out.
 */
import { agentError } from '../errors.ts';
import type { Ruleset } from '../iptables/types.ts';
import { indexKubeRules } from './actual.ts';
import type { KubeIndex } from './actual.ts';
import { checkBaseRules } from './base-rules.ts';
import type { ClusterView, NodeInput } from './cluster.ts';
import { diffServicePorts } from './diff.ts';
import { ServiceChain } from './compact-chains.ts';
import { eachExpectedServicePort } from './expected.ts';
import { chainObjects, NatChains } from './nat-chains.ts';
import type { Finding, FindingKind } from './findings.ts';

/** Per family, the dump sections (one per backend when several dumps were concatenated). */
export type NodeRules = readonly { readonly family: 4 | 6; readonly rulesets: readonly Ruleset[] }[];

/** Input of {@link checkNode}. */
export interface NodeCheckInput {
  readonly rules: NodeRules;
  readonly cluster: ClusterView;
  readonly nodeName: string;
  /** What {@link prepareNodeRules} made of `rules` already (e.g. while the cluster was still being read). */
  readonly prepared?: PreparedNodeRules | undefined;
}

/** The part of the check that needs only the rules, per family. */
export interface PreparedNodeRules {
  readonly rules: NodeRules;
  readonly families: readonly { readonly ruleset: Ruleset; readonly index: KubeIndex; readonly mixed: Finding[] }[];
}

/**
 * Does the part of the check that needs only the rules: picks the ruleset kube-proxy writes to,
 * indexes it and reads its service chains (they keep the views read). `check` runs it while the
 * cluster objects are still being read. Throws DPS_ERR_RULES_PROXY_MODE as {@link checkNode} does.
 */
export function prepareNodeRules(rules: NodeRules): PreparedNodeRules {
  const families = rules.map(({ family, rulesets }) => {
    const chosen = chooseRuleset(rulesets, family);
    detectOtherProxyMode(chosen.index, chosen.ruleset);
    // (endpoint rows are not visited: they are read from their columns, not through views)
    for (const chain of chainObjects(chosen.index.nat)) {
      if (chain instanceof ServiceChain) chain.keepView();
    }
    return chosen;
  });
  return { rules, families };
}

/** Counts that describe what was checked. */
export interface NodeCheckStats {
  families: ('IPv4' | 'IPv6')[];
  backends: Record<string, string>;
  servicePorts: number;
  expectedEndpoints: number;
  rules: number;
  chains: number;
  services: number;
  ignoredServices: number;
  skippedObjects: number;
  nodeKnown: boolean;
  findingsByKind: Partial<Record<FindingKind, number>>;
}

/** Result of {@link checkNode}. */
export interface NodeCheckResult {
  readonly verdict: 'in-sync' | 'drift';
  readonly findings: Finding[];
  readonly stats: NodeCheckStats;
}

/** Runs the check. Throws DPS_ERR_RULES_PROXY_MODE when kube-proxy is not in iptables mode. */
export function checkNode(input: NodeCheckInput): NodeCheckResult {
  const known = input.cluster.nodes.find((n) => n.name === input.nodeName);
  const node: NodeInput = known ?? { name: input.nodeName, zone: undefined, addresses: [] };
  const findings: Finding[] = [];
  const stats: NodeCheckStats = {
    families: [], backends: {}, servicePorts: 0, expectedEndpoints: 0, rules: 0, chains: 0,
    services: input.cluster.services.length, ignoredServices: input.cluster.ignoredServices,
    skippedObjects: input.cluster.skipped.length, nodeKnown: known !== undefined, findingsByKind: {},
  };
  const prepared = input.prepared?.rules === input.rules ? input.prepared : undefined;
  for (const [i, { family, rulesets }] of input.rules.entries()) {
    const fam = family === 4 ? 'IPv4' : 'IPv6';
    stats.families.push(fam);
    const { ruleset, index, mixed } = prepared?.families[i] ?? chooseRuleset(rulesets, family);
    for (const f of mixed) findings.push(f);
    stats.backends[fam] = ruleset.backend;
    stats.rules += ruleset.ruleCount;
    for (const t of ruleset.tables.values()) stats.chains += t.chains.size;
    if (prepared === undefined) detectOtherProxyMode(index, ruleset);
    // service ports one at a time, so that the expected endpoints never all exist at once
    const diff = diffServicePorts(eachExpectedServicePort(input.cluster, { family, node }), index, family);
    for (const f of checkBaseRules(index, family, { needNodePorts: diff.stats.nodePortsWithEndpoints > 0 })) findings.push(f);
    for (const f of diff.findings) findings.push(f);
    stats.servicePorts += diff.stats.servicePorts;
    stats.expectedEndpoints += diff.stats.expectedEndpoints;
  }
  for (const f of findings) stats.findingsByKind[f.kind] = (stats.findingsByKind[f.kind] ?? 0) + 1;
  return { verdict: findings.some((f) => f.severity === 'error') ? 'drift' : 'in-sync', findings, stats };
}

/** kube-proxy's rule count in a ruleset: rules in KUBE-* chains of nat and filter. */
export function kubeRuleCount(ruleset: Ruleset): number {
  let n = 0;
  for (const table of ['nat', 'filter']) {
    const chains = ruleset.tables.get(table)?.chains;
    if (chains === undefined) continue;
    for (const chain of chainObjects(chains)) if (chain.name.startsWith('KUBE-')) n += chain.size;
    // endpoint rows (all KUBE-SEP chains) counted from their columns, without a chain object each
    if (chains instanceof NatChains) n += chains.rows.ruleCount();
  }
  return n;
}

function chooseRuleset(rulesets: readonly Ruleset[], family: 4 | 6): { ruleset: Ruleset; index: KubeIndex; mixed: Finding[] } {
  const fam = family === 4 ? 'IPv4' : 'IPv6';
  // one dump (the usual case) needs no count: counting walks every chain
  const counted = rulesets.length === 1 ? [{ r: rulesets[0] as Ruleset, n: 0 }] : rulesets.map((r) => ({ r, n: kubeRuleCount(r) })).sort((a, b) => b.n - a.n);
  const chosen = counted[0]?.r as Ruleset;
  const mixed: Finding[] = [];
  const others = counted.slice(1).filter((c) => c.n > 0);
  const base = { service: undefined, port: undefined, protocol: undefined, endpoint: undefined, family: fam } as const;
  if (others.length > 0) {
    mixed.push({
      ...base, kind: 'mixed-backends', severity: 'error', chain: undefined,
      message: `kube-proxy rules exist in both the ${chosen.backend} (${counted[0]?.n} rules) and the ${others.map((o) => `${o.r.backend} (${o.n} rules)`).join(', ')} backend: packets see both, and one set is stale`,
    });
  } else if (chosen.warnings.some((w) => /legacy tables present/i.test(w))) {
    mixed.push({
      ...base, kind: 'mixed-backends', severity: 'warning', chain: undefined,
      message: 'iptables-nft-save reports iptables-legacy tables too: check them with iptables-legacy-save (pass both dumps concatenated)',
    });
  }
  return { ruleset: chosen, index: indexKubeRules(chosen), mixed };
}

function detectOtherProxyMode(index: KubeIndex, ruleset: Ruleset): void {
  const services = index.nat.get('KUBE-SERVICES')?.texts ?? [];
  const ipvs = services.some((text) => text.includes('--match-set KUBE-CLUSTER-IP'));
  if (ipvs || index.nat.has('KUBE-LOAD-BALANCER')) {
    throw agentError('DPS_ERR_RULES_PROXY_MODE', 'kube-proxy runs in ipvs mode on this node (ipset matches in KUBE-SERVICES); only iptables mode is checked', { where: ruleset.source });
  }
}
