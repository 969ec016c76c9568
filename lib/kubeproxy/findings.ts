/**
 * The vocabulary of drift findings: a stable contract (JSON `kind` values, metric labels, docs).
 * Extend it, never rename a kind.
 */

/** Every kind of finding, with what it means. */
export const FINDING_KINDS = {
  'missing-service': 'The API says the service port is reachable at this address, but no rule sends its traffic anywhere.',
  'stale-service': 'Rules still handle a service port (or one of its addresses) that the API no longer has.',
  'missing-endpoint': 'A ready endpoint in the API receives no new connections on this node.',
  'stale-endpoint': 'New connections are still sent to an address that is no longer a usable endpoint (the CircleCI failure).',
  'wrong-endpoint-target': "An endpoint's chain DNATs to the wrong address or port.",
  'wrong-service-target': 'The service address jumps to the wrong chain (e.g. the Cluster chain where the traffic policy is Local).',
  'missing-reject': 'The service has no usable endpoints, but its traffic is not rejected or dropped in the filter table.',
  'unexpected-reject': 'Traffic to a service that has usable endpoints is rejected or dropped in the filter table.',
  'probability-skew': 'The endpoints do not each get an equal share of new connections.',
  'affinity-mismatch': 'ClientIP session affinity is missing, unexpected, has the wrong timeout, or does not pin each client to one endpoint (its recent rules use another set, a network mask, destination addresses or a hit count).',
  'missing-masquerade': 'A masquerade (SNAT) rule is missing: hairpin or external traffic to the service breaks.',
  'firewall-mismatch': 'loadBalancerSourceRanges are not enforced as the API says (KUBE-FW / KUBE-PROXY-FIREWALL).',
  'missing-healthcheck-port': "The service's health check node port is not accepted in the filter table.",
  'missing-base-rules': "kube-proxy's fixed rules are missing: jumps from the built-in chains, KUBE-MARK-MASQ, KUBE-POSTROUTING, KUBE-FORWARD.",
  'missing-canary': 'A KUBE-PROXY-CANARY chain is gone: the tables were flushed.',
  'mixed-backends': 'kube-proxy rules exist in both iptables-legacy and iptables-nft: one of them is stale.',
  'stale-chain': 'A per-service chain exists that no rule reaches (harmless leftover; kube-proxy normally removes it).',
  'unexpected-rule': "A rule kube-proxy does not write sits in one of its chains (per-service, or ahead of a service's rule in KUBE-SERVICES/KUBE-NODEPORTS) and sends the connections it matches elsewhere (RETURN, DROP, ACCEPT, another chain).",
} as const;

/** A finding kind. */
export type FindingKind = keyof typeof FINDING_KINDS;

/** How much a finding matters: errors are drift, warnings are reported but do not fail a check. */
export type Severity = 'error' | 'warning';

/** One difference between what the API says and what the node does. */
export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** `namespace/name`, when the finding is about a service. */
  readonly service: string | undefined;
  /** Port name, or the port number when unnamed. */
  readonly port: string | undefined;
  /** `tcp`, `udp`, `sctp`. */
  readonly protocol: string | undefined;
  /** `ip:port` (or `[ip6]:port`) where an endpoint is concerned. */
  readonly endpoint: string | undefined;
  /** `table/CHAIN` where the rule is or should be. */
  readonly chain: string | undefined;
  /** `IPv4` or `IPv6`. */
  readonly family: 'IPv4' | 'IPv6';
  readonly message: string;
}
