/**
 * What kube-proxy (iptables mode) must have programmed for each service port of one IP family,
 * computed from the cluster view the way kube-proxy computes it: service-port names, chain names,
 * endpoint selection (ready, then serving+terminating; traffic policies; topology hints) and the
 * derived flags that decide which rules exist. Pure. See docs/kube-proxy-model.md.
 */
import { endpointChainName, serviceChainName } from './chain-names.ts';
import { READY, SERVING, TERMINATING } from './cluster.ts';
import type { ClusterView, EndpointHints, NodeInput, Protocol, ServiceInput, ServicePortInput, SliceInput } from './cluster.ts';
import { ipFamily } from '../iptables/values.ts';

/** One endpoint of a service port, as kube-proxy names it. */
export interface ExpectedEndpoint {
  /** `ip:port` or `[ip6]:port`. */
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly local: boolean;
  /** `KUBE-SEP-<hash>` (a SHA-256: computed on first use, it is not needed on the hot path). */
  readonly chain: string;
}

/** What an endpoint's chain name is hashed from, shared by the endpoints of one service port. */
interface ChainContext {
  readonly servicePort: string;
  readonly protocol: string;
}

const NO_HINTS: EndpointHints = { zones: [], nodes: [] };

/** An endpoint whose chain name is hashed only when asked for. */
class LazyEndpoint implements ExpectedEndpoint {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  local = false;
  /** {@link READY} | {@link SERVING} | {@link TERMINATING}. */
  readonly conditions: number;
  readonly nodeName: string;
  readonly hints: EndpointHints;
  #context: ChainContext | undefined;
  #chain: string | undefined;

  constructor(id: string, ip: string, port: number, conditions: number, nodeName: string, hints: EndpointHints | null | undefined, context: ChainContext, node: string) {
    this.id = id;
    this.ip = ip;
    this.port = port;
    this.conditions = conditions;
    this.nodeName = nodeName;
    this.hints = hints ?? NO_HINTS;
    this.#context = context;
    this.local = nodeName !== '' && nodeName === node;
  }

  get ready(): boolean { return (this.conditions & READY) !== 0; }
  get servingTerminating(): boolean { return (this.conditions & (SERVING | TERMINATING)) === (SERVING | TERMINATING); }
  get terminating(): boolean { return (this.conditions & TERMINATING) !== 0; }

  get chain(): string {
    const c = this.#context as ChainContext;
    this.#chain ??= endpointChainName(c.servicePort, c.protocol, this.id);
    return this.#chain;
  }
}

/** Everything the diff needs to know about one service port. */
export interface ExpectedServicePort {
  /** `ns/svc`. */
  readonly service: string;
  /** Port name, or the port number as text when unnamed. */
  readonly portLabel: string;
  /** kube-proxy's service-port name: `ns/svc:port` or `ns/svc`. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly clusterIP: string;
  readonly port: number;
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  readonly sourceRanges: readonly string[];
  readonly healthCheckNodePort: number;
  readonly affinitySeconds: number | undefined;
  readonly internalLocal: boolean;
  readonly externalLocal: boolean;
  readonly svcChain: string;
  readonly svlChain: string;
  readonly extChain: string;
  readonly fwChain: string;
  /**
   * Acceptable cluster endpoint sets, sorted as kube-proxy sorts them. Usually one; several when
   * the node's zone is unknown and topology hints could select a subset.
   */
  readonly clusterCandidates: readonly (readonly ExpectedEndpoint[])[];
  /** Local endpoints (empty when local endpoints are not used). */
  readonly localEndpoints: readonly ExpectedEndpoint[];
  /** Any usable endpoint anywhere in the cluster. */
  readonly hasEndpoints: boolean;
  /** ClusterIP traffic is sent to endpoints (otherwise REJECT/DROP in filter KUBE-SERVICES). */
  readonly hasInternal: boolean;
  /** External traffic is sent to endpoints (otherwise REJECT/DROP in KUBE-EXTERNAL-SERVICES). */
  readonly hasExternal: boolean;
  /** The chain ClusterIP traffic goes to. */
  readonly internalChain: string;
  /** The chain KUBE-EXT sends external traffic to. */
  readonly externalPolicyChain: string;
  readonly externallyAccessible: boolean;
  /** True when KUBE-FW-<hash> is used for loadBalancerSourceRanges. */
  readonly usesFirewall: boolean;
}

