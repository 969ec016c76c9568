// Values compared by meaning, not by the text iptables-save prints.
import t from 'tap';
import { canonicalCidr, canonicalIP, cidrContains, isCanonicalIPv4, parseIPv4, parseMark, parseProbability } from '../../../lib/iptables/values.ts';

t.test('addresses are canonical whatever their spelling', async (t) => {
  t.equal(canonicalCidr('10.0.0.1'), canonicalCidr('10.0.0.1/32'), '/32 is added by iptables-save');
  t.equal(canonicalIP('172.30.0.041'), '172.30.0.41', 'leading zeros are read as decimal, like kube-proxy');
  t.equal(canonicalCidr('10.0.0.0/255.0.0.0'), '10.0.0.0/8', 'dotted masks');
  t.equal(canonicalIP('2001:DB8:0:0:0:0:0:1'), '2001:db8::1', 'IPv6 is compressed and lower case');
  t.equal(canonicalCidr('fd00::1'), 'fd00::1/128');
  t.equal(canonicalIP('::ffff:10.0.0.1'), '::ffff:a00:1');
  t.equal(canonicalIP('10.0.0.256'), undefined);
  t.equal(canonicalIP('nope'), undefined);
  t.ok(cidrContains('203.0.113.0/25', '203.0.113.7'));
  t.notOk(cidrContains('203.0.113.0/25', '203.0.113.200'));
});

t.test('a dotted quad already canonical is recognised without parsing, and only such a one', async (t) => {
  for (const ip of ['0.0.0.0', '10.0.0.1', '255.255.255.255', '1.22.133.4', '100.0.10.0']) t.ok(isCanonicalIPv4(ip), ip);
  for (const ip of ['010.0.0.1', '10.0.0.01', '00.0.0.0', '256.0.0.1', '10.0.0', '10.0.0.1.2', '10..0.1', '.10.0.0.1', '10.0.0.1.', '1000.0.0.1', '10.0.0.1 ', '', 'fd00::1', '::ffff:10.0.0.1']) {
    t.notOk(isCanonicalIPv4(ip), JSON.stringify(ip));
  }
  // agrees with the general reader on every address it accepts
  for (let i = 0; i < 400; i++) {
    const parts = Array.from({ length: 4 }, (_, k) => String((i * 7919 + k * 104729) % 300).padStart(1 + ((i + k) % 3 === 0 ? 1 : 0), '0'));
    const ip = parts.join('.');
    if (isCanonicalIPv4(ip)) t.equal(parseIPv4(ip)?.join('.'), ip, ip);
    else if (parseIPv4(ip) !== undefined) t.not(parseIPv4(ip)?.join('.'), ip, `${ip} is readable but not canonical`);
  }
});

t.test('marks compare by value and mask', async (t) => {
  t.same(parseMark('0x00004000'), parseMark('0x4000'));
  t.same(parseMark('0x4000/0x4000'), { value: 0x4000, mask: 0x4000 });
  t.same(parseMark('16384'), { value: 16384, mask: 0xffffffff });
  t.equal(parseMark('0xzz'), undefined);
});

t.test('probabilities are numbers: 0.3333333333 as written equals 0.33333333349 as printed', async (t) => {
  t.ok(Math.abs((parseProbability('0.3333333333') ?? 0) - (parseProbability('0.33333333349') ?? 1)) < 1e-9);
  t.equal(parseProbability('1.5'), undefined);
  t.equal(parseProbability('abc'), undefined);
});
