/**
 * Pure: splits a byte stream into lines with their byte offsets, bounded in memory. A line longer
 * than `maxLineBytes` keeps its first `maxLineBytes` bytes, the rest is skipped up to the newline,
 * and the line is marked truncated. Bytes are decoded as UTF-8; invalid sequences become U+FFFD and
 * NUL bytes mark binary data: both are reported so the caller can count a decode error.
 */

/** One line out of the splitter. */
export interface SplitLine {
  /** The decoded text, without the newline (and without a trailing `\r`). */
  text: string;
  /** Byte offset just past this line's newline: where reading resumes after it. */
  end: number;
  /** True when the line was longer than the limit and was cut. */
  truncated: boolean;
  /** True when the bytes were not valid UTF-8 or held NUL bytes. */
  invalid: boolean;
}

/** Stateful splitter for one stream; feed it chunks in order. */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false; // inside an over-long line, dropping bytes until the newline
  #offset: number; // absolute offset of the next byte to be pushed

  constructor(options: { maxLineBytes: number; startOffset?: number }) {
    this.#maxLineBytes = options.maxLineBytes;
    this.#offset = options.startOffset ?? 0;
  }

  /** Bytes held for an unfinished line (bounded by maxLineBytes). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Splits a chunk; returns the lines it completed. */
  push(chunk: Buffer): SplitLine[] {
    const out: SplitLine[] = [];
    const base = this.#offset;
    this.#offset += chunk.length;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      this.#take(chunk, start, nl);
      out.push(this.#finish(base + nl + 1));
      start = nl + 1;
    }
    if (start < chunk.length) this.#take(chunk, start, chunk.length);
    return out;
  }

  /** Ends the stream: returns the last line when it had no newline (its `end` is the stream end). */
  flush(): SplitLine | undefined {
    if (this.#pendingBytes === 0 && !this.#skipping) return undefined;
    return this.#finish(this.#offset);
  }

  #take(chunk: Buffer, from: number, to: number): void {
    if (this.#skipping) return;
    const room = this.#maxLineBytes - this.#pendingBytes;
    if (to - from > room) {
      if (room > 0) this.#pending.push(chunk.subarray(from, from + room));
      this.#pendingBytes += Math.max(room, 0);
      this.#skipping = true;
      return;
    }
    if (to > from) {
      // The caller hands over each chunk (it never reuses the buffer), so slices need no copy.
      this.#pending.push(chunk.subarray(from, to));
      this.#pendingBytes += to - from;
    }
  }

  #finish(end: number): SplitLine {
    const bytes = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    let text = bytes.toString('utf8');
    if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    const invalid = text.includes('\uFFFD') || text.includes('\u0000');
    const line: SplitLine = { text, end, truncated: this.#skipping, invalid };
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#skipping = false;
    return line;
  }
}
