/**
 * Pure: turns the differences found by one scan into the ServiceRulesDrift verdict, tolerating
 * kube-proxy's legitimate lag.
 *
 * 1. A view of the API that is not fresh is never judged: Unknown (APIViewStale or
 *    APIUnreachable), never a false alarm. Persistence counts are kept, not advanced.
 * 2. Grace: a difference on a Service whose Service or EndpointSlices changed less than
 *    `graceMs` ago is "pending": kube-proxy may not have synced it yet. Its count restarts.
 * 3. Persistence: a difference must be seen in `persistScans` consecutive scans before it counts.
 * 4. Hysteresis: once True, the condition stays True while unconfirmed differences remain, and
 *    clears on the first scan with no difference at all.
 */
import { CONDITION_TYPES, REASONS, type ConditionStatus, type DesiredCondition } from './conditions.ts';
import type { FreshnessState } from './freshness.ts';

/**
 * kube-proxy defaults (iptables and nftables modes): `--iptables-min-sync-period` 1 s
 * (a burst of changes is applied at most once a second) and `--iptables-sync-period` 30 s (the
 * longest a healthy kube-proxy goes without re-syncing). A change seen by the agent at t must
 * therefore be programmed by t + 1 s + 30 s; 4 s more covers the two watches (ours and
 * kube-proxy's) seeing the change at slightly different times and the restore itself.
 */
export const KUBE_PROXY_DEFAULTS = Object.freeze({ minSyncPeriodMs: 1000, syncPeriodMs: 30_000 });

/** Judgement settings. */
export interface JudgementOptions {
  /** A Service changed less than this ago is not judged. Default 35 s (see {@link KUBE_PROXY_DEFAULTS}). */
  graceMs: number;
  /** Consecutive scans a difference must persist. Default 3. */
  persistScans: number;
}

/** Grace from kube-proxy's own settings, plus slack for watch skew and restore time. */
export function graceFor(minSyncPeriodMs: number, syncPeriodMs: number, slackMs = 4000): number {
  return minSyncPeriodMs + syncPeriodMs + slackMs;
}

/** The defaults. */
export const DEFAULT_JUDGEMENT: JudgementOptions = Object.freeze({
  graceMs: graceFor(KUBE_PROXY_DEFAULTS.minSyncPeriodMs, KUBE_PROXY_DEFAULTS.syncPeriodMs),
  persistScans: 3,
});

/** One difference found by a scan (from lib/kubeproxy's diff). */
export interface DriftItem {
  /** Stable identity across scans, e.g. `ns/svc:port/tcp missing-sep 10.0.0.1:8080`. */
  key: string;
  /** The Service it belongs to (`namespace/name`), when known: used for the grace period. */
  service?: string;
  /** Short human text for the message. */
  detail?: string;
}

/** Carried from scan to scan: consecutive sightings per drift key. */
export interface DriftHistory {
  counts: ReadonlyMap<string, number>;
  status: ConditionStatus | undefined;
}

/** An empty history (agent start). */
export const EMPTY_HISTORY: DriftHistory = Object.freeze({ counts: new Map<string, number>(), status: undefined });

/** Input of one judgement. */
export interface JudgeInput {
  drifts: readonly DriftItem[];
  now: number;
  view: { judgeable: boolean; state: FreshnessState };
  serviceChangedAt: ReadonlyMap<string, number>;
  history: DriftHistory;
}

/** Result of one judgement. */
export interface JudgeResult {
  condition: DesiredCondition;
  history: DriftHistory;
  /** Persisted beyond grace and N scans. */
  confirmed: DriftItem[];
  /** On a Service changed within the grace period. */
  pending: DriftItem[];
  /** Seen, but fewer than N scans in a row. */
  accruing: DriftItem[];
}

// "a, b, c and 4 more".
function examples(items: readonly DriftItem[], n = 3): string {
  const shown = items.slice(0, n).map((d) => d.detail ?? d.key);
  return items.length > n ? `${shown.join('; ')} and ${items.length - n} more` : shown.join('; ');
}

/** Judges one scan. */
export function judgeDrift(input: JudgeInput, options: JudgementOptions = DEFAULT_JUDGEMENT): JudgeResult {
  const type = CONDITION_TYPES.serviceRulesDrift;
  if (!input.view.judgeable) {
    const unreachable = input.view.state === 'api-unreachable';
    return {
      condition: {
        type,
        status: 'Unknown',
        reason: unreachable ? REASONS.apiUnreachable : REASONS.apiViewStale,
        message: unreachable
          ? 'The Kubernetes API cannot be reached; the last view is kept but drift is not judged on it.'
          : `The view of the Kubernetes API is ${input.view.state}; drift is not judged until it is fresh again.`,
      },
      history: { counts: input.history.counts, status: 'Unknown' },
      confirmed: [],
      pending: [],
      accruing: [],
    };
  }
  const counts = new Map<string, number>();
  const confirmed: DriftItem[] = [];
  const pending: DriftItem[] = [];
  const accruing: DriftItem[] = [];
  for (const d of input.drifts) {
    const changed = d.service === undefined ? undefined : input.serviceChangedAt.get(d.service);
    if (changed !== undefined && input.now - changed < options.graceMs) {
      pending.push(d);
      continue;
    }
    const n = (input.history.counts.get(d.key) ?? 0) + 1;
    counts.set(d.key, n);
    (n >= options.persistScans ? confirmed : accruing).push(d);
  }
  let condition: DesiredCondition;
  if (confirmed.length > 0) {
    condition = {
      type,
      status: 'True',
      reason: 'RulesOutOfSync',
      message: `${confirmed.length} difference(s) between kube-proxy's rules and the API persisted for ${options.persistScans} scans: ${examples(confirmed)}.`,
    };
  } else if (input.drifts.length === 0) {
    condition = { type, status: 'False', reason: 'RulesInSync', message: "kube-proxy's rules match the Services and EndpointSlices in the API." };
  } else if (input.history.status === 'True') {
    // Hysteresis: unconfirmed differences do not clear a standing alarm.
    condition = {
      type,
      status: 'True',
      reason: 'RulesOutOfSync',
      message: `${input.drifts.length} difference(s) remain (${pending.length} within the sync grace period): ${examples(input.drifts)}.`,
    };
  } else {
    condition = {
      type,
      status: 'False',
      reason: pending.length > 0 ? REASONS.withinSyncGrace : 'DriftNotConfirmed',
      message: `${input.drifts.length} difference(s) not yet confirmed (${pending.length} within the ${Math.round(options.graceMs / 1000)} s sync grace period, ${accruing.length} seen in fewer than ${options.persistScans} scans).`,
    };
  }
  return { condition, history: { counts, status: condition.status }, confirmed, pending, accruing };
}
