/**
 * Runs the real iptables binaries inside a throwaway network namespace (`unshare -n`), so tests see
 * exactly what iptables-save prints on a node without touching the machine's own rules.
 */
import { execa } from 'execa';
import { accessSync, constants } from 'node:fs';

/** Which iptables program family and backend to use. */
export interface NetnsOptions {
  readonly family: 4 | 6;
  readonly backend: 'nft' | 'legacy';
  /** nfacct objects to create first (rules with `-m nfacct` need them). */
  readonly nfacct?: readonly string[];
  /** Extra shell run after loading (e.g. `iptables -t nat -F`), inside the namespace. */
  readonly after?: string;
}

/** Why the real binaries cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for unshare -n';
  for (const bin of ['/usr/bin/unshare', '/usr/sbin/iptables-legacy-restore', '/usr/sbin/iptables-nft-restore', '/usr/sbin/nfacct']) {
    try { accessSync(bin, constants.X_OK); } catch { return `${bin} is not installed (apt-get install iptables nfacct)`; }
  }
  return undefined;
}

/** Loads `restore` (iptables-restore input) in a fresh namespace and returns iptables-save's output. */
export async function roundTrip(restore: string, options: NetnsOptions): Promise<string> {
  const prog = options.family === 4 ? 'iptables' : 'ip6tables';
  const script = [
    'set -e',
    ...(options.nfacct ?? []).map((n) => `nfacct add ${n}`),
    `${prog}-${options.backend}-restore --noflush`,
    options.after ?? ':',
    `${prog}-${options.backend}-save`,
  ].join('\n');
  const result = await execa('unshare', ['-n', 'sh', '-c', script], { input: restore, timeout: 30_000, maxBuffer: 512 * 1024 * 1024, reject: false });
  if (result.exitCode !== 0) throw new Error(`round trip failed (${result.exitCode}): ${result.stderr}`);
  return result.stdout;
}
