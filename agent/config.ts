/**
 * The agent's configuration: one defaults literal, one table of settings (flag, environment
 * variable, type, meaning: the README's table and `agent --help` come from it), and one loader
 * that merges defaults < config file < environment < flags, reports every bad field together in
 * one coded error (with what to do), and deep-freezes the result.
 *
 * This is the only module that reads the environment; `env` is a parameter (main passes
 * process.env, tests pass a plain object).
 */
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { agentError } from '../lib/errors.ts';
import { parseLogConfig } from '../lib/logs/log-config.ts';
import type { LogConfig } from '../lib/logs/log-config.ts';
import { DEFAULT_TAINT_POLICY, parseTaintPolicy } from '../lib/kube/taint-policy.ts';
import type { TaintPolicy } from '../lib/kube/taint-policy.ts';
import { parseDuration } from './duration.ts';

/** The validated, frozen configuration. Durations are milliseconds. */
export interface AgentConfig {
  readonly node: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly intervalMs: number;
  readonly jitter: number;
  readonly cpuBudget: number;
  readonly scanTimeoutMs: number;
  readonly execTimeoutMs: number;
  readonly maxDumpBytes: number;
  readonly clusterFile: string;
  readonly kubeconfig: string;
  readonly apiServer: string;
  readonly apiMaxViewAgeMs: number;
  readonly rulesFile: string;
  readonly rules6File: string;
  readonly rulesCommand: string;
  readonly rules6Command: string;
  readonly families: readonly (4 | 6)[];
  readonly backend: 'auto' | 'legacy' | 'nft';
  readonly hostRoot: string;
  readonly logs: boolean;
  readonly logPaths: readonly string[];
  readonly podLogDir: string;
  readonly journal: boolean;
  readonly logStateFile: string;
  readonly logConfig: LogConfig;
  readonly kubeProxyProbe: boolean;
  readonly kubeProxyMetricsUrl: string;
  readonly kubeProxyLivezUrl: string;
  readonly graceMs: number;
  readonly persistScans: number;
  readonly unknownStatusCode: 200 | 503;
  readonly reportNode: boolean;
  /** The config file's `taints` section (docs/kubernetes.md, "Taints and guard rails"); off by default. */
  readonly taints: TaintPolicy;
  readonly debugEndpoints: boolean;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * What the rules source reads (agent/rules-source.ts): the part of the config the scan worker,
 * which runs the dump commands, is given once when it starts.
 */
export type RulesConfig = Pick<AgentConfig, 'families' | 'rulesFile' | 'rules6File' | 'rulesCommand' | 'rules6Command' | 'backend' | 'hostRoot' | 'execTimeoutMs' | 'maxDumpBytes'>;

/** The {@link RulesConfig} part of a config (plain data: it travels to the scan worker). */
export function rulesConfig(c: AgentConfig): RulesConfig {
  return {
    families: [...c.families], rulesFile: c.rulesFile, rules6File: c.rules6File, rulesCommand: c.rulesCommand, rules6Command: c.rules6Command,
    backend: c.backend, hostRoot: c.hostRoot, execTimeoutMs: c.execTimeoutMs, maxDumpBytes: c.maxDumpBytes,
  };
}

/** The single source of defaults (durations as written on the command line). */
export const DEFAULTS = Object.freeze({
  node: '',
  listen: '0.0.0.0:9659',
  interval: '10s',
  jitter: 0.1,
  cpuBudget: 0.05,
  scanTimeout: '5m',
  execTimeout: '60s',
  maxDumpBytes: 512 * 1024 * 1024,
  clusterFile: '',
  kubeconfig: '',
  apiServer: '',
  apiMaxViewAge: '3m',
  rulesFile: '',
  rules6File: '',
  rulesCommand: '',
  rules6Command: '',
  families: '4',
  backend: 'auto',
  hostRoot: '',
  followLogs: true,
  logPath: [] as string[],
  podLogDir: '/var/log/pods',
  journal: true,
  logStateFile: '/var/lib/dataplane-sentinel/log-positions.json',
  kubeProxyProbe: true,
  kubeProxyMetricsUrl: 'http://127.0.0.1:10249/metrics',
  kubeProxyLivezUrl: 'http://127.0.0.1:10256/livez',
  grace: '35s',
  persistScans: 3,
  unknownStatus: 503,
  reportNode: true,
  debugEndpoints: false,
  logLevel: 'info',
});

type Key = keyof typeof DEFAULTS;
type Kind = 'string' | 'duration' | 'number' | 'boolean' | 'list';

/** One setting: its flag is `--kebab-name`, its variable `DPS_UPPER_SNAKE` (unless given). */
export interface SettingSpec {
  readonly key: Key;
  readonly kind: Kind;
  readonly meaning: string;
  readonly env?: string;
  /** Inclusive bounds for numbers and durations. */
  readonly min?: number;
  readonly max?: number;
  /** Allowed values for strings. */
  readonly oneOf?: readonly string[];
}

/** Every setting, in README order. */
export const SETTINGS: readonly SettingSpec[] = Object.freeze([
  { key: 'node', kind: 'string', env: 'NODE_NAME', meaning: 'This node\'s name (required): decides which endpoints are local; set it from the downward API.' },
  { key: 'listen', kind: 'string', meaning: 'HTTP address HOST:PORT for /health, /livez, /readyz and /metrics.' },
  { key: 'interval', kind: 'duration', min: 100, meaning: 'Scan period; stretched when a scan costs more than the CPU budget allows.' },
  { key: 'jitter', kind: 'number', min: 0, max: 1, meaning: 'Random spread of each wait, as a fraction of the interval (nodes do not scan in lock-step).' },
  { key: 'cpuBudget', kind: 'number', min: 0.001, max: 1, meaning: 'Share of one core the agent may use on average, scans and dump commands included: the scan interval stretches to keep within it.' },
  { key: 'scanTimeout', kind: 'duration', min: 100, meaning: 'Longest parse + check of one scan before the worker is restarted.' },
  { key: 'execTimeout', kind: 'duration', min: 100, meaning: 'Longest run of one external command (iptables-save, --rules-command).' },
  { key: 'maxDumpBytes', kind: 'number', min: 1024, meaning: 'Largest dump read from a command or file.' },
  { key: 'clusterFile', kind: 'string', meaning: 'Read Services/EndpointSlices/Nodes from this file or directory (same formats as check --cluster; re-read when it changes) instead of the API.' },
  { key: 'kubeconfig', kind: 'string', env: 'KUBECONFIG', meaning: 'Host kubeconfig whose server and CA are used to reach the API (credentials stay the service account\'s).' },
  { key: 'apiServer', kind: 'string', meaning: 'Direct API server URL (https://HOST:6443), preferred over the kubernetes Service ClusterIP.' },
  { key: 'apiMaxViewAge', kind: 'duration', min: 1000, meaning: 'An API view with no contact (list, event, bookmark) for longer than this is not judged on: drift is Unknown (APIUnreachable or APIViewStale) instead. Keep it above the API server\'s bookmark period (~1 min).' },
  { key: 'rulesFile', kind: 'string', meaning: 'Read the IPv4 rules from this iptables-save file (re-read when it changes) instead of running iptables-save.' },
  { key: 'rules6File', kind: 'string', meaning: 'Read the IPv6 rules from this ip6tables-save file.' },
  { key: 'rulesCommand', kind: 'string', meaning: 'Run this command to print the IPv4 rules instead of iptables-save (no shell: split on spaces, `\\ ` escapes a space).' },
  { key: 'rules6Command', kind: 'string', meaning: 'Run this command to print the IPv6 rules.' },
  { key: 'families', kind: 'string', oneOf: ['4', '6', '4,6', '6,4'], meaning: 'IP families to check: 4, 6 or 4,6.' },
  { key: 'backend', kind: 'string', oneOf: ['auto', 'legacy', 'nft'], meaning: 'iptables backend to dump; auto detects the one the node uses, as kubernetes-sigs/iptables-wrappers does.' },
  { key: 'hostRoot', kind: 'string', meaning: 'Where the host\'s / is mounted (e.g. /host): its iptables binaries are used (chroot) when they differ from the image\'s.' },
  { key: 'followLogs', kind: 'boolean', meaning: 'Follow kube-proxy and CNI logs (the log checks); the --config file\'s `logs` section tunes them (docs/log-signals).' },
  { key: 'logPath', kind: 'list', meaning: 'A plain log file or glob to follow (repeat the flag; comma-separated in the variable); the component comes from the path or the lines.' },
  { key: 'podLogDir', kind: 'string', meaning: 'The CRI pod log directory.' },
  { key: 'journal', kind: 'boolean', meaning: 'Follow journald (kubelet, container runtime, kernel).' },
  { key: 'logStateFile', kind: 'string', meaning: 'Where log read positions are kept across restarts.' },
  { key: 'kubeProxyProbe', kind: 'boolean', meaning: 'Scrape kube-proxy\'s metrics and /livez (the kube-proxy check); turn off where kube-proxy does not run.' },
  { key: 'kubeProxyMetricsUrl', kind: 'string', meaning: 'kube-proxy\'s metrics URL.' },
  { key: 'kubeProxyLivezUrl', kind: 'string', meaning: 'kube-proxy\'s livez URL.' },
  { key: 'grace', kind: 'duration', meaning: 'A Service changed less than this ago is not judged (kube-proxy may still be syncing it).' },
  { key: 'persistScans', kind: 'number', min: 1, max: 100, meaning: 'Consecutive scans a difference must be seen in before it counts.' },
  { key: 'unknownStatus', kind: 'number', min: 200, max: 503, meaning: 'HTTP status of /health while the verdict is unknown: 503, or 200 for load balancers that must not drain on it.' },
  { key: 'reportNode', kind: 'boolean', meaning: 'Write conditions and events to this Node (API source only).' },
  { key: 'debugEndpoints', kind: 'boolean', meaning: 'Serve /debug/last-diff (every finding of the last full check, pending ones too).' },
  { key: 'logLevel', kind: 'string', oneOf: ['debug', 'info', 'warn', 'error'], meaning: 'Agent log level.' },
] satisfies SettingSpec[]);

/** `cpuBudget` → `--cpu-budget`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z0-9]/g, (c) => `-${c.toLowerCase()}`).replace(/-(\d)/g, '$1')}`;
}

/** `cpuBudget` → `DPS_CPU_BUDGET` unless the spec names another variable. */
export function envOf(spec: SettingSpec): string {
  return spec.env ?? `DPS_${spec.key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Inputs of {@link loadConfig}: the raw sources, all injected. */
export interface ConfigSources {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads the --config file (a YAML or JSON mapping); default none. */
  readonly readFile?: (path: string) => string;
}

/** Result: the config, or the help text when --help was asked for. */
export type LoadResult = { config: AgentConfig; help?: undefined } | { help: string; config?: undefined };

/** Loads, validates and freezes. Throws DPS_ERR_AGENT_CONFIG listing every bad setting. */
export function loadConfig(sources: ConfigSources): LoadResult {
  const errors: string[] = [];
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { config: { type: 'string' }, help: { type: 'boolean' } };
  for (const s of SETTINGS) options[flagOf(s.key).slice(2)] = s.kind === 'boolean' ? { type: 'boolean' } : s.kind === 'list' ? { type: 'string', multiple: true } : { type: 'string' };
  let values: Record<string, unknown> = {};
  try {
    ({ values } = parseArgs({ args: [...sources.argv], options, strict: true, allowPositionals: false, allowNegative: true }));
  } catch (error) {
    throw agentError('DPS_ERR_AGENT_CONFIG', `${(error as Error).message}. Run \`dataplane-sentinel agent --help\` for the settings.`, { where: 'command line' });
  }
  if (values.help === true) return { help: helpText() };

  const file = readConfigFile(values.config as string | undefined, sources, errors);
  const raw: Record<string, { value: unknown; from: string }> = {};
  for (const s of SETTINGS) {
    const flag = values[flagOf(s.key).slice(2)];
    const env = sources.env[envOf(s)];
    if (flag !== undefined) raw[s.key] = { value: flag, from: flagOf(s.key) };
    else if (env !== undefined && env !== '') raw[s.key] = { value: s.kind === 'list' ? env.split(',').filter(Boolean) : env, from: envOf(s) };
    else if (file.values[s.key] !== undefined) raw[s.key] = { value: file.values[s.key], from: `${file.path}: ${s.key}` };
    else raw[s.key] = { value: DEFAULTS[s.key], from: 'default' };
  }
  const known = new Set<string>([...SETTINGS.map((s) => s.key), 'logs', 'taints']);
  for (const key of Object.keys(file.values)) if (!known.has(key)) errors.push(`${file.path}: \`${key}\` is not a setting`);

  const v: Record<string, unknown> = {};
  for (const s of SETTINGS) v[s.key] = check(s, raw[s.key]!, errors);
  const config = assemble(v, file, errors);
  if (errors.length > 0) {
    throw agentError('DPS_ERR_AGENT_CONFIG', `Invalid configuration (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n  - ${errors.join('\n  - ')}`, { where: 'agent configuration' });
  }
  return { config: deepFreeze(config) };
}