/** Options of {@link expectedServicePorts}. */
export interface ExpectedOptions {
  readonly family: 4 | 6;
  readonly node: NodeInput;
}

/** Computes the expected model for every service port of the family, in a stable order. */
export function expectedServicePorts(view: ClusterView, options: ExpectedOptions): ExpectedServicePort[] {
  return [...eachExpectedServicePort(view, options)];
}

/**
 * The same, one service port at a time: a check that consumes each port before asking for the next
 * holds one service's endpoints at a time, not 100k (they die young instead of filling the old space).
 */
export function* eachExpectedServicePort(view: ClusterView, options: ExpectedOptions): Generator<ExpectedServicePort, void, undefined> {
  const { family, node } = options;
  const addressType = family === 4 ? 'IPv4' : 'IPv6';
  // Slices by service, in slice order; their endpoints are merged per service port below, as
  // kube-proxy merges slices.
  // (namespace, then name: no key string made per slice and per service)
  const byService = new Map<string, Map<string, SliceInput[]>>();
  for (const slice of view.slices) {
    if (slice.addressType !== addressType) continue;
    let inNamespace = byService.get(slice.namespace);
    if (inNamespace === undefined) byService.set(slice.namespace, inNamespace = new Map());
    const slices = inNamespace.get(slice.service);
    if (slices === undefined) inNamespace.set(slice.service, [slice]);
    else slices.push(slice);
  }
  for (const svc of view.services) {
    const clusterIP = svc.clusterIPs.find((ip) => ipFamily(ip) === family);
    if (clusterIP === undefined) continue;
    const slices = byService.get(svc.namespace)?.get(svc.name);
    for (const port of svc.ports) yield servicePort(svc, port, clusterIP, slices, family, node);
  }
}

// The endpoints of a service port in all its slices, in slice order.
function endpointsOf(slices: readonly SliceInput[], port: ServicePortInput, family: 4 | 6, context: ChainContext, node: string): LazyEndpoint[] {
  const eps: LazyEndpoint[] = [];
  for (const slice of slices) {
    for (const p of slice.ports) {
      if (p.protocol !== port.protocol || p.name !== port.name) continue;
      const suffix = `:${p.port}`;
      const { ips, conditions, nodeNames, hints } = slice.endpoints;
      for (let i = 0; i < ips.length; i++) {
        const ip = ips[i] as string;
        eps.push(new LazyEndpoint(family === 4 ? ip + suffix : `[${ip}]${suffix}`, ip, p.port, conditions.charCodeAt(i) - 48, nodeNames[i] as string, hints?.[i], context, node));
      }
    }
  }
  return eps;
}

// Sorted by id as kube-proxy sorts endpoints (lexicographically), one per id: of duplicates (the
// same address in two slices), the last non-terminating one, else the first.
function merge(eps: LazyEndpoint[]): LazyEndpoint[] {
  sortById(eps); // stable: slice order among equals
  let out = 0;
  for (let i = 0; i < eps.length;) {
    let j = i + 1;
    let pick = eps[i] as LazyEndpoint;
    while (j < eps.length && (eps[j] as LazyEndpoint).id === pick.id) {
      if (!(eps[j] as LazyEndpoint).terminating) pick = eps[j] as LazyEndpoint;
      j++;
    }
    eps[out++] = pick;
    i = j;
  }
  eps.length = out;
  return eps;
}

