// The renderer writes what kube-proxy writes: for every upstream scenario, the rules rendered from
// the scenario's API objects check as in sync against those objects, after a real round trip.
import t from 'tap';
import { readClusterObjects } from '../../../lib/kubeproxy/cluster-input.ts';
import { expectedServicePorts } from '../../../lib/kubeproxy/expected.ts';
import { renderKubeProxyRules } from '../../../lib/kubeproxy/render.ts';
import { checkText, errorsOf } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';
import { netnsUnavailable, roundTrip } from '../../helpers/netns.ts';

const why = netnsUnavailable();
for (const s of loadScenarios()) {
  t.test(`rendering ${s.name}`, async (t) => {
    const view = readClusterObjects(s.cluster.items, { where: String });
    const ports = expectedServicePorts(view, { family: s.family, node: { name: s.node, zone: undefined, addresses: [] } });
    const restore = renderKubeProxyRules(ports, { family: s.family, clusterCIDR: s.family === 4 ? '10.0.0.0/8' : 'fd00:10::/64' });
    t.same(errorsOf(checkText(restore, s.cluster.items, s.node, s.family)), [], 'the rendered restore data checks as in sync');
    if (why === undefined) {
      const saved = await roundTrip(restore, { family: s.family, backend: 'legacy' });
      t.same(errorsOf(checkText(saved, s.cluster.items, s.node, s.family)), [], 'and so does what iptables-legacy-save prints after loading it');
    }
  });
}
