/**
 * Turns Kubernetes API objects (as `kubectl get -o json` prints them, or as an informer keeps them)
 * into the {@link ClusterView} the model uses, following kube-proxy's own reading rules: sloppy IPs
 * (leading zeros), defaults the API server applies, ignored kinds and labels. Pure.
 *
 * Anything kube-proxy itself would refuse (an unknown protocol, an address that is no IP) is skipped
 * and listed in `skipped` with where it is and why, never guessed at.
 */
import { canonicalCidr, canonicalIP, ipFamily } from '../iptables/values.ts';
import { READY, SERVING, TERMINATING } from './cluster.ts';
import type {
  ClusterView, EndpointHints, InputProblem, NodeInput, Protocol, ServiceInput, ServicePortInput, SliceInput,
} from './cluster.ts';

type Obj = Record<string, unknown>;

const PROTOCOLS: Record<string, Protocol> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };
/** kube-proxy ignores Services (and their slices) carrying these labels. */
const IGNORE_LABELS = ['service.kubernetes.io/service-proxy-name', 'service.kubernetes.io/headless'];
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** Shared by every endpoint without hints (most of them). */
const NO_NAMES: readonly string[] = Object.freeze([]);

/** Options of {@link readClusterObjects}. */
export interface ReadClusterOptions {
  /** Where object `index` is, for messages (file and line when known). */
  readonly where: (index: number) => string;
}

/** Reads API objects of any kinds; Services, EndpointSlices and Nodes are used, others counted. */
export function readClusterObjects(items: readonly unknown[], options: ReadClusterOptions): ClusterView & { otherKinds: number } {
  const services: ServiceInput[] = [];
  const slices: SliceInput[] = [];
  const nodes: NodeInput[] = [];
  const skipped: InputProblem[] = [];
  let ignoredServices = 0;
  let otherKinds = 0;
  items.forEach((item, index) => {
    // where an object is can be costly to find (line numbers): only for objects with a problem
    const where = (): string => options.where(index);
    if (!isObj(item) || typeof item.kind !== 'string') {
      skipped.push({ where: where(), object: 'item', reason: 'not a Kubernetes object (no "kind")' });
      return;
    }
    const meta = isObj(item.metadata) ? item.metadata : undefined;
    const name = typeof meta?.name === 'string' ? meta.name : undefined;
    const namespace = typeof meta?.namespace === 'string' ? meta.namespace : undefined;
    const label = `${item.kind} ${namespace ?? '?'}/${name ?? '?'}`;
    const problem = (reason: string): void => { skipped.push({ where: where(), object: label, reason }); };
    if (item.kind === 'Service') {
      if (name === undefined || namespace === undefined) return problem('metadata.name and metadata.namespace are required');
      const result = readService(item, namespace, name, problem);
      if (result === 'ignored') ignoredServices++;
      else if (result !== undefined) services.push(result);
    } else if (item.kind === 'EndpointSlice') {
      if (name === undefined || namespace === undefined) return problem('metadata.name and metadata.namespace are required');
      const slice = readSlice(item, namespace, name, problem);
      if (slice !== undefined) slices.push(slice);
    } else if (item.kind === 'Node') {
      if (name === undefined) return problem('metadata.name is required');
      nodes.push(readNode(item, name));
    } else {
      otherKinds++;
    }
  });
  return { services, slices, nodes, skipped, ignoredServices, otherKinds };
}

