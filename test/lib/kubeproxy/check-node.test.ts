// The whole check for a node: the part that needs only the rules can be done first (as `check` does
// while the cluster objects are still being read), and gives the same answer.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { checkNode, prepareNodeRules } from '../../../lib/kubeproxy/check-node.ts';
import { readClusterObjects } from '../../../lib/kubeproxy/cluster-input.ts';
import { parseNodeRules } from '../../../lib/kubeproxy/parse-node-rules.ts';

const dir = new URL('../../fixtures/kubeproxy/overall-iptables-rules/', import.meta.url);
const dump = readFileSync(new URL('nft.save', dir));
const items = (JSON.parse(readFileSync(new URL('cluster.json', dir), 'utf8')) as { items: unknown[] }).items;
const nodeName = (JSON.parse(readFileSync(new URL('scenario.json', dir), 'utf8')) as { node: { name: string } }).node.name;
const cluster = readClusterObjects(items, { where: (i) => `items[${i}]` });
const rulesOf = (text: Buffer | string) => [{ family: 4 as const, rulesets: parseNodeRules(typeof text === 'string' ? Buffer.from(text) : text, 'test') }];

t.test('prepared rules give the same findings and stats as the check done in one go', async (t) => {
  const direct = checkNode({ rules: rulesOf(dump), cluster, nodeName });
  const rules = rulesOf(dump);
  const prepared = checkNode({ rules, cluster, nodeName, prepared: prepareNodeRules(rules) });
  t.same(prepared, direct);
  t.equal(direct.verdict, 'in-sync', 'on kube-proxy\'s own rules for the scenario');
});

t.test('rules prepared for other rules are not used', async (t) => {
  const broken = dump.toString('utf8').replace(/^-A KUBE-SERVICES .*$/m, '');
  const rules = rulesOf(broken);
  const result = checkNode({ rules, cluster, nodeName, prepared: prepareNodeRules(rulesOf(dump)) });
  t.same(result, checkNode({ rules: rulesOf(broken), cluster, nodeName }), 'the check reads its own rules');
  t.equal(result.verdict, 'drift', 'and sees the removed rule');
});

t.test('preparing refuses kube-proxy in ipvs mode, as the check does', async (t) => {
  const ipvs = '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\nCOMMIT\n';
  t.throws(() => prepareNodeRules(rulesOf(ipvs)), { code: 'DPS_ERR_RULES_PROXY_MODE' });
});

t.test('a parse and a check leave V8\'s typed-array length assumption intact (else every optimized typed-array read in the parser is thrown away mid-check)', async (t) => {
  // V8 assumes no typed array's `length` is redefined until something changes a typed array's
  // prototype, as Node does to every Buffer made by native code (crypto's 'buffer' digests, say).
  const script = `
    import { readFileSync } from 'node:fs';
    import { checkNode } from ${JSON.stringify(new URL('../../../lib/kubeproxy/check-node.ts', import.meta.url).href)};
    import { readClusterObjects } from ${JSON.stringify(new URL('../../../lib/kubeproxy/cluster-input.ts', import.meta.url).href)};
    import { parseNodeRules } from ${JSON.stringify(new URL('../../../lib/kubeproxy/parse-node-rules.ts', import.meta.url).href)};
    const before = %TypedArrayLengthProtector();
    const cluster = readClusterObjects(JSON.parse(readFileSync(${JSON.stringify(new URL('cluster.json', dir).pathname)}, 'utf8')).items, { where: String });
    const result = checkNode({ rules: [{ family: 4, rulesets: parseNodeRules(readFileSync(${JSON.stringify(new URL('nft.save', dir).pathname)}), 'test') }], cluster, nodeName: ${JSON.stringify(nodeName)} });
    console.log(JSON.stringify({ before, after: %TypedArrayLengthProtector(), verdict: result.verdict }));`;
  // Through env(1) without NODE_OPTIONS: the test runner puts its hooks there for every Node it
  // starts, and they break the assumption before the script runs.
  const out = execFileSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.same(JSON.parse(out), { before: true, after: true, verdict: 'in-sync' });
});
