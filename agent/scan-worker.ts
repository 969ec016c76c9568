/**
 * The scan worker (a child process of the agent): everything CPU-heavy of a scan happens here, off
 * the event loop that serves /health and /metrics, in a heap of its own whose memory the kernel takes
 * back when the process is replaced (a worker thread's big heap stalled the agent while it was freed): hashing the dumps, parsing them, reading the
 * cluster objects, and the check itself. It keeps the current cluster view between scans; the
 * main thread owns everything else (commands, judgement, metrics, HTTP).
 *
 * Protocol (one reply per request, matched by `id`): see {@link WorkerRequest} and {@link WorkerReply}.
 */
import { createHash } from 'node:crypto';
import { setPriority } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { isAgentError } from '../lib/errors.ts';
import { parseNodeRules } from '../lib/kubeproxy/parse-node-rules.ts';
import type { Ruleset } from '../lib/iptables/types.ts';
import { checkNode } from '../lib/kubeproxy/check-node.ts';
import type { NodeCheckResult } from '../lib/kubeproxy/check-node.ts';
import { readClusterObjects } from '../lib/kubeproxy/cluster-input.ts';
import { unpackApiItems } from '../lib/kube/packed-slice.ts';
import type { ClusterView } from '../lib/kubeproxy/cluster.ts';
import { readCluster } from './read-cluster.ts';
import { rulesetHash } from './ruleset-hash.ts';

/** Where the cluster objects come from. */
export type ClusterSource = { kind: 'file'; path: string } | { kind: 'objects'; items: unknown[] };

/** Requests from the main thread. */
export type WorkerRequest =
  | { type: 'load-cluster'; id: number; source: ClusterSource; fingerprints: boolean }
  | { type: 'scan'; id: number; nodeName: string; dumps: { family: 4 | 6; source: string; bytes: Uint8Array }[]; previousHashes: Record<string, string>; reuse: boolean; usePending?: boolean };

/** A coded error as plain data. */
export interface PlainError {
  code: string;
  message: string;
  where: string | undefined;
}

/** Replies. */
export type WorkerReply =
  | { type: 'cluster'; id: number; ok: true; services: number; slices: number; nodes: number; skipped: { where: string; object: string; reason: string }[]; fingerprints: [string, string][] | undefined; cpuMs: number }
  | { type: 'cluster'; id: number; ok: false; error: PlainError; cpuMs: number }
  | { type: 'scan'; id: number; hashes: Record<string, string>; unchanged: boolean; needCluster?: boolean; result: NodeCheckResult | undefined; error: PlainError | undefined; parseMs: number; checkMs: number; cpuMs: number; heapBytes: number; counts?: { family: number; rules: number; chains: number }[] };

let cluster: ClusterView | undefined;
// Dumps kept while the main thread loads the cluster view (the worker starts without one).
let pending: Extract<WorkerRequest, { type: 'scan' }>['dumps'] = [];

function plain(error: unknown): PlainError {
  if (isAgentError(error)) return { code: error.code, message: error.message, where: error.where };
  return { code: 'DPS_ERR_INTERNAL', message: error instanceof Error ? error.message : String(error), where: undefined };
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.threadCpuUsage(since);
  return (u.user + u.system) / 1000;
}

// Per Service, a fingerprint of its spec and its slices: which Services changed between two reads.
function fingerprints(view: ClusterView): [string, string][] {
  const parts = new Map<string, string[]>();
  const add = (key: string, text: string): void => {
    const list = parts.get(key);
    if (list === undefined) parts.set(key, [text]);
    else list.push(text);
  };
  for (const s of view.services) add(`${s.namespace}/${s.name}`, JSON.stringify(s));
  for (const s of view.slices) add(`${s.namespace}/${s.service}`, JSON.stringify(s));
  return [...parts].map(([key, texts]) => [key, createHash('sha1').update(texts.sort().join('\n')).digest('base64')]);
}

