// What a service chain does, read from its texts: the fast paths for the lines kube-proxy writes read
// them as the full rule reader does, and never read what is inside a comment.
import t from 'tap';
import { parseIptablesSave } from '../../../lib/iptables/parse.ts';
import type { Chain } from '../../../lib/iptables/types.ts';
import { readServiceChain } from '../../../lib/kubeproxy/chain-view.ts';

const SVC = 'KUBE-SVC-AAAAAAAAAAAAAAAA';
const SEP_A = 'KUBE-SEP-AAAAAAAAAAAAAAAA';
const SEP_B = 'KUBE-SEP-BBBBBBBBBBBBBBBB';

// The service chain of a dump with these rules (quotes, backslashes and all, as iptables-save prints them).
const serviceChain = (rules: string[]): Chain => {
  const text = `*nat\n:${SVC} - [0:0]\n:${SEP_A} - [0:0]\n:${SEP_B} - [0:0]\n${rules.map((r) => `-A ${SVC} ${r}\n`).join('')}COMMIT\n`;
  return parseIptablesSave(text, { source: 'test' })[0]?.tables.get('nat')?.chains.get(SVC) as Chain;
};
const affinityOf = (rules: string[]): [string, number][] => [...readServiceChain(serviceChain(rules)).affinity];
const spreadsOf = (rules: string[]): [string, number][] => readServiceChain(serviceChain(rules)).spreads.map((s) => [s.sep, Number(s.share.toFixed(6))]);

const RCHECK = `-m recent --rcheck --seconds 10800 --reap --name ${SEP_A} --mask 255.255.255.255 --rsource -j ${SEP_A}`;

t.test('reads the affinity rule kube-proxy writes, with or without a comment', async (t) => {
  t.same(affinityOf([`-m comment --comment "ns1/svc1:p80 -> 10.0.0.1:80" ${RCHECK}`]), [[SEP_A, 10800]], 'quoted comment');
  t.same(affinityOf([`-m comment --comment ns1/svc1:p80 ${RCHECK}`]), [[SEP_A, 10800]], 'bare comment');
  t.same(affinityOf([RCHECK]), [[SEP_A, 10800]], 'no comment');
  t.same(affinityOf([`-m comment --comment "it's" ${RCHECK}`]), [[SEP_A, 10800]], 'a single quote in the comment (the full reader)');
});

t.test('never takes words inside a comment for the rule\'s own options', async (t) => {
  t.same(affinityOf([`-m comment --comment "x -m recent --rcheck --seconds 5 y" -j ${SEP_A}`]), [], 'an affinity rule only in the comment is none');
  t.same(affinityOf([`-m comment --comment "x -m recent --rcheck --seconds 5 y" ${RCHECK}`]), [[SEP_A, 10800]], 'the rule\'s own seconds, not the comment\'s');
  t.same(spreadsOf([`-m comment --comment "-m statistic --mode random --probability 0.25" -j ${SEP_A}`]), [[SEP_A, 1]], 'a probability only in the comment takes nothing away');
  t.same(spreadsOf([`-m comment --comment "a b" -m statistic --mode random --probability 0.25000000000 -j ${SEP_A}`, `-j ${SEP_B}`]), [[SEP_A, 0.25], [SEP_B, 0.75]], 'the rule\'s own probability');
});

t.test('reads unusual spellings of the affinity rule as the full rule reader does', async (t) => {
  t.same(affinityOf([`-m recent --rcheck --seconds 60 --reap --seconds 30 --name ${SEP_A} -j ${SEP_A}`]), [[SEP_A, 30]], 'the last --seconds counts');
  t.same(affinityOf([`-m recent --rcheck --reap --name ${SEP_A} -j ${SEP_A}`]), [[SEP_A, 0]], 'no --seconds');
  t.same(affinityOf([`-m recent --rcheck --seconds 1e3 --name ${SEP_A} -j ${SEP_A}`]), [[SEP_A, 1000]], 'not plain digits: read as a number, as before');
  t.same(affinityOf([`-m recent --rcheck --seconds 600 --name ${SEP_B} -j ${SEP_A}`, RCHECK]), [[SEP_A, 10800]], 'keyed by the jump target; a later rule for the same target wins');
});

t.test('tells a ClusterIP masquerade rule (one with a destination) as the full rule reader does', async (t) => {
  const masqOf = (rules: string[]): { lines: readonly number[]; destination: boolean } => {
    const v = readServiceChain(serviceChain(rules));
    return { lines: v.masqLines, destination: v.masqDestination };
  };
  const cases: [string, boolean, string][] = [
    ['! -s 10.128.0.0/10 -d 10.96.0.1/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ', true, 'kube-proxy\'s rule (a local traffic detector)'],
    ['-d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ', true, 'masqueradeAll: no source'],
    ['-s 10.0.0.0/8 ! -d 10.96.0.1/32 -j KUBE-MARK-MASQ', true, 'a negated destination is a destination'],
    ['-s 10.0.0.0/8 -m comment --comment "x -d 10.96.0.1/32" -j KUBE-MARK-MASQ', false, 'a destination only in the comment is none'],
    ['-m comment --comment "-d y" -j KUBE-MARK-MASQ', false, 'no match before the comment'],
    ['-m comment --comment "ns1/svc1:p80" -d 10.96.0.1/32 -j KUBE-MARK-MASQ', true, 'the destination after the comment (restore input): the full reader'],
    ["-s '10.0.0.0/8' -d 10.96.0.1/32 -j KUBE-MARK-MASQ", true, 'a quoted source: the full reader'],
  ];
  for (const [rule, destination, why] of cases) t.same(masqOf([rule]), { lines: [5], destination }, why);
  t.same(masqOf([`-j ${SEP_A}`]), { lines: [], destination: false }, 'no masquerade rule');
});
