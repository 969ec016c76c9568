// kube-proxy's endpoint chains (kept as rows) and service chains kept compactly: read exactly as their texts would be,
// and turned back into texts for anything that is not the shape kube-proxy writes.
import t from 'tap';
import { parseIptablesSave } from '../../../lib/iptables/parse.ts';
import type { Chain } from '../../../lib/iptables/types.ts';
import { readEndpointChain, readServiceChain } from '../../../lib/kubeproxy/chain-view.ts';
import { ServiceChain } from '../../../lib/kubeproxy/compact-chains.ts';
import { EndpointRowChain } from '../../../lib/kubeproxy/endpoint-rows.ts';
import { parseNodeRules } from '../../../lib/kubeproxy/parse-node-rules.ts';

const dump = (rules: string, extra = ''): string => `*nat
:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
${extra}${rules}COMMIT
`;
const SEP_A = '-A KUBE-SEP-AAAAAAAAAAAAAAAA';
const SEP_B = '-A KUBE-SEP-BBBBBBBBBBBBBBBB';
const SVC = '-A KUBE-SVC-AAAAAAAAAAAAAAAA';

const chainsOf = (text: string): { compact: Map<string, Chain>; plain: Map<string, Chain> } => ({
  compact: parseNodeRules(Buffer.from(text), 'test')[0]?.tables.get('nat')?.chains as Map<string, Chain>,
  plain: parseIptablesSave(text, { source: 'test' })[0]?.tables.get('nat')?.chains as Map<string, Chain>,
});
const isCompact = (chain: Chain | undefined): boolean => (chain instanceof EndpointRowChain ? chain.rows.compact(chain.row) : (chain as unknown as { fallback?: unknown }).fallback === undefined);
// Views as plain data (spreads without the resolved chain object).
const sepView = (c: Chain): unknown => { const v = readEndpointChain(c); return { exists: v.exists, dnat: v.dnat, masq: v.masq, recentSet: v.recentSet }; };
const svcView = (c: Chain): unknown => {
  const v = readServiceChain(c);
  return { spreads: v.spreads.map((s) => ({ sep: s.sep, share: Number(s.share.toFixed(9)), line: s.line })), affinity: [...v.affinity], masq: v.masqLines, masqDestination: v.masqDestination };
};
const ruleFacts = (c: Chain): unknown[] => c.rules.map((r) => ({ line: r.line, source: r.source, protocol: r.protocol, target: r.target, options: r.targetOptions }));

t.test('keeps the endpoint chains kube-proxy writes as values, read as their texts are', async (t) => {
  const shapes = [
    // nft order, quoted comment
    `${SEP_A} -s 10.0.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ\n${SEP_A} -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.0.0.1:80\n`,
    // legacy order, bare comment, a masquerade source other than the DNAT address
    `${SEP_A} -s 10.9.9.9/32 -m comment --comment ns1/svc1:p80 -j KUBE-MARK-MASQ\n${SEP_A} -p udp -m udp -m comment --comment ns1/svc1:p80 -j DNAT --to-destination 10.0.0.1:53\n`,
    // no hairpin rule, no comment, IPv6
    `${SEP_A} -p sctp -m sctp -j DNAT --to-destination [fd00::1]:80\n`,
    // ClientIP affinity, nft and legacy order
    `${SEP_A} -s 10.0.0.1/32 -j KUBE-MARK-MASQ\n${SEP_A} -p tcp -m comment --comment "ns5/svc5:p80" -m recent --set --name KUBE-SEP-AAAAAAAAAAAAAAAA --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80\n`,
    `${SEP_A} -p tcp -m tcp -m comment --comment "ns5/svc5:p80" -m recent --set --name KUBE-SEP-AAAAAAAAAAAAAAAA --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.0.0.1:80\n`,
    // DNAT addresses written other than canonically (hand-made restore input): compared by value
    ...['010.0.0.1:80', '10.0.0.256:80', '10.0.0.1:080', '10.0.0.1', '10.0.0.1:', '10.0.0.1:123456', '[fd00:0::1]:80', '255.255.255.255:65535'].map(
      (to) => `${SEP_A} -p tcp -m tcp -j DNAT --to-destination ${to}\n`),
  ];
  for (const rules of shapes) {
    const { compact, plain } = chainsOf(dump(rules));
    const c = compact.get('KUBE-SEP-AAAAAAAAAAAAAAAA') as Chain;
    const p = plain.get('KUBE-SEP-AAAAAAAAAAAAAAAA') as Chain;
    t.ok(c instanceof EndpointRowChain && isCompact(c), 'kept compactly');
    t.same(sepView(c), sepView(p), 'reads as the texts do');
    t.same(ruleFacts(c), ruleFacts(p), 'rendered back, the rules mean the same (without the comment)');
    t.same(c.lineNumbers, p.lineNumbers, 'keeps the line numbers');
  }
});

