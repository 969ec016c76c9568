// kube-proxy's KUBE-SEP chains kept as rows of columns: found by name among thousands, followed through
// restore input, rendered back as texts that mean what the dump said, and listed when a visit missed them.
import t from 'tap';
import { parseIptablesSave } from '../../../lib/iptables/parse.ts';
import type { Chain } from '../../../lib/iptables/types.ts';
import { endpointChainName } from '../../../lib/kubeproxy/chain-names.ts';
import { readEndpointChain } from '../../../lib/kubeproxy/chain-view.ts';
import { EndpointRowChain } from '../../../lib/kubeproxy/endpoint-rows.ts';
import type { NatChains } from '../../../lib/kubeproxy/nat-chains.ts';
import { nodeRulesParser, parseNodeRules } from '../../../lib/kubeproxy/parse-node-rules.ts';

const A = 'KUBE-SEP-AAAAAAAAAAAAAAAA';
const B = 'KUBE-SEP-BBBBBBBBBBBBBBBB';
const C = 'KUBE-SEP-CCCCCCCCCCCCCCCC';
const SVC = 'KUBE-SVC-AAAAAAAAAAAAAAAA';

// A nat table declaring `names` (one line each, from line 2), then `rules`.
const dump = (names: readonly string[], rules: string): string => `*nat\n${names.map((n) => `:${n} - [0:0]\n`).join('')}${rules}COMMIT\n`;
// The two rules kube-proxy writes in an endpoint chain (nft order, quoted comment).
const sepRules = (name: string, ip: string, port = 8080): string =>
  `-A ${name} -s ${ip}/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ\n` +
  `-A ${name} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination ${ip}:${port}\n`;
const natOf = (text: string, source = 'test'): NatChains => parseNodeRules(Buffer.from(text), source)[0]?.tables.get('nat')?.chains as NatChains;
const plainOf = (text: string): Map<string, Chain> => parseIptablesSave(text, { source: 'test' })[0]?.tables.get('nat')?.chains as Map<string, Chain>;
const rowOf = (chains: NatChains, name: string): EndpointRowChain => chains.get(name) as EndpointRowChain;
// What a chain says, as plain data.
const sepView = (c: Chain): unknown => { const v = readEndpointChain(c); return { exists: v.exists, dnat: v.dnat, masq: v.masq, recentSet: v.recentSet }; };
const ruleFacts = (c: Chain): unknown[] => c.rules.map((r) => ({ line: r.line, source: r.source, protocol: r.protocol, target: r.target, options: r.targetOptions }));

// Rows start at 1024 and the hash table at 4096 slots, unless the dump's size is known: then they
// are sized for it once (and still grow if the dump holds more chains than its size suggested).
// (400 bytes of dump per endpoint chain: what a kube-proxy dump has at least.)
const sizings: [string, number | undefined][] = [
  ['after the rows, the hash table and the arena have grown (no size known)', undefined],
  ['in rows sized once from a size hint', 5000 * 400],
  ['in rows sized for fewer chains, which then grew', 2000 * 400],
];
for (const [how, hint] of sizings) t.test(`finds each of 5000 endpoint chains by name ${how}`, async (t) => {
  const n = 5000;
  const ipOf = (i: number): string => `10.1.${i >> 8}.${i & 255}`;
  const names = Array.from({ length: n }, (_, i) => endpointChainName('ns/svc:p', 'tcp', `${ipOf(i)}:8080`));
  t.equal(new Set(names).size, n, 'the names are distinct');
  t.ok(names.every((name) => /^KUBE-SEP-[A-Z2-7]{16}$/.test(name)), 'each is KUBE-SEP- and 16 base32 characters');
  const text = dump(names, names.map((name, i) => sepRules(name, ipOf(i))).join(''));
  const parser = nodeRulesParser('test', hint);
  parser.push(Buffer.from(text));
  const chains = parser.end()[0]?.tables.get('nat')?.chains as NatChains;
  t.equal(chains.rows.live, n, 'rows.live counts every chain');
  t.equal(chains.size, n, 'the map counts every chain');

  const first = n + 2; // line of the first rule
  const want = names.map((name, i) => ({ name, row: i, line: 2 + i, compact: true, dnat: `${ipOf(i)}:8080`, masq: true, recentSet: false, lines: [first + 2 * i, first + 2 * i + 1] }));
  const got = names.map((name) => {
    const c = chains.get(name);
    if (!(c instanceof EndpointRowChain)) return { name, missing: true };
    return { name: c.name, row: c.row, line: c.line, compact: chains.rows.compact(c.row), dnat: c.dnat, masq: c.masq, recentSet: c.recentSet, lines: c.lineNumbers };
  });
  t.same(got, want, 'each is found by name, with its DNAT destination, masquerade rule and line numbers');
  t.same(names.map((name) => chains.rows.find(name)), names.map((_, i) => i), 'rows are numbered in declaration order');

  const wrong = names.flatMap((name, i) => {
    const row = chains.rows.find(name);
    const own = chains.rows.dnatIs(row, `${ipOf(i)}:8080`);
    const sameLength = chains.rows.dnatIs(row, `${ipOf(i)}:8081`);
    const otherLength = chains.rows.dnatIs(row, `${ipOf(i)}:80`);
    return own && !sameLength && !otherLength ? [] : [{ name, own, sameLength, otherLength }];
  });
  t.same(wrong, [], 'dnatIs is true for its own destination only, not for another of the same or a different length');
  const stranger = `KUBE-SEP-${'A'.repeat(16)}`;
  t.notOk(names.includes(stranger) || chains.has(stranger), 'an undeclared name of the same shape is not found');
});

