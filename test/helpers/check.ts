/**
 * Runs the whole check on in-memory inputs, as the `check` command does after reading files. Every
 * check runs three times, on the compact chains the product uses (with the rules prepared before the
 * cluster is known, as `check` does, and without) and on plain texts, and all must agree.
 */
import { parseIptablesSave } from '../../lib/iptables/parse.ts';
import { checkNode, prepareNodeRules } from '../../lib/kubeproxy/check-node.ts';
import type { NodeCheckResult } from '../../lib/kubeproxy/check-node.ts';
import { readClusterObjects } from '../../lib/kubeproxy/cluster-input.ts';
import { parseNodeRules } from '../../lib/kubeproxy/parse-node-rules.ts';

/** Checks a dump against cluster objects for a node. */
export function checkText(rules: string, items: readonly unknown[], node: string, family: 4 | 6 = 4): NodeCheckResult {
  const cluster = readClusterObjects(items, { where: (i) => `items[${i}]` });
  const compact = checkNode({ rules: [{ family, rulesets: parseNodeRules(Buffer.from(rules), 'test') }], cluster, nodeName: node });
  const plain = checkNode({ rules: [{ family, rulesets: parseIptablesSave(rules, { source: 'test' }) }], cluster, nodeName: node });
  const early = [{ family, rulesets: parseNodeRules(Buffer.from(rules), 'test') }];
  const prepared = checkNode({ rules: early, cluster, nodeName: node, prepared: prepareNodeRules(early) });
  const a = JSON.stringify(compact.findings);
  const b = JSON.stringify(plain.findings);
  if (a !== b) throw new Error(`compact and plain chains disagree:\ncompact: ${a}\nplain:   ${b}`);
  const c = JSON.stringify([prepared.findings, prepared.stats]);
  if (c !== JSON.stringify([compact.findings, compact.stats])) throw new Error(`the check with prepared rules disagrees:\nprepared: ${c}\ndirect:   ${JSON.stringify([compact.findings, compact.stats])}`);
  return compact;
}

/** The error findings as compact `kind service endpoint` strings, for readable assertions. */
export function errorsOf(result: NodeCheckResult): string[] {
  return result.findings.filter((f) => f.severity === 'error').map((f) => [f.kind, f.service ?? '-', f.endpoint ?? '-'].join(' '));
}
