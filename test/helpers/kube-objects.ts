/**
 * Generators of realistic Service / EndpointSlice / Node JSON (as the API server returns them,
 * with the fields we drop included, so trimming is exercised).
 */
type Obj = Record<string, any>;

/** Service number `i` (ClusterIP, two ports, the noise a real object carries). */
export function makeService(i: number, ns = `ns-${i % 50}`): Obj {
  return {
    metadata: {
      name: `svc-${i}`,
      namespace: ns,
      uid: `svc-uid-${i}`,
      creationTimestamp: '2024-05-01T10:00:00Z',
      labels: { app: `app-${i}`, 'app.kubernetes.io/managed-by': 'Helm' },
      annotations: { 'meta.helm.sh/release-name': `release-${i}`, 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Service"}' },
      managedFields: [{ manager: 'helm', operation: 'Update', apiVersion: 'v1', time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:ports': {} } } }],
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`,
      clusterIPs: [`10.96.${(i >> 8) & 255}.${i & 255}`],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 },
        { name: 'metrics', protocol: 'TCP', port: 9090, targetPort: 9090 },
      ],
      selector: { app: `app-${i}` },
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

/** The EndpointSlice of Service `i` with `n` endpoints spread over `nodes` nodes. */
export function makeSlice(i: number, n: number, nodes = 100, ns = `ns-${i % 50}`): Obj {
  const endpoints = [];
  for (let e = 0; e < n; e++) {
    const ip = i * n + e;
    endpoints.push({
      addresses: [`10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${(i + e) % nodes}`,
      zone: `zone-${(i + e) % 3}`,
      targetRef: { kind: 'Pod', namespace: ns, name: `app-${i}-pod-${e}`, uid: `pod-uid-${i}-${e}` },
    });
  }
  return {
    metadata: {
      name: `svc-${i}-abcde`,
      namespace: ns,
      generateName: `svc-${i}-`,
      uid: `slice-uid-${i}`,
      labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: `svc-${i}`, uid: `svc-uid-${i}`, controller: true, blockOwnerDeletion: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'discovery.k8s.io/v1', time: '2024-05-01T10:00:00Z' }],
    },
    addressType: 'IPv4',
    ports: [
      { name: 'http', protocol: 'TCP', port: 8080 },
      { name: 'metrics', protocol: 'TCP', port: 9090 },
    ],
    endpoints,
  };
}

/** A Node with kubelet conditions, addresses and versions. */
export function makeNode(name: string, opts: { taints?: Obj[]; kubelet?: string; kubeProxy?: string; conditions?: Obj[] } = {}): Obj {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': 'zone-0' } },
    spec: { podCIDR: '10.244.0.0/24', ...(opts.taints ? { taints: opts.taints } : {}) },
    status: {
      addresses: [
        { type: 'InternalIP', address: '192.168.0.10' },
        { type: 'Hostname', address: name },
      ],
      conditions: opts.conditions ?? [
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T09:00:00Z' },
      ],
      nodeInfo: { kubeletVersion: opts.kubelet ?? 'v1.30.2', kubeProxyVersion: opts.kubeProxy ?? 'v1.30.2', osImage: 'Debian' },
      images: [{ names: ['registry.k8s.io/pause:3.9'], sizeBytes: 300000 }],
    },
  };
}
