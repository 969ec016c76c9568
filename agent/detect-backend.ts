/**
 * Which iptables backend the node uses, decided as kubernetes-sigs/iptables-wrappers does:
 *  1. kubelet (≥ 1.24) creates a `KUBE-IPTABLES-HINT` chain (older ones `KUBE-KUBELET-CANARY`) in
 *     the mangle table of the backend it uses: look for it with nft first, then legacy
 *     (mangle is small, so this costs little);
 *  2. otherwise count the rules each backend holds (both families) and take the larger one,
 *     nft on a tie.
 */
import type { Exec } from './exec.ts';

const HINT = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)\s/m;

/** Detects the backend; never throws (a missing program counts as no rules). */
export async function detectBackend(o: { exec: Exec; signal: AbortSignal; timeoutMs: number; maxBytes: number }): Promise<{ backend: 'legacy' | 'nft'; why: string }> {
  const text = async (file: string, args: string[]): Promise<string> => {
    const r = await o.exec({ file, args, timeoutMs: o.timeoutMs, maxBytes: o.maxBytes, signal: o.signal });
    return r.error === undefined ? Buffer.from(r.stdout).toString('utf8') : '';
  };
  for (const backend of ['nft', 'legacy'] as const) {
    if (HINT.test(await text(`iptables-${backend}-save`, ['-t', 'mangle']))) return { backend, why: `kubelet's hint chain is in the ${backend} mangle table` };
  }
  const count = async (backend: string): Promise<number> => {
    let n = 0;
    for (const prog of ['iptables', 'ip6tables']) n += (await text(`${prog}-${backend}-save`, [])).match(/^-A /gm)?.length ?? 0;
    return n;
  };
  const legacy = await count('legacy');
  const nft = await count('nft');
  return legacy > nft
    ? { backend: 'legacy', why: `no hint chain; legacy holds more rules (${legacy} vs ${nft})` }
    : { backend: 'nft', why: `no hint chain; nft holds at least as many rules (${nft} vs ${legacy})` };
}
