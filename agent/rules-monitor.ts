/**
 * One rules scan, and the state it leaves: bring the worker's cluster view up to date, let the
 * worker dump the rules (bounded commands, agent/rules-source.ts: the dump never enters this
 * process) and hash/parse/check them (the parse is skipped when the dumps and the view are
 * unchanged: the previous findings are judged again), then judge the drift with grace and
 * persistence (lib/kube/drift-judgement).
 *
 * Cost control: the CPU a scan cost (commands + worker) sets the wait before the next one, so
 * the agent uses at most `cpuBudget` of a core on average: wait = max(interval, cost / (budget - rest)),
 * where rest is what the agent's own process used per second since the last scan.
 */

import type { Clock, Logger } from '../lib/kube/deps.ts';
import { judgeDrift, EMPTY_HISTORY } from '../lib/kube/drift-judgement.ts';
import type { DriftHistory, JudgeResult } from '../lib/kube/drift-judgement.ts';
import type { NodeCheckResult } from '../lib/kubeproxy/check-node.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { AgentConfig } from './config.ts';
import { formatDuration } from './duration.ts';
import type { AgentMetrics } from './metrics.ts';
import { fromPlain } from './plain-error.ts';
import type { ScanWorkerClient } from './scan-worker-client.ts';
import { driftItems } from './verdict.ts';

/**
 * A worker heap larger than this after a scan is given back by restarting the worker. With the
 * worker's 2 MB semi-space (scan-worker-client.ts) the heap is smaller for the same parse (at 1k
 * Services 44 MB instead of 57 MB; 30 instead of 51 at 500), so this is 32 MiB, not the 48 MiB it
 * was with V8's default young generation: a worker is still replaced after a parse of ~700 Services
 * or more, and keeps ~100 MB of RSS instead of ~130 MB afterwards.
 */
export const RECYCLE_HEAP_BYTES = 32 * 1024 * 1024;

/**
 * A worker whose RSS grew by more than this since it started is restarted too, also after a scan that
 * found the dump unchanged: at 10k Services the 50 MB dump alone keeps ~150 MB of RSS in the worker
 * (measured: 261 MiB steady for the agent and its worker, 115 MiB without). A new worker starts only
 * when the next scan needs one (~0.1 CPU-s), so between big scans the agent holds no worker at all.
 */
const RECYCLE_RSS_GROWTH_BYTES = 32 * 1024 * 1024;

/** Share of `--cpu-budget` the interval aims at (see intervalMs). */
const BUDGET_AIM = 0.9;

/**
 * How long the worker may take to dump the rules: every command is bounded by --exec-timeout (plus
 * the 2 s execa waits before SIGKILL); a scan runs one per family, and a backend detection up to six
 * more (two mangle tables, then both families of both backends), plus the host binaries' --version.
 */
export function dumpTimeoutMs(config: Pick<AgentConfig, 'execTimeoutMs' | 'families'>): number {
  return (config.execTimeoutMs + 2000) * (config.families.length + 6) + 10_000;
}

/**
 * How long one scan may run before the rules loop counts as stuck (/livez). A scan asks the worker
 * once, bounded by the dump limit and then --scan-timeout for the parse and check
 * (ScanWorkerClient.scan), and, when the worker needs the cluster view, a second time, bounded by
 * --scan-timeout alone; sending the view (a delta, the whole view when out of step, a reload) is
 * up to three more sends, each bounded by --scan-timeout too. The 30 s are for starting or recycling
 * a worker. A slow scan within its own limits must never look stuck.
 */
export function scanBoundMs(config: Pick<AgentConfig, 'execTimeoutMs' | 'families' | 'scanTimeoutMs'>): number {
  return dumpTimeoutMs(config) + 5 * config.scanTimeoutMs + 30_000;
}

/** What the last scans left. */
export interface RulesState {
  judgement: JudgeResult | undefined;
  judgedAt: number | undefined;
  error: { code: string; message: string } | undefined;
  /** The last full check (for /debug and verbose findings). */
  lastFull: { result: NodeCheckResult; at: number; clusterVersion: number } | undefined;
  scans: number;
  /** CPU seconds of the last scan. */
  lastCpuSeconds: number;
  /** The last scan found the API view not synced yet (not judged, not an error, not counted). */
  waitingForView: boolean;
}

/** The monitor. */
export interface RulesMonitor {
  readonly state: Readonly<RulesState>;
  /** One scan; never throws. */
  scan(signal: AbortSignal): Promise<void>;
  /** The wait before the next scan (the interval, stretched by the CPU budget). */
  intervalMs(): number;
  /** A judgement older than this is stale. */
  staleAfterMs(): number;
}

