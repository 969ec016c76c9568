/**
 * The metrics exporter: every series of docs/metrics.md on the agent's own prom-client Registry
 * (never the global one). Series that describe a vocabulary (statuses, checks, finding kinds,
 * built-in log classes) are pre-registered at 0, so dashboards and alerts see them before the
 * first problem. Per-service series exist only for services with findings, at most
 * {@link MAX_SERVICE_SERIES} (the rest are summed under `service="_other"`).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as PromRegistry } from 'prom-client';
import type { Registry } from 'prom-client';
import { FINDING_KINDS } from '../lib/kubeproxy/findings.ts';
import type { Finding } from '../lib/kubeproxy/findings.ts';
import { BUILTIN_CLASSES } from '../lib/logs/types.ts';
import { CHECK_NAMES, STATUSES } from './verdict.ts';
import type { NodeVerdict } from './verdict.ts';

/** Most `dataplane_sentinel_service_findings` series (plus `_other`). */
export const MAX_SERVICE_SERIES = 50;

const P = 'dataplane_sentinel_';
const FAMILIES = ['IPv4', 'IPv6'] as const;

/** One scan, as the metrics see it. */
export interface ScanRecord {
  readonly result: 'ok' | 'error' | 'skipped-unchanged';
  readonly errorCode?: string;
  readonly durationSeconds: number;
  readonly cpuSeconds: number;
  readonly dumps: readonly { family: 'IPv4' | 'IPv6'; backend: string; durationSeconds: number; hashChanged: boolean }[];
  /** Rules and chains per family and backend of the last parsed dump. */
  readonly counts?: readonly { family: 'IPv4' | 'IPv6'; backend: string; rules: number; chains: number }[];
  readonly at: number;
}

/** The exporter's update functions. */
export type AgentMetrics = ReturnType<typeof createAgentMetrics>;

