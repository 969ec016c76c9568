/**
 * createAgent(deps): wires the sources (cluster, rules, logs, kube-proxy), the loops, the verdict,
 * the exporters (metrics, node conditions, logs) and the HTTP server. Every dependency comes in
 * through `deps`; nothing here reads globals.
 *
 * Loops (each never overlapping itself, each catching its own errors):
 *  - rules: scan → judge → verdict, waiting the interval stretched by the CPU budget;
 *  - logs: the LogWatcher's own polling, plus a 1 s evaluation (hysteresis, missing sources);
 *  - kube-proxy: scrape its metrics and /livez every interval (when enabled).
 * After anything that may change it, the verdict is recomputed (cheap, pure) and the exporters
 * get it; one log line per change of the verdict or of a check, never per tick.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { agentError } from '../lib/errors.ts';
import { CONDITION_TYPES } from '../lib/kube/conditions.ts';
import type { DesiredCondition } from '../lib/kube/conditions.ts';
import type { Finding } from '../lib/kubeproxy/findings.ts';
import type { KubeApi } from '../lib/kube/client.ts';
import type { Clock, Logger } from '../lib/kube/deps.ts';
import type { KubeProxyScrape } from '../lib/kube/kube-proxy-signals.ts';
import { judgeKubeProxySync } from '../lib/kube/kube-proxy-signals.ts';
import { scrapeKubeProxy } from '../lib/kube/kube-proxy-probe.ts';
import { DEFAULT_FRESHNESS } from '../lib/kube/freshness.ts';
import { judgeVersionSkew } from '../lib/kube/version-skew.ts';
import type { ClusterSource } from './cluster-source.ts';
import { createApiClusterSource } from './api-cluster-source.ts';
import { createFileClusterSource } from './cluster-source.ts';
import type { AgentConfig } from './config.ts';
import { rulesConfig } from './config.ts';
import { startLogMonitor } from './log-monitor.ts';
import { createAgentMetrics } from './metrics.ts';
import { createRulesMonitor, scanBoundMs } from './rules-monitor.ts';
import { ScanWorkerClient } from './scan-worker-client.ts';
import { startLoop } from './scheduler.ts';
import type { Loop } from './scheduler.ts';
import { buildServer } from './server.ts';
import { apiCheck, composeVerdict, findingKey, kubeProxyCheck, logCheck, rulesCheck } from './verdict.ts';
import type { NodeVerdict } from './verdict.ts';

/** What the agent needs. */
export interface AgentDeps {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly registry: Registry;
  /** Stops everything when aborted (SIGTERM). */
  readonly signal: AbortSignal;
  readonly version: string;
  /** The environment, only for in-cluster API configuration (KUBERNETES_SERVICE_HOST/PORT). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** For tests: a fetch for the kube-proxy probe. */
  readonly fetch?: typeof fetch;
  /** For tests: where the service-account token and CA are (default the projected directory). */
  readonly serviceAccountDir?: string;
  /** Randomness in [0, 1) for the wait before tainting; default Math.random. */
  readonly random?: () => number;
}

/** A running agent. */
export interface Agent {
  readonly app: FastifyInstance;
  /** Listens on the configured address; resolves to the bound URL. */
  listen(): Promise<string>;
  /** The current verdict (what /health says). */
  verdict(): NodeVerdict;
  /** Scans now instead of waiting. */
  scanNow(): void;
  /** Stops the loops, the server, the worker; idempotent; bounded to ~4.5 s. */
  close(): Promise<void>;
}

