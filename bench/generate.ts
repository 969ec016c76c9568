/**
 * Generates a kube-proxy-shaped cluster: N Services × M endpoints as API objects (what
 * `kubectl get services,endpointslices -A -o json` prints) and the iptables-restore data kube-proxy
 * would write for them (via the renderer, with the local-traffic detector on). A mix of ClusterIP,
 * NodePort and LoadBalancer services, some with ClientIP affinity, as on a real cluster.
 */
import { readClusterObjects } from '../lib/kubeproxy/cluster-input.ts';
import { expectedServicePorts } from '../lib/kubeproxy/expected.ts';
import { renderKubeProxyRules } from '../lib/kubeproxy/render.ts';

/** A generated cluster. */
export interface Generated {
  readonly items: Record<string, unknown>[];
  readonly restore: string;
  readonly node: string;
}

/** Builds `services` services with `endpoints` ready endpoints each, spread over 100 nodes. */
export function generateCluster(services: number, endpoints: number): Generated {
  const items: Record<string, unknown>[] = [];
  const node = 'node-0';
  for (let i = 0; i < services; i++) {
    const ns = `ns${i % 50}`;
    const name = `svc${i}`;
    const type = i % 10 === 0 ? 'LoadBalancer' : i % 5 === 0 ? 'NodePort' : 'ClusterIP';
    const clusterIP = `10.${96 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
    items.push({
      apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name },
      spec: {
        type, clusterIP, clusterIPs: [clusterIP],
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, ...(type === 'ClusterIP' ? {} : { nodePort: 30000 + (i % 2700) * 1 }) }],
        ...(i % 7 === 0 ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } } : {}),
      },
      ...(type === 'LoadBalancer' ? { status: { loadBalancer: { ingress: [{ ip: `203.0.${Math.floor(i / 256) % 256}.${i % 256}` }] } } } : {}),
    });
    items.push({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { namespace: ns, name: `${name}-abcde`, labels: { 'kubernetes.io/service-name': name } },
      ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      endpoints: Array.from({ length: endpoints }, (_, e) => {
        const n = i * endpoints + e;
        return { addresses: [`10.${128 + Math.floor(n / 65536) % 64}.${Math.floor(n / 256) % 256}.${n % 256}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: `node-${n % 100}` };
      }),
    });
  }
  // NodePorts must be unique: renumber them
  let np = 30000;
  for (const item of items) {
    const spec = item.spec as { ports?: { nodePort?: number }[] } | undefined;
    for (const p of spec?.ports ?? []) if (p.nodePort !== undefined) p.nodePort = np++ > 32767 ? 0 : np - 1;
  }
  const view = readClusterObjects(items, { where: String });
  const ports = expectedServicePorts(view, { family: 4, node: { name: node, zone: undefined, addresses: [] } });
  return { items, restore: renderKubeProxyRules(ports, { family: 4, clusterCIDR: '10.128.0.0/10' }), node };
}