// Sorts by id, stably. A service port usually has a few dozen endpoints at most: those are sorted
// in place by insertion (no work array per port as Array#sort makes, and n - 1 comparisons when
// the slices already list them in order); longer lists by Array#sort.
function sortById(eps: LazyEndpoint[]): void {
  if (eps.length > 32) {
    eps.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return;
  }
  for (let i = 1; i < eps.length; i++) {
    const e = eps[i] as LazyEndpoint;
    let j = i - 1;
    while (j >= 0 && (eps[j] as LazyEndpoint).id > e.id) {
      eps[j + 1] = eps[j] as LazyEndpoint;
      j--;
    }
    eps[j + 1] = e;
  }
}

function servicePort(
  svc: ServiceInput, port: ServiceInput['ports'][number], clusterIP: string,
  slices: readonly SliceInput[] | undefined, family: 4 | 6, node: NodeInput,
): ExpectedServicePort {
  const service = `${svc.namespace}/${svc.name}`;
  const name = port.name === '' ? service : `${service}:${port.name}`;
  const proto = port.protocol;
  const context: ChainContext = { servicePort: name, protocol: proto };
  const endpoints = slices === undefined ? [] : merge(endpointsOf(slices, port, family, context, node.name));
  const externalIPs = ofFamily(svc.externalIPs, family);
  const loadBalancerIPs = ofFamily(svc.loadBalancerIPs, family);
  const sourceRanges = ofFamily(svc.sourceRanges, family);
  const nodePort = svc.type === 'ClusterIP' ? 0 : port.nodePort;
  const externallyAccessible = nodePort !== 0 || loadBalancerIPs.length > 0 || externalIPs.length > 0;
  const externalLocal = svc.externalTrafficPolicy === 'Local' &&
    (svc.type === 'LoadBalancer' || svc.type === 'NodePort' || externalIPs.length > 0);
  const internalLocal = svc.internalTrafficPolicy === 'Local';
  const usesCluster = !internalLocal || externallyAccessible;
  const usesLocal = internalLocal || (externalLocal && externallyAccessible);

  const ready: LazyEndpoint[] = [];
  const servingTerminating: LazyEndpoint[] = [];
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i] as LazyEndpoint;
    if (e.ready) ready.push(e);
    if (e.servingTerminating) servingTerminating.push(e);
  }

  let clusterCandidates: ExpectedEndpoint[][] = [[]];
  let hasEndpoints = false;
  if (usesCluster) {
    clusterCandidates = topologyCandidates(ready, node);
    if (clusterCandidates.every((c) => c.length === 0)) clusterCandidates = [servingTerminating];
    hasEndpoints = clusterCandidates.some((c) => c.length > 0);
  }
  let localEndpoints: ExpectedEndpoint[] = [];
  if (usesLocal) {
    if (ready.length > 0 || servingTerminating.length > 0) hasEndpoints = true;
    const localReady = ready.filter((e) => e.local);
    localEndpoints = localReady.length > 0 ? localReady : servingTerminating.filter((e) => e.local);
  }
  const hasInternal = hasEndpoints && !(internalLocal && localEndpoints.length === 0);
  const hasExternal = hasEndpoints && !(externalLocal && localEndpoints.length === 0);
  return new ExpectedPort({
    service, portLabel: port.name === '' ? String(port.port) : port.name, name, protocol: proto, clusterIP,
    port: port.port, nodePort, externalIPs, loadBalancerIPs, sourceRanges,
    healthCheckNodePort: svc.type === 'LoadBalancer' && svc.externalTrafficPolicy === 'Local' ? svc.healthCheckNodePort : 0,
    affinitySeconds: svc.affinitySeconds, internalLocal, externalLocal,
    clusterCandidates: usesCluster ? clusterCandidates : [[]], localEndpoints,
    hasEndpoints, hasInternal, hasExternal, externallyAccessible,
    usesFirewall: hasEndpoints && loadBalancerIPs.length > 0 && sourceRanges.length > 0,
  });
}

