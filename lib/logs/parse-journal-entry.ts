/** Pure: one line of `journalctl -o json` output into the fields the classifier needs. */
import { componentOfJournalEntry } from './infer-component.ts';

/** A journald entry, reduced. */
export interface JournalEntry {
  cursor: string;
  message: string;
  component: string;
  /** RFC 3339 from __REALTIME_TIMESTAMP (µs since the epoch). */
  time: string | undefined;
  /** True when MESSAGE was not valid UTF-8 (journalctl prints it as a byte array). */
  invalid: boolean;
}

/** Parses one JSON line; returns undefined for a line that is not a journal entry. */
export function parseJournalEntry(line: string): JournalEntry | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const e = doc as Record<string, unknown>;
  if (typeof e.__CURSOR !== 'string') return undefined;
  let message = '';
  let invalid = false;
  if (typeof e.MESSAGE === 'string') message = e.MESSAGE;
  else if (Array.isArray(e.MESSAGE) && e.MESSAGE.every((b) => typeof b === 'number')) {
    // journalctl prints non-UTF-8 (or binary) fields as arrays of byte values
    message = Buffer.from(e.MESSAGE as number[]).toString('utf8');
    invalid = true;
  }
  const us = typeof e.__REALTIME_TIMESTAMP === 'string' ? Number(e.__REALTIME_TIMESTAMP) : Number.NaN;
  return {
    cursor: e.__CURSOR,
    message,
    component: componentOfJournalEntry(str(e._SYSTEMD_UNIT), str(e.SYSLOG_IDENTIFIER), str(e._TRANSPORT)),
    time: Number.isFinite(us) ? new Date(Math.floor(us / 1000)).toISOString() : undefined,
    invalid,
  };
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
