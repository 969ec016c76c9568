/**
 * Compares what kube-proxy must have programmed ({@link ExpectedServicePort}) with what the ruleset
 * does ({@link KubeIndex}), by meaning: for each service port and each of its addresses (ClusterIP,
 * external IPs, LoadBalancer IPs, NodePort), where does a new connection go? Rule order across
 * services, comments, counters and the exact text are ignored. Pure.
 */
import type { RuleFacts } from '../iptables/rule-facts.ts';
import type { Chain } from '../iptables/types.ts';
import { chainFacts, chainRuleFacts } from '../iptables/rule-facts.ts';
import { canonicalCidr, PROBABILITY_TOLERANCE } from '../iptables/values.ts';
import type { KubeIndex } from './actual.ts';
import { readEndpointChain, readServiceChain } from './chain-view.ts';
import type { EndpointChainView, ServiceChainView, Spread } from './chain-view.ts';
import { EndpointRowChain } from './endpoint-rows.ts';
import { NatChains } from './nat-chains.ts';
import { staleChains, staleRules } from './stale.ts';
import type { ExpectedEndpoint, ExpectedServicePort } from './expected.ts';
import type { Finding, FindingKind, Severity } from './findings.ts';

/** Counts reported with the findings. */
export interface DiffStats {
  servicePorts: number;
  expectedEndpoints: number;
  checkedChains: number;
  /** Service ports with a NodePort and usable endpoints (KUBE-NODEPORTS must be reached). */
  nodePortsWithEndpoints: number;
}

interface Where {
  readonly endpoint?: string;
  readonly chain?: string;
  readonly severity?: Severity;
}

