/**
 * Pure: turns physical lines of one file into logical records. It unwraps each line
 * (CRI / json-file / plain), joins partial records (`P`... `F`) into one line, and joins a klog
 * multi-line value block (a header ending in `=<`, TAB-indented lines, a closing ` >` line) into
 * one record, so a cause that sits on a continuation line is classified with its header and a
 * continuation line is never classified on its own.
 *
 * `safeOffset` is the byte offset up to which every line has been handed out as part of a
 * record: a read position saved there never skips nor repeats a record.
 */
import { decodeWrapper } from './decode-wrapper.ts';
import type { SplitLine } from './line-splitter.ts';

/** A logical record out of the assembler. */
export interface AssembledRecord {
  /** The payload (block lines joined with `\n`). */
  message: string;
  /** The wrapper time of its first physical line. */
  time: string | undefined;
  /** 1-based number of its first physical line in the file. */
  line: number;
  /** True when it was cut to the size limit. */
  truncated: boolean;
  /** True when any of its bytes were not valid UTF-8. */
  invalid: boolean;
}

interface Pending {
  parts: string[];
  bytes: number;
  time: string | undefined;
  line: number;
  truncated: boolean;
  invalid: boolean;
  lines: number;
}

/** Limits for one assembler. */
export interface AssemblerOptions {
  /** Largest joined record, in UTF-16 units (partials beyond it are dropped and the record marked truncated). */
  maxRecordChars: number;
  /** Most physical lines in one klog block before it is handed out anyway. */
  maxBlockLines: number;
}

/** Assembles the records of one file; feed it lines in order. */
export class RecordAssembler {
  readonly #options: AssemblerOptions;
  #lineNo: number;
  #partial: Pending | undefined; // CRI/json-file partial records being joined
  #block: Pending | undefined; // klog `=<` block being joined
  #lastEnd: number; // offset just past the last line pushed
  #pendingStart: number; // offset where the oldest pending physical line starts
  #pendingStartLine: number; // lines before it

  constructor(options: AssemblerOptions & { startLine?: number; startOffset?: number }) {
    this.#options = options;
    this.#lineNo = options.startLine ?? 0;
    this.#lastEnd = options.startOffset ?? 0;
    this.#pendingStart = this.#lastEnd;
    this.#pendingStartLine = this.#lineNo;
  }

  /** Physical lines before safeOffset (a resumed reader starts numbering after them). */
  get safeLine(): number {
    return this.hasPending ? this.#pendingStartLine : this.#lineNo;
  }

  /** Offset up to which all lines were handed out in records. */
  get safeOffset(): number {
    return this.hasPending ? this.#pendingStart : this.#lastEnd;
  }

  /** How many physical lines were pushed (plus the start line): the number of the last one. */
  get linesSeen(): number {
    return this.#lineNo;
  }

  /** True while a partial record or a block waits for more lines. */
  get hasPending(): boolean {
    return this.#partial !== undefined || this.#block !== undefined;
  }

  /** Feeds one physical line; returns the records it completed (0, 1 or 2). */
  push(split: SplitLine): AssembledRecord[] {
    if (!this.hasPending) {
      this.#pendingStart = this.#lastEnd;
      this.#pendingStartLine = this.#lineNo;
    }
    this.#lastEnd = split.end;
    this.#lineNo += 1;
    const wrapped = decodeWrapper(split.text);
    const out: AssembledRecord[] = [];
    let logical: Pending;
    if (this.#partial !== undefined) {
      logical = this.#partial;
      this.#append(logical, wrapped.message, split);
    } else {
      logical = this.#start(wrapped.message, wrapped.time, split);
    }
    if (wrapped.partial) {
      this.#partial = logical;
      return out;
    }
    this.#partial = undefined;
    this.#onLogical(logical, out);
    return out;
  }

  /** Hands out whatever is pending (end of file, or the file went quiet). */
  flush(): AssembledRecord[] {
    const out: AssembledRecord[] = [];
    if (this.#partial !== undefined) {
      const logical = this.#partial;
      this.#partial = undefined;
      this.#onLogical(logical, out);
    }
    if (this.#block !== undefined) {
      out.push(this.#emit(this.#block));
      this.#block = undefined;
    }
    return out;
  }

  // Routes one complete logical line through the klog block joiner.
  #onLogical(logical: Pending, out: AssembledRecord[]): void {
    const text = logical.parts.length === 1 ? logical.parts[0]! : logical.parts.join('');
    const block = this.#block;
    if (block !== undefined) {
      const c0 = text.charCodeAt(0);
      if (c0 === 9 /* TAB */ || text === '') {
        this.#appendBlock(block, text, logical);
        if (block.lines >= this.#options.maxBlockLines) {
          out.push(this.#emit(block));
          this.#block = undefined;
        }
        return;
      }
      if (c0 === 32 && text.charCodeAt(1) === 62 /* ' >' */) {
        this.#appendBlock(block, text, logical);
        out.push(this.#emit(block));
        this.#block = undefined;
        return;
      }
      out.push(this.#emit(block));
      this.#block = undefined;
    }
    if (text.endsWith('=<')) {
      this.#block = { ...logical, parts: [text], lines: 1 };
      return;
    }
    out.push(this.#emit({ ...logical, parts: [text] }));
  }

  #start(message: string, time: string | undefined, split: SplitLine): Pending {
    const pending: Pending = { parts: [], bytes: 0, time, line: this.#lineNo, truncated: split.truncated, invalid: split.invalid, lines: 1 };
    this.#append(pending, message, split);
    return pending;
  }

  #append(pending: Pending, message: string, split: SplitLine): void {
    pending.truncated ||= split.truncated;
    pending.invalid ||= split.invalid;
    const room = this.#options.maxRecordChars - pending.bytes;
    if (message.length > room) {
      if (room > 0) pending.parts.push(message.slice(0, room));
      pending.bytes = this.#options.maxRecordChars;
      pending.truncated = true;
      return;
    }
    pending.parts.push(message);
    pending.bytes += message.length;
  }

  #appendBlock(block: Pending, text: string, logical: Pending): void {
    block.lines += 1;
    block.truncated ||= logical.truncated;
    block.invalid ||= logical.invalid;
    const room = this.#options.maxRecordChars - block.bytes;
    if (text.length + 1 > room) {
      block.truncated = true;
      return;
    }
    block.parts.push('\n', text);
    block.bytes += text.length + 1;
  }

  #emit(pending: Pending): AssembledRecord {
    return {
      message: pending.parts.length === 1 ? pending.parts[0]! : pending.parts.join(''),
      time: pending.time,
      line: pending.line,
      truncated: pending.truncated,
      invalid: pending.invalid,
    };
  }
}