const FAMILY = { 4: 'IPv4', 6: 'IPv6' } as const;

/** Builds the monitor. */
export function createRulesMonitor(deps: {
  config: AgentConfig; clock: Clock; log: Logger; metrics: AgentMetrics;
  cluster: ClusterSource; worker: ScanWorkerClient; onScanned: () => void;
}): RulesMonitor {
  const { config, clock, metrics, worker } = deps;
  const log = deps.log.child({ component: 'rules' });
  const state: RulesState = { judgement: undefined, judgedAt: undefined, error: undefined, lastFull: undefined, scans: 0, lastCpuSeconds: 0, waitingForView: false };
  let history: DriftHistory = EMPTY_HISTORY;
  let hashes: Record<string, string> = {};
  let stretched = false;
  // The budget is for the agent as a whole: what the rest of it costs between scans (HTTP, metrics,
  // log polling: this process's own CPU) is taken off the share left for scans (never below a quarter).
  let restRate = 0;
  let lastUsage = process.cpuUsage();
  let lastUsageAt = clock.now();
  let measured = 0;
  const measureRest = (): void => {
    const now = clock.now();
    const used = process.cpuUsage(lastUsage);
    const seconds = (now - lastUsageAt) / 1000;
    // the first period holds start-up (loading modules and the first view): not what the agent costs
    if (seconds >= 1 && measured++ > 0) restRate = (used.user + used.system) / 1e6 / seconds;
    lastUsage = process.cpuUsage();
    lastUsageAt = now;
  };
  // The budget is a ceiling: aim at 90% of it, so that the bursts (a full parse after quiet scans, a
  // worker's start-up) and the idle process's own noise keep the average under it, not at it.
  const aim = config.cpuBudget * BUDGET_AIM;
  const intervalMs = (): number => Math.max(config.intervalMs, (state.lastCpuSeconds * 1000) / Math.max(aim - restRate, aim / 4));

  const fail = (code: string, message: string, at: number, started: number, cpuSeconds: number, dumps: { family: 4 | 6; backend: string; durationMs: number }[]): void => {
    if (state.error?.code !== code) log.warn({ code, message }, 'scan failed: the rules verdict is unknown until a scan succeeds');
    state.error = { code, message };
    hashes = {};
    metrics.recordScan({
      result: 'error', errorCode: code, durationSeconds: (clock.now() - started) / 1000, cpuSeconds, at,
      dumps: dumps.map((d) => ({ family: FAMILY[d.family], backend: d.backend, durationSeconds: d.durationMs / 1000, hashChanged: false })),
    });
  };

  const scan = async (signal: AbortSignal): Promise<void> => {
    const started = clock.now();
    let cpuSeconds = 0;
    state.waitingForView = false;
    try {
      const view = await deps.cluster.sync(worker, signal);
      cpuSeconds += view.cpuMs / 1000;
      if (!view.loaded && deps.cluster.kind === 'api' && !deps.cluster.ready()) {
        // Starting: the informers have not listed yet. Not a failure: the rules check stays NotJudgedYet.
        log.debug({}, 'scan waits for the API view to sync');
        state.waitingForView = true;
        return;
      }
      if (!view.loaded) {
        fail('DPS_ERR_CLUSTER_EMPTY', `No cluster view yet (${deps.cluster.apiInput().message})`, clock.now(), started, cpuSeconds, []);
        return;
      }
      const reuse = state.lastFull !== undefined && state.lastFull.clusterVersion === view.version;
      const request = { nodeName: config.node, previousHashes: hashes, reuse, ...(view.seq === undefined ? {} : { clusterSeq: view.seq }) };
      let reply = await worker.scan(request, config.scanTimeoutMs, dumpTimeoutMs(config));
      // the dump commands (their CPU, as the worker measured it) and what the worker did with them
      const { dumps, failures } = reply;
      cpuSeconds += reply.cpuMs / 1000 + [...dumps, ...failures].reduce((n, d) => n + d.cpuSeconds, 0);
      if (failures.length > 0) {
        const error = fromPlain(failures[0]!.error);
        fail(error.code, shortError(error), clock.now(), started, cpuSeconds, [...dumps, ...failures]);
        return;
      }
      if (reply.needCluster === true) {
        // A new worker holds no view (or another one): load it only now that a full check is needed.
        cpuSeconds += (await deps.cluster.ensureLoaded(worker)) / 1000;
        reply = await worker.scan({ ...request, usePending: true }, config.scanTimeoutMs);
        cpuSeconds += reply.cpuMs / 1000;
        if (reply.needCluster === true) {
          fail('DPS_ERR_AGENT_WORKER', 'The scan worker could not be given the cluster view', clock.now(), started, cpuSeconds, dumps);
          return;
        }
      }
      const at = clock.now();
      const changed = (f: number): boolean => hashes[f] !== undefined && hashes[f] !== reply.hashes[f];
      const dumpRecords = dumps.map((d) => ({ family: FAMILY[d.family], backend: d.backend, durationSeconds: d.durationMs / 1000, hashChanged: changed(d.family) }));
      if (reply.error !== undefined) {
        const error = fromPlain(reply.error);
        fail(error.code, shortError(error), at, started, cpuSeconds, dumps);
        return;
      }
      hashes = reply.hashes;
      let result: NodeCheckResult;
      if (reply.unchanged && state.lastFull !== undefined) {
        result = state.lastFull.result;
      } else {
        result = reply.result!;
        state.lastFull = { result, at, clusterVersion: view.version };
      }
      const judgement = judgeDrift(
        { drifts: driftItems(result.findings), now: at, view: { judgeable: view.judgeable, state: view.state }, serviceChangedAt: view.serviceChangedAt, history },
        { graceMs: config.graceMs, persistScans: config.persistScans },
      );
      history = judgement.history;
      if (state.error !== undefined) log.info({ after: state.error.code }, 'scan succeeded again');
      state.error = undefined;
      state.judgement = judgement;
      state.judgedAt = at;
      metrics.recordScan({
        result: reply.unchanged ? 'skipped-unchanged' : 'ok', durationSeconds: (at - started) / 1000, cpuSeconds, at, dumps: dumpRecords,
        ...(reply.unchanged ? {} : { counts: dumps.map((d) => ({ family: FAMILY[d.family], backend: result.stats.backends[FAMILY[d.family]] ?? d.backend, ...countsOf(reply, d.family) })) }),
      });
      log.debug({ heapBytes: reply.heapBytes, rssGrowthBytes: reply.rssGrowthBytes, unchanged: reply.unchanged, parseMs: reply.parseMs, checkMs: reply.checkMs, cpuSeconds, findings: result.findings.length }, 'scan done');
      // A full parse grows the worker's heap far beyond the view (V8 keeps it): start afresh.
      if ((!reply.unchanged && reply.heapBytes > RECYCLE_HEAP_BYTES) || reply.rssGrowthBytes > RECYCLE_RSS_GROWTH_BYTES) await worker.recycle();
    } catch (error) {
      const e = error as { code?: string };
      fail(typeof e.code === 'string' && e.code.startsWith('DPS_ERR_') ? e.code : 'DPS_ERR_INTERNAL', shortError(error), clock.now(), started, cpuSeconds, []);
    } finally {
      if (!state.waitingForView) state.scans++;
      state.lastCpuSeconds = cpuSeconds;
      measureRest();
      const next = intervalMs();
      metrics.setInterval(next / 1000);
      // With some hysteresis, so that an interval hovering near the configured one logs nothing.
      const nowStretched = stretched ? next > config.intervalMs * 1.2 : next > config.intervalMs * 1.5;
      if (nowStretched !== stretched) {
        stretched = nowStretched;
        if (stretched) log.info({ intervalMs: Math.round(next), scanCpuSeconds: cpuSeconds, cpuBudget: config.cpuBudget }, `scan interval stretched to ${formatDuration(next)} to keep scans within the CPU budget`);
        else log.info({ intervalMs: next }, 'scan interval back to the configured one');
      }
      deps.onScanned();
    }
  };

  return {
    state,
    scan,
    intervalMs,
    staleAfterMs: () => 3 * intervalMs() + config.scanTimeoutMs + config.execTimeoutMs * config.families.length,
  };
}

// Rules and chains of one family's dump, from the worker's per-family counts.
function countsOf(reply: { counts?: { family: number; rules: number; chains: number }[] }, family: number): { rules: number; chains: number } {
  const c = reply.counts?.find((x) => x.family === family);
  return { rules: c?.rules ?? 0, chains: c?.chains ?? 0 };
}

// `where: message`, without the hint (the code goes next to it in /health).
function shortError(error: unknown): string {
  const e = error as { where?: string; message?: string };
  const message = e.message ?? String(error);
  return e.where === undefined || message.includes(e.where) ? message : `${e.where}: ${message}`;
}
