// The fast reading of rule facts gives the same answer as the full parser, for every rule of every
// kube-proxy scenario and for the awkward spellings the fast path hands over.
import t from 'tap';
import { factsFromRule, ruleFacts } from '../../../lib/iptables/rule-facts.ts';
import { parseRuleText } from '../../../lib/iptables/chain.ts';
import { scenarioChains } from '../../helpers/fixtures.ts';

t.test('fast facts equal full-parse facts on every fixture rule', async (t) => {
  let compared = 0;
  let differences = 0;
  for (const { scenario, chain } of scenarioChains()) {
    chain.texts.forEach((line, i) => {
      compared++;
      const fast = ruleFacts(chain.name, line, chain.lineNumbers[i] ?? 0);
      const full = factsFromRule(parseRuleText(chain.name, line, chain.lineNumbers[i] ?? 0, scenario));
      if (JSON.stringify(fast) !== JSON.stringify(full)) {
        differences++;
        t.same(fast, full, `${scenario}: ${line}`);
      }
    });
  }
  t.ok(compared > 3000, `compared ${compared} rules`);
  t.equal(differences, 0, 'no rule differs');
});

t.test('awkward spellings go through the full parser', async (t) => {
  const cases = [
    '-A X -m comment --comment "say \\"-j\\" DROP" -j ACCEPT',
    "-A X -m comment --comment 'single quoted' -j ACCEPT",
    '[3:4] -A X -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A',
    '-A X ! -s 10.0.0.0/8 -d 10.0.0.1/32 -p tcp -m tcp ! --dport 80 -j KUBE-MARK-MASQ',
    '-A X -p tcp -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.0.0.1:80',
    '-A X -m addrtype ! --dst-type LOCAL -j RETURN',
    // long spellings and every option read, each told from its text without a string made of it
    '-A X --source 10.0.0.0/8 --destination 10.0.0.1/32 --protocol udp --in-interface eth0 --match udp --destination-port 53 --jump ACCEPT',
    '-A X -m addrtype --dst-type LOCAL -m comment --comment "np" -g KUBE-NODEPORTS',
    '-A X -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-A --mask 255.255.255.255 --rsource -j KUBE-SEP-A',
    '-A X -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-A',
    '-A X -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ',
    '-A X -m policy --dir in --pol ipsec --destination 10.0.0.1 -j ACCEPT',
    '-A X -o eth0 -f -c 1 2 -m mark --mark 0x1 -j DNAT --to-destination 10.0.0.1:80',
    '-A X -m rcheck --rcheck -m set --set -j RETURN',
    // the recent options an affinity rule is judged by: set, mask, direction, hit count
    '-A X -m recent --rcheck --seconds 5 --hitcount 2 --name X --mask 255.255.255.0 --rdest -j KUBE-SEP-A',
    '-A X -m recent --set --name KUBE-SEP-A --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j DNAT --to-destination [fd00::1]:80',
    '-A X -m set --match-set S src --name N -m recent --name KUBE-SEP-A --rcheck -j KUBE-SEP-A',
  ];
  for (const line of cases) {
    t.same(ruleFacts('X', line, 1), factsFromRule(parseRuleText('X', line, 1, 't')), line);
  }
});