t.test('reports a rule for an undeclared KUBE-SEP chain as a syntax error naming the line', async (t) => {
  const cases: [string, string, string][] = [
    // [what, input, where]
    ['in a table with no endpoint chains', dump([], sepRules(A, '10.0.0.1')), 'dump.txt:2'],
    ['among declared endpoint chains', dump([A, B], `${sepRules(A, '10.0.0.1')}${sepRules(C, '10.0.0.3')}`), 'dump.txt:6'],
    ['after the chain was deleted', dump([A], `${sepRules(A, '10.0.0.1')}-X ${A}\n${sepRules(A, '10.0.0.1')}`), 'dump.txt:6'],
  ];
  for (const [what, input, where] of cases) {
    t.throws(() => natOf(input, 'dump.txt'), { code: 'DPS_ERR_RULES_SYNTAX', where, message: /Rule for chain "KUBE-SEP-[A-Z]{16}" which is not declared in table "nat"/ }, what);
  }
});

t.test('follows restore input: -X deletes, a later declaration is a new row, a re-declaration flushes', async (t) => {
  const base = `${sepRules(A, '10.0.0.1')}${sepRules(B, '10.0.0.2')}`;
  let chains = natOf(dump([A, B], base));
  const old = rowOf(chains, A);
  t.equal(chains.rows.live, 2, 'two chains before');

  chains = natOf(dump([A, B], `${base}-X ${A}\n`));
  t.equal(chains.rows.live, 1, '-X: rows.live decreases');
  t.equal(chains.get(A), undefined, '-X: no longer found by name');
  t.notOk(chains.has(A), '-X: has is false');
  t.equal(chains.rows.find(A), -1, '-X: find gives -1');
  t.ok(rowOf(chains, B).masq, '-X: the other chain is untouched');

  chains = natOf(dump([A, B], `${base}-X ${A}\n:${A} - [0:0]\n-A ${A} -p udp -m udp -j DNAT --to-destination 10.0.0.9:53\n`));
  const again = rowOf(chains, A);
  t.equal(chains.rows.live, 2, 're-declared after -X: counted again');
  t.equal(again.row, 2, 're-declared after -X: a new row');
  t.ok(chains.rows.removed(0), 're-declared after -X: the old row stays removed');
  t.same({ dnat: again.dnat, masq: again.masq, line: again.line }, { dnat: '10.0.0.9:53', masq: false, line: 9 }, 're-declared after -X: found by name with its new rules');
  t.notOk(old.removed, 'a row of another parse is not affected');

  chains = natOf(dump([A, B], `${base}:${A} - [0:0]\n`));
  const flushed = rowOf(chains, A);
  t.same({ row: flushed.row, size: flushed.size, dnat: flushed.dnat, masq: flushed.masq, live: chains.rows.live }, { row: 0, size: 0, dnat: undefined, masq: false, live: 2 },
    're-declared without -X: the same row, flushed');
  t.same(sepView(flushed), sepView(plainOf(dump([A, B], `${base}:${A} - [0:0]\n`)).get(A) as Chain), 're-declared without -X: reads as the plain parse');
});