function readService(item: Obj, namespace: string, name: string, problem: (r: string) => void): ServiceInput | 'ignored' | undefined {
  const labels = labelsOf(item);
  if (IGNORE_LABELS.some((l) => labels[l] !== undefined)) return 'ignored';
  const spec = item.spec;
  if (!isObj(spec)) { problem('spec is missing'); return undefined; }
  const type = spec.type ?? 'ClusterIP';
  if (type === 'ExternalName') return 'ignored';
  if (type !== 'ClusterIP' && type !== 'NodePort' && type !== 'LoadBalancer') {
    problem(`spec.type "${String(type)}" is not ClusterIP, NodePort, LoadBalancer or ExternalName`);
    return undefined;
  }
  const rawIPs = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0 ? spec.clusterIPs : [spec.clusterIP];
  if (rawIPs.length === 0 || rawIPs[0] === undefined || rawIPs[0] === null || rawIPs[0] === '') {
    problem('spec.clusterIP is missing'); return undefined;
  }
  if (rawIPs[0] === 'None') return 'ignored'; // headless
  const clusterIPs: string[] = [];
  for (const raw of rawIPs) {
    const ip = typeof raw === 'string' ? canonicalIP(raw) : undefined;
    if (ip === undefined) { problem(`spec.clusterIPs: "${String(raw)}" is not an IP address`); return undefined; }
    clusterIPs.push(ip);
  }
  if (!Array.isArray(spec.ports)) { problem('spec.ports is missing'); return undefined; }
  const ports: ServicePortInput[] = [];
  for (const [i, p] of spec.ports.entries()) {
    if (!isObj(p)) { problem(`spec.ports[${i}] is not an object`); continue; }
    const protocol = PROTOCOLS[String(p.protocol ?? 'TCP')];
    if (protocol === undefined) { problem(`spec.ports[${i}].protocol "${String(p.protocol)}" is not TCP, UDP or SCTP`); continue; }
    if (!isPort(p.port)) { problem(`spec.ports[${i}].port ${JSON.stringify(p.port)} is not a port number`); continue; }
    const nodePort = p.nodePort === undefined || p.nodePort === null ? 0 : p.nodePort;
    if (nodePort !== 0 && !isPort(nodePort)) { problem(`spec.ports[${i}].nodePort ${JSON.stringify(nodePort)} is not a port number`); continue; }
    ports.push({ name: typeof p.name === 'string' ? p.name : '', protocol, port: p.port as number, nodePort: nodePort as number });
  }
  const ips = (field: string, values: unknown, canon: (s: string) => string | undefined): string[] => {
    if (values === undefined || values === null) return [];
    if (!Array.isArray(values)) { problem(`${field} is not a list`); return []; }
    const out: string[] = [];
    for (const v of values) {
      const c = typeof v === 'string' ? canon(v.trim()) : undefined;
      if (c === undefined) problem(`${field}: "${String(v)}" is not valid; kube-proxy ignores it`);
      else out.push(c);
    }
    return out;
  };
  const status = isObj(item.status) ? item.status : {};
  const lb = isObj(status.loadBalancer) ? status.loadBalancer : {};
  const ingress = Array.isArray(lb.ingress) ? lb.ingress : [];
  // ipMode Proxy: the load balancer proxies, kube-proxy does not capture the IP (1.30+).
  const vipIngress = ingress.filter((i): i is Obj => isObj(i) && typeof i.ip === 'string' && (i.ipMode === undefined || i.ipMode === null || i.ipMode === 'VIP')).map((i) => i.ip);
  const affinity = spec.sessionAffinity === 'ClientIP';
  const cfg = isObj(spec.sessionAffinityConfig) && isObj(spec.sessionAffinityConfig.clientIP) ? spec.sessionAffinityConfig.clientIP : {};
  const timeout = typeof cfg.timeoutSeconds === 'number' ? cfg.timeoutSeconds : 10800;
  return {
    namespace, name, type, clusterIPs, ports,
    externalIPs: ips('spec.externalIPs', spec.externalIPs, canonicalIP),
    loadBalancerIPs: type === 'LoadBalancer' ? ips('status.loadBalancer.ingress', vipIngress, canonicalIP) : [],
    sourceRanges: type === 'LoadBalancer' ? ips('spec.loadBalancerSourceRanges', spec.loadBalancerSourceRanges, canonicalCidr) : [],
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    internalTrafficPolicy: spec.internalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    affinitySeconds: affinity ? timeout : undefined,
    healthCheckNodePort: isPort(spec.healthCheckNodePort) ? spec.healthCheckNodePort as number : 0,
  };
}

