// Every line of every kube-proxy scenario (both backends), deleted on its own, is noticed: the check
// reports at least one finding (or refuses the dump with a coded error), unless the line is one of the few listed here, each with the reason
// its absence is not a finding. A rule that starts being ignored fails this test, so a gap in what
// the check looks at cannot open silently.
import t from 'tap';
import { isAgentError } from '../../../lib/errors.ts';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

/** Lines whose deletion the check does not report, and why. */
const UNNOTICED: readonly (readonly [RegExp, string])[] = [
  [/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /, 'a built-in chain exists whether or not the dump declares it'],
  [/^:KUBE-(KUBELET-CANARY|IPTABLES-HINT|FIREWALL) /, "kubelet's chains, not kube-proxy's"],
  [/^-A (INPUT|OUTPUT) -j KUBE-FIREWALL$|^-A KUBE-FIREWALL /, "kubelet's martian-packet firewall, not kube-proxy's"],
  [/^-A KUBE-FORWARD -m conntrack --ctstate INVALID /, 'kube-proxy leaves it out when conntrack is set to be liberal (its conntrack.tcpBeLiberal), which the ruleset does not show'],
  [/^-A KUBE-SERVICES .*-j KUBE-NODEPORTS$/, 'a warning only where NodePorts have endpoints (kube-proxy writes no jump when its nodePortAddresses matches no node address, a case in its own tests): nothing at all where none do'],
  [/^-A KUBE-(SVC|SVL)-\S+ .*-d \S+ .*-j KUBE-MARK-MASQ$/, 'the ClusterIP masquerade rule depends on kube-proxy\'s local-traffic detector: it is expected where other service chains show one, and a node with a single service shows none'],
  [/^-A KUBE-EXT-\S+ -s \S+ .*-j KUBE-SVC-/, 'the pod-traffic short cut is written only with a local-traffic detector, which the ruleset does not always show'],
  [/^-A KUBE-FW-\S+ -m comment --comment "[^"]*"$/, 'a rule without a target: it only counts packets'],
  [/^-A KUBE-FW-\S+ -s \S+\/32 /, "a load balancer's own address, allowed when a source range holds the node's IP (kube-proxy's nodeIP, not known here)"],
  [/^-A KUBE-NODEPORTS -d 127\.0\.0\.0\/8 /, "localhost NodePorts depend on kube-proxy's localhostNodePorts setting"],
];

for (const s of loadScenarios()) {
  t.test(`${s.name}: each line deleted alone is reported, or is a line whose absence is explained`, async (t) => {
    let noticed = 0;
    let explained = 0;
    for (const [which, text] of [['legacy.save', s.legacy], ['nft.save', s.nft]] as const) {
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as string;
        if (!line.startsWith('-A ') && !line.startsWith(':')) continue;
        let findings: number;
        try {
          findings = checkText(lines.filter((_, k) => k !== i).join('\n'), s.cluster.items, s.node, s.family).findings.length;
        } catch (error) {
          if (!isAgentError(error) || error.code === 'DPS_ERR_INTERNAL') throw error;
          findings = 1; // refused, with a coded error: not taken for in sync either
        }
        if (findings > 0) { noticed++; continue; }
        if (UNNOTICED.some(([pattern]) => pattern.test(line))) { explained++; continue; }
        t.fail(`${which}:${i + 1} deleted, and nothing is reported: ${line}`);
      }
    }
    t.pass(`${noticed} deletions reported, ${explained} explained`);
  });
}
