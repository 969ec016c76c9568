/**
 * `dataplane-sentinel demo`: the check engine on an embedded scenario, no cluster needed. A ruleset
 * rendered from examples/demo/cluster.yaml (what kube-proxy would write) is loaded with the real
 * iptables-restore into a throwaway network namespace (as root with iptables installed; otherwise the
 * same scenario is checked from text), read back with iptables-save, and checked: in sync; then the
 * node is broken the way the incidents broke it (a pod deleted while kube-proxy cannot sync, a
 * flushed nat table) and repaired. Nothing is left behind: every step is its own `unshare -n`.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';
import { parseIptablesSave } from '../../lib/iptables/parse.ts';
import { checkNode } from '../../lib/kubeproxy/check-node.ts';
import type { NodeCheckResult } from '../../lib/kubeproxy/check-node.ts';
import { readClusterObjects } from '../../lib/kubeproxy/cluster-input.ts';
import { parseClusterText } from '../../lib/kubeproxy/cluster-text.ts';
import { expectedServicePorts } from '../../lib/kubeproxy/expected.ts';
import { renderKubeProxyRules } from '../../lib/kubeproxy/render.ts';

const CLUSTER = fileURLToPath(new URL('../../examples/demo/cluster.yaml', import.meta.url));
const NODE = 'demo-node';

/** Runs the demo; exit 0 when every step showed what it should. */
export async function runDemo(_argv: readonly string[], io: CliIo): Promise<number> {
  const say = (s: string): void => { io.stdout.write(`${s}\n`); };
  const parsed = parseClusterText(await readFile(CLUSTER, 'utf8'), CLUSTER);
  const items = parsed.items as Record<string, unknown>[];
  const render = (objs: readonly unknown[]): string => {
    const view = readClusterObjects(objs, { where: String });
    const node = view.nodes.find((n) => n.name === NODE) ?? { name: NODE, zone: undefined, addresses: [] };
    return renderKubeProxyRules(expectedServicePorts(view, { family: 4, node }), { family: 4, clusterCIDR: '10.244.0.0/16' });
  };
  const live = await canUseNamespace();
  say(`dataplane-sentinel demo: node ${NODE}, cluster from examples/demo/cluster.yaml`);
  say(live === true
    ? 'rules: loaded with iptables-legacy-restore into a throwaway network namespace, read back with iptables-legacy-save\n'
    : `rules: checked from text (${live}); run as root with iptables installed to use a real network namespace\n`);

  // What the node prints for given restore data, optionally after breaking it.
  const dump = async (restore: string, after = ':'): Promise<string> => {
    if (live !== true) return after.includes('-F') ? flushNatText(restore) : restore;
    const r = await execa('unshare', ['-n', 'sh', '-c', `set -e\niptables-legacy-restore\n${after}\niptables-legacy-save`], { input: restore, timeout: 20_000, reject: false, cancelSignal: io.signal });
    if (r.exitCode !== 0) throw new Error(`iptables in a network namespace failed: ${r.stderr}`);
    return r.stdout;
  };
  const check = (text: string, objs: readonly unknown[]): NodeCheckResult => checkNode({
    rules: [{ family: 4, rulesets: parseIptablesSave(text, { source: 'iptables-save' }) }],
    cluster: readClusterObjects(objs, { where: String }), nodeName: NODE,
  });
  const show = (title: string, result: NodeCheckResult, want: 'in-sync' | 'drift'): boolean => {
    const errors = result.findings.filter((f) => f.severity === 'error');
    say(`== ${title}`);
    say(`   verdict: ${result.verdict.toUpperCase()} (${result.stats.servicePorts} service ports, ${result.stats.expectedEndpoints} endpoints, ${result.stats.rules} rules checked)`);
    const byKind = new Map<string, number>();
    for (const f of errors) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
    for (const f of errors.slice(0, 6)) say(`   ${f.kind.padEnd(20)} ${[f.service, f.endpoint, f.chain].filter(Boolean).join('  ')}\n${' '.repeat(24)}${f.message}`);
    if (errors.length > 6) say(`   ... and ${errors.length - 6} more (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')})`);
    say('');
    return result.verdict === want;
  };

  const healthy = render(items);
  let ok = show('1. a healthy node: the rules match the API', check(await dump(healthy), items), 'in-sync');

  // The CircleCI failure: web-1's pod is deleted; kube-proxy cannot run iptables-restore, rules go stale.
  const withoutPod = items.map((i) => (i.kind === 'EndpointSlice' && (i.metadata as { name: string }).name === 'web-x7k2p'
    ? { ...i, endpoints: (i.endpoints as { addresses: string[] }[]).filter((e) => e.addresses[0] !== '10.244.2.12') } : i));
  say('   (kube-proxy now logs "Failed to execute iptables-restore" and "Sync failed"; the API moves on)');
  ok = show('2. pod 10.244.2.12 deleted, kube-proxy stuck: traffic still goes to the dead pod', check(await dump(healthy), withoutPod), 'drift') && ok;

  ok = show('3. someone flushed the nat table (iptables -t nat -F)', check(await dump(healthy, 'iptables-legacy -t nat -F'), withoutPod), 'drift') && ok;

  ok = show('4. kube-proxy recovers and resyncs: in sync again', check(await dump(render(withoutPod)), withoutPod), 'in-sync') && ok;
  say(ok ? 'demo finished: every step showed the expected verdict' : 'demo FAILED: a step did not show the expected verdict');
  return ok ? EXIT.ok : EXIT.drift;
}

// What `iptables -t nat -F` does, on restore text: every nat rule goes, the chains stay.
function flushNatText(restore: string): string {
  let table = '';
  return restore.split('\n').filter((line) => {
    if (line.startsWith('*')) table = line.slice(1);
    return !(table === 'nat' && line.startsWith('-A '));
  }).join('\n');
}

async function canUseNamespace(): Promise<true | string> {
  if (process.getuid?.() !== 0) return 'not root';
  const r = await execa('unshare', ['-n', 'iptables-legacy-save'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? true : 'unshare or iptables-legacy not available';
}
