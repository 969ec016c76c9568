/**
 * I/O edge: where the rules come from. Per family, one of
 *  - a file (`--rules-file`, `--rules6-file`), read on every scan;
 *  - a command (`--rules-command`): split like a command line, run without a shell;
 *  - the node's own `iptables-save` / `ip6tables-save` of the backend the node uses.
 * Read only: nothing here writes rules or takes the xtables lock (`*-save` never does).
 * It runs in the scan worker (agent/scan-worker.ts), so a dump never passes through the agent's
 * main process; what it learned about the node ({@link RulesMemory}) is handed to the next worker.
 */
import { parseCommandString } from 'execa';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { agentError } from '../lib/errors.ts';
import type { AgentError } from '../lib/errors.ts';
import type { Logger } from '../lib/kube/deps.ts';
import type { RulesConfig } from './config.ts';
import { detectBackend } from './detect-backend.ts';
import type { Exec } from './exec.ts';

/** One family's dump, ready for the worker. */
export interface Dump {
  readonly family: 4 | 6;
  /** `legacy`, `nft`, `file` or `command`. */
  readonly backend: string;
  /** The file or the command line, for messages. */
  readonly source: string;
  readonly bytes: Uint8Array;
  readonly durationMs: number;
  readonly cpuSeconds: number;
}

/** A family whose dump could not be read. */
export interface DumpFailure {
  readonly family: 4 | 6;
  readonly backend: string;
  readonly source: string;
  readonly error: AgentError;
  readonly durationMs: number;
  readonly cpuSeconds: number;
}

/** The rules source. */
export interface RulesSource {
  /** Reads every configured family; failures are returned, never thrown. */
  dump(signal: AbortSignal): Promise<{ dumps: Dump[]; failures: DumpFailure[] }>;
  /** What it learned so far (the backend, the host's programs): give it to a successor. */
  memory(): RulesMemory;
}

/** What a rules source learned about the node, as plain data (it outlives a scan worker). */
export interface RulesMemory {
  readonly backend: { readonly name: 'legacy' | 'nft'; readonly why: string; readonly at: number } | undefined;
  readonly hostPrograms: readonly (readonly [string, { readonly file: string; readonly args: readonly string[] }])[];
}

type Plan = { family: 4 | 6; kind: 'file'; path: string } | { family: 4 | 6; kind: 'command'; file: string; args: string[]; line: string } | { family: 4 | 6; kind: 'save' };

/** How often the node's backend is detected again (cheap: two mangle-table dumps). */
const REDETECT_MS = 30 * 60_000;

