// The demo's, tests' and benchmarks' throwaway namespace is handed out only once it exists: an
// nsenter into a holder that has not unshared yet would run iptables-restore on the host's rules.
import t from 'tap';
import { execa } from 'execa';
import { readlinkSync } from 'node:fs';
import { holdNetworkNamespace } from '../../agent/netns-holder.ts';
import { netnsUnavailable } from '../helpers/netns.ts';

const skip = netnsUnavailable();
const fixture = (name: string): string => new URL(`../fixtures/agent/${name}`, import.meta.url).pathname;
const ours = readlinkSync('/proc/self/ns/net');
const hostRules = async (): Promise<string> => (await execa('iptables-legacy-save', ['-t', 'nat'])).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '');

t.test('every holder is in a namespace of its own as soon as it is handed out, and rules loaded there stay there', { skip }, async (t) => {
  const before = await hostRules();
  const held = await Promise.all(Array.from({ length: 8 }, () => holdNetworkNamespace()));
  t.teardown(() => Promise.all(held.map((h) => h.close())));
  const spaces = held.map((h) => readlinkSync(`/proc/${h.pid}/ns/net`));
  t.notOk(spaces.includes(ours), 'none is in our namespace');
  t.equal(new Set(spaces).size, 8, 'each has its own');
  await Promise.all(held.map((h) => execa('nsenter', h.nsenterArgs(['iptables-legacy-restore']), { input: '*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n' })));
  const inside = await execa('nsenter', held[0]!.nsenterArgs(['iptables-legacy-save', '-t', 'nat']));
  t.match(inside.stdout, /-A PREROUTING -j KUBE-SERVICES/);
  t.equal(await hostRules(), before, "the host's rules are untouched");
});

t.test('close ends the holder, and the namespace with it; a second close is a no-op', { skip }, async (t) => {
  const held = await holdNetworkNamespace();
  await held.close();
  await held.close();
  t.throws(() => process.kill(held.pid, 0), { code: 'ESRCH' });
});

t.test('an unshare that fails is reported with its message', async (t) => {
  await t.rejects(holdNetworkNamespace({ unshare: fixture('unshare-fails.sh') }), /exited \(1\) before its namespace was ready: unshare: unshare failed: Operation not permitted/);
});

t.test('an unshare that makes no namespace is refused, not handed out', async (t) => {
  await t.rejects(holdNetworkNamespace({ unshare: fixture('unshare-noop.sh') }), /is still in our network namespace/);
});

t.test('an unshare that never gets ready is killed at the timeout', async (t) => {
  const started = Date.now();
  await t.rejects(holdNetworkNamespace({ unshare: fixture('unshare-silent.sh'), timeoutMs: 200 }), /did not make a namespace within 200 ms/);
  t.ok(Date.now() - started < 5_000, 'and does not wait for it');
});
