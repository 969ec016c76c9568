/**
 * Pure: one verdict for the node from its checks. Each check turns what a loop last saw into
 * healthy / unhealthy / unknown with a CamelCase reason and a sentence; the node is unhealthy
 * when any enabled check is, unknown when any enabled check cannot judge, healthy otherwise.
 * "Unknown" is never "healthy": a scan that failed, a stale API view or a missing log directory
 * says so instead of vouching for the node.
 */
import type { DesiredCondition } from '../lib/kube/conditions.ts';
import type { DriftItem, JudgeResult } from '../lib/kube/drift-judgement.ts';
import type { Finding } from '../lib/kubeproxy/findings.ts';

/** The checks, in the order /health lists them (a metrics label: never rename). */
export const CHECK_NAMES = ['rules', 'kube-proxy-logs', 'cni-logs', 'api', 'kube-proxy'] as const;
/** A check's name. */
export type CheckName = (typeof CHECK_NAMES)[number];
/** A status (a metrics label value). */
export type Status = 'healthy' | 'unhealthy' | 'unknown';
/** Every status. */
export const STATUSES: readonly Status[] = ['healthy', 'unhealthy', 'unknown'];

/** One check's result. */
export interface CheckResult {
  readonly name: CheckName;
  /** False when the check is switched off (not counted, not exported as a status). */
  readonly enabled: boolean;
  readonly status: Status;
  readonly reason: string;
  readonly message: string;
}

/** The node's verdict. */
export interface NodeVerdict {
  readonly status: Status;
  readonly checks: readonly CheckResult[];
  /** `check: Reason: message` for every enabled check that is not healthy. */
  readonly reasons: readonly string[];
}

/** Log classes that make each log check unhealthy while active (the others are only counted). */
export const LOG_CHECK_CLASSES: Readonly<Record<'kube-proxy-logs' | 'cni-logs', readonly string[]>> = Object.freeze({
  'kube-proxy-logs': ['proxy-sync-failure', 'proxy-startup-failure'],
  'cni-logs': ['cni-api-unreachable', 'cni-api-unauthorized', 'cni-ipam-exhausted', 'cni-not-ready', 'cni-sandbox-failure', 'cni-dataplane-sync-failure', 'bgp-peer-down'],
});

/** Composes the node's verdict. */
export function composeVerdict(checks: readonly CheckResult[]): NodeVerdict {
  const on = checks.filter((c) => c.enabled);
  const status: Status = on.some((c) => c.status === 'unhealthy') ? 'unhealthy' : on.some((c) => c.status === 'unknown') ? 'unknown' : 'healthy';
  const reasons = on.filter((c) => c.status !== 'healthy').map((c) => `${c.name}: ${c.reason}: ${c.message}`);
  return { status, checks, reasons };
}

/** The stable identity of a finding across scans (for persistence): kind+service+port+protocol+endpoint+chain+family. */
export function findingKey(f: Finding): string {
  return [f.kind, f.service ?? '', f.port ?? '', f.protocol ?? '', f.endpoint ?? '', f.chain ?? '', f.family].join('|');
}

/** The drift items of a check result: its error findings (warnings never make drift). */
export function driftItems(findings: readonly Finding[]): DriftItem[] {
  return findings.filter((f) => f.severity === 'error').map((f) => ({
    key: findingKey(f),
    ...(f.service === undefined ? {} : { service: f.service }),
    detail: [f.kind, f.service, f.endpoint ?? f.chain].filter((x) => x !== undefined).join(' '),
  }));
}

/** What the rules loop last saw. */
export interface RulesInput {
  readonly judgement: JudgeResult | undefined;
  /** The last scan's error, when it failed (code and message). */
  readonly error: { code: string; message: string } | undefined;
  /** When the last judgement was made. */
  readonly judgedAt: number | undefined;
  readonly now: number;
  /** A judgement older than this is stale. */
  readonly staleAfterMs: number;
}

/** The rules check. */
export function rulesCheck(i: RulesInput): CheckResult {
  const base = { name: 'rules' as const, enabled: true };
  if (i.error !== undefined) return { ...base, status: 'unknown', reason: 'ScanFailed', message: `${i.error.message} [${i.error.code}]` };
  if (i.judgement === undefined || i.judgedAt === undefined) return { ...base, status: 'unknown', reason: 'NotJudgedYet', message: 'The first scan has not finished yet.' };
  if (i.now - i.judgedAt > i.staleAfterMs) {
    return { ...base, status: 'unknown', reason: 'ScanStale', message: `The last scan finished ${Math.round((i.now - i.judgedAt) / 1000)} s ago; scans seem stuck.` };
  }
  return { ...base, ...fromCondition(i.judgement.condition) };
}

/** State of the cluster source. */
export interface ApiInput {
  readonly kind: 'api' | 'file';
  /** fresh: judgeable; the others say why not. */
  readonly state: 'fresh' | 'syncing' | 'stalled' | 'api-unreachable' | 'invalid';
  readonly message: string;
}

/** The api check (the cluster view drift is judged against). */
export function apiCheck(i: ApiInput): CheckResult {
  const base = { name: 'api' as const, enabled: true };
  const reasons = { fresh: 'ViewFresh', syncing: 'NotSyncedYet', stalled: 'APIViewStale', 'api-unreachable': 'APIUnreachable', invalid: 'ClusterFileInvalid' } as const;
  return { ...base, status: i.state === 'fresh' ? 'healthy' : 'unknown', reason: reasons[i.state], message: i.message };
}

/** What the log loop knows for one log check. */
export interface LogInput {
  readonly name: 'kube-proxy-logs' | 'cni-logs';
  readonly enabled: boolean;
  /** Active classes (after hysteresis) with their severity. */
  readonly active: readonly { class: string; severity: string }[];
  /** Configured sources that are missing or unreadable (path: why). */
  readonly missing: readonly string[];
}

/** A log check. */
export function logCheck(i: LogInput): CheckResult {
  const base = { name: i.name, enabled: i.enabled };
  const mine = i.active.filter((a) => LOG_CHECK_CLASSES[i.name].includes(a.class));
  if (mine.length > 0) {
    return { ...base, status: 'unhealthy', reason: 'LogSignalActive', message: `Repeated log lines of class ${mine.map((a) => `${a.class} (${a.severity})`).join(', ')}.` };
  }
  if (i.missing.length > 0) return { ...base, status: 'unknown', reason: 'LogSourceMissing', message: `Cannot read ${i.missing.join('; ')}.` };
  return { ...base, status: 'healthy', reason: 'NoFailureLogged', message: 'No repeated failure lines.' };
}

/** The kube-proxy check, from the KubeProxySyncFailing condition of the last scrape. */
export function kubeProxyCheck(enabled: boolean, condition: DesiredCondition | undefined): CheckResult {
  const base = { name: 'kube-proxy' as const, enabled };
  if (condition === undefined) return { ...base, status: 'unknown', reason: 'NotScrapedYet', message: "kube-proxy's metrics have not been read yet." };
  return { ...base, ...fromCondition(condition) };
}

// NPD polarity: a condition True means the problem is present.
function fromCondition(c: DesiredCondition): { status: Status; reason: string; message: string } {
  const status: Status = c.status === 'True' ? 'unhealthy' : c.status === 'False' ? 'healthy' : 'unknown';
  return { status, reason: c.reason, message: c.message };
}
