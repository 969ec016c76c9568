/**
 * Live processes by command line (Linux /proc): to check that no command was left behind.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** How many live processes run exactly `argv`. */
export function processesRunning(argv: readonly string[]): number {
  const want = `${argv.join('\0')}\0`;
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want) n++;
    } catch { /* exited meanwhile */ }
  }
  return n;
}
