/**
 * The vocabulary dataplane-sentinel writes to its Node: condition types, reasons, the taint
 * key and event reasons. These names are a contract with operators (alerts, `kubectl describe
 * node`), with node-readiness-controller rules and with deploy/base/admission-policy.yaml,
 * which confines the agent's writes to exactly the types and the taint key listed here
 * (test/lib/kube/conditions.test.ts keeps the two in sync). Never rename one; add new ones.
 *
 * NPD style: one type per problem class, problem polarity (`True` = the problem is present,
 * `False` = checked and fine, `Unknown` = cannot judge), CamelCase reasons, a human message.
 */

/** Condition types owned by this agent, one per problem class. */
export const CONDITION_TYPES = {
  /** kube-proxy's rules on this node differ from the Services/EndpointSlices in the API. */
  serviceRulesDrift: 'ServiceRulesDrift',
  /** kube-proxy reports failed or lagging syncs (its own metrics and /livez). */
  kubeProxySyncFailing: 'KubeProxySyncFailing',
  /** The CNI plugin logs failures (pod network setup/teardown). */
  cniFailing: 'CNIFailing',
  /** kube-proxy and kubelet versions are outside the supported skew policy. */
  kubeProxyVersionSkew: 'KubeProxyVersionSkew',
} as const;

/** One of the condition types this agent owns. */
export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/** Every owned type, in a stable order (the admission policy lists exactly these). */
export const OWNED_CONDITION_TYPES: readonly ConditionType[] = Object.freeze(Object.values(CONDITION_TYPES));

/** True when `type` is one of ours; the reporter never writes or deletes any other type. */
export function isOwnedConditionType(type: string): type is ConditionType {
  return (OWNED_CONDITION_TYPES as readonly string[]).includes(type);
}

/** Condition status as the API spells it. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** What the agent wants a condition to say: plain data, no timestamps. */
export interface DesiredCondition {
  type: ConditionType;
  status: ConditionStatus;
  /** CamelCase, machine-readable (see {@link REASONS}). */
  reason: string;
  /** One sentence for humans. */
  message: string;
}

/**
 * Reasons used by lib/kube itself. Monitors may use others, as long as they are CamelCase
 * (checked by {@link isValidReason}).
 */
export const REASONS = {
  /** The view of the API is older than the freshness limit: no verdict is better than a false one. */
  apiViewStale: 'APIViewStale',
  /** The API cannot be reached at all (list/watch failing). */
  apiUnreachable: 'APIUnreachable',
  /** A change was seen in the API less than the grace period ago: kube-proxy may still be syncing. */
  withinSyncGrace: 'WithinSyncGrace',
  /** kube-proxy and kubelet versions are within the supported skew. */
  versionSkewSupported: 'VersionSkewSupported',
  /** kube-proxy is more minor versions away from kubelet than the policy allows. */
  versionSkewUnsupported: 'VersionSkewUnsupported',
  /** A version could not be read or parsed. */
  versionUnknown: 'VersionUnknown',
  /** kube-proxy's iptables-restore failures increased since the last scrape. */
  restoreFailing: 'IptablesRestoreFailing',
  /** kube-proxy has queued changes it has not synced for longer than allowed. */
  syncLagging: 'SyncLagging',
  /** kube-proxy's /livez reports unhealthy. */
  livezFailing: 'LivezFailing',
  /** kube-proxy's metrics and /livez look healthy. */
  syncHealthy: 'SyncHealthy',
  /** kube-proxy's metrics endpoint could not be read. */
  metricsUnavailable: 'MetricsUnavailable',
} as const;

/** CamelCase, starting with an upper-case letter, as the API conventions ask for reasons. */
export function isValidReason(reason: string): boolean {
  return /^[A-Z][A-Za-z0-9]*$/.test(reason) && reason.length <= 128;
}

/**
 * The taint key this agent owns. Its value is the condition type that caused it; its effect
 * is `NoSchedule` unless configured otherwise. The agent never touches taints with another key.
 */
export const TAINT_KEY = 'dataplane.sentinel.io/unhealthy';

/** Effects a taint may have. */
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** Event reasons emitted on the Node (besides the condition reasons of transitions). */
export const EVENT_REASONS = {
  /** An owned taint was added. */
  taintAdded: 'DataplaneTaintAdded',
  /** An owned taint was removed because the node is healthy again. */
  taintRemoved: 'DataplaneTaintRemoved',
  /** A taint was wanted but a guard rail refused it (stale view, too many tainted nodes). */
  taintSkipped: 'DataplaneTaintSkipped',
  /** Dry run: the taint change that would have been made. */
  taintDryRun: 'DataplaneTaintDryRun',
} as const;

/** The component name written in events' `source` and `reportingController`. */
export const REPORTING_COMPONENT = 'dataplane-sentinel';
/** Field manager name on every write (shows up in managedFields). */
export const FIELD_MANAGER = 'dataplane-sentinel';
