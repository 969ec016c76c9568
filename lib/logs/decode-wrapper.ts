/**
 * Pure: strips the on-disk wrapper from one physical line. Understands CRI
 * (`<RFC3339Nano> <stdout|stderr> <P|F>[:extra] <message>`, as kubelet parses it: any fraction
 * length, any UTC offset, the tag split on `:`), Docker json-file (`{"log":"...\n","stream":...,"time":...}`,
 * where a `log` without its trailing newline is a 16 KiB partial chunk) and plain lines.
 */

/** One physical line, unwrapped. */
export interface WrappedLine {
  /** The payload. */
  message: string;
  /** The wrapper's timestamp, when it has one. */
  time: string | undefined;
  /** True when the runtime split the line and more of it follows (CRI `P`, json-file without `\n`). */
  partial: boolean;
  /** Which wrapper was recognised. */
  format: 'cri' | 'docker' | 'plain';
}

const CRI = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) (stdout|stderr) ([^ ]+) ?/;

/** Unwraps one physical line (without its newline). Never throws. */
export function decodeWrapper(line: string): WrappedLine {
  const first = line.charCodeAt(0);
  if (first >= 48 && first <= 57 && line.charCodeAt(10) === 84 /* T */) {
    const m = CRI.exec(line);
    if (m !== null) {
      const tag = m[3]!;
      const partial = tag === 'P' || (tag.charCodeAt(0) === 80 && tag.charCodeAt(1) === 58); // 'P' or 'P:...'
      return { message: line.slice(m[0].length), time: m[1], partial, format: 'cri' };
    }
  } else if (first === 123 /* { */ && line.startsWith('{"log":')) {
    const docker = decodeDockerJson(line);
    if (docker !== undefined) return docker;
  }
  return { message: line, time: undefined, partial: false, format: 'plain' };
}

function decodeDockerJson(line: string): WrappedLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { log, time } = value as { log?: unknown; time?: unknown };
  if (typeof log !== 'string') return undefined;
  const complete = log.endsWith('\n');
  return {
    message: complete ? log.slice(0, log.endsWith('\r\n') ? -2 : -1) : log,
    time: typeof time === 'string' ? time : undefined,
    partial: !complete,
    format: 'docker',
  };
}
