/**
 * Compares what kube-proxy must have programmed ({@link ExpectedServicePort}) with what the ruleset
 * does ({@link KubeIndex}), by meaning: for each service port and each of its addresses (ClusterIP,
 * external IPs, LoadBalancer IPs, NodePort), where does a new connection go? Rule order across
 * services, comments, counters and the exact text are ignored. Pure.
 */
import type { RuleFacts } from '../iptables/rule-facts.ts';
import type { Chain } from '../iptables/types.ts';
import { chainFacts, chainRuleFacts, ruleFacts } from '../iptables/rule-facts.ts';
import { plainTokenEnd } from '../iptables/tokenize.ts';
import { canonicalCidr, PROBABILITY_TOLERANCE } from '../iptables/values.ts';
import { hostAddress } from './actual.ts';
import type { IndexedRule, KubeIndex } from './actual.ts';
import { NO_FOREIGN, readEndpointChain, readServiceChain, takesConnections } from './chain-view.ts';
import type { EndpointChainView, ForeignRule, ServiceChainView, Spread } from './chain-view.ts';
import { EndpointRowChain, protocolIndex } from './endpoint-rows.ts';
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

/** Diffs one family's expected model against one ruleset's index. */
export function diffServicePorts(expected: Iterable<ExpectedServicePort>, index: KubeIndex, family: 4 | 6): { findings: Finding[]; stats: DiffStats } {
  const diff = new PortsDiff(index, family);
  for (const sp of expected) diff.check(sp);
  return diff.finish();
}

type EndpointSets = readonly (readonly ExpectedEndpoint[])[];

const MISSING_SVC: ServiceChainView = { exists: false, spreads: [], affinity: new Map(), affinityFaults: new Map(), masqLines: [], masqDestination: false, masqDestinationTexts: [], foreign: NO_FOREIGN };
const MISSING_SEP: EndpointChainView = { exists: false, dnat: undefined, dnatProtocol: undefined, masq: false, masqSource: undefined, recentSet: false, recentFault: undefined, foreign: NO_FOREIGN };

/**
 * One diff run: the service ports are checked one at a time ({@link check}), then what no port
 * accounted for is reported ({@link finish}). Its methods are the steps of a port's check; they
 * are methods, not closures made per port, so that 10k ports make no function objects.
 */
class PortsDiff {
  readonly findings: Finding[] = [];
  readonly stats: DiffStats = { servicePorts: 0, expectedEndpoints: 0, checkedChains: 0, nodePortsWithEndpoints: 0 };
  readonly #index: KubeIndex;
  readonly #family: 4 | 6;
  readonly #fam: 'IPv4' | 'IPv6';
  // Keyed by the chain object, not its name: identity lookups cost nothing next to string hashing.
  readonly #visited = new Set<Chain>();
  /** The service chains' views read for the port being checked (a view is read once per port, and dies young). */
  readonly #svcCache = new Map<Chain, ServiceChainView>();
  readonly #sepCache = new Map<Chain, EndpointChainView>();
  readonly #clusterMasq: boolean;
  /** Endpoint rows reached are marked with this visit's number: no set of 100k chains. */
  readonly #visit: number;
  /** The port being checked, and the chains already checked for it. */
  #sp: ExpectedServicePort | undefined;
  readonly #checked = new Set<string>();

  constructor(index: KubeIndex, family: 4 | 6) {
    this.#index = index;
    this.#family = family;
    this.#fam = family === 4 ? 'IPv4' : 'IPv6';
    this.#clusterMasq = inferClusterIPMasquerade(index);
    this.#visit = index.nat instanceof NatChains ? index.nat.rows.beginVisit() : 0;
    // the rules a service port accounts for are marked taken as the ports are checked
    for (const map of [index.natServices, index.natNodePorts, index.filterServices, index.filterExternal, index.filterFirewall, index.filterNodePorts]) {
      for (const rules of map.values()) for (const r of rules) r.taken = false;
    }
  }

