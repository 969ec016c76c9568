/**
 * Reading ASCII text straight from bytes, for the parser's hot path: comparing a word at an offset,
 * finding a token's end, and copying a slice out as a string that does not retain the bytes. Pure.
 */

/** Copies bytes[start, end) into a string. */
export type Copy = (start: number, end: number) => string;

interface SliceMethods {
  latin1Slice?(start: number, end: number): string;
  utf8Slice?(start: number, end: number): string;
}

// Buffer's own latin1Slice, when the runtime has it: toString checks its arguments through wrappers
// that cost more than the copy of a 25-byte chain name (and make garbage where V8 does not optimize
// them away, as in the scan worker, which runs without TurboFan).
const ownLatin1Slice = (Buffer.prototype as unknown as SliceMethods).latin1Slice;

/** bytes[start, end) as a latin1 string (see {@link latin1Copier}). */
export function latin1At(bytes: Buffer, start: number, end: number): string {
  return ownLatin1Slice !== undefined ? ownLatin1Slice.call(bytes, start, end) : bytes.toString('latin1', start, end);
}

/** A copier for an ASCII piece: Buffer's own `latin1Slice` when the runtime has it, else `toString('latin1')`. */
export function latin1Copier(bytes: Buffer): Copy {
  return (start, end) => latin1At(bytes, start, end);
}

/** A copier for a piece with UTF-8 text (slices start and end at ASCII delimiters). */
export function utf8Copier(bytes: Buffer): Copy {
  return (start, end) => bytes.toString('utf8', start, end);
}

/** True when bytes[at, at + word.length) is `word` (an ASCII string). */
export function bytesStartWith(bytes: Uint8Array, at: number, word: string): boolean {
  const n = word.length;
  if (at + n > bytes.length) return false;
  for (let i = 0; i < n; i++) if (bytes[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** True when bytes[at, to) is exactly `word`. */
export function bytesAre(bytes: Uint8Array, at: number, to: number, word: string): boolean {
  return to - at === word.length && bytesStartWith(bytes, at, word);
}

/** True when bytes[a0, a1) equals bytes[b0, b1). */
export function sameBytes(bytes: Uint8Array, a0: number, a1: number, b0: number, b1: number): boolean {
  if (a1 - a0 !== b1 - b0) return false;
  for (let i = 0; i < a1 - a0; i++) if (bytes[a0 + i] !== bytes[b0 + i]) return false;
  return true;
}

/** 1-based line number of byte `index` within `bytes`. */
export function lineAt(bytes: Uint8Array, index: number): number {
  let n = 1;
  for (let i = bytes.indexOf(10); i !== -1 && i < index; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}
