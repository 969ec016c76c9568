/**
 * Pure: whether to add, keep or remove the agent's taint. Off by default; opt-in per condition;
 * `NoSchedule` unless configured. The guard rails exist because the failure that makes one
 * node look broken often makes every node look broken (the Wikimedia 2021 restart, the
 * Multus/Calico outage): a tool that taints all nodes at once turns a partial outage into a
 * full one.
 *
 * - Never taint on a stale view of the API (the verdict may be wrong).
 * - Never taint when `max(minTaintedAllowed, floor(maxTaintedShare × nodes))` other nodes
 *   already carry the taint.
 * - Remove the taint when every opt-in condition is False again; hold it while any is Unknown.
 * - Only a taint with our key and the configured effect is ours; never touch any other.
 */
import { isOwnedConditionType, TAINT_KEY, type ConditionType, type DesiredCondition, type TaintEffect } from './conditions.ts';
import { agentError } from '../errors.ts';

/** Taint settings. */
export interface TaintPolicy {
  /** Master switch. Default false: conditions only. */
  enabled: boolean;
  /** Log (and emit an event for) what would be done, without doing it. Default true. */
  dryRun: boolean;
  /** Conditions that may taint the node when True. Default none. */
  conditionTypes: readonly ConditionType[];
  /** Default `NoSchedule`. */
  effect: TaintEffect;
  /** Share of all nodes that may carry the taint at once. Default 0.1. */
  maxTaintedShare: number;
  /** Floor of the budget, so small clusters can still taint one node. Default 1. */
  minTaintedAllowed: number;
}

/** The defaults: nothing is ever tainted. */
export const DEFAULT_TAINT_POLICY: TaintPolicy = Object.freeze({
  enabled: false,
  dryRun: true,
  conditionTypes: [],
  effect: 'NoSchedule',
  maxTaintedShare: 0.1,
  minTaintedAllowed: 1,
});

/** Throws a coded error for impossible settings. */
export function validateTaintPolicy(p: TaintPolicy): TaintPolicy {
  if (!(p.maxTaintedShare >= 0 && p.maxTaintedShare <= 1)) {
    throw agentError('DPS_ERR_KUBE_OPTIONS', `Expected the taint maxTaintedShare to be between 0 and 1, got ${p.maxTaintedShare}.`, { where: 'taints.maxTaintedShare' });
  }
  if (!Number.isInteger(p.minTaintedAllowed) || p.minTaintedAllowed < 0) {
    throw agentError('DPS_ERR_KUBE_OPTIONS', `Expected the taint minTaintedAllowed to be a whole number ≥ 0, got ${p.minTaintedAllowed}.`, { where: 'taints.minTaintedAllowed' });
  }
  if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(p.effect)) {
    throw agentError('DPS_ERR_KUBE_OPTIONS', `Expected the taint effect to be NoSchedule, PreferNoSchedule or NoExecute, got ${p.effect}.`, { where: 'taints.effect' });
  }
  return p;
}

/**
 * The `taints` section of the agent's config file (a mapping with the fields of
 * {@link TaintPolicy}, each optional) → a new, validated policy over the defaults. Throws one
 * DPS_ERR_KUBE_OPTIONS naming every bad field; `where` prefixes the names (e.g. `config.yaml: taints`).
 */
export function parseTaintPolicy(section: unknown, where = 'taints'): TaintPolicy {
  section ??= {}; // no section: the defaults
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw agentError('DPS_ERR_KUBE_OPTIONS', `Expected \`${where}\` to be a mapping, got ${Array.isArray(section) ? 'a list' : typeof section}.`, { where });
  }
  const raw = section as Record<string, unknown>;
  const errors: string[] = [];
  const known = Object.keys(DEFAULT_TAINT_POLICY);
  for (const key of Object.keys(raw)) if (!known.includes(key)) errors.push(`\`${key}\` is not a taint option (${known.join(', ')})`);
  for (const key of ['enabled', 'dryRun'] as const) if (raw[key] !== undefined && typeof raw[key] !== 'boolean') errors.push(`${key}: expected true or false, got ${JSON.stringify(raw[key])}`);
  for (const key of ['maxTaintedShare', 'minTaintedAllowed'] as const) if (raw[key] !== undefined && typeof raw[key] !== 'number') errors.push(`${key}: expected a number, got ${JSON.stringify(raw[key])}`);
  const types = raw.conditionTypes;
  if (types !== undefined && !(Array.isArray(types) && types.every((c) => typeof c === 'string' && isOwnedConditionType(c)))) {
    errors.push(`conditionTypes: expected a list of this agent's condition types, got ${JSON.stringify(types)}`);
  }
  if (errors.length > 0) throw agentError('DPS_ERR_KUBE_OPTIONS', `Invalid \`${where}\`: ${errors.join('; ')}.`, { where });
  return validateTaintPolicy({ ...DEFAULT_TAINT_POLICY, conditionTypes: [], ...(raw as Partial<TaintPolicy>) });
}