// The --config file: a mapping of settings (camelCase keys) and an optional `logs` section.
function readConfigFile(path: string | undefined, sources: ConfigSources, errors: string[]): { path: string; values: Record<string, unknown> } {
  if (path === undefined) return { path: '', values: {} };
  let text: string;
  try {
    text = (sources.readFile ?? (() => { throw new Error('no file reader'); }))(path);
  } catch (error) {
    errors.push(`--config ${path}: cannot read it (${(error as Error).message}); check the path and the mount`);
    return { path, values: {} };
  }
  try {
    const parsed: unknown = parseYaml(text);
    if (parsed === null || parsed === undefined) return { path, values: {} };
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      errors.push(`--config ${path}: expected a mapping of settings, got ${Array.isArray(parsed) ? 'a list' : typeof parsed}`);
      return { path, values: {} };
    }
    return { path, values: parsed as Record<string, unknown> };
  } catch (error) {
    errors.push(`--config ${path}: not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`);
    return { path, values: {} };
  }
}

// One setting's raw value → typed value (or the default, with an error recorded).
function check(s: SettingSpec, raw: { value: unknown; from: string }, errors: string[]): unknown {
  const { value, from } = raw;
  const bad = (expected: string): unknown => {
    errors.push(`${from}: expected ${expected}, got ${JSON.stringify(value)}`);
    return s.kind === 'duration' ? parseDuration(DEFAULTS[s.key]) : DEFAULTS[s.key];
  };
  const bounds = (n: number, unit = ''): boolean => (s.min === undefined || n >= s.min) && (s.max === undefined || n <= s.max) && !(unit === '' && Number.isNaN(n));
  const range = s.min !== undefined && s.max !== undefined ? ` between ${s.min} and ${s.max}` : s.min !== undefined ? ` ≥ ${s.min}` : '';
  switch (s.kind) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return bad('true or false');
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) && bounds(n) ? n : bad(`a number${range}`);
    }
    case 'duration': {
      const ms = parseDuration(value);
      return ms !== undefined && bounds(ms, 'ms') ? ms : bad(`a duration such as 10s, 500ms or 1m${s.min !== undefined ? ` (at least ${s.min} ms)` : ''}`);
    }
    case 'list':
      if (Array.isArray(value) && value.every((x) => typeof x === 'string' && x !== '')) return value;
      if (typeof value === 'string' && value !== '') return [value];
      return bad('a list of paths');
    default:
      if (typeof value !== 'string') return bad('a string');
      if (s.oneOf !== undefined && !s.oneOf.includes(value)) return bad(`one of ${s.oneOf.join(', ')}`);
      return value;
  }
}

