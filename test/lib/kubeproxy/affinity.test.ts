// ClientIP session affinity holds only when the pair of `recent` rules kube-proxy writes records and
// looks up each client's own address in the endpoint's set: the `--rcheck` in the service chain and
// the `--set` in the endpoint chain. Checked on kube-proxy's own ruleset with one of them edited in
// its restore input, loaded with the real iptables (both backends) and read back as iptables-save
// prints it.
import t from 'tap';
import { ruleFacts } from '../../../lib/iptables/rule-facts.ts';
import { affinityFault } from '../../../lib/kubeproxy/chain-view.ts';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';
import { netnsUnavailable, roundTrip } from '../../helpers/netns.ts';

const SEP = 'KUBE-SEP-I77PXRDZVX7PMWMN';
const SVC = 'KUBE-SVC-NUKIZ6OKUXPJNT4C';
const scenario = loadScenarios().find((s) => s.name === 'overall-iptables-rules')!;
const skip = netnsUnavailable();

// The scenario's restore input with its one line matching `line` edited, through the real binaries.
async function checkEdited(backend: 'legacy' | 'nft', line: RegExp, edit: (l: string) => string) {
  const lines = scenario.restore.split('\n');
  if (lines.filter((l) => line.test(l)).length !== 1) throw new Error(`expected one line to match ${line}`);
  const saved = await roundTrip(lines.map((l) => (line.test(l) ? edit(l) : l)).join('\n'), { family: 4, backend, nfacct: scenario.nfacct });
  return checkText(saved, scenario.cluster.items, scenario.node, 4);
}
const brief = (r: ReturnType<typeof checkText>) => r.findings.map((f) => ({ kind: f.kind, service: f.service, endpoint: f.endpoint, chain: f.chain, message: f.message }));

const RCHECK = new RegExp(`^-A ${SVC} .*--rcheck`);
const SET = new RegExp(`^-A ${SEP} .*--set`);
const cases: { what: string; line: RegExp; edit: (l: string) => string; chain: string; message: RegExp }[] = [
  {
    what: 'the lookup reads another set', line: RCHECK, chain: `nat/${SVC}`,
    edit: (l) => l.replace(`--name ${SEP}`, '--name KUBE-SEP-AAAAAAAAAAAAAAAA'),
    message: /the "recent --rcheck" rule in KUBE-SVC-NUKIZ6OKUXPJNT4C uses the recent set "KUBE-SEP-AAAAAAAAAAAAAAAA", not "KUBE-SEP-I77PXRDZVX7PMWMN"/,
  },
  {
    what: 'the lookup has no set name (iptables\' DEFAULT)', line: RCHECK, chain: `nat/${SVC}`,
    edit: (l) => l.replace(`--name ${SEP} `, ''),
    message: /uses the recent set "DEFAULT"/,
  },
  {
    what: 'the lookup matches destinations', line: RCHECK, chain: `nat/${SVC}`,
    edit: (l) => l.replace('--reap', '--reap --rdest'),
    message: /records destination addresses \(--rdest\), not clients/,
  },
  {
    what: 'the lookup masks clients to their /24', line: RCHECK, chain: `nat/${SVC}`,
    edit: (l) => l.replace('--reap', '--reap --mask 255.255.255.0'),
    message: /records client networks \(--mask 255\.255\.255\.0\), not single clients/,
  },
  {
    what: 'the lookup holds a client only after two connections', line: RCHECK, chain: `nat/${SVC}`,
    edit: (l) => l.replace('--reap', '--reap --hitcount 2'),
    message: /holds a client only after 2 connections \(--hitcount\)/,
  },
  {
    what: 'the endpoint records clients in another set', line: SET, chain: `nat/${SEP}`,
    edit: (l) => l.replace(`--name ${SEP}`, '--name KUBE-SEP-AAAAAAAAAAAAAAAA'),
    message: /the "recent --set" rule in KUBE-SEP-I77PXRDZVX7PMWMN uses the recent set "KUBE-SEP-AAAAAAAAAAAAAAAA"/,
  },
  {
    what: 'the endpoint records destinations', line: SET, chain: `nat/${SEP}`,
    edit: (l) => l.replace('--set', '--set --rdest'),
    message: /the "recent --set" rule in KUBE-SEP-I77PXRDZVX7PMWMN records destination addresses/,
  },
  {
    what: 'the endpoint records client networks', line: SET, chain: `nat/${SEP}`,
    edit: (l) => l.replace('--set', '--set --mask 255.255.0.0'),
    message: /records client networks \(--mask 255\.255\.0\.0\)/,
  },
];

t.test('kube-proxy\'s own affinity rules, as each backend prints them, are in sync', { skip }, async (t) => {
  for (const backend of ['legacy', 'nft'] as const) {
    const saved = await roundTrip(scenario.restore, { family: 4, backend, nfacct: scenario.nfacct });
    t.match(saved, new RegExp(`--rcheck --seconds 10800 --reap --name ${SEP} --mask 255\\.255\\.255\\.255 --rsource`), `${backend}: printed with its set, host mask and source`);
    t.equal(checkText(saved, scenario.cluster.items, scenario.node, 4).verdict, 'in-sync', backend);
  }
});

for (const c of cases) {
  t.test(`affinity does not hold when ${c.what}`, { skip }, async (t) => {
    for (const backend of ['legacy', 'nft'] as const) {
      const r = await checkEdited(backend, c.line, c.edit);
      t.equal(r.verdict, 'drift', `${backend}: drift`);
      t.match(brief(r), [{ kind: 'affinity-mismatch', service: 'ns5/svc5', endpoint: '10.180.0.3:80', chain: c.chain, message: c.message }], `${backend}: one affinity-mismatch for the endpoint`);
      t.equal(r.findings.length, 1, `${backend}: and nothing else`);
    }
  });
}

t.test('an IPv6 host mask is a host mask', async (t) => {
  // what ip6tables-save prints for kube-proxy's rules, read without the binaries
  const facts = ruleFacts(SVC, `-A ${SVC} -m recent --rcheck --seconds 10800 --reap --name ${SEP} --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j ${SEP}`, 1);
  t.equal(affinityFault(facts, SEP), undefined);
  const net = ruleFacts(SVC, `-A ${SVC} -m recent --rcheck --seconds 10800 --reap --name ${SEP} --mask ffff:ffff:ffff:ffff:: --rsource -j ${SEP}`, 1);
  t.match(affinityFault(net, SEP), /--mask ffff:ffff:ffff:ffff::/);
});
