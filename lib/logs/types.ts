/**
 * The log-signal domain: plain data shared by the decoders, the classifier, the followers and
 * the signal state. No I/O and no Node types here.
 */

/** The built-in failure classes (user rules may add more, so a class is a string). */
export const BUILTIN_CLASSES = [
  'proxy-sync-failure',
  'xtables-lock',
  'proxy-startup-failure',
  'cni-api-unreachable',
  'cni-api-unauthorized',
  'cni-ipam-exhausted',
  'cni-not-ready',
  'cni-sandbox-failure',
  'cni-dataplane-sync-failure',
  'bgp-peer-down',
  'apiserver-unreachable',
  'conntrack-full',
  'dns-upstream-timeout',
] as const;

/** How bad a match is for the node's dataplane. */
export type Severity = 'critical' | 'warning' | 'info';

/** The severities, most severe first. */
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/**
 * Who wrote a line: a known component name (`kube-proxy`, `calico-node`, `calico-cni`, `kubelet`,
 * `kernel`, ...), a container name for unknown containers, or `unknown`.
 */
export type Component = string;

/** One logical log line after unwrapping (CRI, json-file, journald) and joining partial records. */
export interface LogRecord {
  /** The payload (what the program wrote), without the wrapper. */
  message: string;
  /** The wrapper's time (RFC 3339) when the wrapper has one, else undefined. */
  time: string | undefined;
  /** The component that wrote it. */
  component: Component;
}

/** A rule as users write it in the config file (and as the built-ins are written). */
export interface RuleData {
  /** Stable rule id, e.g. `kube-proxy-iptables-restore-failed`; a user rule with the same id overrides. */
  id: string;
  /** The class a match is counted under. */
  class: string;
  /** Severity of a match. */
  severity: Severity;
  /** Components the rule applies to; `*` means any. */
  components: readonly string[];
  /** JavaScript regular expression source, unanchored. */
  pattern: string;
  /** Regular expression flags (only `i` and `u` make sense; default none). */
  flags?: string;
  /** A regular expression that, when it also matches, vetoes this rule. */
  unless?: string;
  /** False disables a rule (used to switch off a built-in by id). */
  enabled?: boolean;
  /** One sentence: what the line means for the dataplane and where it was seen. */
  description?: string;
}

/** A classified record. */
export interface LogMatch {
  /** The rule id that matched. */
  rule: string;
  /** The failure class. */
  class: string;
  /** The severity from the rule. */
  severity: Severity;
  /** The component that wrote the line. */
  component: Component;
  /** The payload time or wrapper time, RFC 3339 when known. */
  time: string | undefined;
  /** The payload message (continuation lines of a block joined with `\n`). */
  message: string;
}
