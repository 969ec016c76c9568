/**
 * I/O edge: runs one external command, bounded (timeout, output limit, abort signal), at the
 * lowest CPU priority, and measures the CPU it cost. Never rejects: failures come back as a
 * coded error in the result, so callers map them to verdicts and metrics.
 *
 * CPU: Linux adds a child's CPU to the parent's `cutime`/`cstime` (/proc/self/stat) when it is
 * reaped; scans never overlap, so the difference around one command is that command's cost.
 * (Long-running children such as journalctl are not reaped meanwhile and do not count.)
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { agentError } from '../lib/errors.ts';
import type { AgentError } from '../lib/errors.ts';

/** What to run. */
export interface ExecRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly signal: AbortSignal;
}

/** What came back. `error` is set when the output must not be used. */
export interface ExecResult {
  readonly stdout: Uint8Array;
  readonly stderr: string;
  readonly exitCode: number | undefined;
  readonly durationMs: number;
  /** CPU seconds the command used (user + system), when measurable. */
  readonly cpuSeconds: number;
  readonly error: AgentError | undefined;
}

/** The injected exec function. */
export type Exec = (request: ExecRequest) => Promise<ExecResult>;

const TICKS_PER_SECOND = 100;

// Children's CPU seconds so far, from /proc/self/stat (fields 16 and 17), or 0 off Linux.
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The real exec: execa, low priority, bounded. */
export const systemExec: Exec = async (request) => {
  const command = [request.file, ...request.args].join(' ');
  const cpuBefore = childCpuSeconds();
  const started = performance.now();
  const sub = execa(request.file, [...request.args], {
    timeout: request.timeoutMs, maxBuffer: { stdout: request.maxBytes, stderr: 64 * 1024 }, cancelSignal: request.signal,
    reject: false, encoding: 'buffer', stripFinalNewline: false, stdin: 'ignore', forceKillAfterDelay: 2000, env: { LC_ALL: 'C' },
  });
  try {
    if (sub.pid !== undefined) setPriority(sub.pid, 19);
  } catch {
    // the command may already have exited; priority is best effort
  }
  const r = await sub;
  const durationMs = performance.now() - started;
  const cpuSeconds = Math.max(0, childCpuSeconds() - cpuBefore);
  const stderr = Buffer.from(r.stderr as Uint8Array).toString('utf8').trim();
  const stdout = r.stdout as Uint8Array;
  let error: AgentError | undefined;
  if (r.timedOut) {
    error = agentError('DPS_ERR_AGENT_EXEC_TIMEOUT', `Expected \`${command}\` to finish within ${request.timeoutMs} ms; it was killed`, { where: command });
  } else if (r.isMaxBuffer) {
    error = agentError('DPS_ERR_AGENT_EXEC_OUTPUT_LIMIT', `Expected at most ${request.maxBytes} bytes from \`${command}\`, got more`, { where: command });
  } else if ((r as { code?: string }).code === 'ENOENT' || (r.exitCode === 127 && /not found/i.test(stderr))) {
    error = agentError('DPS_ERR_AGENT_EXEC_NOT_FOUND', `\`${request.file}\` is not installed or not on PATH`, { where: command });
  } else if (r.isCanceled) {
    error = agentError('DPS_ERR_AGENT_EXEC_FAILED', `\`${command}\` was cancelled (the agent is stopping)`, { where: command });
  } else if (r.failed) {
    const why = r.exitCode !== undefined ? `exit status ${r.exitCode}` : r.signal !== undefined ? `killed by ${r.signal}` : r.shortMessage;
    error = agentError('DPS_ERR_AGENT_EXEC_FAILED', `Expected \`${command}\` to succeed, got ${why}${stderr === '' ? '' : `: ${stderr.split('\n').slice(-3).join(' | ').slice(0, 300)}`}`, { where: command });
  }
  return { stdout, stderr, exitCode: r.exitCode, durationMs, cpuSeconds, error };
};
