// Values compared by meaning, not by the text iptables-save prints.
import t from 'tap';
import { canonicalCidr, canonicalIP, cidrContains, parseMark, parseProbability } from '../../../lib/iptables/values.ts';

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
