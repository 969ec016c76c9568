/**
 * The scan worker (a child process of the agent): everything heavy of a scan happens here, off
 * the event loop that serves /health and /metrics, in a heap of its own whose memory the kernel takes
 * back when the process is replaced (a worker thread's big heap stalled the agent while it was freed):
 * running the rules source (iptables-save of the detected backend, --rules-command or --rules-file:
 * agent/rules-source.ts, configured once by an `init` message), hashing the dumps, parsing them,
 * reading the cluster objects, and the check itself. A dump (~50 MB at 10k Services) therefore never
 * passes through the agent's main process. It keeps the current cluster view between scans; the
 * main process owns everything else (judgement, metrics, HTTP). Its log lines go to the agent's
 * logger as `log` messages.
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
import { deserialize, getHeapStatistics, setFlagsFromString } from 'node:v8';
import type { Logger } from '../lib/kube/deps.ts';
import { parseNodeRules } from '../lib/kubeproxy/parse-node-rules.ts';
import type { Ruleset } from '../lib/iptables/types.ts';
import { checkNode } from '../lib/kubeproxy/check-node.ts';
import type { NodeCheckResult } from '../lib/kubeproxy/check-node.ts';
import type { ClusterView, InputProblem } from '../lib/kubeproxy/cluster.ts';
import { ClusterStore } from '../lib/kubeproxy/cluster-store.ts';
import { unpackApiItems } from '../lib/kube/packed-slice.ts';
import type { ObjectCounts, ObjectRef } from '../lib/kubeproxy/cluster-store.ts';
import type { RulesConfig } from './config.ts';
import { systemExec } from './exec.ts';
import { toPlain } from './plain-error.ts';
import type { PlainError } from './plain-error.ts';
import { readCluster } from './read-cluster.ts';
import { createRulesSource } from './rules-source.ts';
import type { Dump, DumpFailure, RulesMemory, RulesSource } from './rules-source.ts';
import { rulesetHash } from './ruleset-hash.ts';

/**
 * Where the cluster objects come from: a file, objects, or objects encoded one by one with
 * `v8.serialize` (object `i` is `bytes[ends[i-1] ?? 0, ends[i])`: bytes travel as a copy, not a clone).
 */
export type ClusterSource = { kind: 'file'; path: string } | { kind: 'objects'; items: unknown[] } | { kind: 'encoded'; bytes: Uint8Array; ends: number[] };

/** Requests from the main process (`init`, sent first to every new worker, has no reply). */
export type WorkerRequest =
  /** The rules source's config, and what a previous worker's source learned. */
  | { type: 'init'; rules: RulesConfig; memory: RulesMemory | undefined }
  /** The whole view; `seq` numbers an API view (objects). */
  | { type: 'load-cluster'; id: number; source: ClusterSource; fingerprints: boolean; seq?: number }
  /** The API objects that changed since view `from`, making view `to` with `counts` objects. */
  | { type: 'cluster-delta'; id: number; from: number; to: number; upserts: unknown[]; deletes: ObjectRef[]; counts: ObjectCounts }
  /**
   * Dump the rules, then hash, parse and check them. `clusterSeq`: the number of the view to check
   * against (API views), when the agent knows it. `usePending`: check the dumps of the previous scan
   * (answered `needCluster`) instead of dumping again.
   */
  | { type: 'scan'; id: number; nodeName: string; previousHashes: Record<string, string>; reuse: boolean; usePending?: boolean; clusterSeq?: number };

/** A dump as reported to the agent (for metrics and logs): everything but its bytes. */
export type DumpInfo = Omit<Dump, 'bytes'>;

/** A dump that failed, its error as plain data. */
export type DumpFailureInfo = Omit<DumpFailure, 'error'> & { error: PlainError };

/** Messages that are not replies: a log line; the dumps of scan `id` are in (the parse starts). */
export type WorkerNotice =
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; bindings: Record<string, unknown>; obj: object | string; msg: string | undefined }
  | { type: 'dumped'; id: number };

/**
 * Replies. A scan's `dumps` and `failures` describe the commands it ran (none with `usePending`);
 * with failures nothing was hashed or parsed. `memory`: what the rules source has learned.
 */
