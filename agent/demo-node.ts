/**
 * The demo's node: a throwaway network namespace held open by a child process (netns-holder.ts;
 * it exits, and the namespace goes, when its stdin closes: on close(), on Ctrl-C, even when the
 * demo is killed), loaded with the real iptables-legacy-restore. The agent reads it with
 * `nsenter -t PID -n iptables-legacy-save` as its --rules-command.
 * Without root or iptables, the same scenario runs from a file (`--rules-file`).
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { holdNetworkNamespace } from './netns-holder.ts';

/** The node's rules, whichever way they are kept. */
export interface DemoNode {
  /** How the agent reads the rules: flags for `agent`. */
  readonly agentFlags: readonly string[];
  /** What is used, for the demo's output. */
  readonly description: string;
  /** Replaces the rules with `restore` (what kube-proxy writes). */
  load(restore: string): Promise<void>;
  /** `iptables -t nat -F`: every nat rule goes, the chains stay. */
  flushNat(): Promise<void>;
  /** Removes the namespace (or nothing); idempotent. */
  close(): Promise<void>;
}

/** A namespace when possible, else a file in `dir`. */
export async function createDemoNode(dir: string, signal: AbortSignal): Promise<DemoNode> {
  let why = await namespaceUnavailable();
  if (why === undefined) {
    try {
      return await namespaceNode(signal);
    } catch (error) {
      why = `no namespace: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return fileNode(join(dir, 'node.rules'), why);
}

async function namespaceUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root';
  const r = await execa('unshare', ['-n', 'iptables-legacy-save'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 ? undefined : 'unshare or iptables-legacy not available';
}

async function namespaceNode(signal: AbortSignal): Promise<DemoNode> {
  const held = await holdNetworkNamespace();
  const pid = held.pid;
  const inNs = async (args: string[], input?: string): Promise<void> => {
    const r = await execa('nsenter', held.nsenterArgs(args), { ...(input === undefined ? {} : { input }), reject: false, timeout: 20_000, cancelSignal: signal });
    if (r.exitCode !== 0) throw new Error(`${args.join(' ')} in the demo namespace failed: ${r.stderr}`);
  };
  return {
    agentFlags: ['--rules-command', `nsenter -t ${pid} -n iptables-legacy-save`],
    description: `a throwaway network namespace (held by pid ${pid}), loaded with iptables-legacy-restore; the agent runs \`nsenter -t ${pid} -n iptables-legacy-save\``,
    load: (restore) => inNs(['iptables-legacy-restore'], restore),
    flushNat: () => inNs(['iptables-legacy', '-t', 'nat', '-F']),
    close: () => held.close(),
  };
}

function fileNode(path: string, why: string): DemoNode {
  let current = '';
  return {
    agentFlags: ['--rules-file', path],
    description: `rules from a file (${why}; run as root with iptables installed to use a real network namespace)`,
    async load(restore) {
      current = restore;
      await writeFile(path, restore);
    },
    async flushNat() {
      let table = '';
      current = current.split('\n').filter((line) => {
        if (line.startsWith('*')) table = line.slice(1);
        return !(table === 'nat' && line.startsWith('-A '));
      }).join('\n');
      await writeFile(path, current);
    },
    close: async () => {},
  };
}
