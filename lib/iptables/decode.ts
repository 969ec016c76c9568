/**
 * Turns the bytes of a dump into text. Dumps are ASCII in practice, and decoding ASCII as latin1 is a
 * copy, several times faster than UTF-8 decoding on 50 MB; anything else is decoded as UTF-8 (invalid
 * sequences become U+FFFD, which the parser reports as binary input).
 */
import { isAscii } from 'node:buffer';

/** Decodes a dump's bytes. */
export function decodeDump(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}
