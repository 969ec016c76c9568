/**
 * A throwaway network namespace held open by a child process, for the demo, the tests and the
 * benchmarks: `unshare -n sh -c 'echo ready; exec cat'`. The child keeps one pid through both execs
 * and exits, taking the namespace with it, when its stdin closes.
 *
 * The pid is known before `unshare` has made the namespace: an `nsenter -t PID -n` run in that
 * window enters the caller's own namespace, and an iptables-restore there would replace the host's
 * rules. So the holder is handed out only after the child has said it is ready and its
 * /proc/PID/ns/net is seen to differ from ours.
 */
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { readlink } from 'node:fs/promises';

/** A network namespace that is not the caller's, until close(). */
export interface HeldNamespace {
  /** The holder's pid: `nsenter -t PID -n …` runs in the namespace. */
  readonly pid: number;
  /** `nsenter` arguments that run `command` in the namespace. */
  nsenterArgs(command: readonly string[]): string[];
  /** Ends the holder (and so the namespace); idempotent. */
  close(): Promise<void>;
}

export interface HoldOptions {
  /** How long the child may take to make the namespace (default 10 s). */
  readonly timeoutMs?: number;
  /** The unshare program (default `unshare`; tests pass stand-ins that misbehave). */
  readonly unshare?: string;
}

/** Starts the holder and waits until it is in a namespace of its own; rejects when it cannot be. */
export async function holdNetworkNamespace(options: HoldOptions = {}): Promise<HeldNamespace> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const holder: ResultPromise = execa(options.unshare ?? 'unshare', ['-n', 'sh', '-c', 'echo ready; exec cat'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, cleanup: true, buffer: false });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    holder.stdin?.end();
    holder.kill('SIGTERM');
    await holder;
  };
  try {
    await ready(holder, timeoutMs);
    const pid = holder.pid!;
    const [ours, theirs] = await Promise.all([readlink('/proc/self/ns/net'), readlink(`/proc/${pid}/ns/net`)]);
    if (ours === theirs) throw new Error(`the holder (pid ${pid}) is still in our network namespace (${ours})`);
    return { pid, nsenterArgs: (command) => ['-t', String(pid), '-n', ...command], close };
  } catch (error) {
    await close();
    throw error;
  }
}

// Resolves on the child's "ready" line; rejects when it exits first or takes longer than timeoutMs.
function ready(holder: ResultPromise, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const done = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      holder.stdout?.off('data', onOut);
      holder.stderr?.off('data', onErr);
      holder.stdout?.resume(); // cat prints nothing; keep the pipes drained anyway
      holder.stderr?.resume();
      if (error === undefined) resolve(); else reject(error);
    };
    const onOut = (chunk: Buffer): void => { out += chunk.toString(); if (out.includes('ready\n')) done(); };
    const onErr = (chunk: Buffer): void => { err = (err + chunk.toString()).slice(-500); };
    const timer = setTimeout(() => done(new Error(`unshare -n did not make a namespace within ${timeoutMs} ms`)), timeoutMs);
    holder.stdout?.on('data', onOut);
    holder.stderr?.on('data', onErr);
    void holder.then((r) => done(new Error(`unshare -n exited (${r.exitCode ?? r.signal}) before its namespace was ready${err === '' ? '' : `: ${err.trim()}`}`)));
  });
}