// Typed values → AgentConfig, with the cross-field checks.
function assemble(v: Record<string, unknown>, file: { path: string; values: Record<string, unknown> }, errors: string[]): AgentConfig {
  const str = (k: string): string => v[k] as string;
  if (str('node') === '') errors.push('--node (or NODE_NAME): required; set NODE_NAME from the downward API (spec.nodeName)');
  const listen = parseListen(str('listen'));
  if (listen === undefined) errors.push(`--listen: expected HOST:PORT such as 0.0.0.0:9659 or [::]:9659, got "${str('listen')}"`);
  if (str('rulesFile') !== '' && str('rulesCommand') !== '') errors.push('--rules-file and --rules-command: pass one of them, not both');
  if (str('rules6File') !== '' && str('rules6Command') !== '') errors.push('--rules6-file and --rules6-command: pass one of them, not both');
  if (str('clusterFile') !== '' && str('apiServer') !== '') errors.push('--cluster-file and --api-server: pass one cluster source, not both');
  const status = v.unknownStatus as number;
  if (status !== 200 && status !== 503) errors.push(`--unknown-status: expected 200 or 503, got ${status}`);
  for (const k of ['kubeProxyMetricsUrl', 'kubeProxyLivezUrl', ...(str('apiServer') === '' ? [] : ['apiServer'])]) {
    if (!/^https?:\/\/[^/\s]+/.test(str(k))) errors.push(`${flagOf(k)}: expected an http(s) URL, got "${str(k)}"`);
  }
  const families = [...new Set(str('families').split(',').map(Number))] as (4 | 6)[];
  let logConfig = parseLogConfig(undefined);
  try {
    const section = (file.values.logs ?? {}) as Record<string, unknown>;
    logConfig = parseLogConfig({
      ...section,
      podLogDir: str('podLogDir') === DEFAULTS.podLogDir && typeof section.podLogDir === 'string' ? section.podLogDir : str('podLogDir'),
      stateFile: str('logStateFile') === DEFAULTS.logStateFile && typeof section.stateFile === 'string' ? section.stateFile : str('logStateFile'),
      files: [...((section.files as unknown[] | undefined) ?? parseLogConfig(undefined).files), ...(v.logPath as string[])],
      journal: { ...(section.journal as object | undefined), enabled: v.journal === true && (section.journal as { enabled?: boolean } | undefined)?.enabled !== false },
    }, `${file.path === '' ? 'config' : file.path}: logs`);
  } catch (error) {
    errors.push((error as Error).message);
  }
  let taints = DEFAULT_TAINT_POLICY; // replaced, or the configuration is rejected
  try {
    taints = parseTaintPolicy(file.values.taints, `${file.path === '' ? 'config' : file.path}: taints`);
  } catch (error) {
    errors.push((error as Error).message);
  }
  return {
    node: str('node'), listen: listen ?? { host: '0.0.0.0', port: 9659 },
    intervalMs: v.interval as number, jitter: v.jitter as number, cpuBudget: v.cpuBudget as number,
    scanTimeoutMs: v.scanTimeout as number, execTimeoutMs: v.execTimeout as number, maxDumpBytes: v.maxDumpBytes as number,
    clusterFile: str('clusterFile'), kubeconfig: str('kubeconfig'), apiServer: str('apiServer'), apiMaxViewAgeMs: v.apiMaxViewAge as number,
    rulesFile: str('rulesFile'), rules6File: str('rules6File'), rulesCommand: str('rulesCommand'), rules6Command: str('rules6Command'),
    families, backend: str('backend') as AgentConfig['backend'], hostRoot: str('hostRoot'),
    logs: v.followLogs as boolean, logPaths: v.logPath as string[], podLogDir: logConfig.podLogDir, journal: logConfig.journal.enabled,
    logStateFile: logConfig.stateFile, logConfig,
    kubeProxyProbe: v.kubeProxyProbe as boolean, kubeProxyMetricsUrl: str('kubeProxyMetricsUrl'), kubeProxyLivezUrl: str('kubeProxyLivezUrl'),
    graceMs: v.grace as number, persistScans: v.persistScans as number, unknownStatusCode: status === 200 ? 200 : 503,
    reportNode: v.reportNode as boolean, taints, debugEndpoints: v.debugEndpoints as boolean, logLevel: str('logLevel') as AgentConfig['logLevel'],
  };
}

/** `0.0.0.0:9659`, `[::1]:80`, `:9659` (all addresses) → host and port. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port };
}

/** `agent --help`: the settings table as text. */
export function helpText(): string {
  const rows = SETTINGS.map((s) => `  ${flagOf(s.key).padEnd(26)} ${envOf(s).padEnd(26)} ${JSON.stringify(DEFAULTS[s.key])}\n      ${s.meaning}`);
  return `Usage: dataplane-sentinel agent [--config FILE] [flags]\n\nFlag (--no-X turns a boolean off)  Environment  Default\n${rows.join('\n')}\n`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
