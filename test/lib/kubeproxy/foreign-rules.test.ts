// A rule kube-proxy does not write, put in front of its own in one of its chains, decides where the
// connections it matches go: every such rule that takes connections (RETURN, DROP, ACCEPT, REJECT,
// a jump) is reported, in every chain of every scenario; one that only marks or logs is not. A rule
// that ends a built-in or fixed chain for every packet before kube-proxy's rule is reported too.
import t from 'tap';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

const CHAINS = /^-A (KUBE-(?:SVC|SVL|SEP|EXT|FW)-\S+|KUBE-SERVICES|KUBE-NODEPORTS) /;

for (const s of loadScenarios()) {
  t.test(`${s.name}: a RETURN put first in any of kube-proxy's nat chains is reported`, async (t) => {
    const lines = s.legacy.split('\n');
    let nat = false;
    const firsts = new Map<string, number>(); // chain → index of its first rule, in the nat table
    lines.forEach((l, i) => {
      if (l.startsWith('*')) nat = l === '*nat';
      const m = CHAINS.exec(l);
      if (nat && m !== null && !firsts.has(m[1] as string)) firsts.set(m[1] as string, i);
    });
    for (const [chain, i] of firsts) {
      const edited = [...lines.slice(0, i), `-A ${chain} -j RETURN`, ...lines.slice(i)].join('\n');
      const r = checkText(edited, s.cluster.items, s.node, s.family);
      t.ok(r.findings.some((f) => f.severity === 'error'), `${chain}: reported`, { findings: r.findings.map((f) => `${f.kind} ${f.chain}`) });
    }
  });
}

const nodeport = loadScenarios().find((s) => s.name === 'v128-nodeport')!;
const insertFirst = (chain: RegExp, rule: (name: string) => string) => {
  const lines = nodeport.legacy.split('\n');
  const i = lines.findIndex((l) => chain.test(l));
  const name = (lines[i] as string).split(' ')[1] as string;
  return checkText([...lines.slice(0, i), rule(name), ...lines.slice(i)].join('\n'), nodeport.cluster.items, nodeport.node, nodeport.family);
};

