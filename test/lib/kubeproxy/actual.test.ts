// Reading the addresses kube-proxy's capture rules match: a host is one canonical address, however it is written.
import t from 'tap';
import { hostAddress } from '../../../lib/kubeproxy/actual.ts';

t.test('reads a host address as its canonical IP, and nothing else as a host', async (t) => {
  const cases: [string, string | undefined, string][] = [
    ['10.96.0.1/32', '10.96.0.1', 'as iptables-save prints a host'],
    ['10.96.0.1', '10.96.0.1', 'without a prefix'],
    ['010.96.0.1/32', '10.96.0.1', 'a leading zero (restore input): canonical'],
    ['10.96.0.1/255.255.255.255', '10.96.0.1', 'a dotted mask'],
    ['10.96.0.0/24', undefined, 'a network is not a host'],
    ['10.96.0.256/32', undefined, 'not an address'],
    ['fd00::1/128', 'fd00::1', 'IPv6'],
    ['fd00:0:0::1/128', 'fd00::1', 'IPv6, not canonical'],
    ['fd00::/64', undefined, 'an IPv6 network'],
  ];
  for (const [text, want, why] of cases) t.equal(hostAddress(text), want, `${text}: ${why}`);
});
