/**
 * The built-in log rules, as data. Order is precedence: the first rule that matches wins, so
 * specific causes (the xtables lock, IPAM exhaustion, an unreachable apiserver) come before the
 * generic wrappers that carry them (`Failed to execute iptables-restore`, sandbox failures).
 * Every rule is scoped to the components where its text means what the class says; each one is
 * tested against the real lines in test/fixtures/logs/lines/ (see docs/log-signals.md for sources).
 */
import type { RuleData } from './types.ts';

const KUBE_PROXY = ['kube-proxy', 'k3s', 'rke2'];
const CNI = [
  'calico-node', 'calico-cni', 'cilium-agent', 'kube-flannel', 'aws-node', 'aws-vpc-cni',
  'kube-multus', 'multus', 'kubelet', 'containerd', 'crio', 'k3s', 'rke2',
];
const RUNTIME = ['kubelet', 'containerd', 'crio', 'k3s', 'rke2'];
const DNS = ['coredns', 'node-cache'];
const ANY = ['*'];
// Connectivity failures as Go's net/http and gRPC spell them.
const NET_FAIL = String.raw`(?:i/o timeout|connection refused|no route to host|Service Unavailable|TLS handshake timeout|context deadline exceeded|Client\.Timeout exceeded|client connection lost|connection reset by peer|network is unreachable)`;