export type WorkerReply =
  | { type: 'cluster'; id: number; ok: true; services: number; slices: number; nodes: number; skipped: { where: string; object: string; reason: string }[]; fingerprints: [string, string][] | undefined; cpuMs: number }
  | { type: 'cluster'; id: number; ok: false; error: PlainError; cpuMs: number }
  | {
    type: 'scan'; id: number; dumps: DumpInfo[]; failures: DumpFailureInfo[]; memory: RulesMemory | undefined;
    hashes: Record<string, string>; unchanged: boolean; needCluster?: boolean; result: NodeCheckResult | undefined; error: PlainError | undefined;
    parseMs: number; checkMs: number; cpuMs: number; heapBytes: number; counts?: { family: number; rules: number; chains: number }[];
    /** How much the worker's RSS grew since it started (a big dump's buffers, even when unchanged). */
    rssGrowthBytes: number;
  };

// The worker's RSS once its modules are loaded: what it grows beyond this is given back by a restart.
const START_RSS = process.memoryUsage.rss();
// The view: read from a file, or kept object by object (API); its number (API only).
let cluster: ClusterView | ClusterStore | undefined;
let clusterSeq: number | undefined;
// Dumps kept while the main process loads the cluster view (the worker starts without one).
let pending: Dump[] = [];
// Set by `init`.
let rules: RulesSource | undefined;

// The CPU the worker spent starting (Node and its modules), charged to its first request: a worker
// started per big scan costs this every scan, and the CPU budget must see it.
let startupCpu: NodeJS.CpuUsage | undefined = process.cpuUsage();

// CPU of the whole worker process (GC threads included) since `since`, plus its start-up once.
function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  if (startupCpu !== undefined) {
    u.user += startupCpu.user;
    u.system += startupCpu.system;
    startupCpu = undefined;
  }
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
  const start = process.cpuUsage();
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
    return { type: 'cluster', id: request.id, ok: false, error: toPlain(error), cpuMs: cpuMs(start) };
  }
}

