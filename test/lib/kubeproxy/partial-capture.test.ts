// Rules that still exist but no longer take all the traffic they should: a NodePort captured only
// for localhost, externalTrafficPolicy Local without its short cut for the node's own traffic, a
// masquerade mark never cleared. Checked on kube-proxy's own rulesets with one line removed.
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
