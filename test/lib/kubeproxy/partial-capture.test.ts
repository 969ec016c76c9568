// Rules that still exist but no longer do all they should: a NodePort captured only for localhost,
// externalTrafficPolicy Local without its short cut for the node's own traffic, a masquerade mark
// never cleared, hairpin and ClusterIP masquerade rules for another address, port or protocol, an
// endpoint chain that DNATs another protocol. Checked on kube-proxy's own rulesets with one line
// removed or edited.
import t from 'tap';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

const scenarios = new Map(loadScenarios().map((s) => [s.name, s]));
const without = (name: string, drop: RegExp) => {
  const s = scenarios.get(name)!;
  const lines = s.legacy.split('\n');
  const gone = lines.filter((l) => drop.test(l));
  if (gone.length !== 1) throw new Error(`${name}: expected one line to match ${drop}, found ${gone.length}`);
  return checkText(lines.filter((l) => !drop.test(l)).join('\n'), s.cluster.items, s.node, s.family);
};
const brief = (r: ReturnType<typeof checkText>) => r.findings.map((f) => ({ kind: f.kind, severity: f.severity, service: f.service, chain: f.chain, message: f.message }));

t.test('a NodePort whose only rule left is the localhost one (-d 127.0.0.0/8) is not captured for the node\'s other addresses', async (t) => {
  const r = without('overall-iptables-rules', /^-A KUBE-NODEPORTS -p tcp .*"ns2\/svc2:p80".*--dport 3001 -j /);
  t.equal(r.verdict, 'drift');
  t.match(brief(r), [{ kind: 'missing-service', severity: 'error', service: 'ns2/svc2', chain: 'nat/KUBE-NODEPORTS', message: /NodePort 3001\/tcp is captured in nat\/KUBE-NODEPORTS only for destination 127\.0\.0\.0\/8/ }]);
});

t.test('the localhost NodePort rule alone may be missing (kube-proxy\'s localhostNodePorts setting is not known here)', async (t) => {
  t.equal(without('overall-iptables-rules', /^-A KUBE-NODEPORTS -d 127\.0\.0\.0\/8 .*"ns2\/svc2:p80"/).verdict, 'in-sync');
});

t.test('externalTrafficPolicy Local: the node\'s own traffic must be masqueraded and sent to the cluster-wide chain', async (t) => {
  const masq = without('v128-etp-local-with-local-endpoints', /--src-type LOCAL -j KUBE-MARK-MASQ$/);
  t.equal(masq.verdict, 'drift');
  t.match(brief(masq), [{ kind: 'missing-masquerade', service: 'ns1/svc1', message: /does not masquerade traffic the node itself sends/ }]);
  const route = without('v128-etp-local-with-local-endpoints', /--src-type LOCAL -j KUBE-SVC-/);
  t.equal(route.verdict, 'drift');
  t.match(brief(route), [{ kind: 'missing-service', service: 'ns1/svc1', message: /does not send traffic from the node itself to KUBE-SVC-/ }]);
});

t.test('KUBE-POSTROUTING that never clears the masquerade mark is a warning', async (t) => {
  const r = without('v128-nodeport', /^-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000\/0x0$/);
  t.equal(r.verdict, 'in-sync', 'where connections go does not change');
  t.match(brief(r), [{ kind: 'missing-base-rules', severity: 'warning', chain: 'nat/KUBE-POSTROUTING', message: /does not clear the masquerade mark/ }]);
});

const edited = (name: string, line: RegExp, edit: (l: string) => string) => {
  const s = scenarios.get(name)!;
  const lines = s.legacy.split('\n');
  if (lines.filter((l) => line.test(l)).length !== 1) throw new Error(`${name}: expected one line to match ${line}`);
  return checkText(lines.map((l) => (line.test(l) ? edit(l) : l)).join('\n'), s.cluster.items, s.node, s.family);
};

t.test('a hairpin masquerade rule for another address does not masquerade a pod calling its own service', async (t) => {
  const r = edited('v128-nodeport', /^-A KUBE-SEP-\S+ -s 10\.180\.0\.1\/32 /, (l) => l.replace('-s 10.180.0.1/32', '-s 10.180.0.7/32'));
  t.equal(r.verdict, 'drift');
  t.match(brief(r), [{ kind: 'missing-masquerade', service: 'ns1/svc1', message: /masquerades "-s 10\.180\.0\.7\/32", not the endpoint's own address 10\.180\.0\.1/ }]);
});

t.test('a ClusterIP masquerade rule for another address or port does not masquerade off-cluster clients of this one', async (t) => {
  for (const [what, edit] of [['address', (l: string) => l.replace('-d 172.30.0.41/32', '-d 172.30.0.42/32')], ['port', (l: string) => l.replace('--dport 80 -j KUBE-MARK-MASQ', '--dport 81 -j KUBE-MARK-MASQ')]] as const) {
    const r = edited('v128-nodeport', /^-A KUBE-SVC-\S+ ! -s .*-d 172\.30\.0\.41\/32 .*-j KUBE-MARK-MASQ$/, edit);
    t.equal(r.verdict, 'drift', what);
    t.match(brief(r), [{ kind: 'missing-masquerade', service: 'ns1/svc1', message: /ClusterIP masquerade rule does not match 172\.30\.0\.41:80/ }], what);
  }
});

t.test('an endpoint chain that DNATs another protocol does not take the service port\'s connections', async (t) => {
  const r = edited('v128-nodeport', /^-A KUBE-SEP-\S+ -p tcp .*-j DNAT --to-destination 10\.180\.0\.1:80$/, (l) => l.replace('-p tcp', '-p udp').replace('-m tcp', '-m udp'));
  t.equal(r.verdict, 'drift');
  t.match(brief(r), [{ kind: 'wrong-endpoint-target', service: 'ns1/svc1', message: /DNATs only udp to 10\.180\.0\.1:80: the service port is tcp/ }]);
});

t.test('a ClusterIP masquerade rule for another protocol does not masquerade this one', async (t) => {
  const r = edited('v128-nodeport', /^-A KUBE-SVC-\S+ ! -s .*-d 172\.30\.0\.41\/32 .*-j KUBE-MARK-MASQ$/, (l) => l.replace('-p tcp', '-p udp').replace('-m tcp', '-m udp'));
  t.equal(r.verdict, 'drift');
  t.match(brief(r), [{ kind: 'missing-masquerade', message: /does not match 172\.30\.0\.41:80\/tcp/ }]);
});
