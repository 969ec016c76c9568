// Rules of the exact shapes kube-proxy writes in its endpoint and service chains, read from bytes:
// each shape is recognised with its values where they are, and anything else is left to the texts.
import t, { type Test } from 'tap';
import { DNAT, isCanonicalV4EndpointAt, MASQ, NONE, probabilityAt, scan, scanRule, SPREAD } from '../../../lib/kubeproxy/rule-scan.ts';
import { scenarioChains } from '../../helpers/fixtures.ts';

const SEP = 'KUBE-SEP-AAAAAAAAAAAAAAAA';
const SVC = 'KUBE-SVC-AAAAAAAAAAAAAAAA';
// Scans one line; returns its shape and the values found, as text.
const read = (line: string, chain = SEP): { shape: number; values: Record<string, string | boolean> } => {
  const b = Buffer.from(line);
  const shape = scanRule(b, 0, b.length, chain.length);
  const at = (from: number, to: number): string => (from === -1 ? '' : b.toString('latin1', from, to));
  return {
    shape,
    values: {
      src: at(scan.src0, scan.src1), proto: at(scan.proto0, scan.proto1), prob: at(scan.prob0, scan.prob1),
      target: at(scan.target0, scan.target1), dest: at(scan.dest0, scan.dest1), recentSet: scan.recentSet,
    },
  };
};

t.test('recognises the hairpin masquerade, the DNAT and the cascade rule, with their values', async (t) => {
  t.match(read(`-A ${SEP} -s 10.0.0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ`), { shape: MASQ, values: { src: '10.0.0.1/32', target: 'KUBE-MARK-MASQ' } });
  t.match(read(`-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.0.0.1:80`), { shape: DNAT, values: { proto: 'tcp', dest: '10.0.0.1:80', recentSet: false } });
  t.match(read(`-A ${SEP} -p tcp -m tcp -m comment --comment ns/svc:p -j DNAT --to-destination [fd00::1]:80`), { shape: DNAT, values: { dest: '[fd00::1]:80' } }, 'legacy order, bare comment, IPv6');
  t.match(read(`-A ${SEP} -p tcp -m recent --set --name ${SEP} --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80`), { shape: DNAT, values: { recentSet: true } }, 'affinity');
  t.match(read(`-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -m statistic --mode random --probability 0.33333333349 -j ${SEP}`, SVC), { shape: SPREAD, values: { prob: '0.33333333349', target: SEP } });
  t.match(read(`-A ${SVC} -j ${SEP}`, SVC), { shape: SPREAD, values: { prob: '', target: SEP } }, 'the last rule of a cascade has no probability');
});

t.test('leaves every other rule to the texts', async (t) => {
  const others = [
    `-A ${SEP} ! -s 10.0.0.1/32 -j KUBE-MARK-MASQ`, // negated
    `-A ${SEP} -s 10.0.0.1/32 -p tcp -j KUBE-MARK-MASQ`, // a protocol on the masquerade
    `-A ${SEP} -s 10.0.0.1/32 -p tcp -j DNAT --to-destination 10.0.0.1:80`, // a source on the DNAT
    `-A ${SEP} -p tcp -j DNAT --to-destination 10.0.0.1:80 --random`, // a target option
    `-A ${SEP} -p tcp -m comment --comment "a \\"quoted\\" word" -j DNAT --to-destination 10.0.0.1:80`, // escapes
    `-A ${SEP} -p tcp -m comment --comment 'single' -j DNAT --to-destination 10.0.0.1:80`, // single quotes
    `-A ${SEP} -p tcp -m recent --set --name KUBE-SEP-BBBBBBBBBBBBBBBB --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.0.0.1:80`, // another set's name
    `-A ${SEP} -p tcp -m mark --mark 0x1 -j DNAT --to-destination 10.0.0.1:80`, // another module
    `-A ${SEP} -j RETURN`,
    `-A ${SVC} -m statistic --mode nth --every 2 -j ${SEP}`, // another statistic mode
    `-A ${SVC} -s 10.0.0.0/8 -j ${SEP}`, // a source on a cascade rule
    `-A ${SVC} -j KUBE-SEP-SHORT`, // not an endpoint chain's name
    `-A ${SEP} -p tcp -j DNAT --to-destination`, // no value
  ];
  for (const line of others) t.equal(read(line, line.startsWith(`-A ${SVC}`) ? SVC : SEP).shape, NONE, line);
});

t.test('reads a probability as printed, and a canonical address only as canonicalEndpoint writes it', async (t) => {
  const prob = (text: string): number | undefined => probabilityAt(Buffer.from(text), 0, text.length, () => text);
  t.equal(prob('0.50000000000'), 0.5);
  t.equal(prob('0.10000000009'), 0.10000000009);
  t.equal(prob('1'), 1, 'other spellings go through the general reader');
  const canonical = (text: string): boolean => isCanonicalV4EndpointAt(Buffer.from(text), 0, text.length);
  for (const ok of ['10.0.0.1:80', '255.255.255.255:65535', '0.0.0.0:1']) t.ok(canonical(ok), ok);
  for (const no of ['010.0.0.1:80', '10.0.0.256:80', '10.0.0.1:080', '10.0.0.1', '10.0.0.1:', '10.0.0.1:123456', '[fd00::1]:80']) t.notOk(canonical(no), no);
});