t.test('follows restore input: -N declares a row, -F flushes every chain', async (t) => {
  const declaring = dump([A], `${sepRules(A, '10.0.0.1')}-N ${C}\n-N ${A}\n`);
  let chains = natOf(declaring);
  const declared = chains.get(C);
  t.ok(declared instanceof EndpointRowChain, '-N: a KUBE-SEP chain is a row');
  t.same({ row: chains.rows.find(C), size: declared?.size, live: chains.rows.live }, { row: 1, size: 0, live: 2 }, '-N: a new, empty row');
  t.same(sepView(rowOf(chains, A)), sepView(plainOf(declaring).get(A) as Chain), '-N of a declared chain keeps its rules, as the plain parse does');
  t.equal(rowOf(chains, A).dnat, '10.0.0.1:8080', '-N of a declared chain: its DNAT is still there');

  const flushAll = dump([SVC, A, B], `-A ${SVC} -j ${A}\n${sepRules(A, '10.0.0.1')}${sepRules(B, '10.0.0.2')}-F\n`);
  chains = natOf(flushAll);
  t.same([...chains.values()].map((c) => [c.name, c.size]), [[SVC, 0], [A, 0], [B, 0]], '-F: every chain, object or row, is empty');
  t.equal(chains.rows.live, 2, '-F: the chains are still declared');
  t.same([...plainOf(flushAll).values()].map((c) => [c.name, c.size]), [[SVC, 0], [A, 0], [B, 0]], '-F: as in the plain parse');

  chains = natOf(dump([A, B], `${sepRules(A, '10.0.0.1')}${sepRules(B, '10.0.0.2')}-F ${A}\n${sepRules(A, '10.0.0.7')}`));
  t.same([rowOf(chains, A).dnat, rowOf(chains, B).dnat], ['10.0.0.7:8080', '10.0.0.2:8080'], '-F NAME: only that chain is flushed, and takes new rules');
  t.ok(chains.rows.compact(rowOf(chains, A).row), '-F NAME: the new rules are kept as values');
});

t.test('turns a row into texts on -I, which then reads as the plain parse', async (t) => {
  const inputs = [
    // [what, rules after the declarations]
    ['-I at the top', `-A ${B} -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80\n-I ${B} 1 -s 10.0.0.2/32 -j KUBE-MARK-MASQ\n`],
    ['-I in the middle', `${sepRules(B, '10.0.0.2')}-I ${B} 2 -j RETURN\n`],
    ['-I without a position', `${sepRules(B, '10.0.0.2')}-I ${B} -j RETURN\n`],
    ['-A after -I', `-I ${B} -s 10.0.0.2/32 -j KUBE-MARK-MASQ\n-A ${B} -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80\n`],
  ];
  for (const [what, rules] of inputs) {
    const text = dump([A, B], rules as string);
    const c = rowOf(natOf(text), B);
    const p = plainOf(text).get(B) as Chain;
    t.notOk(c.rows.compact(c.row), `${what}: kept as texts`);
    t.same(sepView(c), sepView(p), `${what}: reads as the plain parse`);
    t.same(ruleFacts(c), ruleFacts(p), `${what}: its rules mean the same`);
    t.same(c.lineNumbers, p.lineNumbers, `${what}: with the same line numbers`);
  }
});