/** Diffs one family's expected model against one ruleset's index. */
export function diffServicePorts(expected: Iterable<ExpectedServicePort>, index: KubeIndex, family: 4 | 6): { findings: Finding[]; stats: DiffStats } {
  const fam = family === 4 ? 'IPv4' : 'IPv6';
  const findings: Finding[] = [];
  const consumed = new Set<RuleFacts>();
  // Keyed by the chain object, not its name: identity lookups cost nothing next to string hashing.
  const visited = new Set<Chain>();
  const svcCache = new Map<Chain, ServiceChainView>();
  const sepCache = new Map<Chain, EndpointChainView>();
  const MISSING_SVC: ServiceChainView = { exists: false, spreads: [], affinity: new Map(), masqLines: [], masqDestination: false };
  const MISSING_SEP: EndpointChainView = { exists: false, dnat: undefined, masq: false, recentSet: false };
  const stats: DiffStats = { servicePorts: 0, expectedEndpoints: 0, checkedChains: 0, nodePortsWithEndpoints: 0 };
  const clusterMasq = inferClusterIPMasquerade(index);
  // endpoint rows reached are marked with this visit's number: no set of 100k chains
  const visit = index.nat instanceof NatChains ? index.nat.rows.beginVisit() : 0;

  const svcView = (name: string): ServiceChainView => {
    const chain = index.nat.get(name);
    if (chain === undefined) return MISSING_SVC;
    let v = svcCache.get(chain);
    if (v === undefined) { v = readServiceChain(chain); svcCache.set(chain, v); visited.add(chain); stats.checkedChains++; }
    return v;
  };
  const sepView = (name: string): EndpointChainView => {
    const chain = index.nat.get(name);
    return chain === undefined ? MISSING_SEP : viewOf(chain);
  };
  const viewOf = (chain: Chain): EndpointChainView => {
    if (chain instanceof EndpointRowChain) {
      // endpoint rows are their own view: no cache
      chain.rows.markReached(chain.row, visit);
      return chain;
    }
    let v = sepCache.get(chain);
    if (v === undefined) { v = readEndpointChain(chain); sepCache.set(chain, v); visited.add(chain); }
    return v;
  };
  // A jump the parser resolved is followed without a lookup, unless the chain was deleted since.
  const spreadView = (s: Spread): EndpointChainView => {
    const t = s.target;
    return t instanceof EndpointRowChain && !t.removed ? viewOf(t) : sepView(s.sep);
  };
  // The common case of a service chain, checked without building anything: each cascade rule takes
  // an even share and sends to exactly the endpoints of one acceptable set, in kube-proxy's order
  // (sorted as the expected model is). Returns that set.
  const evenInOrder = (view: ServiceChainView, sets: readonly (readonly ExpectedEndpoint[])[]): readonly ExpectedEndpoint[] | undefined => {
    const c = view.cascade;
    const n = c !== undefined ? c.targets.length : view.spreads.length;
    if (n === 0) return undefined;
    for (let k = 0; k < n; k++) {
      if (c === undefined) {
        if (!isFairShare((view.spreads[k] as Spread).share, n)) return undefined;
        continue;
      }
      const row = c.targets[k] as number;
      if (row === -1 || c.rows.removed(row) || !isFairShare(c.shares[k] as number, n)) return undefined;
    }
    next: for (const set of sets) {
      if (set.length !== n) continue;
      for (let k = 0; k < n; k++) {
        const id = (set[k] as ExpectedEndpoint).id;
        if (c !== undefined ? !c.rows.dnatIs(c.targets[k] as number, id) : spreadView(view.spreads[k] as Spread).dnat !== id) continue next;
      }
      return set;
    }
    return undefined;
  };
  const take = (map: Map<string, RuleFacts[]>, key: string): RuleFacts[] => {
    const rules = map.get(key);
    if (rules === undefined) return [];
    for (const r of rules) consumed.add(r);
    return rules;
  };

  for (const sp of expected) {
    stats.servicePorts++;
    if (sp.nodePort !== 0 && sp.hasEndpoints) stats.nodePortsWithEndpoints++;
    const report = (kind: FindingKind, message: string, where: Where = {}): void => {
      findings.push({
        kind, severity: where.severity ?? 'error', service: sp.service, port: sp.portLabel, protocol: sp.protocol,
        endpoint: where.endpoint, chain: where.chain, family: fam, message,
      });
    };
    const checked = new Set<string>();
    const ipPort = (ip: string, port: number): string => (family === 4 ? `${ip}:${port}` : `[${ip}]:${port}`);

    // Where do new connections sent to `chain` go, and is that what the API says?
    const checkEndpoints = (chain: string | undefined, sets: readonly (readonly ExpectedEndpoint[])[], entry: string): void => {
      if (chain === undefined || checked.has(chain)) return;
      checked.add(chain);
      if (!chain.startsWith('KUBE-SVC-') && !chain.startsWith('KUBE-SVL-')) {
        report('wrong-service-target', `${entry} jumps to ${chain}, which is not a service chain`, { chain: `nat/${chain}` });
        return;
      }
      const view = svcView(chain);
      if (!view.exists) {
        report('missing-service', `${entry} jumps to ${chain}, which does not exist`, { chain: `nat/${chain}` });
        return;
      }
      const checkEndpointChain = (e: ExpectedEndpoint, sepName: string, sep: EndpointChainView): void => {
        if (!sep.masq) report('missing-masquerade', `${sepName} has no "-s ${e.ip} -j KUBE-MARK-MASQ" rule: a pod calling its own service is not masqueraded`, { endpoint: e.id, chain: `nat/${sepName}` });
        if (sp.affinitySeconds !== undefined) {
          const seconds = view.affinity.get(sepName);
          if (seconds === undefined || !sep.recentSet) {
            report('affinity-mismatch', `ClientIP affinity for ${e.id} is missing (${seconds === undefined ? `no "recent --rcheck" rule in ${chain}` : `no "recent --set" in ${sepName}`})`, { endpoint: e.id, chain: `nat/${seconds === undefined ? chain : sepName}` });
          } else if (seconds !== sp.affinitySeconds) {
            report('affinity-mismatch', `ClientIP affinity for ${e.id} lasts ${seconds}s instead of ${sp.affinitySeconds}s`, { endpoint: e.id, chain: `nat/${chain}` });
          }
        }
      };
      const checkNoAffinity = (): void => {
        if (sp.affinitySeconds === undefined && view.affinity.size > 0) {
          report('affinity-mismatch', `${chain} has ClientIP affinity rules, but the service has none`, { chain: `nat/${chain}` });
        }
      };
      // The common case (see evenInOrder); a compact chain's cascade is read as rows: no Spread or
      // name per endpoint.
      const cascade = view.cascade;
      const inOrder = evenInOrder(view, sets);
      if (inOrder !== undefined) {
        stats.expectedEndpoints += inOrder.length;
        for (let k = 0; k < inOrder.length; k++) {
          if (cascade !== undefined) {
            const rows = cascade.rows;
            const row = cascade.targets[k] as number;
            rows.markReached(row, visit);
            // the name only when there is something to check beyond the row's mark
            const masq = rows.masq(row);
            if (masq && sp.affinitySeconds === undefined) continue;
            checkEndpointChain(inOrder[k] as ExpectedEndpoint, rows.name(row), { exists: true, dnat: undefined, masq, recentSet: rows.recentSet(row) });
          } else {
            const s = view.spreads[k] as Spread;
            checkEndpointChain(inOrder[k] as ExpectedEndpoint, s.sep, spreadView(s));
          }
        }
        checkNoAffinity();
        return;
      }
      // Actual destinations: endpoint id → share and the chains that lead there.
      const actual = new Map<string, { share: number; seps: string[]; views: EndpointChainView[] }>();
      for (const s of view.spreads) {
        const sep = spreadView(s);
        const id = sep.dnat ?? `(no DNAT in ${s.sep})`;
        const a = actual.get(id);
        if (a === undefined) actual.set(id, { share: s.share, seps: [s.sep], views: [sep] });
        else { a.share += s.share; a.seps.push(s.sep); a.views.push(sep); }
      }
      const want = closestSet(sets, actual);
      stats.expectedEndpoints += want.length;
      const explained = new Set<string>();
      let problems = 0;
      for (const e of want) {
        const a = actual.get(e.id);
        if (a !== undefined && a.share > 0) continue;
        problems++;
        const own = view.spreads.find((s) => s.sep === e.chain);
        const ownTarget = own === undefined ? undefined : sepView(e.chain).dnat;
        if (own !== undefined && ownTarget !== undefined && ownTarget !== e.id) {
          explained.add(ownTarget);
          report('wrong-endpoint-target', `${e.chain} DNATs to ${ownTarget} instead of ${e.id}`, { endpoint: e.id, chain: `nat/${e.chain}` });
        } else if (a !== undefined) {
          report('missing-endpoint', `endpoint ${e.id} is never reached from ${chain}: an earlier rule takes all new connections`, { endpoint: e.id, chain: `nat/${chain}` });
        } else {
          report('missing-endpoint', `ready endpoint ${e.id} receives no new connections from ${chain}`, { endpoint: e.id, chain: `nat/${chain}` });
        }
      }
      const wantIds = new Set(want.map((e) => e.id));
      for (const [id, a] of actual) {
        if (wantIds.has(id) || explained.has(id) || a.share === 0) continue;
        problems++;
        report('stale-endpoint', `${entry}: new connections still go to ${id}, which is not a usable endpoint`, { endpoint: id, chain: `nat/${a.seps[0]}` });
      }
      if (want.length === 0 && actual.size === 0 && view.spreads.length === 0 && sets.every((s) => s.length === 0)) {
        report('stale-service', `${entry} is still captured by ${chain}, but the service has no usable endpoints`, { chain: `nat/${chain}` });
      }
      if (problems === 0 && want.length > 0) {
        const fair = 1 / want.length;
        for (const e of want) {
          const share = actual.get(e.id)?.share ?? 0;
          if (!isFairShare(share, want.length)) {
            report('probability-skew', `endpoint ${e.id} gets ${pct(share)} of new connections from ${chain} instead of ${pct(fair)}`, { endpoint: e.id, chain: `nat/${chain}` });
          }
        }
      }
      // Session affinity and the hairpin masquerade, for the endpoints that are there.
      for (const e of want) {
        const a = actual.get(e.id);
        if (a === undefined) continue;
        for (let k = 0; k < a.seps.length; k++) checkEndpointChain(e, a.seps[k] as string, a.views[k] as EndpointChainView);
      }
      checkNoAffinity();
    };

    // A filter-table REJECT/DROP for a target that must (not) be blocked.
    const checkBlock = (rules: RuleFacts[], shouldBlock: boolean, chain: string, entry: string): void => {
      const blocking = rules.filter((r) => r.target === 'REJECT' || r.target === 'DROP');
      if (shouldBlock && blocking.length === 0) {
        report('missing-reject', `${entry} has no usable endpoints${sp.hasEndpoints ? ' on this node' : ''}, but new connections are not rejected (no ${sp.hasEndpoints ? 'DROP' : 'REJECT'} in ${chain})`, { chain });
      } else if (!shouldBlock && blocking.length > 0) {
        report('unexpected-reject', `${entry} has usable endpoints, but ${chain} ${blocking[0]?.target === 'DROP' ? 'drops' : 'rejects'} new connections`, { chain });
      }
    };
    // A nat capture rule (KUBE-SERVICES / KUBE-NODEPORTS) for an address.
    const checkCapture = (rules: RuleFacts[], want: string | undefined, chain: string, entry: string): string | undefined => {
      const jump = rules.find((r) => r.target !== undefined && r.target.startsWith('KUBE-'));
      if (want === undefined) {
        if (jump !== undefined) {
          if (jump.target === sp.extChain || (jump.target?.startsWith('KUBE-FW-') === true && jump.target === sp.fwChain)) checkExt(jump.target, [[]], entry);
          else checkEndpoints(jump.target, [[]], entry);
        }
        return undefined;
      }
      if (jump === undefined) {
        report('missing-service', `${entry} has no rule in ${chain}: new connections are not sent to the service`, { chain });
        return undefined;
      }
      if (jump.target !== want) {
        report('wrong-service-target', `${entry} jumps to ${jump.target} instead of ${want}`, { chain });
      }
      return jump.target;
    };
    const internalSets = sp.internalLocal ? [sp.localEndpoints] : sp.clusterCandidates;
    const externalSets = sp.externalLocal ? [sp.localEndpoints] : sp.clusterCandidates;

    // KUBE-EXT-<hash> (or KUBE-FW-<hash> in front of it): masquerade and the policy chain.
    const checkExt = (chain: string | undefined, sets: readonly (readonly ExpectedEndpoint[])[], entry: string): void => {
      if (chain === undefined || checked.has(chain)) return;
      // (the prefix first: the name is a SHA-256, computed only when it could match)
      if (chain.startsWith('KUBE-FW-') && chain === sp.fwChain) {
        checked.add(chain);
        checkFirewall(entry);
        checkExt(sp.extChain, sets, entry);
        return;
      }
      checked.add(chain);
      const ext = index.nat.get(chain);
      if (ext !== undefined) visited.add(ext);
      if (ext === undefined) {
        report('missing-service', `${entry} jumps to ${chain}, which does not exist`, { chain: `nat/${chain}` });
        return;
      }
      const unconditional = chainFacts(ext).filter((r) => r.source === undefined && r.inInterface === undefined && !r.addrtype);
      if (!sp.externalLocal && !unconditional.some((r) => r.target === 'KUBE-MARK-MASQ')) {
        report('missing-masquerade', `${chain} does not masquerade external traffic (externalTrafficPolicy Cluster)`, { chain: `nat/${chain}` });
      }
      const policy = unconditional.find((r) => r.target !== undefined && (r.target.startsWith('KUBE-SVC-') || r.target.startsWith('KUBE-SVL-')));
      if (sets.every((s) => s.length === 0) || !sp.hasExternal) {
        if (policy !== undefined) checkEndpoints(policy.target, [[]], `${entry} (external traffic)`);
        return;
      }
      if (policy === undefined) {
        report('missing-service', `${entry}: ${chain} sends external traffic nowhere (no jump to ${sp.externalPolicyChain})`, { chain: `nat/${chain}` });
        return;
      }
      if (policy.target !== sp.externalPolicyChain) {
        report('wrong-service-target', `${chain} sends external traffic to ${policy.target} instead of ${sp.externalPolicyChain} (externalTrafficPolicy ${sp.externalLocal ? 'Local' : 'Cluster'})`, { chain: `nat/${chain}` });
      }
      checkEndpoints(policy.target, sets, `${entry} (external traffic)`);
    };

    const checkFirewall = (entry: string): void => {
      const fw = index.nat.get(sp.fwChain);
      if (fw !== undefined) visited.add(fw);
      if (fw === undefined) {
        report('firewall-mismatch', `${entry}: ${sp.fwChain} does not exist`, { chain: `nat/${sp.fwChain}` });
        return;
      }
      const allowed = new Set<string>();
      for (const r of chainFacts(fw)) {
        if (r.target !== sp.extChain || r.source === undefined || r.sourceNegated) continue;
        allowed.add(canonicalCidr(r.source) ?? r.source);
      }
      const lbHosts = new Set(sp.loadBalancerIPs.map((ip) => canonicalCidr(ip) ?? ip));
      const want = new Set(sp.sourceRanges);
      const extra = [...allowed].filter((c) => !want.has(c) && !lbHosts.has(c));
      const missing = [...want].filter((c) => !allowed.has(c));
      if (extra.length > 0 || missing.length > 0) {
        report('firewall-mismatch', `${sp.fwChain} ${missing.length > 0 ? `does not allow ${missing.join(', ')}` : ''}${missing.length > 0 && extra.length > 0 ? ' and ' : ''}${extra.length > 0 ? `allows ${extra.join(', ')}, which loadBalancerSourceRanges does not list` : ''}`, { chain: `nat/${sp.fwChain}` });
      }
    };

    // 1. ClusterIP
    const cipEntry = `ClusterIP ${ipPort(sp.clusterIP, sp.port)}/${sp.protocol}`;
    const cipKey = `${sp.clusterIP}|${sp.protocol}|${sp.port}`;
    const cipTarget = checkCapture(take(index.natServices, cipKey), sp.hasInternal ? sp.internalChain : undefined, 'nat/KUBE-SERVICES', cipEntry);
    checkBlock(take(index.filterServices, cipKey), !sp.hasInternal, 'filter/KUBE-SERVICES', cipEntry);
    if (cipTarget !== undefined) {
      checkEndpoints(cipTarget, cipTarget === sp.internalChain ? internalSets : sp.clusterCandidates, cipEntry);
      if (clusterMasq && svcView(cipTarget).exists && !svcView(cipTarget).masqDestination) {
        report('missing-masquerade', `${cipTarget} has no ClusterIP masquerade rule (-d ${sp.clusterIP} ... -j KUBE-MARK-MASQ) for traffic from outside the pod network`, { chain: `nat/${cipTarget}` });
      }
    }

    // 2-4. External IPs, LoadBalancer IPs, NodePort
    const lbChain = sp.usesFirewall ? sp.fwChain : sp.extChain;
    const external: { entry: string; nat: RuleFacts[]; filterKey: string; want: string }[] = [];
    for (const ip of sp.externalIPs) {
      const key = `${ip}|${sp.protocol}|${sp.port}`;
      external.push({ entry: `external IP ${ipPort(ip, sp.port)}/${sp.protocol}`, nat: take(index.natServices, key), filterKey: key, want: sp.extChain });
    }
    for (const ip of sp.loadBalancerIPs) {
      const key = `${ip}|${sp.protocol}|${sp.port}`;
      external.push({ entry: `LoadBalancer IP ${ipPort(ip, sp.port)}/${sp.protocol}`, nat: take(index.natServices, key), filterKey: key, want: lbChain });
      const fwDrop = take(index.filterFirewall, key);
      if (sp.usesFirewall && !fwDrop.some((r) => r.target === 'DROP')) {
        report('firewall-mismatch', `LoadBalancer IP ${ipPort(ip, sp.port)}/${sp.protocol}: traffic from sources outside loadBalancerSourceRanges is not dropped (no DROP in filter KUBE-PROXY-FIREWALL)`, { chain: 'filter/KUBE-PROXY-FIREWALL' });
      } else if (!sp.usesFirewall && fwDrop.some((r) => r.target === 'DROP')) {
        report('firewall-mismatch', `LoadBalancer IP ${ipPort(ip, sp.port)}/${sp.protocol} is firewalled in filter KUBE-PROXY-FIREWALL, but the service has no loadBalancerSourceRanges`, { chain: 'filter/KUBE-PROXY-FIREWALL' });
      }
    }
    if (sp.nodePort !== 0) {
      external.push({ entry: `NodePort ${sp.nodePort}/${sp.protocol}`, nat: take(index.natNodePorts, `${sp.protocol}|${sp.nodePort}`), filterKey: `LOCAL|${sp.protocol}|${sp.nodePort}`, want: sp.extChain });
    }
    for (const x of external) {
      const natChain = x.entry.startsWith('NodePort') ? 'nat/KUBE-NODEPORTS' : 'nat/KUBE-SERVICES';
      const target = checkCapture(x.nat, sp.hasEndpoints ? x.want : undefined, natChain, x.entry);
      checkBlock(take(index.filterExternal, x.filterKey), !sp.hasExternal, 'filter/KUBE-EXTERNAL-SERVICES', x.entry);
      if (target !== undefined) checkExt(target, externalSets, x.entry);
    }

    // 5. Health check node port
    if (sp.healthCheckNodePort !== 0) {
      const hc = take(index.filterNodePorts, `tcp|${sp.healthCheckNodePort}`);
      if (!hc.some((r) => r.target === 'ACCEPT')) {
        report('missing-healthcheck-port', `health check node port ${sp.healthCheckNodePort}/tcp is not accepted (no ACCEPT in filter KUBE-NODEPORTS): load balancers will see this node as down`, { chain: 'filter/KUBE-NODEPORTS' });
      }
    }
  }

  for (const f of staleRules(index, consumed, fam)) findings.push(f);
  for (const f of staleChains(index, visited, visit, fam)) findings.push(f);
  return { findings, stats };
}