  /** Checks one service port. */
  check(sp: ExpectedServicePort): void {
    const index = this.#index;
    this.#sp = sp;
    this.#checked.clear();
    this.#svcCache.clear();
    this.stats.servicePorts++;
    if (sp.nodePort !== 0 && sp.hasEndpoints) this.stats.nodePortsWithEndpoints++;
    const internalSets = sp.internalLocal ? [sp.localEndpoints] : sp.clusterCandidates;
    const externalSets = sp.externalLocal ? [sp.localEndpoints] : sp.clusterCandidates;

    // 1. ClusterIP
    const cipEntry = `ClusterIP ${this.#ipPort(sp.clusterIP, sp.port)}/${sp.protocol}`;
    const cipKey = `${sp.clusterIP}|${sp.protocol}|${sp.port}`;
    const cipTarget = this.#checkCapture(this.#take(index.natServices, cipKey), sp.hasInternal ? sp.internalChain : undefined, 'nat/KUBE-SERVICES', cipEntry);
    this.#checkBlock(this.#take(index.filterServices, cipKey), !sp.hasInternal, 'filter/KUBE-SERVICES', cipEntry);
    if (cipTarget !== undefined) {
      this.#checkEndpoints(cipTarget, cipTarget === sp.internalChain ? internalSets : sp.clusterCandidates, cipEntry);
      const view = this.#clusterMasq ? this.#svcView(cipTarget) : MISSING_SVC;
      if (view.exists && !view.masqDestination) {
        this.#report('missing-masquerade', `${cipTarget} has no ClusterIP masquerade rule (-d ${sp.clusterIP} ... -j KUBE-MARK-MASQ) for traffic from outside the pod network`, undefined, `nat/${cipTarget}`);
      } else if (view.exists && !view.masqDestinationTexts.some((text) => masqueradesClusterIP(cipTarget, text, sp.clusterIP, sp.protocol, sp.port))) {
        this.#report('missing-masquerade', `${cipTarget}'s ClusterIP masquerade rule does not match ${this.#ipPort(sp.clusterIP, sp.port)}/${sp.protocol} (line ${view.masqLines[0] ?? '?'}): traffic from outside the pod network is not masqueraded`, undefined, `nat/${cipTarget}`);
      }
    }
    if (sp.externalIPs.length === 0 && sp.loadBalancerIPs.length === 0 && sp.nodePort === 0 && sp.healthCheckNodePort === 0) return;

    // 2-4. External IPs, LoadBalancer IPs, NodePort
    const lbChain = sp.usesFirewall ? sp.fwChain : sp.extChain;
    const external: { entry: string; nat: IndexedRule[]; filterKey: string; want: string }[] = [];
    for (const ip of sp.externalIPs) {
      const key = `${ip}|${sp.protocol}|${sp.port}`;
      external.push({ entry: `external IP ${this.#ipPort(ip, sp.port)}/${sp.protocol}`, nat: this.#take(index.natServices, key), filterKey: key, want: sp.extChain });
    }
    for (const ip of sp.loadBalancerIPs) {
      const key = `${ip}|${sp.protocol}|${sp.port}`;
      external.push({ entry: `LoadBalancer IP ${this.#ipPort(ip, sp.port)}/${sp.protocol}`, nat: this.#take(index.natServices, key), filterKey: key, want: lbChain });
      const fwDrop = this.#take(index.filterFirewall, key);
      if (sp.usesFirewall && !fwDrop.some((r) => r.target === 'DROP')) {
        this.#report('firewall-mismatch', `LoadBalancer IP ${this.#ipPort(ip, sp.port)}/${sp.protocol}: traffic from sources outside loadBalancerSourceRanges is not dropped (no DROP in filter KUBE-PROXY-FIREWALL)`, undefined, 'filter/KUBE-PROXY-FIREWALL');
      } else if (!sp.usesFirewall && fwDrop.some((r) => r.target === 'DROP')) {
        this.#report('firewall-mismatch', `LoadBalancer IP ${this.#ipPort(ip, sp.port)}/${sp.protocol} is firewalled in filter KUBE-PROXY-FIREWALL, but the service has no loadBalancerSourceRanges`, undefined, 'filter/KUBE-PROXY-FIREWALL');
      }
    }
    if (sp.nodePort !== 0) {
      external.push({ entry: `NodePort ${sp.nodePort}/${sp.protocol}`, nat: this.#take(index.natNodePorts, `${sp.protocol}|${sp.nodePort}`), filterKey: `LOCAL|${sp.protocol}|${sp.nodePort}`, want: sp.extChain });
    }
    for (const x of external) {
      const natChain = x.entry.startsWith('NodePort') ? 'nat/KUBE-NODEPORTS' : 'nat/KUBE-SERVICES';
      const target = this.#checkCapture(x.nat, sp.hasEndpoints ? x.want : undefined, natChain, x.entry, natChain === 'nat/KUBE-NODEPORTS');
      this.#checkBlock(this.#take(index.filterExternal, x.filterKey), !sp.hasExternal, 'filter/KUBE-EXTERNAL-SERVICES', x.entry);
      if (target !== undefined) this.#checkExt(target, externalSets, x.entry);
    }

    // 5. Health check node port
    if (sp.healthCheckNodePort !== 0) {
      const hc = this.#take(index.filterNodePorts, `tcp|${sp.healthCheckNodePort}`);
      if (!hc.some((r) => r.target === 'ACCEPT')) {
        this.#report('missing-healthcheck-port', `health check node port ${sp.healthCheckNodePort}/tcp is not accepted (no ACCEPT in filter KUBE-NODEPORTS): load balancers will see this node as down`, undefined, 'filter/KUBE-NODEPORTS');
      }
    }
  }

  /** What no service port accounted for, and the findings and counts of the run. */
  finish(): { findings: Finding[]; stats: DiffStats } {
    for (const f of staleRules(this.#index, this.#fam)) this.findings.push(f);
    for (const f of staleChains(this.#index, this.#visited, this.#visit, this.#fam)) this.findings.push(f);
    return { findings: this.findings, stats: this.stats };
  }

  // A rule kube-proxy does not write, in one of its chains, that takes the connections it matches.
  #reportForeign(chain: string, rule: ForeignRule, what: string): void {
    this.#report('unexpected-rule', `${chain} line ${rule.line} (-j ${rule.target}) is not one of kube-proxy's rules: the new connections to ${what} it matches are sent there instead`, undefined, `nat/${chain}`);
  }

  #report(kind: FindingKind, message: string, endpoint?: string, chain?: string, severity: Severity = 'error'): void {
    const sp = this.#sp as ExpectedServicePort;
    this.findings.push({
      kind, severity, service: sp.service, port: sp.portLabel, protocol: sp.protocol,
      endpoint, chain, family: this.#fam, message,
    });
  }

  #ipPort(ip: string, port: number): string {
    return this.#family === 4 ? `${ip}:${port}` : `[${ip}]:${port}`;
  }

  #take(map: Map<string, IndexedRule[]>, key: string): IndexedRule[] {
    const rules = map.get(key);
    if (rules === undefined) return NO_RULES;
    for (let i = 0; i < rules.length; i++) (rules[i] as IndexedRule).taken = true;
    return rules;
  }

  #svcView(name: string): ServiceChainView {
    const chain = this.#index.nat.get(name);
    if (chain === undefined) return MISSING_SVC;
    let v = this.#svcCache.get(chain);
    if (v === undefined) {
      v = readServiceChain(chain);
      this.#svcCache.set(chain, v);
      if (!this.#visited.has(chain)) { this.#visited.add(chain); this.stats.checkedChains++; }
    }
    return v;
  }

  #sepView(name: string): EndpointChainView {
    const chain = this.#index.nat.get(name);
    return chain === undefined ? MISSING_SEP : this.#viewOf(chain);
  }

  #viewOf(chain: Chain): EndpointChainView {
    if (chain instanceof EndpointRowChain) {
      // endpoint rows are their own view: no cache
      chain.rows.markReached(chain.row, this.#visit);
      return chain;
    }
    let v = this.#sepCache.get(chain);
    if (v === undefined) { v = readEndpointChain(chain); this.#sepCache.set(chain, v); this.#visited.add(chain); }
    return v;
  }

  // A jump the parser resolved is followed without a lookup, unless the chain was deleted since.
  #spreadView(s: Spread): EndpointChainView {
    const t = s.target;
    return t instanceof EndpointRowChain && !t.removed ? this.#viewOf(t) : this.#sepView(s.sep);
  }

  // The common case of a service chain, checked without building anything: each cascade rule takes
  // an even share and sends to exactly the endpoints of one acceptable set, in kube-proxy's order
  // (sorted as the expected model is). Returns that set.
  #evenInOrder(view: ServiceChainView, sets: EndpointSets): readonly ExpectedEndpoint[] | undefined {
    const c = view.cascade;
    const n = c !== undefined ? c.count : view.spreads.length;
    if (n === 0) return undefined;
    if (c === undefined) {
      for (let k = 0; k < n; k++) if (!isFairShare((view.spreads[k] as Spread).share, n)) return undefined;
    } else {
      // each rule's share: what the rules before it leave, times its probability
      const columns = c.columns;
      let remaining = c.remaining;
      for (let k = 0; k < n; k++) {
        const row = columns.jump(c.start + k);
        const prob = columns.prob(c.start + k);
        const p = prob < 0 ? 1 : prob;
        if (row === -1 || c.rows.removed(row) || !isFairShare(remaining * p, n)) return undefined;
        remaining *= 1 - p;
      }
    }
    next: for (let i = 0; i < sets.length; i++) {
      const set = sets[i] as readonly ExpectedEndpoint[];
      if (set.length !== n) continue;
      for (let k = 0; k < n; k++) {
        const id = (set[k] as ExpectedEndpoint).id;
        if (c !== undefined ? !c.rows.dnatIs(c.columns.jump(c.start + k), id) : this.#spreadView(view.spreads[k] as Spread).dnat !== id) continue next;
      }
      return set;
    }
    return undefined;
  }

  // Where do new connections sent to `chain` go, and is that what the API says?
  #checkEndpoints(chain: string | undefined, sets: EndpointSets, entry: string): void {
    const sp = this.#sp as ExpectedServicePort;
    if (chain === undefined || this.#checked.has(chain)) return;
    this.#checked.add(chain);
    if (!chain.startsWith('KUBE-SVC-') && !chain.startsWith('KUBE-SVL-')) {
      this.#report('wrong-service-target', `${entry} jumps to ${chain}, which is not a service chain`, undefined, `nat/${chain}`);
      return;
    }
    const view = this.#svcView(chain);
    if (!view.exists) {
      this.#report('missing-service', `${entry} jumps to ${chain}, which does not exist`, undefined, `nat/${chain}`);
      return;
    }
    for (let i = 0; i < view.foreign.length; i++) this.#reportForeign(chain, view.foreign[i] as ForeignRule, entry);
    // The common case (see #evenInOrder); a compact chain's cascade is read as rows: no Spread or
    // name per endpoint.
    const cascade = view.cascade;
    const inOrder = this.#evenInOrder(view, sets);
    if (inOrder !== undefined) {
      this.stats.expectedEndpoints += inOrder.length;
      const protocol = protocolIndex(sp.protocol);
      for (let k = 0; k < inOrder.length; k++) {
        if (cascade !== undefined) {
          const rows = cascade.rows;
          const row = cascade.columns.jump(cascade.start + k);
          rows.markReached(row, this.#visit);
          // the name only when there is something to check beyond the row's mark
          // (its DNAT is the endpoint: a hairpin source equal to the DNAT's address is the endpoint's)
          const usual = rows.hairpinAndProtocol(row, protocol);
          if (usual && sp.affinitySeconds === undefined) continue;
          // (no source or protocol to compare when the row has told they are right)
          this.#checkEndpointChain(view, chain, inOrder[k] as ExpectedEndpoint, rows.name(row), {
            exists: true, dnat: undefined, dnatProtocol: usual ? undefined : rows.dnatProtocol(row),
            masq: rows.masq(row), masqSource: usual ? undefined : rows.masqSource(row), recentSet: rows.recentSet(row), recentFault: rows.recentFault(row),
            foreign: usual ? NO_FOREIGN : rows.foreign(row),
          });
        } else {
          const s = view.spreads[k] as Spread;
          this.#checkEndpointChain(view, chain, inOrder[k] as ExpectedEndpoint, s.sep, this.#spreadView(s));
        }
      }
      this.#checkNoAffinity(view, chain);
      return;
    }
    // Actual destinations: endpoint id → share and the chains that lead there.
    const actual = new Map<string, { share: number; seps: string[]; views: EndpointChainView[] }>();
    for (const s of view.spreads) {
      const sep = this.#spreadView(s);
      const id = sep.dnat ?? `(no DNAT in ${s.sep})`;
      const a = actual.get(id);
      if (a === undefined) actual.set(id, { share: s.share, seps: [s.sep], views: [sep] });
      else { a.share += s.share; a.seps.push(s.sep); a.views.push(sep); }
    }
    const want = closestSet(sets, actual);
    this.stats.expectedEndpoints += want.length;
    const explained = new Set<string>();
    let problems = 0;
    for (const e of want) {
      const a = actual.get(e.id);
      if (a !== undefined && a.share > 0) continue;
      problems++;
      const own = view.spreads.find((s) => s.sep === e.chain);
      const ownTarget = own === undefined ? undefined : this.#sepView(e.chain).dnat;
      if (own !== undefined && ownTarget !== undefined && ownTarget !== e.id) {
        explained.add(ownTarget);
        this.#report('wrong-endpoint-target', `${e.chain} DNATs to ${ownTarget} instead of ${e.id}`, e.id, `nat/${e.chain}`);
      } else if (a !== undefined) {
        this.#report('missing-endpoint', `endpoint ${e.id} is never reached from ${chain}: an earlier rule takes all new connections`, e.id, `nat/${chain}`);
      } else {
        this.#report('missing-endpoint', `ready endpoint ${e.id} receives no new connections from ${chain}`, e.id, `nat/${chain}`);
      }
    }
    const wantIds = new Set(want.map((e) => e.id));
    for (const [id, a] of actual) {
      if (wantIds.has(id) || explained.has(id) || a.share === 0) continue;
      problems++;
      this.#report('stale-endpoint', `${entry}: new connections still go to ${id}, which is not a usable endpoint`, id, `nat/${a.seps[0]}`);
    }
    if (want.length === 0 && actual.size === 0 && view.spreads.length === 0 && sets.every((s) => s.length === 0)) {
      this.#report('stale-service', `${entry} is still captured by ${chain}, but the service has no usable endpoints`, undefined, `nat/${chain}`);
    }
    if (problems === 0 && want.length > 0) {
      const fair = 1 / want.length;
      for (const e of want) {
        const share = actual.get(e.id)?.share ?? 0;
        if (!isFairShare(share, want.length)) {
          this.#report('probability-skew', `endpoint ${e.id} gets ${pct(share)} of new connections from ${chain} instead of ${pct(fair)}`, e.id, `nat/${chain}`);
        }
      }
    }
    // Session affinity and the hairpin masquerade, for the endpoints that are there.
    for (const e of want) {
      const a = actual.get(e.id);
      if (a === undefined) continue;
      for (let k = 0; k < a.seps.length; k++) this.#checkEndpointChain(view, chain, e, a.seps[k] as string, a.views[k] as EndpointChainView);
    }
    this.#checkNoAffinity(view, chain);
  }

  // The hairpin masquerade and session affinity of one endpoint's chain, reached from service chain `chain`.
  #checkEndpointChain(view: ServiceChainView, chain: string, e: ExpectedEndpoint, sepName: string, sep: EndpointChainView): void {
    const sp = this.#sp as ExpectedServicePort;
    for (let i = 0; i < sep.foreign.length; i++) this.#reportForeign(sepName, sep.foreign[i] as ForeignRule, e.id);
    if (sep.dnatProtocol !== undefined && sep.dnatProtocol !== sp.protocol) {
      this.#report('wrong-endpoint-target', `${sepName} DNATs only ${sep.dnatProtocol} to ${e.id}: the service port is ${sp.protocol}, so its new connections are not sent there`, e.id, `nat/${sepName}`);
    }
    if (!sep.masq) this.#report('missing-masquerade', `${sepName} has no "-s ${e.ip} -j KUBE-MARK-MASQ" rule: a pod calling its own service is not masqueraded`, e.id, `nat/${sepName}`);
    else if (sep.masqSource !== undefined && hostAddress(sep.masqSource) !== e.ip) {
      this.#report('missing-masquerade', `${sepName} masquerades "-s ${sep.masqSource}", not the endpoint's own address ${e.ip}: a pod calling its own service is not masqueraded`, e.id, `nat/${sepName}`);
    }
    if (sp.affinitySeconds !== undefined) {
      const seconds = view.affinity.get(sepName);
      if (seconds === undefined || !sep.recentSet) {
        this.#report('affinity-mismatch', `ClientIP affinity for ${e.id} is missing (${seconds === undefined ? `no "recent --rcheck" rule in ${chain}` : `no "recent --set" in ${sepName}`})`, e.id, `nat/${seconds === undefined ? chain : sepName}`);
      } else if (seconds !== sp.affinitySeconds) {
        this.#report('affinity-mismatch', `ClientIP affinity for ${e.id} lasts ${seconds}s instead of ${sp.affinitySeconds}s`, e.id, `nat/${chain}`);
      }
      // the pair of recent rules must record and look up each client's own address in the endpoint's set
      const check = view.affinityFaults.get(sepName);
      if (check !== undefined) this.#report('affinity-mismatch', `ClientIP affinity for ${e.id} does not hold: the "recent --rcheck" rule in ${chain} ${check}`, e.id, `nat/${chain}`);
      if (sep.recentSet && sep.recentFault !== undefined) this.#report('affinity-mismatch', `ClientIP affinity for ${e.id} does not hold: the "recent --set" rule in ${sepName} ${sep.recentFault}`, e.id, `nat/${sepName}`);
    }
  }

  #checkNoAffinity(view: ServiceChainView, chain: string): void {
    if ((this.#sp as ExpectedServicePort).affinitySeconds === undefined && view.affinity.size > 0) {
      this.#report('affinity-mismatch', `${chain} has ClientIP affinity rules, but the service has none`, undefined, `nat/${chain}`);
    }
  }

  // A filter-table REJECT/DROP for a target that must (not) be blocked.
  #checkBlock(rules: IndexedRule[], shouldBlock: boolean, chain: string, entry: string): void {
    const sp = this.#sp as ExpectedServicePort;
    let blocking: IndexedRule | undefined;
    for (let i = 0; i < rules.length && blocking === undefined; i++) {
      const r = rules[i] as IndexedRule;
      if (r.target === 'REJECT' || r.target === 'DROP') blocking = r;
      else if (shouldBlock && takesConnections(r.target)) {
        // an ACCEPT, RETURN or jump for the same address and port, ahead of the REJECT/DROP
        this.#report('unexpected-rule', `${chain} line ${r.line} (-j ${r.target}) is not one of kube-proxy's rules: it takes the new connections to ${entry} before they are rejected`, undefined, chain);
      }
    }
    if (shouldBlock && blocking === undefined) {
      this.#report('missing-reject', `${entry} has no usable endpoints${sp.hasEndpoints ? ' on this node' : ''}, but new connections are not rejected (no ${sp.hasEndpoints ? 'DROP' : 'REJECT'} in ${chain})`, undefined, chain);
    } else if (!shouldBlock && blocking !== undefined) {
      this.#report('unexpected-reject', `${entry} has usable endpoints, but ${chain} ${blocking.target === 'DROP' ? 'drops' : 'rejects'} new connections`, undefined, chain);
    }
  }

  // A nat capture rule (KUBE-SERVICES / KUBE-NODEPORTS) for an address. A NodePort is captured by
  // a rule for every address (`anyAddress`): kube-proxy's `-d 127.0.0.0/8` rule for localhost
  // NodePorts, next to it, does not take the node's other addresses.
  #checkCapture(rules: IndexedRule[], want: string | undefined, chain: string, entry: string, anyAddress = false): string | undefined {
    const sp = this.#sp as ExpectedServicePort;
    let jump: IndexedRule | undefined;
    let restricted: IndexedRule | undefined;
    for (let i = 0; i < rules.length && jump === undefined; i++) {
      const r = rules[i] as IndexedRule;
      const target = r.target;
      if (!takesConnections(target)) continue;
      if (!target.startsWith('KUBE-')) {
        // a RETURN, DROP, ACCEPT... for the same address and port, ahead of kube-proxy's rule
        if (want !== undefined) this.#report('unexpected-rule', `${chain} line ${r.line} (-j ${target}) is not one of kube-proxy's rules: it takes the new connections to ${entry} before they reach ${want}`, undefined, chain);
        continue;
      }
      if (anyAddress && r.destination !== undefined) restricted ??= r;
      else jump = r;
    }
    if (jump === undefined && restricted !== undefined && want !== undefined) {
      this.#report('missing-service', `${entry} is captured in ${chain} only for destination ${restricted.destination} (line ${restricted.line}): new connections to the node's other addresses are not sent to the service`, undefined, chain);
      return restricted.target;
    }
    jump ??= restricted;
    if (want === undefined) {
      if (jump !== undefined) {
        if (jump.target === sp.extChain || (jump.target?.startsWith('KUBE-FW-') === true && jump.target === sp.fwChain)) this.#checkExt(jump.target, NO_ENDPOINTS, entry);
        else this.#checkEndpoints(jump.target, NO_ENDPOINTS, entry);
      }
      return undefined;
    }
    if (jump === undefined) {
      this.#report('missing-service', `${entry} has no rule in ${chain}: new connections are not sent to the service`, undefined, chain);
      return undefined;
    }
    if (jump.target !== want) {
      this.#report('wrong-service-target', `${entry} jumps to ${jump.target} instead of ${want}`, undefined, chain);
    }
    return jump.target;
  }

  // KUBE-EXT-<hash> (or KUBE-FW-<hash> in front of it): masquerade and the policy chain.
  #checkExt(chain: string | undefined, sets: EndpointSets, entry: string): void {
    const sp = this.#sp as ExpectedServicePort;
    if (chain === undefined || this.#checked.has(chain)) return;
    // (the prefix first: the name is a SHA-256, computed only when it could match)
    if (chain.startsWith('KUBE-FW-') && chain === sp.fwChain) {
      this.#checked.add(chain);
      this.#checkFirewall(entry);
      this.#checkExt(sp.extChain, sets, entry);
      return;
    }
    this.#checked.add(chain);
    const ext = this.#index.nat.get(chain);
    if (ext !== undefined) this.#visited.add(ext);
    if (ext === undefined) {
      this.#report('missing-service', `${entry} jumps to ${chain}, which does not exist`, undefined, `nat/${chain}`);
      return;
    }
    const facts = chainFacts(ext);
    for (const r of facts) {
      const target = r.target;
      if (takesConnections(target) && !isServiceChain(target)) this.#reportForeign(chain, { line: r.line, target }, entry);
    }
    const unconditional = facts.filter((r) => r.source === undefined && r.inInterface === undefined && !r.addrtype);
    const policy = unconditional.find((r) => isServiceChain(r.target));
    if (!sp.externalLocal) {
      // (ahead of the jump: after the service chain's DNAT, the packet never comes back here)
      const masq = unconditional.find((r) => r.target === 'KUBE-MARK-MASQ');
      if (masq === undefined || (policy !== undefined && masq.line > policy.line)) {
        this.#report('missing-masquerade', `${chain} does not masquerade external traffic (externalTrafficPolicy Cluster)${masq === undefined ? '' : `: its masquerade rule (line ${masq.line}) comes after the jump to ${policy?.target}`}`, undefined, `nat/${chain}`);
      }
    }
    if (sp.externalLocal && sp.hasEndpoints) this.#checkFromNode(chain, facts, entry, policy);
    if (sets.every((s) => s.length === 0) || !sp.hasExternal) {
      if (policy !== undefined) this.#checkEndpoints(policy.target, NO_ENDPOINTS, `${entry} (external traffic)`);
      return;
    }
    if (policy === undefined) {
      this.#report('missing-service', `${entry}: ${chain} sends external traffic nowhere (no jump to ${sp.externalPolicyChain})`, undefined, `nat/${chain}`);
      return;
    }
    if (policy.target !== sp.externalPolicyChain) {
      this.#report('wrong-service-target', `${chain} sends external traffic to ${policy.target} instead of ${sp.externalPolicyChain} (externalTrafficPolicy ${sp.externalLocal ? 'Local' : 'Cluster'})`, undefined, `nat/${chain}`);
    }
    this.#checkEndpoints(policy.target, sets, `${entry} (external traffic)`);
  }

  // externalTrafficPolicy Local: traffic the node itself sends to an external address is
  // masqueraded and short-circuited to the cluster-wide chain (proxier.go writes both rules
  // whenever KUBE-EXT is used), so that it works without a local endpoint.
  #checkFromNode(chain: string, facts: readonly RuleFacts[], entry: string, policy: RuleFacts | undefined): void {
    const sp = this.#sp as ExpectedServicePort;
    // (rules past the unconditional policy jump are never reached)
    const fromNode = facts.filter((r) => r.srcTypeLocal && r.source === undefined && r.inInterface === undefined && (policy === undefined || r.line < policy.line));
    const route = fromNode.find((r) => isServiceChain(r.target));
    if (!fromNode.some((r) => r.target === 'KUBE-MARK-MASQ' && (route === undefined || r.line < route.line))) {
      this.#report('missing-masquerade', `${chain} does not masquerade traffic the node itself sends to ${entry} (no "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ" ahead of its jumps)`, undefined, `nat/${chain}`);
    }
    if (route === undefined) {
      this.#report('missing-service', `${entry}: ${chain} does not send traffic from the node itself to ${sp.svcChain} (no "-m addrtype --src-type LOCAL -j ${sp.svcChain}"): without a local endpoint, it goes nowhere`, undefined, `nat/${chain}`);
      return;
    }
    if (route.target !== sp.svcChain) {
      this.#report('wrong-service-target', `${chain} sends traffic from the node itself to ${route.target} instead of ${sp.svcChain}`, undefined, `nat/${chain}`);
    }
    this.#checkEndpoints(route.target, sp.clusterCandidates, `${entry} (traffic from the node)`);
  }

