/** Loads the kube-proxy ground-truth scenarios under test/fixtures/kubeproxy. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
