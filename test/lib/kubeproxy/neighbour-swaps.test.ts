// Every pair of neighbouring rules of one chain, in every kube-proxy scenario, swapped: the check
// reports it, unless the two rules are of a kind listed here, each with the reason their order
// does not change where a service's connections go (or cannot be told from the ruleset).
import t from 'tap';
import { isAgentError } from '../../../lib/errors.ts';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

const chainOf = (rule: string): string => rule.split(' ')[1] as string;
const targetOf = (rule: string): string => / -j (\S+)(?: |$)/.exec(rule)?.[1] ?? '';
const both = (a: string, b: string, test: (rule: string) => boolean): boolean => test(a) && test(b);

/** Pairs whose swap the check does not report, and why. */
const ORDER_FREE: readonly (readonly [(a: string, b: string) => boolean, string])[] = [
  [(a, b) => /^(INPUT|FORWARD|OUTPUT)$/.test(chainOf(a)) && both(a, b, (r) => targetOf(r).startsWith('KUBE-')),
    "kube-proxy's (and kubelet's) jumps from a built-in chain match different traffic"],
  [(a) => chainOf(a) === 'KUBE-FORWARD', 'KUBE-FORWARD accepts or drops different traffic (marked, established, invalid)'],
  [(a) => chainOf(a) === 'KUBE-SERVICES', 'rules for different addresses, or the NodePorts jump, which matches only the node\'s own addresses'],
  [(a) => chainOf(a) === 'KUBE-NODEPORTS', 'rules for different ports, or the localhost rule beside the one for every address'],
  [(a) => chainOf(a) === 'KUBE-EXTERNAL-SERVICES' || chainOf(a) === 'KUBE-PROXY-FIREWALL', 'DROPs for different addresses or ports'],
  [(a) => chainOf(a).startsWith('KUBE-FW-'), 'allowed sources of a load balancer, and a last rule that only counts'],
  [(a, b) => chainOf(a).startsWith('KUBE-EXT-') && (/ -s /.test(a) || / -s /.test(b)) && (/--src-type LOCAL/.test(a) || /--src-type LOCAL/.test(b)),
    "KUBE-EXT's short cuts for pod traffic and for the node's own traffic match different sources"],
  [(a, b) => /^KUBE-SV[CL]-/.test(chainOf(a)) && both(a, b, (r) => / --rcheck | -j KUBE-MARK-MASQ$/.test(r)),
    'masquerade and affinity rules, both ahead of the cascade'],
];

/** Scenarios whose service chains show no ClusterIP masquerade rule but one: its absence is a configuration here. */
const SINGLE_MASQUERADE = (text: string): boolean => text.split('\n').filter((l) => /^-A KUBE-SV[CL]-\S+ .*-d \S+ .*-j KUBE-MARK-MASQ$/.test(l)).length <= 1;

for (const s of loadScenarios()) {
  t.test(`${s.name}: swapping neighbouring rules is reported, or their order is explained`, async (t) => {
    let noticed = 0;
    let explained = 0;
    for (const [which, text] of [['legacy.save', s.legacy], ['nft.save', s.nft]] as const) {
      const lines = text.split('\n');
      for (let i = 0; i + 1 < lines.length; i++) {
        const a = lines[i] as string;
        const b = lines[i + 1] as string;
        if (!a.startsWith('-A ') || !b.startsWith('-A ') || chainOf(a) !== chainOf(b) || a === b) continue;
        const edited = [...lines];
        edited[i] = b;
        edited[i + 1] = a;
        let findings: number;
        try {
          findings = checkText(edited.join('\n'), s.cluster.items, s.node, s.family).findings.length;
        } catch (error) {
          if (!isAgentError(error) || error.code === 'DPS_ERR_INTERNAL') throw error;
          findings = 1;
        }
        if (findings > 0) { noticed++; continue; }
        if (ORDER_FREE.some(([matches]) => matches(a, b))) { explained++; continue; }
        if (/^KUBE-SV[CL]-/.test(chainOf(a)) && / -j KUBE-MARK-MASQ$/.test(a) && SINGLE_MASQUERADE(text)) { explained++; continue; }
        t.fail(`${which}:${i + 1}-${i + 2} swapped, and nothing is reported:\n  ${a}\n  ${b}`);
      }
    }
    t.pass(`${noticed} swaps reported, ${explained} explained`);
  });
}
