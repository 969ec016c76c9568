/**
 * Read positions: what identifies a file across renames and restarts (device, inode and a
 * fingerprint of its first bytes) and how far it was read. Plus the I/O helper that computes a
 * fingerprint from an open file.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** Bytes at the start of a file that identify it (fewer while the file is shorter). */
export const FINGERPRINT_BYTES = 256;

/** Where a file was read up to, and which file it was. */
export interface FilePosition {
  /** The path followed (the live name, e.g. `.../0.log`). */
  path: string;
  dev: number;
  ino: number;
  /** Byte offset of the next unread record. */
  offset: number;
  /** Number of physical lines before `offset` (for 1-based line numbers). */
  line: number;
  /** sha256 (hex, 16 chars) of the first `fingerprintBytes` bytes. */
  fingerprint: string;
  fingerprintBytes: number;
}

/** Hashes the first `length` bytes (pure). */
export function fingerprintOf(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Reads and hashes the first min(size, want) bytes of an open file. */
export async function readFingerprint(fh: FileHandle, size: number, want = FINGERPRINT_BYTES): Promise<{ fingerprint: string; fingerprintBytes: number }> {
  const length = Math.min(size, want);
  const buf = Buffer.alloc(length);
  const { bytesRead } = length === 0 ? { bytesRead: 0 } : await fh.read(buf, 0, length, 0);
  return { fingerprint: fingerprintOf(buf.subarray(0, bytesRead)), fingerprintBytes: bytesRead };
}
