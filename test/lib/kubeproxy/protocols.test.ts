// Multi-port services with UDP, TCP and SCTP ports, and kube-proxy's large-cluster mode (no comments on
// the endpoint rules), checked after a real round trip through iptables-restore / iptables-save.
import t from 'tap';
import { readClusterObjects } from '../../../lib/kubeproxy/cluster-input.ts';
import { expectedServicePorts } from '../../../lib/kubeproxy/expected.ts';
import { renderKubeProxyRules } from '../../../lib/kubeproxy/render.ts';
import { checkText, errorsOf } from '../../helpers/check.ts';
import { netnsUnavailable, roundTrip } from '../../helpers/netns.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

const items = [
  {
    apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'telco', name: 'sig' },
    spec: {
      type: 'NodePort', clusterIP: '10.96.5.5',
      ports: [
        { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, nodePort: 30054 },
        { name: 'sctp', protocol: 'SCTP', port: 3868, nodePort: 30868 },
      ],
    },
  },
  {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { namespace: 'telco', name: 'sig-1', labels: { 'kubernetes.io/service-name': 'sig' } },
    ports: [{ name: 'dns', protocol: 'UDP', port: 5353 }, { name: 'dns-tcp', protocol: 'TCP', port: 5353 }, { name: 'sctp', protocol: 'SCTP', port: 3868 }],
    endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true } }, { addresses: ['10.1.0.2'], conditions: { ready: true } }],
  },
];
const why = netnsUnavailable();

t.test('a multi-port UDP/TCP/SCTP service checks as in sync, and a lost UDP endpoint is found', async (t) => {
  const view = readClusterObjects(items, { where: String });
  const ports = expectedServicePorts(view, { family: 4, node: { name: 'n1', zone: undefined, addresses: [] } });
  t.same(ports.map((p) => `${p.name}/${p.protocol}`), ['telco/sig:dns/udp', 'telco/sig:dns-tcp/tcp', 'telco/sig:sctp/sctp']);
  let dump = renderKubeProxyRules(ports, { family: 4, clusterCIDR: '10.0.0.0/8' });
  if (why === undefined) dump = await roundTrip(dump, { family: 4, backend: 'legacy' });
  t.same(errorsOf(checkText(dump, items, 'n1')), [], 'in sync');
  const udpSep = ports[0]?.clusterCandidates[0]?.[0]?.chain ?? '';
  const broken = dump.split('\n').filter((l) => !l.includes(udpSep)).join('\n');
  const result = checkText(broken, items, 'n1');
  t.ok(result.findings.some((f) => f.kind === 'missing-endpoint' && f.protocol === 'udp' && f.port === 'dns' && f.endpoint === '10.1.0.1:5353'), 'the UDP endpoint is reported missing');
  t.notOk(result.findings.some((f) => f.protocol === 'tcp' || f.protocol === 'sctp'), 'the TCP and SCTP ports are unaffected');
});

t.test('large-cluster mode (no comments on endpoint rules) still checks as in sync', async (t) => {
  const s = loadScenarios().find((x) => x.name === 'overall-iptables-rules');
  if (s === undefined) return t.fail('fixture missing');
  // kube-proxy drops the comments of the SVC->SEP and SEP rules above 1000 endpoints
  const stripped = s.legacy.split('\n').map((l) => (/^-A KUBE-(SEP|SVC|SVL)-/.test(l) ? l.replace(/ -m comment --comment "[^"]*"/, '').replace(/ -m comment --comment \S+/, '') : l)).join('\n');
  t.notMatch(stripped, /-A KUBE-SEP-\S+ .*--comment/, 'comments are gone from endpoint rules');
  t.same(errorsOf(checkText(stripped, s.cluster.items, s.node)), [], 'in sync');
});