  #checkFirewall(entry: string): void {
    const sp = this.#sp as ExpectedServicePort;
    const fw = this.#index.nat.get(sp.fwChain);
    if (fw !== undefined) this.#visited.add(fw);
    if (fw === undefined) {
      this.#report('firewall-mismatch', `${entry}: ${sp.fwChain} does not exist`, undefined, `nat/${sp.fwChain}`);
      return;
    }
    const allowed = new Set<string>();
    for (const r of chainFacts(fw)) {
      const target = r.target;
      // (older kube-proxy ended the chain with KUBE-MARK-DROP, newer with a rule that only counts)
      if (takesConnections(target) && target !== 'KUBE-MARK-DROP' && !target.startsWith('KUBE-EXT-') && !isServiceChain(target)) {
        this.#reportForeign(sp.fwChain, { line: r.line, target }, entry);
      }
      if (r.target !== sp.extChain || r.source === undefined || r.sourceNegated) continue;
      allowed.add(canonicalCidr(r.source) ?? r.source);
    }
    const lbHosts = new Set(sp.loadBalancerIPs.map((ip) => canonicalCidr(ip) ?? ip));
    const want = new Set(sp.sourceRanges);
    const extra = [...allowed].filter((c) => !want.has(c) && !lbHosts.has(c));
    const missing = [...want].filter((c) => !allowed.has(c));
    if (extra.length > 0 || missing.length > 0) {
      this.#report('firewall-mismatch', `${sp.fwChain} ${missing.length > 0 ? `does not allow ${missing.join(', ')}` : ''}${missing.length > 0 && extra.length > 0 ? ' and ' : ''}${extra.length > 0 ? `allows ${extra.join(', ')}, which loadBalancerSourceRanges does not list` : ''}`, undefined, `nat/${sp.fwChain}`);
    }
  }
}