t.test('turns an endpoint chain back into its texts for anything else', async (t) => {
  const others = [
    ['affinity recorded under another name', `${SEP_A} -s 10.0.0.1/32 -j KUBE-MARK-MASQ\n${SEP_A} -p tcp -m recent --set --name KUBE-SEP-BBBBBBBBBBBBBBBB --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80\n`],
    ['affinity with another mask', `${SEP_A} -p tcp -m recent --set --name KUBE-SEP-AAAAAAAAAAAAAAAA --mask 255.255.255.0 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80\n`],
    ['a negated source', `${SEP_A} ! -s 10.0.0.1/32 -j KUBE-MARK-MASQ\n${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80\n`],
    ['a rule after the DNAT', `${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80\n${SEP_A} -j DROP\n`],
    ['two DNATs', `${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80\n${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80\n`],
    ['an escaped quote', `${SEP_A} -p tcp -m comment --comment "a \\"b\\"" -m tcp -j DNAT --to-destination 10.0.0.1:80\n`],
    ['counters', `[1:2] ${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80\n`],
  ];
  for (const [what, rules] of others) {
    const { compact, plain } = chainsOf(dump(rules as string));
    const c = compact.get('KUBE-SEP-AAAAAAAAAAAAAAAA') as Chain;
    const p = plain.get('KUBE-SEP-AAAAAAAAAAAAAAAA') as Chain;
    t.notOk(isCompact(c), `${what}: kept as texts`);
    t.same(sepView(c), sepView(p), `${what}: reads as the texts do`);
    t.same(c.texts.slice(-1), p.texts.slice(-1), `${what}: the rule that did not fit is kept as printed`);
  }
});

t.test('keeps a service chain cascade as values after its other rules, and resolves the jumps', async (t) => {
  const rules = `${SVC} ! -s 10.0.0.0/8 -d 172.30.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ
${SVC} -m comment --comment "ns1/svc1:p80 -> 10.0.0.1:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-AAAAAAAAAAAAAAAA --mask 255.255.255.255 --rsource -j KUBE-SEP-AAAAAAAAAAAAAAAA
${SVC} -m comment --comment "ns1/svc1:p80 -> 10.0.0.1:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-AAAAAAAAAAAAAAAA
${SVC} -m comment --comment "ns1/svc1:p80 -> 10.0.0.2:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-BBBBBBBBBBBBBBBB
${SVC} -m comment --comment "ns1/svc1:p80 -> 10.0.0.3:80" -j KUBE-SEP-CCCCCCCCCCCCCCCC
`;
  const { compact, plain } = chainsOf(dump(rules));
  const c = compact.get('KUBE-SVC-AAAAAAAAAAAAAAAA') as Chain;
  const p = plain.get('KUBE-SVC-AAAAAAAAAAAAAAAA') as Chain;
  t.ok(c instanceof ServiceChain && isCompact(c), 'kept compactly');
  t.same(svcView(c), svcView(p), 'spreads, affinity and masquerade read as the texts do');
  t.same(ruleFacts(c).slice(0, 2), ruleFacts(p).slice(0, 2), 'the rules before the cascade are kept as texts');
  const spreads = readServiceChain(c).spreads;
  t.equal(spreads[0]?.target, compact.get('KUBE-SEP-AAAAAAAAAAAAAAAA'), 'a jump to a declared endpoint chain is resolved to it');
  t.equal(spreads[2]?.target, undefined, 'a jump to an undeclared chain is kept by name');
  t.same(c.rules.map((r) => r.target), p.rules.map((r) => r.target), 'rendered back, the rules jump to the same chains');
});

t.test('turns a service chain back into texts when a rule follows the cascade', async (t) => {
  const rules = `${SVC} -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAAAAAAAAAAAAAAA
${SVC} -j KUBE-SEP-BBBBBBBBBBBBBBBB
${SVC} -j KUBE-MARK-MASQ
`;
  const { compact, plain } = chainsOf(dump(rules));
  const c = compact.get('KUBE-SVC-AAAAAAAAAAAAAAAA') as Chain;
  t.notOk(isCompact(c), 'kept as texts');
  t.same(svcView(c), svcView(plain.get('KUBE-SVC-AAAAAAAAAAAAAAAA') as Chain), 'reads as the texts do');
});