function readSlice(item: Obj, namespace: string, name: string, problem: (r: string) => void): SliceInput | undefined {
  const labels = labelsOf(item);
  const service = labels[SERVICE_NAME_LABEL];
  if (service === undefined) return undefined; // kube-proxy ignores slices without an owner
  if (IGNORE_LABELS.some((l) => labels[l] !== undefined)) return undefined;
  const addressType = item.addressType;
  if (addressType === 'FQDN') return undefined;
  if (addressType !== 'IPv4' && addressType !== 'IPv6') { problem(`addressType ${JSON.stringify(addressType)} is not IPv4, IPv6 or FQDN`); return undefined; }
  const ports: { name: string; protocol: Protocol; port: number }[] = [];
  const rawPorts = item.ports === undefined || item.ports === null ? [] : item.ports;
  if (!Array.isArray(rawPorts)) { problem('ports is not a list'); return undefined; }
  for (const [i, p] of rawPorts.entries()) {
    if (!isObj(p)) { problem(`ports[${i}] is not an object`); continue; }
    const protocol = PROTOCOLS[String(p.protocol ?? 'TCP')];
    if (protocol === undefined) { problem(`ports[${i}].protocol "${String(p.protocol)}" is not TCP, UDP or SCTP`); continue; }
    if (p.port === undefined || p.port === null) continue; // kube-proxy ignores ports without a number
    if (!isPort(p.port)) { problem(`ports[${i}].port ${JSON.stringify(p.port)} is not a port number`); continue; }
    ports.push({ name: typeof p.name === 'string' ? p.name : '', protocol, port: p.port as number });
  }
  const ips: string[] = [];
  let conditions = '';
  const nodeNames: string[] = [];
  let hints: (EndpointHints | null)[] | undefined;
  const rawEndpoints = item.endpoints === undefined || item.endpoints === null ? [] : item.endpoints;
  if (!Array.isArray(rawEndpoints)) { problem('endpoints is not a list'); return undefined; }
  const family = addressType === 'IPv4' ? 4 : 6;
  // (100k endpoints at 10k services: an indexed loop, no object or closure made per endpoint)
  for (let i = 0; i < rawEndpoints.length; i++) {
    const e: unknown = rawEndpoints[i];
    if (!isObj(e) || !Array.isArray(e.addresses) || e.addresses.length === 0) { problem(`endpoints[${i}].addresses is missing`); continue; }
    const raw: unknown = e.addresses[0];
    const ip = typeof raw === 'string' ? canonicalIP(raw) : undefined;
    if (ip === undefined || ipFamily(ip) !== family) {
      problem(`endpoints[${i}].addresses[0] "${String(raw)}" is not an ${addressType} address`); continue;
    }
    const h = isObj(e.hints) ? e.hints : undefined;
    const zones = h === undefined ? NO_NAMES : namesOf(h.forZones);
    const nodes = h === undefined ? NO_NAMES : namesOf(h.forNodes);
    if (zones.length > 0 || nodes.length > 0) (hints ??= ips.map(() => null)).push({ zones, nodes });
    else hints?.push(null);
    ips.push(ip);
    const c = isObj(e.conditions) ? e.conditions : undefined;
    conditions += String.fromCharCode(48 + (c?.ready !== false ? READY : 0) + (c?.serving !== false ? SERVING : 0) + (c?.terminating === true ? TERMINATING : 0));
    nodeNames.push(typeof e.nodeName === 'string' ? e.nodeName : '');
  }
  const endpoints = hints === undefined ? { ips, conditions, nodeNames } : { ips, conditions, nodeNames, hints };
  return { namespace, name, service, addressType, ports, endpoints };
}

function readNode(item: Obj, name: string): NodeInput {
  const labels = labelsOf(item);
  const status = isObj(item.status) ? item.status : {};
  const addresses = Array.isArray(status.addresses) ? status.addresses : [];
  return {
    name,
    zone: labels[ZONE_LABEL],
    addresses: addresses.filter(isObj).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP')
      .map((a) => (typeof a.address === 'string' ? canonicalIP(a.address) : undefined)).filter((a): a is string => a !== undefined),
  };
}

// The names of a hints list (`forZones`, `forNodes`: [{name}]).
function namesOf(list: unknown): readonly string[] {
  return Array.isArray(list) && list.length > 0 ? list.filter(isObj).map((x) => x.name).filter((n): n is string => typeof n === 'string') : NO_NAMES;
}

function labelsOf(item: Obj): Record<string, string | undefined> {
  const meta = isObj(item.metadata) ? item.metadata : {};
  return isObj(meta.labels) ? (meta.labels as Record<string, string | undefined>) : {};
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPort(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536;
}