/** Of several acceptable endpoint sets, the one closest to what the rules do. */
function closestSet(sets: readonly (readonly ExpectedEndpoint[])[], actual: ReadonlyMap<string, unknown>): readonly ExpectedEndpoint[] {
  let best = sets[0] ?? [];
  if (sets.length <= 1) return best;
  let bestScore = Infinity;
  for (const set of sets) {
    let score = 0;
    for (const e of set) if (!actual.has(e.id)) score++;
    const ids = new Set(set.map((e) => e.id));
    for (const id of actual.keys()) if (!ids.has(id)) score++;
    if (score < bestScore) { best = set; bestScore = score; }
  }
  return best;
}

/**
 * Whether kube-proxy writes the ClusterIP masquerade rule (a local-traffic detector or masqueradeAll
 * is configured): inferred from the ruleset, since its flags are not known here.
 */
function inferClusterIPMasquerade(index: KubeIndex): boolean {
  // the service chains KUBE-SERVICES jumps to (usually the first answers): not all 100k nat chains
  for (const rules of index.natServices.values()) {
    for (const rule of rules) {
      const target = rule.target;
      if (target === undefined || !target.startsWith('KUBE-SVC-') && !target.startsWith('KUBE-SVL-')) continue;
      const chain = index.nat.get(target);
      if (chain === undefined || chain.size === 0) continue;
      const first = chainRuleFacts(chain, 0);
      if (first !== undefined && first.target === 'KUBE-MARK-MASQ' && first.destination !== undefined) return true;
    }
  }
  return false;
}

/** True when `share` is an even share of new connections among `n` endpoints, within rounding. */
function isFairShare(share: number, n: number): boolean {
  const fair = 1 / n;
  return Math.abs(share - fair) <= Math.max(PROBABILITY_TOLERANCE * fair, 1e-9);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