t.test('follows restore input: insert, flush, delete and re-declare', async (t) => {
  const base = `${SEP_B} -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80\n${SVC} -j KUBE-SEP-BBBBBBBBBBBBBBBB\n`;
  const restore = `${base}-I KUBE-SEP-BBBBBBBBBBBBBBBB 1 -s 10.0.0.2/32 -j KUBE-MARK-MASQ\n`;
  let { compact, plain } = chainsOf(dump(restore));
  t.same(sepView(compact.get('KUBE-SEP-BBBBBBBBBBBBBBBB') as Chain), sepView(plain.get('KUBE-SEP-BBBBBBBBBBBBBBBB') as Chain), '-I inserts before the DNAT');
  ({ compact, plain } = chainsOf(dump(`${base}:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n`)));
  t.same(sepView(compact.get('KUBE-SEP-BBBBBBBBBBBBBBBB') as Chain), { exists: true, dnat: undefined, masq: false, recentSet: false }, 're-declaring flushes');
  ({ compact } = chainsOf(dump(`${base}-X KUBE-SEP-BBBBBBBBBBBBBBBB\n:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n${SEP_B} -p tcp -m tcp -j DNAT --to-destination 10.0.0.9:80\n`)));
  const spread = readServiceChain(compact.get('KUBE-SVC-AAAAAAAAAAAAAAAA') as Chain).spreads[0];
  const old = spread?.target as EndpointRowChain;
  t.ok(old.removed, 'a deleted chain is marked, so that jumps resolved to it are looked up again by name');
  t.equal(readEndpointChain(compact.get('KUBE-SEP-BBBBBBBBBBBBBBBB') as Chain).dnat, '10.0.0.9:80', 'the re-declared chain is found by name');
});

t.test('reports an unterminated quote in an endpoint chain as in any chain, naming the line', async (t) => {
  for (const rule of [`${SEP_A} -s "10.0.0.1/32 -j KUBE-MARK-MASQ\n`, `${SEP_A} -p tcp -m comment --comment "ns1/svc1 -j DNAT --to-destination 10.0.0.1:80\n`]) {
    t.throws(() => parseNodeRules(Buffer.from(dump(rule)), 'dump.txt'), { code: 'DPS_ERR_RULES_SYNTAX', where: 'dump.txt:5' }, rule.trim());
  }
});

t.test('keeps two service chains whose rules alternate (restore input) apart, each in its order', async (t) => {
  const SVC_B = '-A KUBE-SVC-BBBBBBBBBBBBBBBB';
  const text = `*nat
:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SVC-BBBBBBBBBBBBBBBB - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
${SVC} -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAAAAAAAAAAAAAAA
${SVC_B} -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-BBBBBBBBBBBBBBBB
${SVC} -j KUBE-SEP-BBBBBBBBBBBBBBBB
${SVC_B} -j KUBE-SEP-CCCCCCCCCCCCCCCC
${SVC} -m statistic --mode random --probability 0.10000000000 -j KUBE-SEP-CCCCCCCCCCCCCCCC
-F KUBE-SVC-BBBBBBBBBBBBBBBB
${SVC_B} -j KUBE-SEP-AAAAAAAAAAAAAAAA
COMMIT
`;
  const { compact, plain } = chainsOf(text);
  for (const name of ['KUBE-SVC-AAAAAAAAAAAAAAAA', 'KUBE-SVC-BBBBBBBBBBBBBBBB']) {
    const c = compact.get(name) as Chain;
    const p = plain.get(name) as Chain;
    t.ok(isCompact(c), `${name}: kept compactly`);
    t.same(svcView(c), svcView(p), `${name}: reads as the texts do`);
    t.same(c.rules.map((r) => [r.target, r.line]), p.rules.map((r) => [r.target, r.line]), `${name}: rendered back, the same rules in the same order`);
  }
});

t.test('renders the hairpin source back whether it was kept once with the destination or apart', async (t) => {
  const rules = [
    `${SEP_A} -s 10.0.0.1/32 -j KUBE-MARK-MASQ`, `${SEP_B} -s 10.0.0.2/32 -j KUBE-MARK-MASQ`, // interleaved: A's source is not the last thing kept
    `${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80`, `${SEP_B} -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80`,
  ].join('\n');
  const { compact, plain } = chainsOf(dump(`${rules}\n`));
  for (const name of ['KUBE-SEP-AAAAAAAAAAAAAAAA', 'KUBE-SEP-BBBBBBBBBBBBBBBB']) {
    const c = compact.get(name) as Chain;
    t.ok(isCompact(c), `${name}: kept compactly`);
    t.same(ruleFacts(c), ruleFacts(plain.get(name) as Chain), `${name}: the same rules rendered back`);
    t.same(sepView(c), sepView(plain.get(name) as Chain), `${name}: read as the texts are`);
  }
  const lookalike = chainsOf(dump(`${SEP_A} -s 10.0.0.1/32 -j KUBE-MARK-MASQ\n${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.10:80\n`));
  t.same(ruleFacts(lookalike.compact.get('KUBE-SEP-AAAAAAAAAAAAAAAA') as Chain), ruleFacts(lookalike.plain.get('KUBE-SEP-AAAAAAAAAAAAAAAA') as Chain), 'a source that only starts like the destination is kept apart');
});
