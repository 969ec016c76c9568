/**
 * Pure: kube-proxy's own cheap signals, read from its metrics (`127.0.0.1:10249/metrics`) and
 * health endpoint (`:10256/livez`), judged into the KubeProxySyncFailing condition.
 *
 * - `kubeproxy_sync_proxy_rules_iptables_restore_failures_total` (and the nftables mode's
 *   `..._nftables_sync_failures_total`) going up between two scrapes: iptables-restore failed
 *   (the CircleCI 2023-03-14 outage, where this was the only symptom).
 * - `kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds` newer than
 *   `..._last_timestamp_seconds` for longer than `syncLagLimitMs`: changes are queued but not
 *   programmed. kube-proxy's own /livez uses the same rule with 2 × sync-period (60 s), the default here.
 * - `kubernetes_build_info{git_version}`: the running kube-proxy's version, for the skew check
 *   (the Node's `nodeInfo.kubeProxyVersion` is deprecated and may be empty or wrong).
 */
import { CONDITION_TYPES, REASONS, type DesiredCondition } from './conditions.ts';

/** One sample: labels and value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format into samples by metric name (comments and junk skipped). */
export function parsePrometheusText(text: string): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) continue;
    const value = Number(m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : m[4]);
    if (Number.isNaN(value) && m[4] !== 'NaN') continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const list = out.get(m[1]!) ?? [];
    list.push({ labels, value });
    out.set(m[1]!, list);
  }
  return out;
}

/** What we read from kube-proxy's metrics. */
export interface KubeProxyMetrics {
  /** Sum of iptables-restore (and nftables sync) failures since kube-proxy started. */
  restoreFailures: number | undefined;
  /** Seconds since the epoch. */
  lastQueuedAt: number | undefined;
  lastSyncedAt: number | undefined;
  /** kube-proxy's `git_version`, e.g. `v1.30.2`. */
  version: string | undefined;
}

function first(samples: Map<string, Sample[]>, name: string): number | undefined {
  return samples.get(name)?.[0]?.value;
}

/** Extracts {@link KubeProxyMetrics} from a scrape. */
export function readKubeProxyMetrics(text: string): KubeProxyMetrics {
  const s = parsePrometheusText(text);
  const ipt = first(s, 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total');
  const nft = first(s, 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total');
  const restoreFailures = ipt === undefined && nft === undefined ? undefined : (ipt ?? 0) + (nft ?? 0);
  return {
    restoreFailures,
    lastQueuedAt: first(s, 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds'),
    lastSyncedAt: first(s, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds'),
    version: s.get('kubernetes_build_info')?.[0]?.labels['git_version'],
  };
}

/** Result of one scrape round (see kube-proxy-probe.ts). */
export interface KubeProxyScrape {
  at: number;
  metrics: KubeProxyMetrics | undefined;
  /** HTTP status of /livez, or undefined when it could not be reached. */
  livezStatus: number | undefined;
  error: string | undefined;
}

/** Default lag limit: kube-proxy's own livez threshold, 2 × sync-period. */
export const DEFAULT_SYNC_LAG_LIMIT_MS = 60_000;

/** Judges KubeProxySyncFailing from this scrape and the previous one. */
export function judgeKubeProxySync(cur: KubeProxyScrape, prev: KubeProxyScrape | undefined, syncLagLimitMs = DEFAULT_SYNC_LAG_LIMIT_MS): DesiredCondition {
  const type = CONDITION_TYPES.kubeProxySyncFailing;
  const m = cur.metrics;
  const problems: { reason: string; message: string }[] = [];
  if (cur.livezStatus !== undefined && cur.livezStatus !== 200) {
    problems.push({ reason: REASONS.livezFailing, message: `kube-proxy /livez answered HTTP ${cur.livezStatus}.` });
  }
  const before = prev?.metrics?.restoreFailures;
  if (m?.restoreFailures !== undefined && before !== undefined && m.restoreFailures > before) {
    problems.push({ reason: REASONS.restoreFailing, message: `kube-proxy failed to restore its rules ${m.restoreFailures - before} time(s) since the previous scrape.` });
  }
  if (m?.lastQueuedAt !== undefined && m.lastSyncedAt !== undefined && m.lastQueuedAt > m.lastSyncedAt) {
    const waiting = cur.at - m.lastQueuedAt * 1000;
    if (waiting > syncLagLimitMs) {
      problems.push({ reason: REASONS.syncLagging, message: `kube-proxy has had changes queued for ${Math.round(waiting / 1000)} s without a successful sync (limit ${Math.round(syncLagLimitMs / 1000)} s).` });
    }
  }
  if (problems.length > 0) {
    return { type, status: 'True', reason: problems[0]!.reason, message: problems.map((p) => p.message).join(' ') };
  }
  if (!m && cur.livezStatus === undefined) {
    return { type, status: 'Unknown', reason: REASONS.metricsUnavailable, message: `kube-proxy's metrics and /livez could not be read${cur.error ? `: ${cur.error}` : ''}.` };
  }
  return { type, status: 'False', reason: REASONS.syncHealthy, message: 'kube-proxy reports successful, timely syncs.' };
}
