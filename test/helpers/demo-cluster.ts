/**
 * The demo cluster (examples/demo/cluster.yaml: node demo-node and its Services, EndpointSlices)
 * and the iptables-save dump kube-proxy would write on demo-node for any variant of it.
 */
import { readFileSync } from 'node:fs';
import { readClusterObjects } from '../../lib/kubeproxy/cluster-input.ts';
import { parseClusterText } from '../../lib/kubeproxy/cluster-text.ts';
import { expectedServicePorts } from '../../lib/kubeproxy/expected.ts';
import { renderKubeProxyRules } from '../../lib/kubeproxy/render.ts';

type Obj = Record<string, any>;

/** The demo cluster's file text. */
export const demoClusterText = readFileSync(new URL('../../examples/demo/cluster.yaml', import.meta.url), 'utf8');

/** A fresh copy of the demo cluster's objects (each with its `kind`). */
export function demoItems(): Obj[] {
  return structuredClone(parseClusterText(demoClusterText, 'cluster.yaml').items) as Obj[];
}

/**
 * Objects split by kind as the agent's API view holds them: the Services, the EndpointSlices and
 * the (first) Node, each passed through `each` (default: as they are).
 */
export function splitByKind(items: readonly Obj[], each: (o: Obj) => Obj = (o) => o): { services: Obj[]; endpointSlices: Obj[]; node: Obj | undefined } {
  const ofKind = (kind: string): Obj[] => items.filter((o) => o.kind === kind).map((o) => each(o));
  return { services: ofKind('Service'), endpointSlices: ofKind('EndpointSlice'), node: ofKind('Node')[0] };
}

/** What kube-proxy (iptables mode) writes on demo-node for these objects. */
export function rulesFor(items: readonly unknown[]): string {
  const view = readClusterObjects(items, { where: String });
  const node = view.nodes.find((n) => n.name === 'demo-node') ?? view.nodes[0]!;
  return renderKubeProxyRules(expectedServicePorts(view, { family: 4, node }), { family: 4, clusterCIDR: '10.244.0.0/16' });
}
