/**
 * Pure: the condition half of the NPD-style condition manager. Given what is on the Node and
 * what the agent wants, compute the strategic-merge patch of `nodes/status` (only our types;
 * `status.conditions` merges by `type`, so kubelet's conditions are never touched), the
 * transitions that deserve an Event, and the new remembered state.
 *
 * Lessons carried over from node-problem-detector:
 * - #304: a restart must not reset conditions. The reporter seeds its state from the Node, writes
 *   nothing until the agent has a real verdict, and keeps `lastTransitionTime` when the status
 *   did not change, so a restart is invisible.
 * - #215: a condition must be able to clear. A False verdict clears it; an owned type the agent no
 *   longer reports is deleted (`$patch: delete`) instead of lingering forever.
 */
import { isOwnedConditionType, type ConditionStatus, type DesiredCondition } from './conditions.ts';

/** A condition as stored on the Node. */
export interface NodeCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  lastHeartbeatTime: string;
}

/** A status change worth an Event. */
export interface Transition {
  type: string;
  from: ConditionStatus | undefined;
  to: ConditionStatus;
  reason: string;
  message: string;
}

/** Output of {@link planConditions}. */
export interface ConditionPlan {
  /** The patch body for `nodes/{name}/status`, or undefined when nothing needs writing. */
  patch: { status: { conditions: object[] } } | undefined;
  /** Why the patch is sent: `changed`, `heartbeat`, or both. */
  why: string[];
  transitions: Transition[];
  /** Our conditions as they will be after the patch. */
  next: NodeCondition[];
}

/** RFC 3339 without fractional seconds, as the API prints times. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// A time as the API prints it, from a string or the client's Date.
function timeString(v: unknown): string {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : rfc3339(v.getTime());
  return typeof v === 'string' ? v : '';
}

/** Our conditions among a Node's `status.conditions` (anything else is ignored). */
export function ownedConditions(conditions: readonly unknown[] | undefined): NodeCondition[] {
  const out: NodeCondition[] = [];
  for (const c of conditions ?? []) {
    const x = c as Partial<NodeCondition> | null;
    if (!x || typeof x.type !== 'string' || !isOwnedConditionType(x.type)) continue;
    const status = x.status === 'True' || x.status === 'False' ? x.status : 'Unknown';
    out.push({
      type: x.type,
      status,
      reason: String(x.reason ?? ''),
      message: String(x.message ?? ''),
      lastTransitionTime: timeString(x.lastTransitionTime),
      lastHeartbeatTime: timeString(x.lastHeartbeatTime),
    });
  }
  return out;
}

/** Plans one write. `heartbeatDue` forces a patch even when nothing changed. */
export function planConditions(input: {
  current: readonly NodeCondition[];
  desired: readonly DesiredCondition[];
  now: number;
  heartbeatDue: boolean;
}): ConditionPlan {
  const now = rfc3339(input.now);
  const next: NodeCondition[] = [];
  const transitions: Transition[] = [];
  let changed = false;
  const seen = new Set<string>();
  for (const d of input.desired) {
    if (seen.has(d.type)) continue; // first one wins; duplicates are a caller bug
    seen.add(d.type);
    const cur = input.current.find((c) => c.type === d.type);
    const statusChanged = cur === undefined || cur.status !== d.status;
    if (statusChanged || cur.reason !== d.reason || cur.message !== d.message) changed = true;
    if (statusChanged && !(cur === undefined && d.status === 'False')) {
      transitions.push({ type: d.type, from: cur?.status, to: d.status, reason: d.reason, message: d.message });
    }
    next.push({
      type: d.type,
      status: d.status,
      reason: d.reason,
      message: d.message,
      lastTransitionTime: statusChanged || !cur.lastTransitionTime ? now : cur.lastTransitionTime,
      lastHeartbeatTime: now,
    });
  }
  const removed = input.current.filter((c) => !seen.has(c.type));
  if (removed.length > 0) changed = true;
  const why = [...(changed ? ['changed'] : []), ...(input.heartbeatDue ? ['heartbeat'] : [])];
  if (why.length === 0) {
    // Nothing to write: keep the remembered heartbeat times.
    return { patch: undefined, why, transitions, next: input.current.filter((c) => seen.has(c.type)) };
  }
  const conditions: object[] = [...next, ...removed.map((c) => ({ type: c.type, $patch: 'delete' }))];
  return { patch: { status: { conditions } }, why, transitions, next };
}