/** Builds and starts the agent's loops (the HTTP server starts with listen()). */
export async function createAgent(deps: AgentDeps): Promise<Agent> {
  const { config, clock, registry } = deps;
  const log = deps.log.child({ component: 'agent' });
  const stop = new AbortController();
  const signal = AbortSignal.any([deps.signal, stop.signal]);
  const metrics = createAgentMetrics(registry, { version: deps.version });
  // The worker runs the rules source itself (the dumps never enter this process).
  const worker = new ScanWorkerClient({ rules: rulesConfig(config), log: deps.log });
  const { source: cluster, api } = await createClusterSource(deps, metrics);
  let verdict: NodeVerdict = composeVerdict([]);
  // Recomputed with the verdict, so /health never filters findings per request.
  let confirmed: Finding[] = [];
  let checkedAt: number | undefined;
  let lastLogged = '';
  let reported = '';
  let kubeProxy: { cur: KubeProxyScrape; prev: KubeProxyScrape | undefined; condition: DesiredCondition } | undefined;

  const reporter = api !== undefined && config.reportNode ? await createReporter(deps, api, signal) : undefined;
  const logs = startLogMonitor({ config, clock, log: deps.log, metrics, signal, onChange: () => recompute() });
  const rules = createRulesMonitor({
    config, clock, log: deps.log, metrics, cluster, worker,
    onScanned: () => recompute(),
  });

  // The verdict from every check's latest state; exporters and the change log follow it.
  function recompute(): void {
    const now = clock.now();
    const checks = [
      rulesCheck({ judgement: rules.state.judgement, error: rules.state.error, judgedAt: rules.state.judgedAt, now, staleAfterMs: rules.staleAfterMs() }),
      logCheck(logs.input('kube-proxy-logs')),
      logCheck(logs.input('cni-logs')),
      apiCheck(cluster.apiInput()),
      kubeProxyCheck(config.kubeProxyProbe, kubeProxy?.condition),
    ];
    verdict = composeVerdict(checks);
    checkedAt = now;
    confirmed = confirmedFindings();
    metrics.setVerdict(verdict, confirmed);
    const key = JSON.stringify([verdict.status, checks.map((c) => [c.name, c.enabled, c.status, c.reason])]);
    if (key !== lastLogged) {
      lastLogged = key;
      const level = verdict.status === 'healthy' ? 'info' : 'warn';
      log[level]({ status: verdict.status, checks: Object.fromEntries(checks.filter((c) => c.enabled).map((c) => [c.name, `${c.status}/${c.reason}`])), reasons: verdict.reasons }, `node verdict: ${verdict.status}`);
    }
    if (reporter !== undefined && rules.state.judgement !== undefined) {
      const desired = desiredConditions();
      const rkey = JSON.stringify(desired);
      if (rkey !== reported) {
        reported = rkey;
        metrics.setConditions(desired);
        void reporter.report(desired, { viewFresh: cluster.apiInput().state === 'fresh' });
      }
    }
  }

  // Confirmed findings, by the judgement's keys, from the last full check.
  function confirmedFindings(): Finding[] {
    if (rules.state.judgement === undefined) return [];
    const keys = new Set(rules.state.judgement?.confirmed.map((d) => d.key));
    return (rules.state.lastFull?.result.findings ?? []).filter((f) => f.severity === 'error' && keys.has(findingKey(f)));
  }

  function desiredConditions(): DesiredCondition[] {
    const out: DesiredCondition[] = [];
    if (rules.state.judgement !== undefined) out.push(rules.state.judgement.condition);
    if (kubeProxy !== undefined) out.push(kubeProxy.condition);
    const cni = logCheck(logs.input('cni-logs'));
    if (cni.enabled) out.push({ type: CONDITION_TYPES.cniFailing, status: cni.status === 'unhealthy' ? 'True' : cni.status === 'healthy' ? 'False' : 'Unknown', reason: cni.reason, message: cni.message });
    const kubelet = cluster.kubeletVersion();
    if (kubelet !== undefined && kubeProxy?.cur.metrics?.version !== undefined) out.push(judgeVersionSkew(kubelet, kubeProxy.cur.metrics.version));
    return out;
  }

  const loops: Loop[] = [];
  const onError = (name: string) => (error: unknown): void => { log.error({ err: error, loop: name }, 'loop run failed; it continues'); };
  const rulesLoop = startLoop({
    name: 'rules', task: (s) => rules.scan(s), intervalMs: () => rules.intervalMs(), jitter: config.jitter, clock, signal,
    stuckAfterMs: scanBoundMs(config), onError: onError('rules'),
  });
  loops.push(rulesLoop);
  loops.push(startLoop({
    name: 'logs', task: async () => { if (await logs.evaluate()) recompute(); }, intervalMs: () => 1000, jitter: 0, clock, signal, stuckAfterMs: 30_000, onError: onError('logs'),
  }));
  if (config.kubeProxyProbe) {
    loops.push(startLoop({
      name: 'kube-proxy', jitter: config.jitter, clock, signal, stuckAfterMs: 30_000, onError: onError('kube-proxy'),
      intervalMs: () => Math.max(config.intervalMs, 5000),
      task: async (s) => {
        const cur = await scrapeKubeProxy({ metricsUrl: config.kubeProxyMetricsUrl, livezUrl: config.kubeProxyLivezUrl, clock, signal: s, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
        const condition = judgeKubeProxySync(cur, kubeProxy?.cur);
        kubeProxy = { cur, prev: kubeProxy?.cur, condition };
        const m = cur.metrics;
        const lag = m?.lastQueuedAt !== undefined && m.lastSyncedAt !== undefined ? Math.max(0, m.lastQueuedAt - m.lastSyncedAt) : undefined;
        metrics.setKubeProxy({ up: m !== undefined, syncLagSeconds: lag, restoreFailures: m?.restoreFailures });
        recompute();
      },
    }));
  }
  recompute();
  // The first scans wait for the API view's first lists: scan as soon as they are in.
  void cluster.whenReady().then(() => { if (rules.state.waitingForView) rulesLoop.wake(); });

  const app = buildServer({
    registry, unknownStatusCode: config.unknownStatusCode,
    health: () => ({ node: config.node, verdict, checkedAt, findings: confirmed, unconfirmed: (rules.state.judgement?.pending.length ?? 0) + (rules.state.judgement?.accruing.length ?? 0) }),
    livez: () => {
      const now = clock.now();
      const states = [...loops.map((l) => ({ name: l.name, alive: l.alive(now) })), ...(config.logs ? [{ name: 'log-watcher', alive: logs.running() }] : [])];
      return { ok: states.every((s) => s.alive), loops: states };
    },
    readyz: () => {
      const waitingFor = [...(cluster.ready() ? [] : ['cluster view']), ...(rules.state.scans > 0 ? [] : ['first scan'])];
      return { ok: waitingFor.length === 0, waitingFor };
    },
    debug: config.debugEndpoints ? () => ({ at: rules.state.lastFull?.at, stats: rules.state.lastFull?.result.stats, findings: rules.state.lastFull?.result.findings ?? [], judgement: rules.state.judgement === undefined ? undefined : { confirmed: rules.state.judgement.confirmed, pending: rules.state.judgement.pending, accruing: rules.state.judgement.accruing } }) : undefined,
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stop.abort();
      const all = Promise.allSettled([app.close(), worker.close(), reporter?.close(), cluster.close(), logs.done, ...loops.map((l) => l.done)]);
      await Promise.race([all, new Promise((r) => setTimeout(r, 4500).unref())]);
      log.info({}, 'agent stopped');
    })();
    return closing;
  };
  deps.signal.addEventListener('abort', () => void close(), { once: true });

  return {
    app,
    async listen() {
      try {
        const url = await app.listen({ host: config.listen.host, port: config.listen.port });
        log.info({ url, interval: config.intervalMs, source: cluster.kind }, 'agent listening');
        return url;
      } catch (error) {
        throw agentError('DPS_ERR_AGENT_LISTEN', `Cannot listen on ${config.listen.host}:${config.listen.port}: ${(error as Error).message}`, { where: '--listen', cause: error });
      }
    },
    verdict: () => verdict,
    scanNow: () => rulesLoop.wake(),
    close,
  };
}

// The file source, or the API through lib/kube (imported only then: the client is heavy).
async function createClusterSource(deps: AgentDeps, metrics: ReturnType<typeof createAgentMetrics>): Promise<{ source: ClusterSource; api?: KubeApi }> {
  const { config } = deps;
  if (config.clusterFile !== '') return { source: createFileClusterSource({ path: config.clusterFile, log: deps.log, clock: deps.clock, metrics, timeoutMs: config.scanTimeoutMs }) };
  const { loadKubeConfig, createKubeApi } = await import('../lib/kube/client.ts');
  const { createClusterView } = await import('../lib/kube/cluster-view.ts');
  const { kubeConfig, path } = loadKubeConfig({ apiServer: config.apiServer, kubeconfigPath: config.kubeconfig, env: deps.env ?? {}, serviceAccountDir: deps.serviceAccountDir });
  const api = createKubeApi(kubeConfig);
  const view = createClusterView({
    api, nodeName: config.node, apiPath: path, log: deps.log, clock: deps.clock, signal: deps.signal,
    freshness: { ...DEFAULT_FRESHNESS, maxViewAgeMs: config.apiMaxViewAgeMs },
  });
  return { source: createApiClusterSource({ view, log: deps.log, metrics, timeoutMs: config.scanTimeoutMs }), api };
}

async function createReporter(deps: AgentDeps, api: KubeApi, signal: AbortSignal) {
  const { NodeReporter } = await import('../lib/kube/node-reporter.ts');
  const reporter = new NodeReporter({ api, nodeName: deps.config.node, log: deps.log, clock: deps.clock, signal, taints: deps.config.taints, ...(deps.random ? { random: deps.random } : {}) });
  reporter.start();
  return reporter;
}
