// Where the rules come from: the node's iptables-save of the backend it uses (detected as
// iptables-wrappers does), a command, or a file; tested with real iptables in network namespaces.
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config.ts';
import { detectBackend } from '../../agent/detect-backend.ts';
import type { Exec } from '../../agent/exec.ts';
import { systemExec } from '../../agent/exec.ts';
import { holdNetworkNamespace } from '../../agent/netns-holder.ts';
import { createRulesSource } from '../../agent/rules-source.ts';
import { silentLogger } from '../../lib/kube/deps.ts';
import { netnsUnavailable } from '../helpers/netns.ts';

const config = (...argv: string[]) => loadConfig({ argv: ['--node', 'n', ...argv], env: {} }).config!;
const HINTED = '*mangle\n:KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n';

// A namespace held open by a child (netns-holder.ts); commands run in it through nsenter.
async function namespace(t: { teardown(fn: () => Promise<void>): void }): Promise<{ exec: Exec; load: (backend: string, restore: string) => Promise<void> }> {
  const held = await holdNetworkNamespace();
  t.teardown(() => held.close());
  const exec: Exec = (r) => systemExec({ ...r, file: 'nsenter', args: held.nsenterArgs([r.file, ...r.args]) });
  return {
    exec,
    load: async (backend, restore) => { await execa('nsenter', held.nsenterArgs([`iptables-${backend}-restore`]), { input: restore }); },
  };
}

const skip = netnsUnavailable();

t.test('detects the backend from kubelet\'s hint chain, legacy or nft', { skip }, async (t) => {
  for (const backend of ['legacy', 'nft'] as const) {
    const ns = await namespace(t);
    await ns.load(backend, HINTED);
    t.match(await detectBackend({ exec: ns.exec, signal: new AbortController().signal, timeoutMs: 10_000, maxBytes: 1 << 24 }), { backend, why: /hint chain/ });
  }
});

t.test('without a hint, the backend with more rules wins', { skip }, async (t) => {
  const ns = await namespace(t);
  await ns.load('legacy', '*filter\n:KUBE-FORWARD - [0:0]\n-A FORWARD -j KUBE-FORWARD\n-A KUBE-FORWARD -j ACCEPT\nCOMMIT\n');
  t.match(await detectBackend({ exec: ns.exec, signal: new AbortController().signal, timeoutMs: 10_000, maxBytes: 1 << 24 }), { backend: 'legacy', why: /more rules/ });
});

t.test('iptables-save of the detected backend is dumped, read only', { skip }, async (t) => {
  const ns = await namespace(t);
  await ns.load('nft', HINTED);
  const source = createRulesSource({ config: config(), exec: ns.exec, log: silentLogger, now: () => Date.now() });
  const { dumps, failures } = await source.dump(new AbortController().signal);
  t.same(failures, []);
  t.equal(dumps[0]?.backend, 'nft');
  t.match(Buffer.from(dumps[0]!.bytes).toString(), /-A PREROUTING -j KUBE-SERVICES/);
});

t.test('--rules-command and --rules-file are used as given; failures are returned, not thrown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'node.rules'), HINTED);
  const fromFile = await createRulesSource({ config: config('--rules-file', join(dir, 'node.rules')), exec: systemExec, log: silentLogger, now: Date.now }).dump(new AbortController().signal);
  t.equal(Buffer.from(fromFile.dumps[0]!.bytes).toString(), HINTED);
  const print = new URL('../fixtures/agent/print.sh', import.meta.url).pathname;
  const fromCommand = await createRulesSource({ config: config('--rules-command', `${print} ${join(dir, 'node.rules')}`), exec: systemExec, log: silentLogger, now: Date.now }).dump(new AbortController().signal);
  t.equal(fromCommand.dumps[0]?.backend, 'command');
  const missing = await createRulesSource({ config: config('--rules-file', join(dir, 'nope')), exec: systemExec, log: silentLogger, now: Date.now }).dump(new AbortController().signal);
  t.equal(missing.failures[0]?.error.code, 'DPS_ERR_INPUT_READ');
  const noBinary = await createRulesSource({ config: config('--rules-command', 'no-such-iptables-save'), exec: systemExec, log: silentLogger, now: Date.now }).dump(new AbortController().signal);
  t.equal(noBinary.failures[0]?.error.code, 'DPS_ERR_AGENT_EXEC_NOT_FOUND');
});