t.test('finds a comment\'s end in the piece\'s text as the byte loop does, never past the line', async (t) => {
  const lines = [
    `-A ${SEP} -s 10.0.0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -m statistic --mode random --probability 0.50000000000 -j ${SEP}`,
    `-A ${SEP} -p tcp -m comment --comment "" -j DNAT --to-destination 10.0.0.1:80`, // empty comment
    `-A ${SEP} -p tcp -m comment --comment "unterminated -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ends the line"`,
  ];
  for (const line of lines) {
    // the next line of the piece has a quote: an unterminated one must not be closed there
    const piece = `${line}\n-A ${SEP} -m comment --comment "next" -j KUBE-MARK-MASQ\n`;
    const b = Buffer.from(piece, 'latin1');
    const chain = line.startsWith(`-A ${SVC}`) ? SVC : SEP;
    const plain = scanRule(b, 0, line.length, chain.length);
    const byBytes = { ...scan };
    t.equal(scanRule(b, 0, line.length, chain.length, piece), plain, `${line}: the same shape`);
    t.same({ ...scan }, byBytes, `${line}: the same values`);
  }
});

// With the piece's text, kube-proxy's exact rules are matched whole; without it, the token loop
// reads them. Both must find the same shape and values for every rule, near misses included.
const sameWithAndWithoutText = (t: Test, line: string, chain: string, what: string): void => {
  const piece = `${line}\n-A ${chain} -m comment --comment "next" -j KUBE-MARK-MASQ\n`;
  const b = Buffer.from(piece, 'latin1');
  const byLoop = scanRule(b, 0, line.length, chain.length);
  const loopValues = { ...scan };
  const byText = scanRule(b, 0, line.length, chain.length, piece);
  t.equal(byText, byLoop, `${what}: the same shape (${line})`);
  t.same({ ...scan }, loopValues, `${what}: the same values (${line})`);
};

t.test('reads every endpoint and service chain rule of every scenario the same with the piece\'s text as without', async (t) => {
  let n = 0;
  for (const { scenario, chain } of scenarioChains()) {
    if (chain.name.length !== 25 || !/^KUBE-(SEP|SVC|SVL)-/.test(chain.name)) continue;
    for (const line of chain.texts) { sameWithAndWithoutText(t, line, chain.name, scenario); n++; }
  }
  t.ok(n > 500, `compared ${n} rules`);
});

t.test('reads near misses of kube-proxy\'s shapes the same with the piece\'s text as without', async (t) => {
  const affinity = `-m recent --set --name ${SEP} --mask 255.255.255.255 --rsource`;
  const lines = [
    `-A ${SEP} -s 10.0.0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ`,
    `-A ${SEP} -s  -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ`, // empty source
    `-A ${SEP} -s 10.0.0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQX`,
    `-A ${SEP} -s 10.0.0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MAS`,
    `-A ${SEP} -s 10.0.'0.1/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ`,
    `-A ${SEP} -s 10.0.0.1/32 -m comment --comment ns/svc:p -j KUBE-MARK-MASQ`,
    `-A ${SEP} -s 10.0.0.1/32 -m comment --comment "ns/svc:p"  -j KUBE-MARK-MASQ`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p udp -m comment --comment "ns/svc:p" -m udp -j DNAT --to-destination 10.0.0.1:53`,
    `-A ${SEP} -p sctp -m comment --comment "ns/svc:p" -m sctp -j DNAT --to-destination 10.0.0.1:9`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m udp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination `,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.0.0.1:80 --random`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.0.0."1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p comment -m comment --comment "ns/svc:p" -m comment -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p icmp -m comment --comment "ns/svc:p" -m icmp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" ${affinity} -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" ${affinity.replace(SEP, SVC)} -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" ${affinity.replace('255.255.255.255', '255.255.255.0')} -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SEP} -p tcp -m comment --comment "ns/svc:p" ${affinity} ${affinity} -m tcp -j DNAT --to-destination 10.0.0.1:80`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -m statistic --mode random --probability 0.50000000000 -j ${SEP}`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -j ${SEP}`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -m statistic --mode random --probability  -j ${SEP}`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -m statistic --mode random --probability 0.5 0.5 -j ${SEP}`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -m statistic --mode random --probability 0.5' -j ${SEP}`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -j ${SEP}X`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -j ${SEP.slice(0, 24)}`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -j KUBE-SEP-AAAA'AAAAAAAAAAA`,
    `-A ${SVC} -m comment --comment "ns/svc:p -> 10.0.0.1:80" -j KUBE-MARK-MASQ`,
    `-A ${SVC} -m comment --comment "unterminated -j ${SEP}`,
    `-A ${SVC} -m comment --comment "" -j ${SEP}`,
    `-A ${SVC} -j ${SEP}`,
    `-A ${SVC}`,
  ];
  for (const line of lines) sameWithAndWithoutText(t, line, line.startsWith(`-A ${SVC}`) ? SVC : SEP, 'variant');
});