// The addresses of one family (CIDRs by their address); a service usually has none.
function ofFamily(ips: readonly string[], family: 4 | 6): readonly string[] {
  return ips.length === 0 ? ips : ips.filter((ip) => ipFamily(ip.split('/')[0] ?? '') === family);
}

/** The facts of a service port, without its chain names. */
type PortFacts = Omit<ExpectedServicePort, 'svcChain' | 'svlChain' | 'extChain' | 'fwChain' | 'internalChain' | 'externalPolicyChain'>;

/** Writable facts, for ExpectedPort's constructor (the port is only ever seen as an ExpectedServicePort). */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A service port; its chain names are SHA-256 hashes, computed when first read (most ports never need SVL/EXT/FW). */
// The facts are declared by the interface and assigned by name in the constructor.
interface ExpectedPort extends Writable<PortFacts> {}
class ExpectedPort implements ExpectedServicePort {
  #svc: string | undefined;
  #svl: string | undefined;
  #ext: string | undefined;
  #fw: string | undefined;

  // (each field assigned by name: one shape for every port, no copying builtin)
  constructor(f: PortFacts) {
    this.service = f.service;
    this.portLabel = f.portLabel;
    this.name = f.name;
    this.protocol = f.protocol;
    this.clusterIP = f.clusterIP;
    this.port = f.port;
    this.nodePort = f.nodePort;
    this.externalIPs = f.externalIPs;
    this.loadBalancerIPs = f.loadBalancerIPs;
    this.sourceRanges = f.sourceRanges;
    this.healthCheckNodePort = f.healthCheckNodePort;
    this.affinitySeconds = f.affinitySeconds;
    this.internalLocal = f.internalLocal;
    this.externalLocal = f.externalLocal;
    this.clusterCandidates = f.clusterCandidates;
    this.localEndpoints = f.localEndpoints;
    this.hasEndpoints = f.hasEndpoints;
    this.hasInternal = f.hasInternal;
    this.hasExternal = f.hasExternal;
    this.externallyAccessible = f.externallyAccessible;
    this.usesFirewall = f.usesFirewall;
  }

  get svcChain(): string { return this.#svc ??= serviceChainName('KUBE-SVC-', this.name, this.protocol); }
  get svlChain(): string { return this.#svl ??= serviceChainName('KUBE-SVL-', this.name, this.protocol); }
  get extChain(): string { return this.#ext ??= serviceChainName('KUBE-EXT-', this.name, this.protocol); }
  get fwChain(): string { return this.#fw ??= serviceChainName('KUBE-FW-', this.name, this.protocol); }
  get internalChain(): string { return this.internalLocal ? this.svlChain : this.svcChain; }
  get externalPolicyChain(): string { return this.externalLocal ? this.svlChain : this.svcChain; }
}

/**
 * The cluster endpoint sets topology hints allow (kube-proxy's CategorizeEndpoints). With a known
 * zone there is one answer; with an unknown zone (no Node object given) every zone's subset is
 * acceptable, plus all ready endpoints. Node hints (PreferSameNode, 1.33+) are honoured by newer
 * kube-proxy only, so both answers are accepted when they apply.
 */
function topologyCandidates(ready: LazyEndpoint[], node: NodeInput): LazyEndpoint[][] {
  if (ready.length === 0) return [[]];
  const candidates: LazyEndpoint[][] = [];
  if (ready.every((e) => e.hints.nodes.length > 0)) {
    const forNode = ready.filter((e) => e.hints.nodes.includes(node.name));
    if (forNode.length > 0) candidates.push(forNode);
  }
  if (ready.every((e) => e.hints.zones.length > 0)) {
    const zones = node.zone !== undefined ? [node.zone] : [...new Set(ready.flatMap((e) => e.hints.zones))];
    for (const zone of zones) {
      const inZone = ready.filter((e) => e.hints.zones.includes(zone));
      if (inZone.length > 0) candidates.push(inZone);
    }
    if (node.zone === undefined || candidates.length === 0) candidates.push(ready);
  } else {
    candidates.push(ready);
  }
  return candidates;
}
