/**
 * The peak RSS of this process image, from /proc/self/status (VmHWM). Not `resourceUsage().maxRSS`:
 * Linux keeps that across fork and exec, so a measured child reports its parent's RSS when the
 * parent was bigger (a benchmark holding a generated 10k-service cluster, say). Elsewhere, maxRSS.
 */
import { readFileSync } from 'node:fs';

/** Peak RSS in bytes. */
export function peakRssBytes(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
