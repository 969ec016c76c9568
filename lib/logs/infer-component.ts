/**
 * Pure: which component wrote a log, from its path (CRI pod directory, /var/log/containers
 * symlink name, known plain-file paths), from a journald entry's unit, or from the line itself.
 */

// Container names (CRI) whose component differs from the container name.
const CONTAINER_ALIASES: Readonly<Record<string, string>> = {
  'install-cni': 'calico-node',
  'calico-node': 'calico-node',
  'cilium-agent': 'cilium-agent',
  'kube-flannel': 'kube-flannel',
  'aws-node': 'aws-node',
  'aws-vpc-cni-init': 'aws-node',
  'kube-multus': 'kube-multus',
  'kube-proxy': 'kube-proxy',
  coredns: 'coredns',
  'node-cache': 'node-cache',
};

/** Known components, as they appear in file names (longest first so `kube-proxy` wins over `proxy`). */
const KNOWN = ['kube-proxy', 'calico-node', 'cilium-agent', 'kube-flannel', 'aws-node', 'kube-multus', 'node-cache', 'coredns',
  'kubelet', 'containerd', 'crio', 'k3s', 'rke2'];

/** The component for a CRI container name (`kube-proxy`, `calico-node`, or the name itself). */
export function componentOfContainer(container: string): string {
  return CONTAINER_ALIASES[container] ?? container;
}

/** The parts of a CRI pod log path `/var/log/pods/<ns>_<pod>_<uid>/<container>/<N>.log`. */
export interface PodLogPath {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  /** The restart count N. */
  restart: number;
}

const POD_LOG = /(?:^|\/)([^/_]+)_([^/_]+)_([^/_]+)\/([^/]+)\/(\d+)\.log(?:\.\d{8}-\d{6}(?:\.gz)?)?$/;

/** Parses a CRI pod log path (live `N.log` or rotated `N.log.<timestamp>[.gz]`), else undefined. */
export function parsePodLogPath(path: string): PodLogPath | undefined {
  const m = POD_LOG.exec(path);
  if (m === null) return undefined;
  return { namespace: m[1]!, pod: m[2]!, uid: m[3]!, container: m[4]!, restart: Number(m[5]) };
}

// `/var/log/containers/<pod>_<ns>_<container>-<64 hex>.log`
const CONTAINERS_LINK = /(?:^|\/)[^/_]+_[^/_]+_(.+)-[0-9a-f]{64}\.log$/;

/** The component for a file path, or undefined when the path says nothing. */
export function componentOfPath(path: string): string | undefined {
  const pod = parsePodLogPath(path);
  if (pod !== undefined) return componentOfContainer(pod.container);
  const link = CONTAINERS_LINK.exec(path);
  if (link !== null) return componentOfContainer(link[1]!);
  if (/\/calico\/cni\//.test(path)) return 'calico-cni';
  if (/\/aws-routed-eni\//.test(path)) return 'aws-vpc-cni';
  if (/multus[^/]*\.log(?:\.\d+)?(?:\.gz)?$/.test(path)) return 'multus';
  if (/\/(?:kern\.log|dmesg)(?:\.\d+)?(?:\.gz)?$/.test(path)) return 'kernel';
  if (/\/rke2\/agent\/logs\/kubelet\.log/.test(path)) return 'kubelet';
  if (/\/rke2\/agent\/containerd\/containerd\.log/.test(path)) return 'containerd';
  const base = path.slice(path.lastIndexOf('/') + 1);
  return KNOWN.find((name) => base.includes(name));
}

/** The component for a journald entry, from its systemd unit, identifier and transport. */
export function componentOfJournalEntry(unit: string | undefined, identifier: string | undefined, transport: string | undefined): string {
  if (transport === 'kernel') return 'kernel';
  const name = (unit ?? '').replace(/\.service$/, '');
  if (name === 'k3s-agent' || name === 'k3s') return 'k3s';
  if (name.startsWith('rke2')) return 'rke2';
  if (name.includes('containerd')) return 'containerd';
  if (name !== '') return name;
  return identifier ?? 'unknown';
}

/**
 * The component guessed from the line itself, for files whose path says nothing (scan-logs on a
 * saved log). Conservative: only unambiguous markers of one component's format or source files.
 */
export function componentOfMessage(message: string): string {
  if (/\b(?:proxier|server_others|proxy_server)\.go:\d+\]|"caller":"(?:iptables|ipvs|nftables)\/proxier\.go/.test(message)) return 'kube-proxy';
  if (/\bnf_conntrack: |\bip_conntrack: /.test(message)) return 'kernel';
  if (/\[(?:ERROR|INFO|WARNING)\] plugin\/|\bplugin\/errors: /.test(message)) return 'coredns';
  if (/\bMultus: /.test(message)) return 'multus';
  if (/\bbird6?: /.test(message)) return 'calico-node';
  if (/ \[(?:INFO|WARNING|ERROR|FATAL|DEBUG)\]\[\d+\] (?:cni-installer|felix|[\w.-]+\.go \d+:)/.test(message)) {
    return / (?:plugin|ipam_plugin|k8s)\.go \d+:/.test(message) ? 'calico-cni' : 'calico-node';
  }
  if (/\bsubsys=/.test(message)) return 'cilium-agent';
  if (/\b(?:kubelet|kuberuntime_\w+|pod_workers|remote_runtime|cni)\.go:\d+\]/.test(message)) return 'kubelet';
  if (/^time="[^"]+" level=\w+ msg=/.test(message)) return 'containerd';
  if (/"caller":"(?:ipamd|datastore|aws-k8s-agent|routed-eni-cni-plugin)\//.test(message)) return 'aws-vpc-cni';
  return 'unknown';
}
