// Where a rule is matters, not only that it is there: a rule after one that ends the traversal for
// the same connections is never met. Each case swaps two of kube-proxy's own rules and is reported.
import t from 'tap';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

const scenarios = new Map(loadScenarios().map((s) => [s.name, s]));

/** The scenario's legacy dump with the first line matching `a` and the one right after it swapped. */
function swapped(name: string, a: RegExp) {
  const s = scenarios.get(name)!;
  const lines = s.legacy.split('\n');
  const i = lines.findIndex((l) => a.test(l));
  if (i === -1) throw new Error(`${name}: no line matches ${a}`);
  [lines[i], lines[i + 1]] = [lines[i + 1] as string, lines[i] as string];
  return checkText(lines.join('\n'), s.cluster.items, s.node, s.family);
}
const has = (r: ReturnType<typeof checkText>, kind: string, message: RegExp) => r.findings.some((f) => f.kind === kind && f.severity === 'error' && message.test(f.message));

t.test('an endpoint chain\'s hairpin masquerade after its DNAT rule is never met', async (t) => {
  const r = swapped('v128-nodeport', /^-A KUBE-SEP-\S+ -s 10\.180\.0\.1\/32 .*-j KUBE-MARK-MASQ$/);
  t.ok(has(r, 'missing-masquerade', /has no "-s 10\.180\.0\.1 -j KUBE-MARK-MASQ" rule/), 'missing-masquerade', { findings: r.findings.map((f) => f.message) });
});

t.test('KUBE-EXT\'s masquerade after its jump to the service chain is never met (externalTrafficPolicy Cluster)', async (t) => {
  const r = swapped('v128-nodeport', /^-A KUBE-EXT-\S+ .*-j KUBE-MARK-MASQ$/);
  t.ok(has(r, 'missing-masquerade', /does not masquerade external traffic .*comes after the jump to KUBE-SVC-/), 'missing-masquerade', { findings: r.findings.map((f) => f.message) });
});

t.test('externalTrafficPolicy Local: the node\'s own traffic is masqueraded before it is routed, and routed before the policy jump', async (t) => {
  const masq = swapped('v128-etp-local-with-local-endpoints', /--src-type LOCAL -j KUBE-MARK-MASQ$/);
  t.ok(has(masq, 'missing-masquerade', /does not masquerade traffic the node itself sends/), 'masquerade after the route', { findings: masq.findings.map((f) => f.message) });
  const route = swapped('v128-etp-local-with-local-endpoints', /--src-type LOCAL -j KUBE-SVC-/);
  t.ok(has(route, 'missing-service', /does not send traffic from the node itself to KUBE-SVC-/), 'route after the policy jump', { findings: route.findings.map((f) => f.message) });
});

t.test('KUBE-POSTROUTING in kube-proxy\'s order: test the mark, clear it, masquerade', async (t) => {
  const cleared = swapped('v128-nodeport', /^-A KUBE-POSTROUTING -m mark ! --mark /);
  t.ok(has(cleared, 'missing-base-rules', /clears the masquerade mark \(line \d+\) before testing it/), 'cleared before the test');
  const s = scenarios.get('v128-nodeport')!;
  const lines = s.legacy.split('\n');
  const test = lines.findIndex((l) => /^-A KUBE-POSTROUTING -m mark ! --mark /.test(l));
  const masq = lines.findIndex((l) => /^-A KUBE-POSTROUTING .*-j MASQUERADE/.test(l));
  [lines[test], lines[masq]] = [lines[masq] as string, lines[test] as string];
  const all = checkText(lines.join('\n'), s.cluster.items, s.node, s.family);
  t.ok(has(all, 'missing-base-rules', /masquerades \(line \d+\) before testing the mark/), 'masquerade before the test');
});

t.test('the ClusterIP masquerade rule after the service chain\'s cascade has started is not the one kube-proxy writes', async (t) => {
  const r = swapped('v128-overall-iptables-rules', /^-A KUBE-SVC-\S+ ! -s .*-j KUBE-MARK-MASQ$/);
  t.ok(has(r, 'missing-masquerade', /has no ClusterIP masquerade rule/), 'missing-masquerade', { findings: r.findings.map((f) => f.message) });
});
