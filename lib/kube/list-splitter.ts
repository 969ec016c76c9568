/**
 * Pure: splits a Kubernetes list response (`{"kind":…,"metadata":{…},"items":[…]}`) into its
 * items while it streams in, so that each item is parsed, handed on (and trimmed) on its own.
 * Reading the whole page as text and parsing it at once kept the page's text, its chunks and
 * every full object of the page alive together, which is what drove the initial sync's peak RSS.
 *
 * Scans bytes only for JSON structure (strings, escapes, brackets); each element of the
 * top-level `items` array is cut out and given to `JSON.parse`, and everything else (the
 * envelope, with `"items":[]`) is parsed at the end. Malformed JSON still throws the
 * `SyntaxError` of `JSON.parse`, from the item or the envelope it is in.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const ITEMS = 'items';

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const text = (parts: Uint8Array[]): string => {
  const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength).toString('utf8');
};
// Bytes [from, to) of a chunk as Latin-1, at most enough of them to tell `items` from a longer key.
const latin1 = (chunk: Uint8Array, from: number, to: number): string =>
  String.fromCharCode(...chunk.subarray(from, Math.min(to, from + ITEMS.length + 1)));

/** Feeds list-response bytes in; calls `onItem` for each element of `items` as soon as it is complete. */
export class ListSplitter {
  readonly #onItem: (item: unknown) => void;
  #depth = 0;
  #inString = false;
  /** Inside a string, the previous byte was an unescaped backslash (across chunks). */
  #escaped = false;
  /** 'envelope' until the top-level `items` array opens, 'items' inside it, 'after' once closed. */
  #mode: 'envelope' | 'items' | 'after' = 'envelope';
  /** The last string closed at depth 1 outside the items (a key, when a value follows), cut short. */
  #key = '';
  /** The depth-1 string being read (undefined when the current string is not one). */
  #keyPart: string | undefined;
  readonly #envelope: Uint8Array[] = [];
  #item: Uint8Array[] = [];
  /** Kind of the element being cut out: a container, a string, or a bare scalar. */
  #itemKind: 'none' | 'container' | 'string' | 'scalar' = 'none';
  /** Where the element being cut out starts in the current chunk (-1: not in it). */
  #itemStart = -1;

  constructor(onItem: (item: unknown) => void) {
    this.#onItem = onItem;
  }

  // The index of the quote that closes the string going on at `i`, or -1 when the chunk ends first.
  #closingQuote(chunk: Uint8Array, i: number): number {
    for (;;) {
      if (this.#escaped) {
        this.#escaped = false;
        i++;
      }
      const q = i < chunk.length ? chunk.indexOf(QUOTE, i) : -1;
      let k = (q < 0 ? chunk.length : q) - 1;
      let backslashes = 0;
      while (k >= i && chunk[k] === BACKSLASH) {
        k--;
        backslashes++;
      }
      if (q < 0) {
        this.#escaped = backslashes % 2 === 1;
        return -1;
      }
      if (backslashes % 2 === 0) return q;
      i = q + 1; // an escaped quote
    }
  }

  /** Scans one chunk. */
  push(chunk: Uint8Array): void {
    let envStart = this.#mode === 'items' ? -1 : 0;
    this.#itemStart = this.#itemKind === 'none' ? -1 : 0;
    let i = 0;
    if (this.#inString) i = this.#endString(chunk, 0) + 1;
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      const inItems = this.#mode === 'items' && this.#depth === 2;
      if (inItems && this.#itemKind === 'scalar' && (c === COMMA || c === CLOSE_BRACKET || isSpace(c))) this.#endItem(chunk, i);
      if (c === QUOTE) {
        this.#inString = true;
        if (this.#mode !== 'items' && this.#depth === 1) this.#keyPart = '';
        if (inItems && this.#itemKind === 'none') {
          this.#itemKind = 'string';
          this.#itemStart = i;
        }
        i = this.#endString(chunk, i + 1);
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (inItems && this.#itemKind === 'none') {
          this.#itemKind = 'container';
          this.#itemStart = i;
        }
        if (this.#mode === 'envelope' && this.#depth === 1 && c === OPEN_BRACKET && this.#key === ITEMS) {
          this.#mode = 'items';
          this.#envelope.push(chunk.subarray(envStart, i + 1));
          envStart = -1;
        }
        this.#depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (inItems && c === CLOSE_BRACKET) {
          this.#mode = 'after';
          envStart = i;
        }
        this.#depth--;
        if (this.#mode === 'items' && this.#depth === 2 && this.#itemKind === 'container') this.#endItem(chunk, i + 1);
      } else if (inItems && this.#itemKind === 'none' && c !== COMMA && !isSpace(c)) {
        this.#itemKind = 'scalar';
        this.#itemStart = i;
      }
    }
    if (envStart >= 0) this.#envelope.push(chunk.subarray(envStart));
    if (this.#itemStart >= 0) this.#item.push(chunk.subarray(this.#itemStart));
  }

  // The element being cut out ends at `end` (exclusive) in `chunk`: parses it and hands it on.
  #endItem(chunk: Uint8Array, end: number): void {
    this.#item.push(chunk.subarray(this.#itemStart, end));
    const parts = this.#item;
    this.#item = [];
    this.#itemKind = 'none';
    this.#itemStart = -1;
    this.#onItem(JSON.parse(text(parts)));
  }

  // Skips to the end of the string going on at `from`; returns the index of its closing quote, or the chunk's length.
  #endString(chunk: Uint8Array, from: number): number {
    const q = this.#closingQuote(chunk, from);
    if (this.#keyPart !== undefined && this.#keyPart.length <= ITEMS.length) this.#keyPart += latin1(chunk, from, q < 0 ? chunk.length : q);
    if (q < 0) return chunk.length;
    this.#inString = false;
    if (this.#keyPart !== undefined) {
      this.#key = this.#keyPart;
      this.#keyPart = undefined;
    }
    if (this.#itemKind === 'string' && this.#depth === 2) this.#endItem(chunk, q + 1);
    return q;
  }

  /** Ends the body; returns the parsed envelope (with `items` emptied when they were streamed). */
  end(): unknown {
    if (this.#inString || this.#itemKind !== 'none' || this.#mode === 'items') throw new SyntaxError('Unexpected end of JSON input in the list items');
    return JSON.parse(text(this.#envelope));
  }
}
