/**
 * The error catalog. Every error the product raises on purpose carries a stable `code`
 * (`DPS_ERR_<AREA>_<WHAT>`), a message that says what was expected and what was found,
 * a `hint` that says what to do, and the underlying `cause` when there is one.
 * Codes are a contract: never rename or reuse one.
 */

/** Options accepted by every coded error. */
export interface AgentErrorOptions {
  /** The underlying error, kept for logs (pino's `err` serializer prints it). */
  cause?: unknown;
  /** Where the problem is: a file, a file:line, an object, a flag. */
  where?: string;
  /** What the user should do about it. */
  hint?: string;
}

/** Base class of all coded errors. */
export class AgentError extends Error {
  /** Stable machine-readable code, e.g. `DPS_ERR_RULES_TRUNCATED`. */
  readonly code: string;
  /** Where the problem is (file, file:line, object), when known. */
  readonly where: string | undefined;
  /** What to do about it. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
  }
}

/** True for any error raised through this catalog (works across module copies). */
export function isAgentError(value: unknown): value is AgentError {
  if (!(value instanceof Error)) return false;
  const code: unknown = (value as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('DPS_ERR_');
}

/** One line for humans: `where: message (code). hint`. */
export function formatError(error: unknown): string {
  if (isAgentError(error)) {
    const where = error.where === undefined ? '' : `${error.where}: `;
    const hint = error.hint === undefined ? '' : `\n  hint: ${error.hint}`;
    return `${where}${error.message} [${error.code}]${hint}`;
  }
  if (error instanceof Error) return `${error.message} [DPS_ERR_INTERNAL]`;
  return `${String(error)} [DPS_ERR_INTERNAL]`;
}

/**
 * The catalog: code → default hint. Tests check that codes are unique and documented in the
 * README. Areas: USAGE (command line), RULES (iptables-save input), CLUSTER (API objects),
 * CONFIG (agent configuration), LOGS (log sources), KUBE (API access), EXEC (external commands).
 */
export const ERROR_CODES = {
  DPS_ERR_USAGE: 'Run `dataplane-sentinel --help` for the commands and their flags.',
  DPS_ERR_INPUT_READ: 'Check that the path exists and is readable.',
  DPS_ERR_RULES_EMPTY: 'Pass the output of `iptables-save` (all tables); an empty dump cannot be checked.',
  DPS_ERR_RULES_TRUNCATED: 'The dump ends inside a table: capture it again with `iptables-save > FILE` and make sure the command finished.',
  DPS_ERR_RULES_SYNTAX: 'The input is not iptables-save output: capture it with `iptables-save` (or `ip6tables-save`), unedited.',
  DPS_ERR_RULES_CRLF: "Convert the line ends and run again: `tr -d '\\r' < FILE > FILE.unix` (or dos2unix), or capture the dump again with iptables-save.",
  DPS_ERR_RULES_BINARY: 'The input contains binary data: pass the text output of `iptables-save`.',
  DPS_ERR_RULES_LINE_TOO_LONG: 'A line is longer than any real rule: check that the file is an iptables-save dump.',
  DPS_ERR_RULES_PROXY_MODE: 'dataplane-sentinel checks kube-proxy in iptables mode; ipvs and nftables modes are not supported yet.',
  DPS_ERR_RULES_FAMILY: 'Pass iptables-save output as --rules and ip6tables-save output as --rules6.',
  DPS_ERR_CLUSTER_SYNTAX: 'Pass what `kubectl get services,endpointslices -A -o json` (or -o yaml) prints.',
  DPS_ERR_CLUSTER_NOT_KUBERNETES: 'The file holds no Kubernetes objects: pass `kubectl get services,endpointslices -A -o json` output.',
  DPS_ERR_CLUSTER_EMPTY: 'No Services were found: include services and endpointslices from all namespaces (-A).',
  DPS_ERR_CLUSTER_INVALID: 'Fix or remove the objects listed; they are not valid Services or EndpointSlices.',
  DPS_ERR_INTERNAL: 'This is a bug: please report it with the input that caused it.',

  // ---- LOGS (log sources and rules; lib/logs) ----
  DPS_ERR_LOGS_RULE_INVALID: 'Fix or remove the named rule in the config file: it needs id, class, severity (critical|warning|info), components and a valid JavaScript regular expression.',
  DPS_ERR_LOGS_CONFIG_INVALID: 'Fix the `logs` section of the config file; docs/log-signals.md lists every option with its type and default.',
  DPS_ERR_LOGS_SOURCE_MISSING: 'Nothing to do if the component is not installed yet: the path is watched until it appears. Otherwise check the hostPath mounts of the DaemonSet.',
  DPS_ERR_LOGS_PERMISSION: 'Run the agent with read access to the host log directories (root, or a hostPath mount readable by its user).',
  DPS_ERR_LOGS_NOT_A_FILE: 'The configured path is a directory (or another non-file): point the source at the log file, or at a glob.',
  DPS_ERR_LOGS_READ: 'Check the file system holding the logs; the source is retried.',
  DPS_ERR_LOGS_GZIP: 'The rotated .gz file is corrupt or still being written; its lines could not all be read.',
  DPS_ERR_LOGS_STATE_CORRUPT: 'The read-position state file is not valid JSON of the expected shape: it was ignored and will be rewritten. Delete it to silence this.',
  DPS_ERR_LOGS_STATE_OTHER_NODE: 'The state file was written on another node (hostPath reused or copied): it was ignored and will be rewritten.',
  DPS_ERR_LOGS_STATE_WRITE: 'Check that the state directory (default /var/lib/dataplane-sentinel) is a writable hostPath; read positions are kept in memory meanwhile.',
  DPS_ERR_LOGS_JOURNAL: 'Check that journalctl is installed in the image and that /var/log/journal and /run/log/journal are mounted; the journal follower is restarted with backoff.',

  // ---- KUBE (API access and node reporting; lib/kube) ----
  DPS_ERR_KUBE_CONFIG: 'Pass --api-server https://HOST:6443 (a direct address, not the `kubernetes` Service), mount the host kubeconfig, or run in a pod with a service account.',
  DPS_ERR_KUBE_UNREACHABLE: 'Check the API server address and the network path from this node (firewall, the API server itself); the agent keeps its last view meanwhile.',
  DPS_ERR_KUBE_FORBIDDEN: 'Apply deploy/base/rbac.yaml and deploy/base/admission-policy.yaml, and check the DaemonSet uses the dataplane-sentinel service account.',
  DPS_ERR_KUBE_PATCH_FAILED: 'The node patch was rejected or failed: check the API server logs and the admission policy; the reporter retries.',
  DPS_ERR_KUBE_OPTIONS: 'Fix the named option; see docs/kubernetes.md for valid values and defaults.',

  // ---- AGENT (config, scheduling, HTTP; agent/) ----
  DPS_ERR_AGENT_CONFIG: 'Fix the listed settings (flags, DPS_* environment variables or the --config file); README.md#agent lists every setting with its type and default.',
  DPS_ERR_AGENT_EXEC_NOT_FOUND: 'Install iptables in the image (both iptables-legacy and iptables-nft), or point --rules-command at the right program.',
  DPS_ERR_AGENT_EXEC_FAILED: 'Run the same command by hand on the node; the agent needs root (or CAP_NET_ADMIN) and the host network namespace to read the rules.',
  DPS_ERR_AGENT_EXEC_TIMEOUT: 'The command did not finish in time (--exec-timeout): check the node for a hung iptables or a very large ruleset; the agent retries on the next scan.',
  DPS_ERR_AGENT_EXEC_OUTPUT_LIMIT: 'The command printed more than --max-dump-bytes: raise the limit if the ruleset is really that large.',
  DPS_ERR_AGENT_SCAN_TIMEOUT: 'Parsing and checking took longer than --scan-timeout: raise it for very large rulesets; the scan worker was restarted.',
  DPS_ERR_AGENT_WORKER: 'The scan worker stopped unexpectedly (out of memory?): it is restarted on the next scan; check the memory limit of the DaemonSet.',
  DPS_ERR_AGENT_LISTEN: 'Pick a free address and port with --listen HOST:PORT.',
} as const;

/** A stable error code from the catalog. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Builds a coded error with the catalog's default hint unless a specific one is given. */
export function agentError(code: ErrorCode, message: string, options: AgentErrorOptions = {}): AgentError {
  return new AgentError(code, message, { ...options, hint: options.hint ?? ERROR_CODES[code] });
}
