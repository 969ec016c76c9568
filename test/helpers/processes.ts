/**
 * Live processes by command line (Linux /proc): to check that no command was left behind, and to
 * find this process's own children.
 */
import { readdirSync, readFileSync } from 'node:fs';

// A process's command line (arguments each ended by NUL), or undefined once it has exited.
function cmdlineOf(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
}

/** How many live processes run exactly `argv`. */
export function processesRunning(argv: readonly string[]): number {
  const want = `${argv.join('\0')}\0`;
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (cmdlineOf(pid) === want) n++;
  }
  return n;
}

/** The live child processes of this process whose command line contains `part`. */
export function childProcesses(part: string): number[] {
  const pids: number[] = [];
  for (const task of readdirSync('/proc/self/task')) {
    for (const pid of readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(' ').filter((p) => p !== '')) {
      if (cmdlineOf(pid)?.includes(part)) pids.push(Number(pid));
    }
  }
  return pids;
}
