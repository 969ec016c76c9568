/**
 * The cluster facts the kube-proxy model needs, as small plain records (no Kubernetes client types):
 * Services, EndpointSlices and this node. Produced by {@link readClusterObjects} from API objects.
 */

/** Lower-case protocol as used in chain-name hashes and `-p`. */
export type Protocol = 'tcp' | 'udp' | 'sctp';

/** One `spec.ports` entry. */
export interface ServicePortInput {
  /** Port name; empty for an unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** 0 when none. */
  readonly nodePort: number;
}

/** A Service, reduced to what kube-proxy uses. */
export interface ServiceInput {
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** Canonical ClusterIPs (both families for dual-stack). */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePortInput[];
  /** Canonical external IPs. */
  readonly externalIPs: readonly string[];
  /** Canonical LoadBalancer ingress IPs used by kube-proxy (ipMode VIP or unset). */
  readonly loadBalancerIPs: readonly string[];
  /** Canonical `loadBalancerSourceRanges` CIDRs. */
  readonly sourceRanges: readonly string[];
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  /** ClientIP affinity timeout in seconds, or undefined for no affinity. */
  readonly affinitySeconds: number | undefined;
  /** 0 when none. */
  readonly healthCheckNodePort: number;
}

/** An endpoint's conditions, as bits of a {@link SliceEndpoints.conditions} character code (minus `0`). */
export const READY = 1, SERVING = 2, TERMINATING = 4;

/** An endpoint's topology hints (names of `hints.forZones` and `hints.forNodes`). */
export interface EndpointHints {
  readonly zones: readonly string[];
  readonly nodes: readonly string[];
}

/**
 * The endpoints of an EndpointSlice, column by column: endpoint `i` is `ips[i]`, the conditions in
 * `conditions.charCodeAt(i)` and `nodeNames[i]`. A record per endpoint (100k at 10k Services) took
 * twice the heap and twice the time to pass between threads or processes.
 */
export interface SliceEndpoints {
  /** Canonical addresses (only `addresses[0]` is used, as kube-proxy does). */
  readonly ips: readonly string[];
  /** One character per endpoint: `0` plus {@link READY} | {@link SERVING} | {@link TERMINATING}. */
  readonly conditions: string;
  /** `nodeName` per endpoint; `''` when it has none. */
  readonly nodeNames: readonly string[];
  /** Hints per endpoint (`null`: none); left out when no endpoint of the slice has any. */
  readonly hints?: readonly (EndpointHints | null)[];
}

/** An EndpointSlice. */
export interface SliceInput {
  readonly namespace: string;
  readonly name: string;
  /** The owning Service's name (label `kubernetes.io/service-name`). */
  readonly service: string;
  readonly addressType: 'IPv4' | 'IPv6';
  readonly ports: readonly { readonly name: string; readonly protocol: Protocol; readonly port: number }[];
  readonly endpoints: SliceEndpoints;
}

/** The node the check is about. */
export interface NodeInput {
  readonly name: string;
  /** Label `topology.kubernetes.io/zone`, when known. */
  readonly zone: string | undefined;
  /** Canonical InternalIP/ExternalIP addresses, when known. */
  readonly addresses: readonly string[];
}

/** Something in the input that could not be used, with where it is and why. */
export interface InputProblem {
  /** e.g. `cluster.json:120` or `cluster.json items[3]`. */
  readonly where: string;
  /** `Service ns/name`, `EndpointSlice ns/name`. */
  readonly object: string;
  readonly reason: string;
}

/** All cluster facts. */
export interface ClusterView {
  readonly services: readonly ServiceInput[];
  readonly slices: readonly SliceInput[];
  readonly nodes: readonly NodeInput[];
  /** Objects or fields skipped, as kube-proxy would skip them (counted, reported). */
  readonly skipped: readonly InputProblem[];
  /** Services deliberately ignored as kube-proxy does (headless, ExternalName, other proxy). */
  readonly ignoredServices: number;
}
