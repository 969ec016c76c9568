/**
 * The log side: the LogWatcher follows the configured sources and classifies lines; each match
 * goes to the signal state (hysteresis) and to the metrics at once, so a matched line shows on
 * /metrics within the watcher's poll interval. `evaluate()` (called every second) clears quiet
 * classes and notices configured sources that are missing: those make the log checks unknown.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock, Logger } from '../lib/kube/deps.ts';
import { BUILTIN_RULES } from '../lib/logs/builtin-rules.ts';
import { compileRules } from '../lib/logs/compile-rules.ts';
import { componentOfPath } from '../lib/logs/infer-component.ts';
import { LogWatcher } from '../lib/logs/log-watcher.ts';
import { SignalState } from '../lib/logs/signal-state.ts';
import type { AgentConfig } from './config.ts';
import type { AgentMetrics } from './metrics.ts';
import type { LogInput } from './verdict.ts';

/** The monitor. */
export interface LogMonitor {
  /** Resolves when the watcher stopped (after the signal aborted). */
  readonly done: Promise<void>;
  /** Clears quiet classes, checks the sources; true when something changed. */
  evaluate(): Promise<boolean>;
  input(name: LogInput['name']): LogInput;
  /** The watcher is running. */
  running(): boolean;
}

const CNI_COMPONENTS = /calico|cilium|flannel|aws|multus|cni|kubelet|containerd|crio/;

/** Starts following the logs (when enabled). Throws DPS_ERR_LOGS_* for invalid rules. */
export function startLogMonitor(deps: { config: AgentConfig; clock: Clock; log: Logger; metrics: AgentMetrics; signal: AbortSignal; onChange: () => void }): LogMonitor {
  const { config, clock, metrics } = deps;
  const log = deps.log.child({ component: 'logs' });
  const rules = compileRules(BUILTIN_RULES, config.logConfig.rules);
  const signals = new SignalState({ config: config.logConfig.signal, clock });
  let missing: { path: string; checks: LogInput['name'][] }[] = [];
  let watcher: LogWatcher | undefined;
  let running = false;
  if (config.logs) {
    watcher = new LogWatcher({
      config: config.logConfig, rules, log, clock, signal: deps.signal, nodeName: config.node,
      onMatch: (m) => {
        metrics.logMatch(m.class, m.component);
        const t = signals.record(m);
        if (t !== undefined) {
          log.warn({ class: t.class, component: m.component, source: m.source, rule: m.rule }, 'log signal active');
          deps.onChange();
        }
      },
    });
    running = true;
  }
  const done = (watcher?.run() ?? Promise.resolve()).finally(() => { running = false; });

  // Configured sources that should exist: the pod log directory and each --log-path.
  const checkSources = async (): Promise<{ path: string; checks: LogInput['name'][] }[]> => {
    const out: { path: string; checks: LogInput['name'][] }[] = [];
    const exists = async (p: string): Promise<boolean> => stat(p).then(() => true, () => false);
    if (config.logConfig.containers.length > 0 && !(await exists(config.logConfig.podLogDir))) out.push({ path: config.logConfig.podLogDir, checks: ['kube-proxy-logs', 'cni-logs'] });
    for (const p of config.logPaths) {
      const glob = /[*?[{]/.exec(p);
      const target = glob === null ? p : dirname(p.slice(0, glob.index + 1));
      if (await exists(target)) continue;
      const component = componentOfPath(p);
      const checks: LogInput['name'][] = component === 'kube-proxy' ? ['kube-proxy-logs'] : component !== undefined && CNI_COMPONENTS.test(component) ? ['cni-logs'] : ['kube-proxy-logs', 'cni-logs'];
      out.push({ path: target, checks });
    }
    return out;
  };

  return {
    done,
    running: () => running,
    async evaluate() {
      let changed = false;
      for (const t of signals.evaluate()) {
        log.info({ class: t.class }, 'log signal cleared');
        changed = true;
      }
      metrics.setLogSignals(signals.classes());
      if (watcher !== undefined) {
        const m = watcher.metrics();
        metrics.setLogTotals({ lines: { file: m.linesRead, journal: m.journalEntriesRead }, errors: m.sourceErrors });
        const now = await checkSources();
        const key = (l: typeof missing): string => l.map((x) => x.path).join('|');
        if (key(now) !== key(missing)) {
          if (now.length > 0) log.warn({ missing: now.map((x) => x.path) }, 'log sources missing: the log checks are unknown');
          else log.info({}, 'all log sources present');
          changed = true;
        }
        missing = now;
      }
      return changed;
    },
    input(name) {
      return {
        name,
        enabled: config.logs,
        active: signals.classes().filter((c) => c.active).map((c) => ({ class: c.class, severity: c.severity })),
        missing: missing.filter((m) => m.checks.includes(name)).map((m) => `${m.path} (missing)`),
      };
    },
  };
}