t.test('renders a compact row as texts that parse back to the rules of the dump', async (t) => {
  const shapes = [
    // [what, rules, known targets]
    ['masquerade and DNAT', sepRules(A, '10.0.0.1'), ['KUBE-MARK-MASQ', 'DNAT']],
    ['DNAT only, udp', `-A ${A} -p udp -m comment --comment ns/svc:dns -m udp -j DNAT --to-destination 10.0.0.1:53\n`, ['DNAT']],
    ['DNAT only, no protocol', `-A ${A} -j DNAT --to-destination 10.0.0.1:80\n`, ['DNAT']],
    ['sctp with affinity', `-A ${A} -s 10.0.0.1/32 -j KUBE-MARK-MASQ\n-A ${A} -p sctp -m sctp -m recent --set --name ${A} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.0.0.1:80\n`, ['KUBE-MARK-MASQ', 'DNAT']],
    ['IPv6', `-A ${A} -s fd00::1/128 -j KUBE-MARK-MASQ\n-A ${A} -p tcp -m tcp -j DNAT --to-destination [fd00::1]:80\n`, ['KUBE-MARK-MASQ', 'DNAT']],
  ] as const;
  for (const [what, rules, targets] of shapes) {
    const text = dump([A], rules);
    const c = rowOf(natOf(text), A);
    const p = plainOf(text).get(A) as Chain;
    t.ok(c.rows.compact(c.row), `${what}: kept as values`);
    t.same(ruleFacts(c), ruleFacts(p), `${what}: the texts parse back to the same source, protocol, target and options`);
    t.same(c.rules.map((r) => r.matches.filter((m) => m.module === 'recent')), p.rules.map((r) => r.matches.filter((m) => m.module === 'recent')), `${what}: and the same affinity match`);
    t.same(c.texts.map((_, i) => c.knownTarget(i)), targets, `${what}: knownTarget names each rule's target`);
  }
  const texts = rowOf(natOf(dump([A], `${sepRules(A, '10.0.0.1')}-A ${A} -j RETURN\n`)), A);
  t.notOk(texts.rows.compact(texts.row), 'a third rule turns the row into texts');
  t.same(texts.texts.map((_, i) => texts.knownTarget(i)), [undefined, undefined, undefined], 'knownTarget is undefined for a row kept as texts');
});

t.test('compares a DNAT destination written other than canonically by its canonical value', async (t) => {
  const cases = [
    // [as written, canonical]
    ['010.0.0.1:80', '10.0.0.1:80'],
    ['10.0.0.1:080', '10.0.0.1:80'],
    ['[fd00:0::1]:80', '[fd00::1]:80'],
    ['[FD00::1]:80', '[fd00::1]:80'],
    ['10.0.0.1:80', '10.0.0.1:80'],
  ];
  for (const [written, canonical] of cases) {
    const text = dump([A], `-A ${A} -p tcp -m tcp -j DNAT --to-destination ${written}\n`);
    const c = rowOf(natOf(text), A);
    t.ok(c.rows.compact(c.row), `${written}: kept as values`);
    t.equal(c.dnat, canonical, `${written}: dnat is ${canonical}`);
    t.equal(c.dnat, readEndpointChain(plainOf(text).get(A) as Chain).dnat, `${written}: as the plain parse reads it`);
    t.ok(c.rows.dnatIs(c.row, canonical as string), `${written}: dnatIs the canonical value`);
    if (written !== canonical) t.notOk(c.rows.dnatIs(c.row, written as string), `${written}: not the text as written`);
  }
});

t.test('lists the live rows a visit did not reach, in row order', async (t) => {
  const names = ['KUBE-SEP-AAAAAAAAAAAAAAA1', 'KUBE-SEP-AAAAAAAAAAAAAAA2', 'KUBE-SEP-AAAAAAAAAAAAAAA3', 'KUBE-SEP-AAAAAAAAAAAAAAA4', 'KUBE-SEP-AAAAAAAAAAAAAAA5'];
  // row 5 is the third chain re-declared after -X, which leaves row 2 removed
  const rows = natOf(dump(names, `-X ${names[2]}\n:${names[2]} - [0:0]\n`)).rows;
  t.equal(rows.find(names[2] as string), 5, 'the re-declared chain is row 5');
  const visit = rows.beginVisit();
  for (const row of [3, 0]) rows.markReached(row, visit);
  t.same(rows.unreached(visit), [1, 4, 5], 'rows not marked, in row order, without the removed one');
  rows.markReached(2, visit);
  t.same(rows.unreached(visit), [1, 4, 5], 'marking a removed row changes nothing');
  const next = rows.beginVisit();
  t.not(next, visit, 'each visit has its own number');
  rows.markReached(4, next);
  t.same(rows.unreached(next), [0, 1, 3, 5], 'marks of an earlier visit do not count');
  rows.remove(1);
  t.same(rows.unreached(next), [0, 3, 5], 'a row removed since is no longer listed');
});

