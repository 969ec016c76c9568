/** Loads the kube-proxy ground-truth scenarios under test/fixtures/kubeproxy. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIptablesSave } from '../../lib/iptables/parse.ts';
import type { Chain } from '../../lib/iptables/types.ts';

/** Directory of the kube-proxy scenarios. */
export const KUBEPROXY_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kubeproxy');

/** One scenario. */
export interface Scenario {
  readonly name: string;
  readonly dir: string;
  readonly node: string;
  readonly family: 4 | 6;
  readonly nfacct: readonly string[];
  readonly cluster: { items: Record<string, unknown>[] };
  readonly restore: string;
  readonly nft: string;
  readonly legacy: string;
}

/** All scenarios, sorted by name. */
export function loadScenarios(): Scenario[] {
  return readdirSync(KUBEPROXY_FIXTURES).filter((n) => statSync(join(KUBEPROXY_FIXTURES, n)).isDirectory()).sort().map((name) => {
    const dir = join(KUBEPROXY_FIXTURES, name);
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
    const meta = JSON.parse(read('scenario.json')) as { node: { name: string }; family: string; nfacct?: string[] };
    return {
      name, dir, node: meta.node.name, family: meta.family === 'IPv6' ? 6 : 4, nfacct: meta.nfacct ?? [],
      cluster: JSON.parse(read('cluster.json')) as Scenario['cluster'],
      restore: read('expected.restore'), nft: read('nft.save'), legacy: read('legacy.save'),
    };
  });
}

/** Every chain of every scenario's three rulesets (nft, legacy, restore), parsed by the plain parser, with its scenario's name. */
export function* scenarioChains(): Generator<{ scenario: string; chain: Chain }> {
  for (const s of loadScenarios()) {
    for (const text of [s.nft, s.legacy, s.restore]) {
      for (const rs of parseIptablesSave(text, { source: s.name })) {
        for (const table of rs.tables.values()) for (const chain of table.chains.values()) yield { scenario: s.name, chain };
      }
    }
  }
}
