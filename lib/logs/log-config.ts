/**
 * The `logs` section of the agent config: one defaults literal, a validator that reports every
 * bad field in one coded error, and a deep-frozen result. Pure (the caller reads the file).
 */
import { agentError } from '../errors.ts';

/** Selects CRI containers under the pod log directory; each field is a glob (`*` = any). */
export interface ContainerSelector {
  namespace: string;
  pod: string;
  container: string;
}

/** A plain (non-CRI) log file or glob, with the component that writes it when the path does not say. */
export interface FileSource {
  glob: string;
  component?: string;
}

/** journald following. */
export interface JournalConfig {
  enabled: boolean;
  /** The journalctl binary. */
  command: string;
  /** Journal directories to read (each followed by its own journalctl; missing ones are watched). */
  directories: readonly string[];
  /** systemd units (without `.service`) to follow. */
  units: readonly string[];
  /** Also follow kernel messages (`_TRANSPORT=kernel`) for conntrack. */
  kernel: boolean;
}

/** When a class becomes active and when it clears (see signal-state.ts). */
export interface SignalConfig {
  windowMs: number;
  activateCount: number;
  clearAfterMs: number;
}

/** The validated, frozen `logs` config. */
export interface LogConfig {
  podLogDir: string;
  containers: readonly ContainerSelector[];
  files: readonly FileSource[];
  journal: JournalConfig;
  stateFile: string;
  lookbackMs: number;
  lookbackMaxBytes: number;
  pollIntervalMs: number;
  discoveryIntervalMs: number;
  stateFlushIntervalMs: number;
  maxLineBytes: number;
  maxFiles: number;
  rules: readonly unknown[];
  signal: SignalConfig;
}

const DEFAULT_CONTAINERS = ['kube-proxy', 'calico-node', 'install-cni', 'cilium-agent', 'kube-flannel', 'aws-node', 'kube-multus', 'coredns', 'node-cache'];

/** The single source of defaults. */
export const DEFAULT_LOG_CONFIG: LogConfig = deepFreeze({
  podLogDir: '/var/log/pods',
  containers: DEFAULT_CONTAINERS.map((container) => ({ namespace: '*', pod: '*', container })),
  files: [
    { glob: '/var/log/calico/cni/cni.log', component: 'calico-cni' },
    { glob: '/var/log/aws-routed-eni/*.log', component: 'aws-vpc-cni' },
    { glob: '/var/log/multus.log', component: 'multus' },
  ],
  journal: {
    enabled: true,
    command: 'journalctl',
    directories: ['/var/log/journal', '/run/log/journal'],
    units: ['kubelet', 'containerd', 'crio', 'k3s', 'k3s-agent', 'rke2-server', 'rke2-agent', 'kube-proxy'],
    kernel: true,
  },
  stateFile: '/var/lib/dataplane-sentinel/log-positions.json',
  lookbackMs: 10 * 60_000,
  lookbackMaxBytes: 4 * 1024 * 1024,
  pollIntervalMs: 500,
  discoveryIntervalMs: 5_000,
  stateFlushIntervalMs: 5_000,
  maxLineBytes: 64 * 1024,
  maxFiles: 1_000,
  rules: [],
  signal: { windowMs: 5 * 60_000, activateCount: 3, clearAfterMs: 10 * 60_000 },
});