t.test('keeps a KUBE-SEP name with non-ASCII characters under its own name, as the plain parse does', async (t) => {
  const cases = [
    // [what, names]: each ending in one character that UTF-8 writes in two or three bytes
    ['24 characters in 25 bytes', ['KUBE-SEP-AAAAAAAAAAAAAAé']],
    ['25 characters in 27 bytes', ['KUBE-SEP-AAAAAAAAAAAAAAA€']],
    ['two names the same in latin1', ['KUBE-SEP-AAAAAAAAAAAAAAA€', 'KUBE-SEP-AAAAAAAAAAAAAAA¬']],
  ] as const;
  for (const [what, names] of cases) {
    const text = dump(names, `-A ${names[0]} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80\n`);
    const chains = natOf(text);
    t.same([...chains.keys()], [...plainOf(text).keys()], `${what}: the same names as the plain parse`);
    t.same(names.map((name) => chains.get(name)?.name), names, `${what}: each found by its own name`);
    t.same(names.map((name) => chains.get(name)?.size), names.map((_, i) => (i === 0 ? 1 : 0)), `${what}: each with its own rules`);
  }
});

t.test('reads any sequence of restore operations on endpoint chains as the plain parse does', async (t) => {
  // A seeded generator: the same sequences on every run, and a failure names its seed.
  const rng = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const names = [A, B, C];
  const rules = [
    (n: string) => `-A ${n} -s 10.0.0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ`,
    (n: string) => `-A ${n} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    (n: string) => `-A ${n} -p udp -m udp -j DNAT --to-destination 10.0.0.2:53`,
    (n: string) => `-A ${n} -p tcp -m recent --set --name ${n} --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination [fd00::1]:80`,
    (n: string) => `-A ${n} -s 10.9.9.9/32 -j KUBE-MARK-MASQ`,
    (n: string) => `-A ${n} -m comment --comment "odd" -j RETURN`,
    (n: string) => `-A ${n} -p tcp -m tcp -j DNAT --to-destination 010.0.0.1:80`,
    (n: string) => `-I ${n} 1 -s 10.0.0.3/32 -j KUBE-MARK-MASQ`,
    (n: string) => `-I ${n} -p tcp -j DNAT --to-destination 10.0.0.4:80`,
    (n: string) => `-F ${n}`,
    (n: string) => `:${n} - [0:0]`,
    (n: string) => `-N ${n}`,
  ];
  for (let seed = 1; seed <= 200; seed++) {
    const next = rng(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    const lines: string[] = [];
    const declared = new Set(names);
    for (let i = 0; i < 12; i++) {
      const name = pick(names);
      if (next() < 0.1) {
        if (declared.has(name)) { lines.push(`-X ${name}`); declared.delete(name); }
        continue;
      }
      if (!declared.has(name)) { lines.push(`:${name} - [0:0]`); declared.add(name); }
      lines.push(pick(rules)(name));
    }
    const text = dump(names, `${lines.join('\n')}\n`);
    const rows = natOf(text);
    const plain = plainOf(text);
    const describe = (chains: Map<string, Chain>): unknown => names.map((n) => {
      const c = chains.get(n);
      return c === undefined ? [n, 'none'] : [n, sepView(c), ruleFacts(c), c.lineNumbers];
    });
    const same = JSON.stringify(describe(rows)) === JSON.stringify(describe(plain));
    if (!same) t.same(describe(rows), describe(plain), `seed ${seed}:\n${text}`);
    else t.pass(`seed ${seed}`);
    t.same([...rows.keys()].sort(), [...plain.keys()].sort(), `seed ${seed}: the same chains listed`);
  }
});