/** Builds the source from the config; `memory`: what a predecessor learned (no detection again). */
export function createRulesSource(deps: { config: RulesConfig; exec: Exec; log: Logger; now: () => number; memory?: RulesMemory }): RulesSource {
  const { config, exec } = deps;
  const log = deps.log.child({ component: 'rules-source' });
  const plans: Plan[] = config.families.map((family) => {
    const file = family === 4 ? config.rulesFile : config.rules6File;
    const command = family === 4 ? config.rulesCommand : config.rules6Command;
    if (file !== '') return { family, kind: 'file', path: file };
    if (command !== '') {
      const [bin, ...args] = parseCommandString(command);
      return { family, kind: 'command', file: bin ?? command, args, line: command };
    }
    return { family, kind: 'save' };
  });
  let backend: RulesMemory['backend'] = deps.memory?.backend;
  const hostPrograms = new Map<string, { file: string; args: readonly string[] }>(deps.memory?.hostPrograms);

  // The program to run for a family: the image's, or the host's through chroot when they differ.
  const program = async (name: string, signal: AbortSignal): Promise<{ file: string; args: readonly string[] }> => {
    if (config.hostRoot === '') return { file: name, args: [] };
    const cached = hostPrograms.get(name);
    if (cached !== undefined) return cached;
    let chosen: { file: string; args: readonly string[] } = { file: name, args: [] };
    const onHost = ['usr/sbin', 'sbin', 'usr/bin'].map((d) => join(config.hostRoot, d, name)).find((p) => existsSync(p));
    if (onHost !== undefined) {
      const request = { timeoutMs: 5000, maxBytes: 4096, signal };
      const [mine, host] = await Promise.all([
        exec({ ...request, file: name, args: ['--version'] }),
        exec({ ...request, file: 'chroot', args: [config.hostRoot, name, '--version'] }),
      ]);
      const text = (r: typeof mine): string => Buffer.from(r.stdout).toString().trim();
      if (host.error === undefined && (mine.error !== undefined || text(mine) !== text(host))) {
        chosen = { file: 'chroot', args: [config.hostRoot, name] };
        log.info({ program: name, image: mine.error === undefined ? text(mine) : 'missing', host: text(host) }, 'using the host\'s binary: it differs from the image\'s');
      }
    }
    hostPrograms.set(name, chosen);
    return chosen;
  };

  const run = async (plan: Plan, signal: AbortSignal): Promise<Dump | DumpFailure> => {
    const started = performance.now();
    if (plan.kind === 'file') {
      try {
        const info = await stat(plan.path);
        if (!info.isFile()) throw agentError('DPS_ERR_INPUT_READ', 'Expected an iptables-save file, got a directory or another non-file', { where: plan.path });
        if (info.size > config.maxDumpBytes) throw agentError('DPS_ERR_AGENT_EXEC_OUTPUT_LIMIT', `Expected at most ${config.maxDumpBytes} bytes, got ${info.size}`, { where: plan.path });
        const bytes = await readFile(plan.path);
        return { family: plan.family, backend: 'file', source: plan.path, bytes, durationMs: performance.now() - started, cpuSeconds: 0 };
      } catch (error) {
        const coded = (error as AgentError).code?.startsWith('DPS_ERR_') === true ? error as AgentError
          : agentError('DPS_ERR_INPUT_READ', `Cannot read the rules file: ${(error as Error).message}`, { where: plan.path, cause: error });
        return { family: plan.family, backend: 'file', source: plan.path, error: coded, durationMs: performance.now() - started, cpuSeconds: 0 };
      }
    }
    let file: string;
    let args: readonly string[];
    let name: string;
    if (plan.kind === 'command') {
      ({ file, args } = plan);
      name = 'command';
    } else {
      if (backend === undefined || deps.now() - backend.at > REDETECT_MS) {
        const found = config.backend === 'auto'
          ? await detectBackend({ exec, signal, timeoutMs: config.execTimeoutMs, maxBytes: config.maxDumpBytes })
          : { backend: config.backend, why: 'set by --backend' };
        if (found.backend !== backend?.name) log.info({ backend: found.backend, why: found.why }, 'iptables backend');
        backend = { name: found.backend, why: found.why, at: deps.now() };
      }
      name = backend.name;
      ({ file, args } = await program(`${plan.family === 4 ? 'iptables' : 'ip6tables'}-${backend.name}-save`, signal));
    }
    const r = await exec({ file, args, timeoutMs: config.execTimeoutMs, maxBytes: config.maxDumpBytes, signal });
    const source = [file, ...args].join(' ');
    if (r.error !== undefined) return { family: plan.family, backend: name, source, error: r.error, durationMs: r.durationMs, cpuSeconds: r.cpuSeconds };
    return { family: plan.family, backend: name, source, bytes: r.stdout, durationMs: r.durationMs, cpuSeconds: r.cpuSeconds };
  };

  return {
    async dump(signal) {
      const dumps: Dump[] = [];
      const failures: DumpFailure[] = [];
      for (const plan of plans) {
        const r = await run(plan, signal);
        if ('error' in r) failures.push(r);
        else dumps.push(r);
      }
      return { dumps, failures };
    },
    memory: () => ({ backend, hostPrograms: [...hostPrograms] }),
  };
}
