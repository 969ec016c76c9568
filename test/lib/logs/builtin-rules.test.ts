import { readFileSync } from 'node:fs';
import t from 'tap';
import { BUILTIN_RULES } from '../../../lib/logs/builtin-rules.ts';
import { compileRules } from '../../../lib/logs/compile-rules.ts';
import { decodeWrapper } from '../../../lib/logs/decode-wrapper.ts';
import { matchRecord } from '../../../lib/logs/match-record.ts';
import { BUILTIN_CLASSES } from '../../../lib/logs/types.ts';

interface Case { component: string; class: string | null; source: string; line: string }
const cases: Case[] = readFileSync(new URL('../../fixtures/logs/signatures.jsonl', import.meta.url), 'utf8')
  .split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Case);
const rules = compileRules(BUILTIN_RULES);

t.test('every real line in the signature fixtures gets its expected class (or none)', async (t) => {
  for (const c of cases) {
    const wrapped = decodeWrapper(c.line);
    const match = matchRecord(rules, wrapped, c.component);
    t.equal(match?.class ?? null, c.class, `${c.source}: ${c.line.slice(0, 90)}`);
  }
});

t.test('every built-in rule matches at least one fixture line', async (t) => {
  const used = new Set<string>();
  for (const c of cases) {
    const match = matchRecord(rules, decodeWrapper(c.line), c.component);
    if (match !== undefined) used.add(match.rule);
  }
  // Rules whose real lines were not found in public sources yet are listed here on purpose.
  const unverified = new Set([
    'cni-plugin-unauthorized', 'ipam-datastore-empty', 'ipam-pool-full', 'ipam-calico-block-limit', 'ipam-pool-empty',
    'ipam-calico-autoassign', 'cni-no-network-config', 'cni-config-uninitialized', 'cni-cilium-apiserver', 'kube-proxy-nftables-list',
    'kube-proxy-get-node-failed', 'sandbox-network-setup', 'calico-cni-result-error', 'cni-error-adding-network', 'xtables-lock-timeout',
    'cni-cilium-agent-down', 'cni-networkplugin-failed',
  ]);
  for (const rule of BUILTIN_RULES) {
    if (unverified.has(rule.id)) continue;
    t.ok(used.has(rule.id), `rule ${rule.id} is exercised by a real line`);
  }
});

t.test('every class the issue names has a fixture line and a rule', async (t) => {
  for (const cls of BUILTIN_CLASSES) {
    t.ok(BUILTIN_RULES.some((r) => r.class === cls), `a rule for ${cls}`);
    t.ok(cases.some((c) => c.class === cls), `a fixture line for ${cls}`);
  }
});

t.test('the loop-detection HINFO timeout is a dns-upstream-timeout of severity info', async (t) => {
  const line = cases.find((c) => c.line.includes('HINFO'))!;
  t.equal(matchRecord(rules, decodeWrapper(line.line), 'coredns')?.severity, 'info');
});

t.test('a kube-proxy rule does not fire on the same text from another component', async (t) => {
  const m = matchRecord(rules, { message: 'I0809 06:14:37.485205 1 proxier.go:779] Sync failed; retrying in 30s', time: undefined }, 'kube-apiserver');
  t.equal(m, undefined);
});
