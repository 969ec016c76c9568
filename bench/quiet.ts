/**
 * Waits until the machine is quiet before a measurement: a network namespace holding 450k iptables
 * rules keeps a kernel worker busy for seconds after it exits (tearing the rules down), which slowed
 * the measurements that followed it by half. Reads /proc/stat; gives up (and says so) after `maxMs`.
 */
import { readFileSync } from 'node:fs';

/** Busy and total CPU ticks of the whole machine so far. */
function cpuTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Resolves once the machine was less than `busyShare` busy (all cores) over a 500 ms window;
 * returns how long it waited, or undefined when it gave up after `maxMs` (or without /proc/stat).
 */
export async function waitForQuiet(busyShare = 0.1, maxMs = 300_000): Promise<number | undefined> {
  const start = Date.now();
  try {
    for (;;) {
      const a = cpuTicks();
      await new Promise((r) => setTimeout(r, 500));
      const b = cpuTicks();
      if (b.total > a.total && (b.busy - a.busy) / (b.total - a.total) < busyShare) return Date.now() - start;
      if (Date.now() - start > maxMs) return undefined;
    }
  } catch {
    return undefined;
  }
}