/** A taint as on the Node. */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** Other nodes' taints, counted for the budget. */
export interface ClusterTaintCount {
  /** All nodes in the cluster. */
  nodes: number;
  /** Other nodes (not this one) that carry a taint with our key. */
  tainted: number;
}

/** What to do. */
export type TaintDecision =
  | { action: 'none'; reason: string }
  | { action: 'need-cluster-count' }
  | { action: 'add'; taint: Taint; reason: string }
  | { action: 'remove'; taint: Taint; reason: string }
  | { action: 'skip'; reason: 'StaleView' | 'TaintBudgetExhausted'; message: string };

/** The taint this agent owns on the node, if present. */
export function ownedTaint(taints: readonly Taint[] | undefined, effect: TaintEffect): Taint | undefined {
  return taints?.find((t) => t.key === TAINT_KEY && t.effect === effect);
}

/** How many other nodes may carry the taint at once. */
export function taintBudget(nodes: number, policy: Pick<TaintPolicy, 'maxTaintedShare' | 'minTaintedAllowed'>): number {
  return Math.max(policy.minTaintedAllowed, Math.floor(policy.maxTaintedShare * nodes));
}

/** Decides one step. Call again with `cluster` when the answer is `need-cluster-count`. */
export function decideTaint(input: {
  policy: TaintPolicy;
  conditions: readonly DesiredCondition[];
  viewFresh: boolean;
  nodeTaints: readonly Taint[] | undefined;
  cluster?: ClusterTaintCount | undefined;
}): TaintDecision {
  const { policy } = input;
  if (!policy.enabled || policy.conditionTypes.length === 0) return { action: 'none', reason: 'TaintsDisabled' };
  const optIn = input.conditions.filter((c) => policy.conditionTypes.includes(c.type));
  const triggering = policy.conditionTypes.map((t) => optIn.find((c) => c.type === t && c.status === 'True')).filter((c) => c !== undefined);
  const unknown = optIn.some((c) => c.status === 'Unknown');
  const owned = ownedTaint(input.nodeTaints, policy.effect);

  if (!input.viewFresh) {
    if (triggering.length > 0 && !owned) {
      return { action: 'skip', reason: 'StaleView', message: "The agent's view of the API is stale: not tainting on a verdict that may be wrong." };
    }
    return { action: 'none', reason: 'StaleViewHold' };
  }
  if (triggering.length > 0) {
    if (owned) return { action: 'none', reason: 'AlreadyTainted' };
    if (!input.cluster) return { action: 'need-cluster-count' };
    const budget = taintBudget(input.cluster.nodes, policy);
    if (input.cluster.tainted >= budget) {
      return {
        action: 'skip',
        reason: 'TaintBudgetExhausted',
        message: `${input.cluster.tainted} of ${input.cluster.nodes} nodes already carry ${TAINT_KEY} (limit ${budget}): not tainting; a cluster-wide problem is more likely than a node problem.`,
      };
    }
    const first = triggering[0]!;
    return { action: 'add', taint: { key: TAINT_KEY, value: first.type, effect: policy.effect }, reason: first.reason };
  }
  if (owned) {
    if (unknown) return { action: 'none', reason: 'UnknownHold' };
    return { action: 'remove', taint: owned, reason: 'Recovered' };
  }
  return { action: 'none', reason: 'Healthy' };
}
