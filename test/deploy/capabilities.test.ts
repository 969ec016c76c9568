// The DaemonSet's capabilities are exactly what reading the ruleset needs, proven on the real
// binaries: as uid 0 with only the DaemonSet's capabilities in the bounding set (what the
// container runtime gives it), iptables-legacy-save and iptables-nft-save both read a throwaway
// network namespace; without any one of them, at least one backend cannot be read.
import t from 'tap';
import { ROOT, have, kustomize, run } from './helpers.ts';

const ds = kustomize('deploy/base').find((o) => o.kind === 'DaemonSet')!;
const caps: string[] = ds.spec.template.spec.containers[0].securityContext.capabilities.add;
const isRoot = process.getuid?.() === 0;
const tools = ['unshare', 'setpriv', 'iptables-legacy-save', 'iptables-nft-save'].every((c) => have('sh', ['-c', `command -v ${c}`]));
const skip = !isRoot ? 'needs root (network namespaces)' : !tools ? 'needs unshare, setpriv and iptables (legacy + nft)' : false;

// In a fresh network namespace: one chain per backend, then both dumps with `keep` as the only
// capabilities. Prints the chains each dump saw.
function dumpWith(keep: string[]) {
  const bounding = ['-all', ...keep.map((c) => `+${c.toLowerCase()}`)].join(',');
  const script = `iptables-legacy -t nat -N DPS-LEGACY && iptables-nft -t nat -N DPS-NFT || exit 3
setpriv --inh-caps=-all --bounding-set=${bounding} -- sh -c 'echo legacy:$(iptables-legacy-save 2>/dev/null | grep -c ":DPS-LEGACY"); echo nft:$(iptables-nft-save 2>/dev/null | grep -c ":DPS-NFT")'`;
  const r = run('unshare', ['-n', 'sh', '-c', script], { cwd: ROOT, timeoutMs: 20_000 });
  return { status: r.status, legacy: /legacy:1/.test(r.stdout), nft: /nft:1/.test(r.stdout), out: r.stdout + r.stderr };
}

t.test('NET_ADMIN and NET_RAW read both backends, and each one is needed', { skip }, async (t) => {
  t.same([...caps].sort(), ['NET_ADMIN', 'NET_RAW']);
  const all = dumpWith(caps);
  t.equal(all.status, 0, 'the namespace and both chains were set up', { output: all.out });
  t.ok(all.legacy && all.nft, `with ${caps.join(' + ')}: both backends read (${all.out.trim()})`);
  for (const c of caps) {
    const less = dumpWith(caps.filter((x) => x !== c));
    t.notOk(less.legacy && less.nft, `without ${c}: a backend cannot be read (${less.out.trim()})`);
  }
});