const NO_RULES: IndexedRule[] = [];
const NO_ENDPOINTS: EndpointSets = [[]];

/**
 * True when the ClusterIP masquerade rule `text` of chain `chain` (`[! -s X] -d IP -p PROTO ...
 * --dport PORT -j KUBE-MARK-MASQ`) matches `ip`, `protocol` and `port`: read where iptables-save prints
 * them (destination and protocol before the comment, the port before or after it, never inside the
 * quotes), without making a string; other spellings in full.
 */
export function masqueradesClusterIP(chain: string, text: string, ip: string, protocol: string, port: number): boolean {
  if (text.indexOf('\\') === -1 && text.indexOf("'") === -1 && text.charCodeAt(3 + chain.length) === 32) {
    let at = 4 + chain.length;
    if (text.startsWith('! -s ', at) || text.startsWith('-s ', at)) {
      const end = plainTokenEnd(text, text.indexOf('-s ', at) + 3);
      at = end === -1 ? -1 : end + 1;
    }
    if (at !== -1 && text.startsWith('-d ', at)) {
      const d = at + 3;
      const end = plainTokenEnd(text, d);
      // the port before the comment (as the match order of the rule puts it) or after it
      const first = text.indexOf('"');
      let p = text.indexOf(' --dport ', d);
      if (p !== -1 && first !== -1 && p > first) p = text.indexOf(' --dport ', text.lastIndexOf('"'));
      if (end !== -1 && p !== -1) {
        const r = d + ip.length;
        const host = text.startsWith(ip, d) && (r === end || (text.startsWith('/32', r) && r + 3 === end) || (text.startsWith('/128', r) && r + 4 === end));
        // (any other protocol, or none there, is left to the full reader)
        if (text.startsWith(' -p ', end) && text.startsWith(protocol, end + 4) && text.charCodeAt(end + 4 + protocol.length) === 32) {
          return (host || hostAddress(text.slice(d, end)) === ip) && digitsAre(text, p + 9, port);
        }
      }
    }
  }
  const f = ruleFacts(chain, text, 0);
  return f.destination !== undefined && !f.destinationNegated && hostAddress(f.destination) === ip && f.protocol?.toLowerCase() === protocol &&
    f.dport !== undefined && Number(f.dport) === port;
}

// True when text at `at` is the decimal `n`, up to a space or the end.
function digitsAre(text: string, at: number, n: number): boolean {
  let v = 0;
  let i = at;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) break;
    if (c < 48 || c > 57 || i - at > 5) return false;
    v = v * 10 + c - 48;
  }
  return i > at && v === n;
}

// A KUBE-SVC or KUBE-SVL chain's name.
function isServiceChain(name: string | undefined): name is string {
  return name !== undefined && (name.startsWith('KUBE-SVC-') || name.startsWith('KUBE-SVL-'));
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