/** Registers every series on `registry`. */
export function createAgentMetrics(registry: Registry, info: { version: string }) {
  const reg = { registers: [registry] };
  const nodeStatus = new Gauge({ ...reg, name: `${P}node_status`, help: "1 for the node's current verdict (what GET /health says), 0 for the others.", labelNames: ['status'] });
  const checkStatus = new Gauge({ ...reg, name: `${P}check_status`, help: "1 for each check's current status, 0 for the others.", labelNames: ['check', 'status'] });
  const findings = new Gauge({ ...reg, name: `${P}findings`, help: 'Confirmed drift findings (after grace period and persistence) by kind.', labelNames: ['kind', 'family'] });
  const serviceFindings = new Gauge({ ...reg, name: `${P}service_findings`, help: `Confirmed findings per service; only services with findings, at most ${MAX_SERVICE_SERIES} series (the rest under service="_other").`, labelNames: ['service', 'kind'] });
  const scans = new Counter({ ...reg, name: `${P}scans_total`, help: 'Rule scans by result.', labelNames: ['result'] });
  const scanErrors = new Counter({ ...reg, name: `${P}scan_errors_total`, help: 'Failed scans by error code.', labelNames: ['code'] });
  const scanDuration = new Histogram({ ...reg, name: `${P}scan_duration_seconds`, help: 'Whole scan: dump, parse, diff.', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });
  const saveDuration = new Histogram({ ...reg, name: `${P}iptables_save_duration_seconds`, help: 'The iptables-save command (or file read) alone.', labelNames: ['family', 'backend'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
  const interval = new Gauge({ ...reg, name: `${P}scan_interval_seconds`, help: 'The current scan interval (stretched when the CPU budget is exceeded).' });
  const scanCpu = new Counter({ ...reg, name: `${P}scan_cpu_seconds_total`, help: 'CPU spent in scans (the dump commands included).' });
  const rules = new Gauge({ ...reg, name: `${P}rules`, help: 'Rules in the last dump.', labelNames: ['family', 'backend'] });
  const chains = new Gauge({ ...reg, name: `${P}chains`, help: 'Chains in the last dump.', labelNames: ['family', 'backend'] });
  const rulesetChanges = new Counter({ ...reg, name: `${P}ruleset_changes_total`, help: "Times the dump's hash changed between scans.", labelNames: ['family'] });
  const lastScan = new Gauge({ ...reg, name: `${P}last_scan_timestamp_seconds`, help: 'Unix time of the last completed scan.' });
  const logMatches = new Counter({ ...reg, name: `${P}log_matches_total`, help: 'Log lines matched, by class and component.', labelNames: ['class', 'component'] });
  const logActive = new Gauge({ ...reg, name: `${P}log_signal_active`, help: '1 while a log class is active (repeating over its window, with hysteresis).', labelNames: ['class'] });
  const logLast = new Gauge({ ...reg, name: `${P}log_last_match_timestamp_seconds`, help: 'Unix time of the last match, by class.', labelNames: ['class'] });
  const logLines = new Counter({ ...reg, name: `${P}log_lines_total`, help: 'Log lines read, by source.', labelNames: ['source'] });
  const logErrors = new Counter({ ...reg, name: `${P}log_errors_total`, help: 'Log source errors by code.', labelNames: ['code'] });
  const apiUp = new Gauge({ ...reg, name: `${P}api_up`, help: '1 when the API view is fresh enough to judge drift, 0 otherwise.' });
  const apiContact = new Gauge({ ...reg, name: `${P}api_last_contact_timestamp_seconds`, help: 'Last event or successful list per resource.', labelNames: ['resource'] });
  const apiObjects = new Gauge({ ...reg, name: `${P}api_objects`, help: 'Objects in the API view.', labelNames: ['resource'] });
  const inputSkipped = new Counter({ ...reg, name: `${P}input_skipped_total`, help: 'API objects skipped as invalid, by reason.', labelNames: ['reason'] });
  const kpUp = new Gauge({ ...reg, name: `${P}kube_proxy_up`, help: "1 when kube-proxy's metrics endpoint answered the last scrape." });
  const kpLag = new Gauge({ ...reg, name: `${P}kube_proxy_sync_lag_seconds`, help: 'kube-proxy last_queued_timestamp minus last_timestamp (how long a wanted sync is pending).' });
  // A counter mirrored from kube-proxy's own (it resets when kube-proxy restarts, as counters may):
  // typed counter so that promtool accepts the `_total` name.
  const kpFailures = new Counter({ ...reg, name: `${P}kube_proxy_restore_failures_total`, help: "kube-proxy's own iptables-restore failure counter, as scraped." });
  const nodeCondition = new Gauge({ ...reg, name: `${P}node_condition`, help: 'The node conditions the agent reports (1 for the current status).', labelNames: ['type', 'status'] });
  const buildInfo = new Gauge({ ...reg, name: `${P}build_info`, help: 'Always 1.', labelNames: ['version', 'node_version'] });
  registerDefaultMetrics(registry);

  buildInfo.set({ version: info.version, node_version: process.version }, 1);
  for (const s of STATUSES) nodeStatus.set({ status: s }, s === 'unknown' ? 1 : 0);
  for (const c of CHECK_NAMES) for (const s of STATUSES) checkStatus.set({ check: c, status: s }, 0);
  for (const k of Object.keys(FINDING_KINDS)) for (const f of FAMILIES) findings.set({ kind: k, family: f }, 0);
  for (const r of ['ok', 'error', 'skipped-unchanged']) scans.inc({ result: r }, 0);
  for (const c of BUILTIN_CLASSES) { logActive.set({ class: c }, 0); logMatches.inc({ class: c, component: '' }, 0); }
  for (const s of ['cri', 'file', 'journal']) logLines.inc({ source: s }, 0);
  apiUp.set(0);
  kpUp.set(0);
  // Counters mirrored from plain totals (the log watcher's): add what is new since the last update.
  const mirrored = new Map<string, number>();
  const mirror = (counter: Counter<string>, name: string, labels: Record<string, string>, total: number): void => {
    const key = `${name}${JSON.stringify(labels)}`;
    const delta = total - (mirrored.get(key) ?? 0);
    if (delta > 0) counter.inc(labels, delta);
    mirrored.set(key, Math.max(total, mirrored.get(key) ?? 0));
  };

  return {
    /** The verdict, every check's status and the confirmed findings. */
    setVerdict(verdict: NodeVerdict, confirmed: readonly Finding[]): void {
      for (const s of STATUSES) nodeStatus.set({ status: s }, verdict.status === s ? 1 : 0);
      for (const c of verdict.checks) for (const s of STATUSES) checkStatus.set({ check: c.name, status: s }, c.enabled && c.status === s ? 1 : 0);
      const byKind = new Map<string, number>();
      const byService = new Map<string, number>();
      for (const f of confirmed) {
        byKind.set(`${f.kind}|${f.family}`, (byKind.get(`${f.kind}|${f.family}`) ?? 0) + 1);
        if (f.service !== undefined) byService.set(`${f.service}|${f.kind}`, (byService.get(`${f.service}|${f.kind}`) ?? 0) + 1);
      }
      for (const k of Object.keys(FINDING_KINDS)) for (const fam of FAMILIES) findings.set({ kind: k, family: fam }, byKind.get(`${k}|${fam}`) ?? 0);
      serviceFindings.reset();
      const ranked = [...byService].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const other = new Map<string, number>();
      ranked.forEach(([key, n], i) => {
        const [service, kind] = key.split('|') as [string, string];
        if (i < MAX_SERVICE_SERIES) serviceFindings.set({ service, kind }, n);
        else other.set(kind, (other.get(kind) ?? 0) + n);
      });
      for (const [kind, n] of other) serviceFindings.set({ service: '_other', kind }, n);
    },
    /** One scan (ok, error or skipped). */
    recordScan(s: ScanRecord): void {
      scans.inc({ result: s.result });
      if (s.errorCode !== undefined) scanErrors.inc({ code: s.errorCode });
      scanDuration.observe(s.durationSeconds);
      scanCpu.inc(s.cpuSeconds);
      for (const d of s.dumps) {
        saveDuration.observe({ family: d.family, backend: d.backend }, d.durationSeconds);
        if (d.hashChanged) rulesetChanges.inc({ family: d.family });
      }
      if (s.counts !== undefined) {
        rules.reset();
        chains.reset();
        for (const c of s.counts) {
          rules.set({ family: c.family, backend: c.backend }, c.rules);
          chains.set({ family: c.family, backend: c.backend }, c.chains);
        }
      }
      if (s.result !== 'error') lastScan.set(s.at / 1000);
    },
    setInterval(seconds: number): void {
      interval.set(seconds);
    },
    logMatch(cls: string, component: string): void {
      logMatches.inc({ class: cls, component });
      logLast.set({ class: cls }, Date.now() / 1000);
    },
    setLogSignals(classes: readonly { class: string; active: boolean; lastMatchAt: number }[]): void {
      for (const c of classes) {
        logActive.set({ class: c.class }, c.active ? 1 : 0);
        logLast.set({ class: c.class }, c.lastMatchAt / 1000);
      }
    },
    /** The log watcher's plain totals. */
    setLogTotals(t: { lines: Record<string, number>; errors: Record<string, number> }): void {
      for (const [source, n] of Object.entries(t.lines)) mirror(logLines, 'lines', { source }, n);
      for (const [code, n] of Object.entries(t.errors)) mirror(logErrors, 'errors', { code }, n);
    },
    setApi(a: { up: boolean; lastContact: Record<string, number | undefined>; objects: Record<string, number> }): void {
      apiUp.set(a.up ? 1 : 0);
      for (const [resource, at] of Object.entries(a.lastContact)) if (at !== undefined) apiContact.set({ resource }, at / 1000);
      for (const [resource, n] of Object.entries(a.objects)) apiObjects.set({ resource }, n);
    },
    /** Totals of skipped objects by reason (mirrored as a counter). */
    setInputSkipped(byReason: Record<string, number>): void {
      for (const [reason, n] of Object.entries(byReason)) mirror(inputSkipped, 'skipped', { reason }, n);
    },
    countInputSkipped(reason: string, n: number): void {
      if (n > 0) inputSkipped.inc({ reason }, n);
    },
    setKubeProxy(k: { up: boolean; syncLagSeconds: number | undefined; restoreFailures: number | undefined }): void {
      kpUp.set(k.up ? 1 : 0);
      if (k.syncLagSeconds !== undefined) kpLag.set(k.syncLagSeconds);
      if (k.restoreFailures !== undefined) {
        kpFailures.reset();
        kpFailures.inc(k.restoreFailures);
      }
    },
    setConditions(conditions: readonly { type: string; status: string }[]): void {
      for (const c of conditions) for (const s of ['True', 'False', 'Unknown']) nodeCondition.set({ type: c.type, status: s }, c.status === s ? 1 : 0);
    },
  };
}

/**
 * prom-client's process and Node.js metrics, prefixed, minus the three gauges it names `*_total`
 * (active handles, requests, resources): promtool rejects a non-counter with that suffix.
 */
function registerDefaultMetrics(registry: Registry): void {
  const scratch = new PromRegistry();
  collectDefaultMetrics({ register: scratch, prefix: P });
  for (const metric of scratch.getMetricsAsArray()) {
    if (/_total$/.test(metric.name) && !(metric instanceof Counter)) continue;
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