t.test('the finding names the chain, the line and the target, as unexpected-rule', async (t) => {
  const r = insertFirst(/^-A KUBE-SVC-/, (name) => `-A ${name} -s 10.0.0.0/8 -j DROP`);
  t.equal(r.verdict, 'drift');
  t.match(r.findings, [{ kind: 'unexpected-rule', severity: 'error', service: 'ns1/svc1', chain: /^nat\/KUBE-SVC-/, message: /line \d+ \(-j DROP\) is not one of kube-proxy's rules/ }]);
  const sep = insertFirst(/^-A KUBE-SEP-/, (name) => `-A ${name} -p tcp -j ACCEPT`);
  t.match(sep.findings, [{ kind: 'unexpected-rule', chain: /^nat\/KUBE-SEP-/, message: /\(-j ACCEPT\)/ }]);
});

t.test('a rule that only marks, logs or masquerades lets the connections go on: not reported', async (t) => {
  for (const rule of ['-j MARK --set-xmark 0x1/0x1', '-j LOG --log-prefix "svc: "', '-j KUBE-MARK-MASQ']) {
    t.equal(insertFirst(/^-A KUBE-SVC-/, (name) => `-A ${name} ${rule}`).findings.filter((f) => f.kind === 'unexpected-rule').length, 0, rule);
  }
});

t.test('a rule after the one that takes every remaining connection is never reached: not reported', async (t) => {
  const lines = nodeport.legacy.split('\n');
  const last = lines.findLastIndex((l) => /^-A KUBE-SVC-\S+ .*-j KUBE-SEP-/.test(l) && !l.includes('--probability'));
  const name = (lines[last] as string).split(' ')[1] as string;
  const r = checkText([...lines.slice(0, last + 1), `-A ${name} -j DROP`, ...lines.slice(last + 1)].join('\n'), nodeport.cluster.items, nodeport.node, nodeport.family);
  t.equal(r.verdict, 'in-sync');
});

t.test('in the entry chains, a rule for the same address and port ahead of kube-proxy\'s capture is reported too', async (t) => {
  const cases: [RegExp, string, RegExp][] = [
    [/^-A KUBE-SERVICES -d 172\.30\.0\.41\/32 /, '-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j RETURN', /\(-j RETURN\) is not one of kube-proxy's rules: it takes the new connections to ClusterIP 172\.30\.0\.41:80\/tcp before they reach KUBE-SVC-/],
    [/^-A KUBE-NODEPORTS -p tcp .*--dport 3001 -j KUBE-EXT/, '-A KUBE-NODEPORTS -p tcp -m tcp --dport 3001 -j ACCEPT', /\(-j ACCEPT\) is not one of kube-proxy's rules: it takes the new connections to NodePort 3001\/tcp before they reach KUBE-EXT-/],
  ];
  for (const [before, rule, message] of cases) {
    const lines = nodeport.legacy.split('\n');
    const i = lines.findIndex((l) => before.test(l));
    const r = checkText([...lines.slice(0, i), rule, ...lines.slice(i)].join('\n'), nodeport.cluster.items, nodeport.node, nodeport.family);
    t.match(r.findings, [{ kind: 'unexpected-rule', service: 'ns1/svc1', message }], rule);
  }
});

t.test('a rule that ends a built-in or fixed chain for every packet before kube-proxy\'s rule is missing-base-rules', async (t) => {
  const cases: [RegExp, string, RegExp][] = [
    [/^-A PREROUTING .*-j KUBE-SERVICES$/, '-A PREROUTING -j ACCEPT', /nat\/PREROUTING line \d+ \(-j ACCEPT\) ends the chain for every packet before its jump to KUBE-SERVICES/],
    [/^-A FORWARD .*-j KUBE-FORWARD$/, '-A FORWARD -m comment --comment "host firewall" -j DROP', /filter\/FORWARD line \d+ \(-j DROP\) ends the chain for every packet before its jump to KUBE-FORWARD/],
    [/^-A KUBE-POSTROUTING /, '-A KUBE-POSTROUTING -j RETURN', /before its MASQUERADE rule/],
    [/^-A KUBE-MARK-MASQ /, '-A KUBE-MARK-MASQ -j RETURN', /before its MARK rule/],
  ];
  for (const [before, rule, message] of cases) {
    const lines = nodeport.legacy.split('\n');
    const i = lines.findIndex((l) => before.test(l));
    const r = checkText([...lines.slice(0, i), rule, ...lines.slice(i)].join('\n'), nodeport.cluster.items, nodeport.node, nodeport.family);
    t.equal(r.verdict, 'drift', rule);
    t.ok(r.findings.some((f) => f.kind === 'missing-base-rules' && f.severity === 'error' && message.test(f.message)), rule, { findings: r.findings.map((f) => f.message) });
  }
});

t.test('a rule that ends a built-in chain only for the packets it matches is left alone (CNIs write such rules)', async (t) => {
  const lines = nodeport.legacy.split('\n');
  const i = lines.findIndex((l) => /^-A PREROUTING .*-j KUBE-SERVICES$/.test(l));
  const r = checkText([...lines.slice(0, i), '-A PREROUTING -i cni0 -s 10.244.0.0/16 -j ACCEPT', ...lines.slice(i)].join('\n'), nodeport.cluster.items, nodeport.node, nodeport.family);
  t.same(r.findings, []);
});

t.test('in the filter table, an ACCEPT for a service without endpoints ahead of its REJECT is reported', async (t) => {
  const s = loadScenarios().find((x) => x.name === 'sync-repeated-step-4-service-without-endpoints')!;
  const lines = s.legacy.split('\n');
  const i = lines.findIndex((l) => /^-A KUBE-SERVICES -d 172\.30\.0\.44\/32 .*-j REJECT/.test(l));
  const r = checkText([...lines.slice(0, i), '-A KUBE-SERVICES -d 172.30.0.44/32 -p tcp -m tcp --dport 80 -j ACCEPT', ...lines.slice(i)].join('\n'), s.cluster.items, s.node, s.family);
  t.match(r.findings, [{ kind: 'unexpected-rule', service: 'ns4/svc4', chain: 'filter/KUBE-SERVICES', message: /\(-j ACCEPT\) is not one of kube-proxy's rules: it takes the new connections to ClusterIP 172\.30\.0\.44:80\/tcp before they are rejected/ }]);
});