async function loadCluster(request: Extract<WorkerRequest, { type: 'load-cluster' }>): Promise<WorkerReply> {
  const start = process.threadCpuUsage();
  try {
    const view = request.source.kind === 'file'
      ? await readCluster(request.source.path)
      : readClusterObjects(unpackApiItems(request.source.items), { where: (i) => `API object ${i}` });
    cluster = view;
    return {
      type: 'cluster', id: request.id, ok: true, services: view.services.length, slices: view.slices.length, nodes: view.nodes.length,
      skipped: view.skipped.map((p) => ({ where: p.where, object: p.object, reason: p.reason })),
      fingerprints: request.fingerprints ? fingerprints(view) : undefined, cpuMs: cpuMs(start),
    };
  } catch (error) {
    return { type: 'cluster', id: request.id, ok: false, error: plain(error), cpuMs: cpuMs(start) };
  }
}

function scan(req: Extract<WorkerRequest, { type: 'scan' }>): WorkerReply {
  const start = process.threadCpuUsage();
  const request = req.usePending === true ? { ...req, dumps: pending } : req;
  pending = [];
  const hashes: Record<string, string> = {};
  for (const d of request.dumps) hashes[d.family] = rulesetHash(d.bytes);
  const reply = { type: 'scan' as const, id: request.id, hashes, parseMs: 0, checkMs: 0 };
  const same = request.dumps.every((d) => request.previousHashes[d.family] === hashes[d.family]);
  if (request.reuse && same) {
    return { ...reply, unchanged: true, result: undefined, error: undefined, cpuMs: cpuMs(start), heapBytes: getHeapStatistics().total_heap_size };
  }
  if (cluster === undefined) {
    pending = request.dumps;
    return { ...reply, unchanged: false, needCluster: true, result: undefined, error: undefined, cpuMs: cpuMs(start), heapBytes: getHeapStatistics().total_heap_size };
  }
  try {
    const t0 = performance.now();
    const rules: { family: 4 | 6; rulesets: Ruleset[] }[] = request.dumps.map((d) => ({
      family: d.family,
      rulesets: parseNodeRules(d.bytes, d.source),
    }));
    for (const r of rules) {
      const wrong = r.rulesets.find((s) => s.family !== undefined && s.family !== (r.family === 4 ? 'ipv4' : 'ipv6'));
      if (wrong !== undefined) throw Object.assign(new Error(`Expected ${r.family === 4 ? 'iptables-save' : 'ip6tables-save'} output, got ${wrong.generator ?? 'the other family'}`), { code: 'DPS_ERR_RULES_FAMILY', where: wrong.source });
    }
    const t1 = performance.now();
    const result = checkNode({ rules, cluster, nodeName: request.nodeName });
    const t2 = performance.now();
    // The checked ruleset of each family is the one with the most rules (several when backends are mixed).
    const counts = rules.map((r) => {
      const main = [...r.rulesets].sort((a, b) => b.ruleCount - a.ruleCount)[0];
      let chains = 0;
      for (const t of main?.tables.values() ?? []) chains += t.chains.size;
      return { family: r.family, rules: main?.ruleCount ?? 0, chains };
    });
    return { ...reply, unchanged: false, result, error: undefined, parseMs: t1 - t0, checkMs: t2 - t1, cpuMs: cpuMs(start), heapBytes: getHeapStatistics().total_heap_size, counts };
  } catch (error) {
    return { ...reply, unchanged: false, result: undefined, error: plain(error), cpuMs: cpuMs(start), heapBytes: getHeapStatistics().total_heap_size };
  }
}

// The parse competes with the process that serves /health: run it at the lowest priority.
try {
  setPriority(0, 19);
} catch {
  // not permitted: stay at the default priority
}

const reply = (r: WorkerReply): void => { process.send?.(r); };
process.on('message', (request: WorkerRequest) => {
  if (request.type === 'load-cluster') void loadCluster(request).then(reply);
  else reply(scan(request));
});
// The agent went away (crash, kill -9): nothing to do without it.
process.on('disconnect', () => process.exit(0));