/** The built-in rules, in precedence order. */
export const BUILTIN_RULES: readonly RuleData[] = [
  // ---- xtables-lock: the actionable cause behind many iptables failures ----
  { id: 'xtables-lock-held', class: 'xtables-lock', severity: 'warning', components: ANY,
    pattern: 'Another app is currently holding the xtables lock', flags: 'i',
    description: 'An iptables call exited 4 because another process held /run/xtables.lock.' },
  { id: 'xtables-lock-timeout', class: 'xtables-lock', severity: 'critical', components: ANY,
    pattern: 'failed to acquire (?:new|old) iptables lock', flags: 'i',
    description: 'kube-proxy could not take the iptables lock within its poll window.' },
  { id: 'xtables-lock-in-use', class: 'xtables-lock', severity: 'warning', components: ANY,
    pattern: 'xtables lock in use', flags: 'i',
    description: 'node-local-dns retrying its NOTRACK rules while the lock is busy.' },
  { id: 'xtables-canary-exit4', class: 'xtables-lock', severity: 'warning', components: KUBE_PROXY,
    pattern: String.raw`Could not (?:check for|set up) iptables canary \S+: exit status 4\b`,
    description: 'The kube-proxy canary check exited 4: probably lock contention.' },

  // ---- cni-api-unauthorized (reported under its own class; see docs) ----
  { id: 'cni-connection-unauthorized', class: 'cni-api-unauthorized', severity: 'critical', components: CNI,
    pattern: String.raw`connection is unauthorized(?::\s*Unauthorized)?`, flags: 'i',
    description: 'The CNI kubeconfig token was rejected by the apiserver.' },
  { id: 'cni-plugin-unauthorized', class: 'cni-api-unauthorized', severity: 'critical', components: CNI,
    pattern: String.raw`failed \((?:add|delete)\): [^\n]*\bUnauthorized\b` },

  // ---- cni-ipam-exhausted ----
  { id: 'ipam-assign-failed', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: String.raw`failed to assign an IP address to (?:container|pod)\b`, flags: 'i' },
  { id: 'ipam-no-available-ip', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: String.raw`no (?:available|free) IP(?:/Prefix)? (?:addresses|available)`, flags: 'i' },
  { id: 'ipam-datastore-empty', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: 'DataStore has no available IP addresses', flags: 'i' },
  { id: 'ipam-pool-full', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: String.raw`IP address pool stats: total:?\s*([1-9]\d*),\s*assigned:?\s*\1\b`, flags: 'i' },
  { id: 'ipam-calico-allocated-zero', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: String.raw`failed to request \d+ IPv[46] addresses\. IPAM allocated only 0`, flags: 'i' },
  { id: 'ipam-calico-block-limit', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: 'cannot allocate new block due to per host block limit', flags: 'i' },
  { id: 'ipam-pool-empty', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: String.raw`No IPv[46] addresses available in pool`, flags: 'i' },
  { id: 'ipam-cilium-range-full', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: String.raw`postIpamFailure\s+range is full`, flags: 'i' },
  { id: 'ipam-calico-autoassign', class: 'cni-ipam-exhausted', severity: 'warning', components: CNI,
    pattern: 'Unable to autoassign an address', flags: 'i' },

  // ---- cni-not-ready ----
  { id: 'cni-load-failed-at-init', class: 'cni-not-ready', severity: 'warning', components: RUNTIME,
    pattern: 'failed to load cni during init', flags: 'i',
    description: 'containerd found no CNI config when it started: normal for seconds on first boot, a problem if it lasts.' },
  { id: 'cni-network-not-ready', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: 'NetworkReady=false reason:NetworkPluginNotReady' },
  { id: 'cni-plugin-not-initialized', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: 'cni plugin not initialized', flags: 'i' },
  { id: 'cni-no-network-config', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: String.raw`no network config found in \S+`, flags: 'i' },
  { id: 'cni-config-uninitialized', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: 'network plugin is not ready: cni config uninitialized', flags: 'i' },
  { id: 'cni-binary-missing', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: String.raw`failed to find plugin \\?"[^"\\]+\\?" in path`, flags: 'i' },
  { id: 'cni-flannel-subnet-env', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: String.raw`/run/flannel/subnet\.env: no such file or directory` },
  { id: 'cni-calico-nodename', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: String.raw`stat /var/lib/calico/nodename: no such file or directory` },
  { id: 'cni-cilium-agent-down', class: 'cni-not-ready', severity: 'critical', components: CNI,
    pattern: 'unable to connect to Cilium (?:agent|daemon)', flags: 'i' },

  // ---- cni-api-unreachable ----
  { id: 'cni-calico-token', class: 'cni-api-unreachable', severity: 'critical', components: CNI,
    pattern: 'Unable to create token for CNI kubeconfig' },
  { id: 'cni-cilium-apiserver', class: 'cni-api-unreachable', severity: 'critical', components: CNI,
    pattern: 'Unable to (?:contact k8s api-server|initialize Kubernetes subsystem)' },
  { id: 'cni-flannel-subnet-manager', class: 'cni-api-unreachable', severity: 'critical', components: CNI,
    pattern: 'Failed to create SubnetManager: error retrieving pod spec' },
  { id: 'cni-aws-apiserver', class: 'cni-api-unreachable', severity: 'critical', components: CNI,
    pattern: 'Unable to reach API Server' },
  { id: 'cni-plugin-api-error', class: 'cni-api-unreachable', severity: 'critical', components: CNI,
    pattern: String.raw`(?:error getting ClusterInformation|Multus: \[[^\]]*\]: error getting pod|plugin type=\\?"[\w.-]+\\?"(?: name=\\?"[\w.-]+\\?")? failed \((?:add|delete)\))[^\n]*?` + NET_FAIL,
    flags: 'i' },

  // ---- bgp-peer-down (Calico BIRD) ----
  { id: 'bgp-bird-not-ready', class: 'bgp-peer-down', severity: 'warning', components: ['calico-node', ...RUNTIME],
    pattern: 'BIRD is not ready: (?:BGP not established with|Error querying BIRD)' },
  { id: 'bgp-bird-socket-error', class: 'bgp-peer-down', severity: 'warning', components: ['calico-node'],
    pattern: String.raw`\bbird6?: \S+: (?:Socket error|Error):` },

  // ---- conntrack-full (kernel) ----
  { id: 'conntrack-table-full', class: 'conntrack-full', severity: 'critical', components: ANY,
    pattern: String.raw`\b(?:nf|ip)_conntrack: (?:nf_conntrack: )?table full, dropping packet` },

  // ---- dns-upstream-timeout (CoreDNS, NodeLocal DNSCache) ----
  { id: 'dns-loop-probe-timeout', class: 'dns-upstream-timeout', severity: 'info', components: DNS,
    pattern: String.raw`\[ERROR\] (?:plugin/errors: )?\d+ \S+ HINFO: (?:unreachable backend: )?(?:read|dial|write) (?:udp|tcp) \S+: i/o timeout`,
    description: 'The loop plugin probe (qtype HINFO) timed out: usually harmless.' },
  { id: 'dns-upstream-timeout', class: 'dns-upstream-timeout', severity: 'warning', components: DNS,
    pattern: String.raw`\[ERROR\] (?:plugin/errors: )?\d+ \S+ [A-Z0-9]+: (?:unreachable backend: )?(?:read|dial|write) (?:udp|tcp) \S+: i/o timeout` },

  // ---- cni-dataplane-sync-failure (felix) ----
  { id: 'felix-iptables-restore', class: 'cni-dataplane-sync-failure', severity: 'warning', components: ['calico-node', 'k3s', 'rke2'],
    pattern: String.raw`failed to execute ip\(6\)tables-restore command`, flags: 'i' },
  { id: 'felix-ipset-restore', class: 'cni-dataplane-sync-failure', severity: 'warning', components: ['calico-node', 'k3s', 'rke2'],
    pattern: 'Failed to complete ipset restore' },
  { id: 'flannel-iptables', class: 'cni-dataplane-sync-failure', severity: 'warning', components: ['kube-flannel', 'k3s', 'rke2'],
    pattern: 'Failed to (?:ensure iptables rules|bootstrap IPTables)',
    description: 'flanneld could not program its masquerade/forward rules (flannel-io/flannel#1124, #1913).' },

  // ---- proxy-startup-failure (kube-proxy only: run.go "command failed" is in every component) ----
  { id: 'kube-proxy-server-error', class: 'proxy-startup-failure', severity: 'critical', components: ['kube-proxy'],
    pattern: 'Error running ProxyServer' },
  { id: 'kube-proxy-command-failed', class: 'proxy-startup-failure', severity: 'critical', components: ['kube-proxy'],
    pattern: String.raw`\brun\.go:\d+(?:\] "|","msg":")[Cc]ommand failed"` },

  // ---- proxy-sync-failure (iptables, nftables, ipvs modes) ----
  { id: 'kube-proxy-iptables-restore', class: 'proxy-sync-failure', severity: 'critical', components: KUBE_PROXY,
    pattern: String.raw`\bFailed to execute iptables-restore\b` },
  { id: 'kube-proxy-sync-failed', class: 'proxy-sync-failure', severity: 'warning', components: KUBE_PROXY,
    pattern: String.raw`\bSync failed\b[^\n]{0,40}retry` },
  { id: 'kube-proxy-ipvs', class: 'proxy-sync-failure', severity: 'critical', components: KUBE_PROXY,
    pattern: String.raw`\bFailed to (?:sync service|add IPVS service|get IPVS service|sync endpoint for service|list IPVS destinations|add destination|delete destination|update IPVS service|bind service address to dummy interface)\b`, flags: 'i' },
  { id: 'kube-proxy-nftables', class: 'proxy-sync-failure', severity: 'critical', components: KUBE_PROXY,
    pattern: String.raw`\bnftables sync failed\b` },
  { id: 'kube-proxy-nftables-list', class: 'proxy-sync-failure', severity: 'critical', components: KUBE_PROXY,
    pattern: String.raw`\bFailed to list nftables (?:elements|chains|sets|maps)\b` },
  { id: 'kube-proxy-chain-jumps', class: 'proxy-sync-failure', severity: 'critical', components: KUBE_PROXY,
    pattern: String.raw`\bFailed to ensure (?:that (?:filter |nat )?chain \S+ jumps|chain jumps|chain exists)` },

  // ---- apiserver-unreachable (kube-proxy and CoreDNS informers) ----
  { id: 'informer-list-watch-failed', class: 'apiserver-unreachable', severity: 'warning', components: ['kube-proxy', ...DNS],
    pattern: String.raw`\b[Ff]ailed to (?:list|watch)\b[^\n]{0,40}\*v1(?:beta1|alpha1)?\.\w+[^\n]*?(?:i/o timeout|connection refused|no route to host|TLS handshake timeout|context deadline exceeded|network is unreachable)` },
  { id: 'kube-proxy-get-node-failed', class: 'apiserver-unreachable', severity: 'warning', components: ['kube-proxy'],
    pattern: String.raw`(?:Error getting node|Failed to retrieve node info)[^\n]*?(?:i/o timeout|connection refused|no route to host|TLS handshake timeout|context deadline exceeded)` },

  // ---- cni-sandbox-failure (generic wrapper; the cause is classified above when known) ----
  { id: 'sandbox-network-setup', class: 'cni-sandbox-failure', severity: 'warning', components: CNI,
    pattern: 'failed to (?:setup|set up|destroy|tear ?down) network for sandbox', flags: 'i' },
  { id: 'calico-cni-result-error', class: 'cni-sandbox-failure', severity: 'warning', components: CNI,
    pattern: 'Final result of CNI (?:ADD|DEL) was an error' },
  { id: 'cni-error-adding-network', class: 'cni-sandbox-failure', severity: 'warning', components: CNI,
    pattern: String.raw`\bError (?:adding|deleting) network:` },
  { id: 'cni-error-while-adding', class: 'cni-sandbox-failure', severity: 'warning', components: CNI,
    pattern: 'Error while (?:adding to|removing from) cni network', flags: 'i' },
  { id: 'cni-networkplugin-failed', class: 'cni-sandbox-failure', severity: 'warning', components: CNI,
    pattern: 'NetworkPlugin cni failed to (?:set up|teardown)', flags: 'i' },
];
