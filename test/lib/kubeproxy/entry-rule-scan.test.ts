// kube-proxy's entry rules read from their text by their exact shapes: the same address, protocol,
// port and target as the full rule reader finds, and nothing read that the scanner is not sure of.
import t from 'tap';
import { ruleFacts } from '../../../lib/iptables/rule-facts.ts';
import { scanEntryRule } from '../../../lib/kubeproxy/entry-rule-scan.ts';
import { scenarioChains } from '../../helpers/fixtures.ts';

const ENTRY_CHAINS = new Set(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES', 'KUBE-PROXY-FIREWALL']);
const factsOf = (chain: string, text: string): unknown => {
  const f = ruleFacts(chain, text, 1);
  return { destination: f.destination, protocol: f.protocol, dport: f.dport, target: f.target };
};

t.test('reads every entry rule of every scenario as the full reader does, or leaves it to it', async (t) => {
  let read = 0;
  let left = 0;
  for (const { scenario, chain } of scenarioChains()) {
    if (!ENTRY_CHAINS.has(chain.name)) continue;
    for (const line of chain.texts) {
      const fast = scanEntryRule(line, chain.name.length);
      if (fast === undefined) { left++; continue; }
      read++;
      const full = ruleFacts(chain.name, line, 1);
      if (full.destinationNegated || full.addrtype || full.inInterface !== undefined || full.source !== undefined) t.fail(`${scenario}: read a rule with more matches: ${line}`);
      t.same({ ...fast }, factsOf(chain.name, line), `${scenario}: ${line}`);
    }
  }
  t.ok(read > 200, `read ${read} rules, left ${left} to the full reader`);
});

t.test('reads kube-proxy\'s shapes, in either order iptables-save prints them', async (t) => {
  const S = 'KUBE-SERVICES'.length;
  t.same(scanEntryRule('-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -m comment --comment "default/kubernetes:https cluster IP" -j KUBE-SVC-NPX46M4PTMTKRN6Y', S),
    { destination: '10.96.0.1/32', protocol: 'tcp', dport: '443', target: 'KUBE-SVC-NPX46M4PTMTKRN6Y' }, 'nft order');
  t.same(scanEntryRule('-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y', S),
    { destination: '10.96.0.1/32', protocol: 'tcp', dport: '443', target: 'KUBE-SVC-NPX46M4PTMTKRN6Y' }, 'legacy order');
  t.same(scanEntryRule('-A KUBE-NODEPORTS -p udp -m comment --comment ns1/dns:dns -m udp --dport 30053 -j KUBE-EXT-AAAAAAAAAAAAAAAA', 'KUBE-NODEPORTS'.length),
    { destination: undefined, protocol: 'udp', dport: '30053', target: 'KUBE-EXT-AAAAAAAAAAAAAAAA' }, 'a bare comment, no address');
  t.same(scanEntryRule('-A KUBE-SERVICES -d 10.96.0.9/32 -p sctp -m sctp --dport 9 -j REJECT', S), { destination: '10.96.0.9/32', protocol: 'sctp', dport: '9', target: 'REJECT' }, 'no comment');
});

t.test('leaves everything else to the full reader', async (t) => {
  const others = [
    '-A KUBE-SERVICES ! -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A', // negated address
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp ! --dport 443 -j KUBE-SVC-A', // negated port
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -m comment --comment "a \\"b\\"" -j KUBE-SVC-A', // escaped quotes
    "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -m comment --comment \"it's\" -j KUBE-SVC-A", // a single quote
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m udp --dport 443 -j KUBE-SVC-A', // another protocol's module
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp --dport 443 -j KUBE-SVC-A', // a port without its module
    '-A KUBE-SERVICES -d 10.96.0.1/32 -d 10.96.0.2/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A', // two addresses
    '-A KUBE-SERVICES -s 10.0.0.0/8 -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A', // a source
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.1:80', // a target option
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j', // no target
    '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -m comment --comment "unterminated -j KUBE-SVC-A',
    '[1:2] -A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A', // counters
    '-A KUBE-SERVICESX -d 10.96.0.1/32 -j KUBE-SVC-A', // another chain's name
  ];
  for (const line of others) t.equal(scanEntryRule(line, 'KUBE-SERVICES'.length), undefined, line);
});