/** Validates a raw `logs` section (undefined = all defaults) into a frozen LogConfig. */
export function parseLogConfig(raw: unknown, where = 'logs'): LogConfig {
  const errors: string[] = [];
  const obj = raw === undefined || raw === null ? {} : raw;
  if (!isRecord(obj)) throw agentError('DPS_ERR_LOGS_CONFIG_INVALID', `Expected \`${where}\` to be a mapping, got ${typeOf(obj)}.`, { where });
  const d = DEFAULT_LOG_CONFIG;
  const str = (key: string, value: unknown, fallback: string): string => {
    if (value === undefined) return fallback;
    if (typeof value === 'string' && value !== '') return value;
    errors.push(`\`${key}\`: expected a non-empty string, got ${typeOf(value)}`);
    return fallback;
  };
  const num = (key: string, value: unknown, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isFinite(value) && value >= min) return value;
    errors.push(`\`${key}\`: expected a number ≥ ${min}, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const bool = (key: string, value: unknown, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    errors.push(`\`${key}\`: expected true or false, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const strings = (key: string, value: unknown, fallback: readonly string[]): readonly string[] => {
    if (value === undefined) return fallback;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '')) return value as string[];
    errors.push(`\`${key}\`: expected a list of non-empty strings`);
    return fallback;
  };
  const list = <T>(key: string, value: unknown, fallback: readonly T[], item: (v: unknown, k: string) => T | undefined): readonly T[] => {
    if (value === undefined) return fallback;
    if (!Array.isArray(value)) {
      errors.push(`\`${key}\`: expected a list, got ${typeOf(value)}`);
      return fallback;
    }
    return value.map((v, i) => item(v, `${key}[${i}]`)).filter((v): v is T => v !== undefined);
  };
  const containers = list('containers', obj.containers, d.containers, (v, k) => {
    if (typeof v === 'string' && v !== '') return { namespace: '*', pod: '*', container: v };
    if (!isRecord(v)) { errors.push(`\`${k}\`: expected a container name or {namespace, pod, container}`); return undefined; }
    return { namespace: str(`${k}.namespace`, v.namespace, '*'), pod: str(`${k}.pod`, v.pod, '*'), container: str(`${k}.container`, v.container, '*') };
  });
  const files = list('files', obj.files, d.files, (v, k) => {
    if (typeof v === 'string' && v !== '') return { glob: v };
    if (!isRecord(v)) { errors.push(`\`${k}\`: expected a path/glob or {glob, component}`); return undefined; }
    const glob = str(`${k}.glob`, v.glob, '');
    if (glob === '') { errors.push(`\`${k}.glob\`: required`); return undefined; }
    return v.component === undefined ? { glob } : { glob, component: str(`${k}.component`, v.component, 'unknown') };
  });
  const j = obj.journal === undefined ? {} : obj.journal;
  let journal = d.journal;
  if (!isRecord(j)) errors.push('`journal`: expected a mapping');
  else {
    journal = {
      enabled: bool('journal.enabled', j.enabled, d.journal.enabled),
      command: str('journal.command', j.command, d.journal.command),
      directories: strings('journal.directories', j.directories, d.journal.directories),
      units: strings('journal.units', j.units, d.journal.units),
      kernel: bool('journal.kernel', j.kernel, d.journal.kernel),
    };
  }
  const s = obj.signal === undefined ? {} : obj.signal;
  let signal = d.signal;
  if (!isRecord(s)) errors.push('`signal`: expected a mapping');
  else {
    signal = {
      windowMs: num('signal.windowMs', s.windowMs, d.signal.windowMs, 1),
      activateCount: num('signal.activateCount', s.activateCount, d.signal.activateCount, 1),
      clearAfterMs: num('signal.clearAfterMs', s.clearAfterMs, d.signal.clearAfterMs, 1),
    };
  }
  if (obj.rules !== undefined && !Array.isArray(obj.rules)) errors.push('`rules`: expected a list of rules');
  const known = new Set([...Object.keys(d)]);
  for (const key of Object.keys(obj)) if (!known.has(key)) errors.push(`\`${key}\`: unknown option`);
  const config: LogConfig = {
    podLogDir: str('podLogDir', obj.podLogDir, d.podLogDir),
    containers,
    files,
    journal,
    stateFile: str('stateFile', obj.stateFile, d.stateFile),
    lookbackMs: num('lookbackMs', obj.lookbackMs, d.lookbackMs, 0),
    lookbackMaxBytes: num('lookbackMaxBytes', obj.lookbackMaxBytes, d.lookbackMaxBytes, 0),
    pollIntervalMs: num('pollIntervalMs', obj.pollIntervalMs, d.pollIntervalMs, 10),
    discoveryIntervalMs: num('discoveryIntervalMs', obj.discoveryIntervalMs, d.discoveryIntervalMs, 10),
    stateFlushIntervalMs: num('stateFlushIntervalMs', obj.stateFlushIntervalMs, d.stateFlushIntervalMs, 10),
    maxLineBytes: num('maxLineBytes', obj.maxLineBytes, d.maxLineBytes, 256),
    maxFiles: num('maxFiles', obj.maxFiles, d.maxFiles, 1),
    rules: Array.isArray(obj.rules) ? obj.rules : d.rules,
    signal,
  };
  if (errors.length > 0) {
    throw agentError('DPS_ERR_LOGS_CONFIG_INVALID', `Invalid \`${where}\` config: ${errors.join('; ')}.`, { where });
  }
  return deepFreeze(config);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOf(value: unknown): string {
  return Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
