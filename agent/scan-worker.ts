/**
 * The scan worker (a child process of the agent): everything CPU-heavy of a scan happens here, off
 * the event loop that serves /health and /metrics, in a heap of its own whose memory the kernel takes
 * back when the process is replaced (a worker thread's big heap stalled the agent while it was freed): hashing the dumps, parsing them, reading the
 * cluster objects, and the check itself. It keeps the current cluster view between scans; the
 * main thread owns everything else (commands, judgement, metrics, HTTP).
 *
 * The API view arrives whole once (a new worker) and then as the objects that changed
 * (`cluster-delta`), each load and delta numbered: a scan names the number of the view it must be
 * checked against, and a worker holding another one answers `needCluster` (the agent then sends
 * the whole view again). A delta that does not follow the worker's number, or leaves other object
 * counts than the agent's, drops the view the same way.
 *
 * Protocol (one reply per request, matched by `id`): see {@link WorkerRequest} and {@link WorkerReply}.
 */
import { createHash } from 'node:crypto';
import { setPriority } from 'node:os';
import { deserialize, getHeapStatistics } from 'node:v8';
import { isAgentError } from '../lib/errors.ts';
import { parseNodeRules } from '../lib/kubeproxy/parse-node-rules.ts';
import type { Ruleset } from '../lib/iptables/types.ts';
import { checkNode } from '../lib/kubeproxy/check-node.ts';
import type { NodeCheckResult } from '../lib/kubeproxy/check-node.ts';
import type { ClusterView, InputProblem } from '../lib/kubeproxy/cluster.ts';
import { ClusterStore } from '../lib/kubeproxy/cluster-store.ts';
import { unpackApiItems } from '../lib/kube/packed-slice.ts';
import type { ObjectCounts, ObjectRef } from '../lib/kubeproxy/cluster-store.ts';
import { readCluster } from './read-cluster.ts';
import { rulesetHash } from './ruleset-hash.ts';

/**
 * Where the cluster objects come from: a file, objects, or objects encoded one by one with
 * `v8.serialize` (object `i` is `bytes[ends[i-1] ?? 0, ends[i])`: bytes travel as a copy, not a clone).
 */
export type ClusterSource = { kind: 'file'; path: string } | { kind: 'objects'; items: unknown[] } | { kind: 'encoded'; bytes: Uint8Array; ends: number[] };

/** Requests from the main thread. */
export type WorkerRequest =
  /** The whole view; `seq` numbers an API view (objects). */
  | { type: 'load-cluster'; id: number; source: ClusterSource; fingerprints: boolean; seq?: number }
  /** The API objects that changed since view `from`, making view `to` with `counts` objects. */
  | { type: 'cluster-delta'; id: number; from: number; to: number; upserts: unknown[]; deletes: ObjectRef[]; counts: ObjectCounts }
  /** `clusterSeq`: the number of the view to check against (API views), when the agent knows it. */
  | { type: 'scan'; id: number; nodeName: string; dumps: { family: 4 | 6; source: string; bytes: Uint8Array }[]; previousHashes: Record<string, string>; reuse: boolean; usePending?: boolean; clusterSeq?: number };

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

// The view: read from a file, or kept object by object (API); its number (API only).
let cluster: ClusterView | ClusterStore | undefined;
let clusterSeq: number | undefined;
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
    let view: ClusterView;
    if (request.source.kind === 'file') {
      view = cluster = await readCluster(request.source.path);
    } else {
      const store = new ClusterStore();
      // EndpointSlices travel packed (one string of endpoints each, lib/kube/packed-slice.ts)
      store.replace(unpackApiItems(request.source.kind === 'objects' ? request.source.items : decode(request.source.bytes, request.source.ends)));
      view = store.view();
      cluster = store;
    }
    clusterSeq = request.seq;
    return clusterReply(request.id, view.skipped, request.fingerprints ? fingerprints(view) : undefined, start);
  } catch (error) {
    return { type: 'cluster', id: request.id, ok: false, error: plain(error), cpuMs: cpuMs(start) };
  }
}

// Applies the changes to the API view; one out of step drops the view (the agent sends it whole).
function applyDelta(request: Extract<WorkerRequest, { type: 'cluster-delta' }>): WorkerReply {
  const start = process.threadCpuUsage();
  const store = cluster;
  if (!(store instanceof ClusterStore) || clusterSeq !== request.from) {
    return outOfStep(request.id, `the worker holds view ${String(clusterSeq)}, the changes follow view ${request.from}`, start);
  }
  const skipped = store.apply(unpackApiItems(request.upserts), request.deletes);
  const counts = store.counts();
  if (counts.services !== request.counts.services || counts.slices !== request.counts.slices || counts.nodes !== request.counts.nodes) {
    return outOfStep(request.id, `the worker holds ${JSON.stringify(counts)} objects, the agent ${JSON.stringify(request.counts)}`, start);
  }
  clusterSeq = request.to;
  return clusterReply(request.id, skipped, undefined, start);
}

function outOfStep(id: number, why: string, start: NodeJS.CpuUsage): WorkerReply {
  cluster = clusterSeq = undefined;
  return { type: 'cluster', id, ok: false, error: { code: 'DPS_ERR_AGENT_WORKER', message: `Cluster view out of step: ${why}`, where: undefined }, cpuMs: cpuMs(start) };
}

// `skipped`: of the objects just read.
function clusterReply(id: number, skipped: readonly InputProblem[], prints: [string, string][] | undefined, start: NodeJS.CpuUsage): WorkerReply {
  const view = currentView()!;
  return {
    type: 'cluster', id, ok: true, services: view.services.length, slices: view.slices.length, nodes: view.nodes.length,
    skipped: skipped.map((p) => ({ where: p.where, object: p.object, reason: p.reason })), fingerprints: prints, cpuMs: cpuMs(start),
  };
}

function decode(bytes: Uint8Array, ends: readonly number[]): unknown[] {
  return ends.map((end, i) => deserialize(bytes.subarray(ends[i - 1] ?? 0, end)));
}

function currentView(): ClusterView | undefined {
  return cluster instanceof ClusterStore ? cluster.view() : cluster;
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
  const view = request.clusterSeq === undefined || request.clusterSeq === clusterSeq ? currentView() : undefined;
  if (view === undefined) {
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
    const result = checkNode({ rules, cluster: view, nodeName: request.nodeName });
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
  else if (request.type === 'cluster-delta') reply(applyDelta(request));
  else reply(scan(request));
});
// The agent went away (crash, kill -9): nothing to do without it.
process.on('disconnect', () => process.exit(0));