// Applies the changes to the API view; one out of step drops the view (the agent sends it whole).
function applyDelta(request: Extract<WorkerRequest, { type: 'cluster-delta' }>): WorkerReply {
  const start = process.cpuUsage();
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

// The scan's commands: the rules source's dumps, or the pending ones; the reply's `dumps`/`failures`.
async function readDumps(request: Extract<WorkerRequest, { type: 'scan' }>): Promise<{ dumps: Dump[]; info: Pick<Extract<WorkerReply, { type: 'scan' }>, 'dumps' | 'failures'> }> {
  if (request.usePending === true) return { dumps: pending, info: { dumps: [], failures: [] } };
  if (rules === undefined) throw Object.assign(new Error('The scan worker was given no rules configuration'), { code: 'DPS_ERR_INTERNAL' });
  const read = await rules.dump(NEVER);
  const info = (d: Dump | DumpFailure): DumpInfo => ({ family: d.family, backend: d.backend, source: d.source, durationMs: d.durationMs, cpuSeconds: d.cpuSeconds });
  return { dumps: read.dumps, info: { dumps: read.dumps.map(info), failures: read.failures.map((f) => ({ ...info(f), error: toPlain(f.error) })) } };
}

async function scan(request: Extract<WorkerRequest, { type: 'scan' }>): Promise<WorkerReply> {
  const start = process.cpuUsage();
  const base = { type: 'scan' as const, id: request.id, hashes: {}, parseMs: 0, checkMs: 0, dumps: [], failures: [] };
  const done = (r: Omit<Extract<WorkerReply, { type: 'scan' }>, 'cpuMs' | 'heapBytes' | 'memory' | 'rssGrowthBytes'>): WorkerReply =>
    ({ ...r, cpuMs: cpuMs(start), heapBytes: getHeapStatistics().total_heap_size, memory: rules?.memory(), rssGrowthBytes: process.memoryUsage.rss() - START_RSS });
  let read: Awaited<ReturnType<typeof readDumps>>;
  try {
    read = await readDumps(request);
  } catch (error) {
    return done({ ...base, unchanged: false, result: undefined, error: toPlain(error) });
  }
  pending = [];
  if (read.info.failures.length > 0) return done({ ...base, ...read.info, unchanged: false, result: undefined, error: undefined });
  // the commands are done: the agent's --scan-timeout bounds what follows
  notify({ type: 'dumped', id: request.id });
  const dumps = read.dumps;
  const hashes: Record<string, string> = {};
  for (const d of dumps) hashes[d.family] = rulesetHash(d.bytes);
  const reply = { ...base, ...read.info, hashes };
  const same = dumps.every((d) => request.previousHashes[d.family] === hashes[d.family]);
  if (request.reuse && same) return done({ ...reply, unchanged: true, result: undefined, error: undefined });
  const view = request.clusterSeq === undefined || request.clusterSeq === clusterSeq ? currentView() : undefined;
  if (view === undefined) {
    pending = dumps;
    return done({ ...reply, unchanged: false, needCluster: true, result: undefined, error: undefined });
  }
  try {
    const t0 = performance.now();
    const parsed: { family: 4 | 6; rulesets: Ruleset[] }[] = dumps.map((d) => ({
      family: d.family,
      rulesets: parseNodeRules(d.bytes, d.source),
    }));
    for (const r of parsed) {
      const wrong = r.rulesets.find((s) => s.family !== undefined && s.family !== (r.family === 4 ? 'ipv4' : 'ipv6'));
      if (wrong !== undefined) throw Object.assign(new Error(`Expected ${r.family === 4 ? 'iptables-save' : 'ip6tables-save'} output, got ${wrong.generator ?? 'the other family'}`), { code: 'DPS_ERR_RULES_FAMILY', where: wrong.source });
    }
    const t1 = performance.now();
    const result = checkNode({ rules: parsed, cluster: view, nodeName: request.nodeName });
    const t2 = performance.now();
    // The checked ruleset of each family is the one with the most rules (several when backends are mixed).
    const counts = parsed.map((r) => {
      const main = [...r.rulesets].sort((a, b) => b.ruleCount - a.ruleCount)[0];
      let chains = 0;
      for (const t of main?.tables.values() ?? []) chains += t.chains.size;
      return { family: r.family, rules: main?.ruleCount ?? 0, chains };
    });
    return done({ ...reply, unchanged: false, result, error: undefined, parseMs: t1 - t0, checkMs: t2 - t1, counts });
  } catch (error) {
    return done({ ...reply, unchanged: false, result: undefined, error: toPlain(error) });
  }
}

// Log lines go to the agent's logger (bindings included), in order with the replies.
function ipcLogger(bindings: Record<string, unknown>): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object | string, msg?: string): void => notify({ type: 'log', level, bindings, obj, msg });
  return { child: (b) => ipcLogger({ ...bindings, ...b }), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

// The dumps are never cancelled: the agent stops a worker by killing its process group.
const NEVER = new AbortController().signal;
const notify = (n: WorkerNotice): void => { process.send?.(n); };

// V8's mid-tier compiler only (Maglev, no TurboFan), set before any scan runs: a big scan is one
// cold pass in a fresh worker (it is replaced after one), and on one core TurboFan's compiling costs
// more than its faster code returns. Cold parse + diff at 10k Services pinned to one core: ~0.87 s ->
// ~0.71 s (-18% CPU); at 20k 1.34-1.65 -> 1.27-1.29 s (README, "Performance"). An unknown flag is
// ignored here, so a later Node that renames it only loses the gain.
setFlagsFromString('--no-turbofan');

// The parse competes with the process that serves /health: run it at the lowest priority.
try {
  setPriority(0, 19);
} catch {
  // not permitted: stay at the default priority
}

const reply = (r: WorkerReply): void => { process.send?.(r); };
process.on('message', (request: WorkerRequest) => {
  if (request.type === 'init') rules = createRulesSource({ config: request.rules, exec: systemExec, log: ipcLogger({}), now: Date.now, ...(request.memory === undefined ? {} : { memory: request.memory }) });
  else if (request.type === 'load-cluster') void loadCluster(request).then(reply);
  else if (request.type === 'cluster-delta') reply(applyDelta(request));
  else void scan(request).then(reply);
});
// The agent went away (crash, kill -9): nothing to do without it.
process.on('disconnect', () => process.exit(0));
