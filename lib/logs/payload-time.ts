/**
 * Pure: the time written inside a payload, for lines without a timestamped wrapper (plain files,
 * journald gives its own). Returns RFC 3339 text, or undefined when the format carries no full
 * date (klog text has no year, BIRD on stdout has none).
 */

const ISO = /^\s*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)/;
const SLASHED = /^\s*(\d{4})\/(\d{2})\/(\d{2}) (\d{2}:\d{2}:\d{2})/;
const SVLOGD = /^(\d{4}-\d{2}-\d{2})_(\d{2}:\d{2}:\d{2}(?:\.\d+)?)/;
const LOGFMT_TIME = /\btime="?(\d{4}-\d{2}-\d{2}T[^"\s]+)"?/;
const JSON_TS = /"(?:ts|time|timestamp)":\s*(?:"(\d{4}-\d{2}-\d{2}T[^"]+)"|(\d{12,}(?:\.\d+)?))/;

/** The payload's own time, RFC 3339 (UTC assumed when the payload has no offset). */
export function payloadTime(message: string): string | undefined {
  let m = ISO.exec(message);
  if (m !== null) {
    const text = m[1]!.replace(' ', 'T').replace(',', '.');
    return /(?:Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`;
  }
  m = SVLOGD.exec(message);
  if (m !== null) return `${m[1]}T${m[2]}Z`;
  m = SLASHED.exec(message);
  if (m !== null) return `${m[1]}-${m[2]}-${m[3]}T${m[4]}Z`;
  if (message.charCodeAt(0) === 123 /* { */) {
    m = JSON_TS.exec(message);
    if (m !== null) {
      if (m[1] !== undefined) return m[1];
      // klog JSON: float milliseconds since the epoch.
      const ms = Number(m[2]);
      return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
    }
    return undefined;
  }
  m = LOGFMT_TIME.exec(message);
  if (m !== null) return m[1];
  return undefined;
}
