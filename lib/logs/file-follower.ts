/**
 * I/O edge: follows one log file by path, across rotation, and hands out assembled records.
 *
 * Invariants (why it never reads a line twice nor skips one):
 *  - Each open file is a Reader bound to one inode. A rename (kubelet: `N.log` → `N.log.<ts>`)
 *    leaves the old Reader *draining* until it has been quiet for two polls, while a new Reader
 *    follows the new inode at the path from offset 0. The runtime may write to the old inode until
 *    it reopens the log, so draining is by inode (the open fd), not by name; gzip/delete of the
 *    renamed file does not matter once it is open.
 *  - Truncation in place (copytruncate) is seen as size < offset on the same inode: the tail
 *    written between the last read and the copy is read from the copy (a sibling whose start has
 *    the same fingerprint), then the file is read again from 0.
 *  - positions() returns one position per open Reader, oldest first, at the assembler's safe
 *    offset. Resuming from them (see `resume`) re-finds each inode — live, renamed, or gzipped
 *    (by fingerprint) — and reads newer rotated files and the live file from 0.
 * Polls must not overlap (the watcher serialises them); every error is reported, never thrown.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { ErrorCode } from '../errors.ts';
import { FINGERPRINT_BYTES, fingerprintOf, readFingerprint } from './file-position.ts';
import type { FilePosition } from './file-position.ts';
import { findRotated } from './find-rotated.ts';
import type { RotatedFile } from './find-rotated.ts';
import { LineSplitter } from './line-splitter.ts';
import { RecordAssembler } from './record-assembler.ts';
import type { AssembledRecord } from './record-assembler.ts';

/** How to start reading a path the first time. */
export type FollowStart =
  | { kind: 'beginning' }
  | { kind: 'lookback'; notBeforeMs: number; maxBytes: number }
  | { kind: 'resume'; positions: readonly FilePosition[] };

/** Counters a follower increments (summed by the watcher into its metrics). */
export interface FollowerStats {
  lines: number;
  bytes: number;
  truncatedLines: number;
  decodeErrors: number;
}

/** What a follower needs. */
export interface FollowerOptions {
  path: string;
  start: FollowStart;
  maxLineBytes: number;
  /** Most bytes read per Reader per poll (bounds CPU in a log storm; the rest waits a poll). */
  readBudgetBytes: number;
  /** Hand out a pending partial record/block after this long without new data. */
  idleFlushMs: number;
  now: () => number;
  onRecord: (record: AssembledRecord, path: string) => void;
  /** Called when the source's problem changes (undefined = recovered). */
  onProblem: (code: ErrorCode | undefined, message: string, cause?: unknown) => void;
  stats: FollowerStats;
}

interface Reader {
  fh: FileHandle | undefined; // undefined for a gzip reader (read once, whole)
  gzipPath: string | undefined;
  dev: number;
  ino: number;
  offset: number; // next byte to read
  fingerprint: string;
  fingerprintBytes: number;
  splitter: LineSplitter;
  assembler: RecordAssembler;
  lastDataAt: number;
  quietPolls: number;
  notBeforeMs: number | undefined; // lookback: drop records older than this
}

/** Follows one path. */
export class FileFollower {
  readonly #o: FollowerOptions;
  #live: Reader | undefined;
  #draining: Reader[] = [];
  #started = false;
  #start: FollowStart;
  #problem: ErrorCode | undefined;

  constructor(options: FollowerOptions) {
    this.#o = options;
    this.#start = options.start;
  }

  /** The followed path. */
  get path(): string {
    return this.#o.path;
  }

  /** One step: open/reopen as needed, read what is new, detect rotation and truncation. */
  async poll(): Promise<void> {
    try {
      if (!this.#started) {
        await this.#startUp();
      } else if (this.#live === undefined) {
        await this.#openLive(0, 0, undefined);
      }
      for (const reader of [...this.#draining]) {
        const got = await this.#read(reader);
        reader.quietPolls = got > 0 ? 0 : reader.quietPolls + 1;
        if (reader.quietPolls >= 2 || reader.fh === undefined) await this.#retire(reader);
      }
      if (this.#live !== undefined) {
        await this.#read(this.#live);
        await this.#checkIdentity(this.#live);
      }
      if (this.#live !== undefined) this.#setProblem(undefined, '');
    } catch (error) {
      this.#reportError(error);
    }
  }

  /** Read positions to persist, oldest first (empty before the file was ever opened). */
  positions(): FilePosition[] {
    const readers = [...this.#draining, ...(this.#live === undefined ? [] : [this.#live])];
    return readers.map((r) => ({
      path: this.#o.path, dev: r.dev, ino: r.ino, offset: r.assembler.safeOffset, line: r.assembler.safeLine,
      fingerprint: r.fingerprint, fingerprintBytes: r.fingerprintBytes,
    }));
  }

  /**
   * Closes every open file. With `flush` (a file that went away) pending partial records are handed
   * out; without it (agent shutdown) they are not, and the saved positions stay before them so the
   * next start reads them whole.
   */
  async close(flush = true): Promise<void> {
    for (const reader of [...this.#draining, ...(this.#live === undefined ? [] : [this.#live])]) {
      if (flush) await this.#retire(reader);
      else await reader.fh?.close().catch(() => undefined);
    }
    this.#draining = [];
    this.#live = undefined;
  }

  // First open: resume saved positions (following renames and gzip), or look back, or start at 0.
  async #startUp(): Promise<void> {
    const start = this.#start;
    if (start.kind === 'resume' && start.positions.length > 0) {
      const rotated = await findRotated(this.#o.path);
      let newestMtime = -Infinity;
      let liveMatched = false;
      const liveStat = await statOrUndefined(this.#o.path);
      for (const pos of start.positions) {
        // Same inode *and* same first bytes: inodes are reused once a rotated file is deleted.
        if (liveStat !== undefined && liveStat.dev === pos.dev && liveStat.ino === pos.ino && liveStat.size >= pos.offset
          && (await headFingerprint(this.#o.path, pos.fingerprintBytes)) === pos.fingerprint) {
          liveMatched = await this.#openLive(pos.offset, pos.line, undefined, pos);
          continue;
        }
        const found = await this.#findSaved(pos, rotated);
        if (found === undefined) {
          this.#o.onProblem('DPS_ERR_LOGS_READ', `A rotated file of ${this.#o.path} read up to byte ${pos.offset} was not found: lines written after that position and before the rotation may be lost.`);
          continue;
        }
        newestMtime = Math.max(newestMtime, found.file.mtimeMs);
        this.#draining.push(found.reader);
      }
      // Rotated files newer than the last saved one were never read: read them whole.
      for (const file of rotated) {
        if (file.mtimeMs <= newestMtime || this.#draining.some((r) => r.ino === file.ino && r.dev === file.dev)) continue;
        if (newestMtime === -Infinity) break; // nothing saved was rotated: older copies were read before
        this.#draining.push(await this.#openRotated(file, 0, 0));
      }
      this.#started = true;
      if (!liveMatched) await this.#openLive(0, 0, undefined);
      return;
    }
    if (start.kind === 'lookback') {
      const st = await statOrUndefined(this.#o.path);
      if (st === undefined) {
        // It appears later: then it is a new file, read from its first line.
        this.#start = { kind: 'beginning' };
        this.#missing();
        return;
      }
      const from = Math.max(0, st.size - start.maxBytes);
      await this.#openLive(from, 0, start.notBeforeMs, undefined, from > 0);
      return;
    }
    await this.#openLive(0, 0, undefined);
  }

  #missing(): void {
    if (this.#draining.length === 0) this.#setProblem('DPS_ERR_LOGS_SOURCE_MISSING', `${this.#o.path} does not exist (yet): watching for it.`);
  }

  // Opens the live path as the live Reader. Returns false when it does not exist (yet).
  async #openLive(offset: number, line: number, notBeforeMs: number | undefined, saved?: FilePosition, skipPartialLine = false): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.#o.path, 'r');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') {
        this.#live = undefined;
        this.#missing();
        return false;
      }
      throw error;
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      this.#setProblem('DPS_ERR_LOGS_NOT_A_FILE', `${this.#o.path} is not a regular file: watching until it is one.`);
      this.#live = undefined;
      return false;
    }
    const fp = await readFingerprint(fh, st.size);
    let start = offset;
    let startLine = line;
    // A saved position whose fingerprint no longer matches (file replaced, same inode) or that is
    // past the end (truncated while we were down) is read from 0.
    if (saved !== undefined) {
      const sameStart = fp.fingerprintBytes >= saved.fingerprintBytes
        && fingerprintOf(await readHead(fh, saved.fingerprintBytes)) === saved.fingerprint;
      if (!sameStart || st.size < saved.offset) {
        start = 0;
        startLine = 0;
      }
    }
    if (skipPartialLine && start > 0) start = await nextLineStart(fh, start, st.size);
    this.#live = this.#makeReader(fh, undefined, st.dev, st.ino, start, startLine, fp, notBeforeMs);
    this.#started = true;
    return true;
  }

  #makeReader(fh: FileHandle | undefined, gzipPath: string | undefined, dev: number, ino: number, offset: number, line: number,
    fp: { fingerprint: string; fingerprintBytes: number }, notBeforeMs: number | undefined): Reader {
    return {
      fh, gzipPath, dev, ino, offset, ...fp, lastDataAt: this.#o.now(), quietPolls: 0, notBeforeMs,
      splitter: new LineSplitter({ maxLineBytes: this.#o.maxLineBytes, startOffset: offset }),
      assembler: new RecordAssembler({ maxRecordChars: this.#o.maxLineBytes, maxBlockLines: 64, startLine: line, startOffset: offset }),
    };
  }

  // Finds the file a saved position referred to among the rotated siblings: same inode, or a .gz with the same start.
  async #findSaved(pos: FilePosition, rotated: RotatedFile[]): Promise<{ file: RotatedFile; reader: Reader } | undefined> {
    for (const file of rotated) {
      if (!file.gzip && file.dev === pos.dev && file.ino === pos.ino && file.size >= pos.offset
        && (await headFingerprint(file.path, pos.fingerprintBytes)) === pos.fingerprint) {
        return { file, reader: await this.#openRotated(file, pos.offset, pos.line) };
      }
    }
    for (const file of rotated) {
      if (file.gzip && (await gzipHeadFingerprint(file.path, pos.fingerprintBytes)) === pos.fingerprint) {
        return { file, reader: await this.#openRotated(file, pos.offset, pos.line) };
      }
    }
    return undefined;
  }

  async #openRotated(file: RotatedFile, offset: number, line: number): Promise<Reader> {
    if (file.gzip) return this.#makeReader(undefined, file.path, file.dev, file.ino, offset, line, { fingerprint: '', fingerprintBytes: 0 }, undefined);
    const fh = await open(file.path, 'r');
    const fp = await readFingerprint(fh, file.size);
    return this.#makeReader(fh, undefined, file.dev, file.ino, offset, line, fp, undefined);
  }

  // Reads what is new in one Reader, up to the budget; returns the bytes read.
  async #read(reader: Reader): Promise<number> {
    if (reader.fh === undefined) return this.#readGzip(reader);
    let total = 0;
    while (total < this.#o.readBudgetBytes) {
      const buf = Buffer.allocUnsafe(Math.min(256 * 1024, this.#o.readBudgetBytes - total));
      const { bytesRead } = await reader.fh.read(buf, 0, buf.length, reader.offset);
      if (bytesRead === 0) break;
      reader.offset += bytesRead;
      total += bytesRead;
      this.#feed(reader, buf.subarray(0, bytesRead));
    }
    if (total > 0) {
      reader.lastDataAt = this.#o.now();
      if (reader.fingerprintBytes < FINGERPRINT_BYTES) Object.assign(reader, await readFingerprint(reader.fh, reader.offset));
    } else if (reader.assembler.hasPending && this.#o.now() - reader.lastDataAt >= this.#o.idleFlushMs) {
      this.#emit(reader, reader.assembler.flush());
    }
    return total;
  }

  // A saved position inside a rotated file that kubelet has since compressed: read it once, whole.
  async #readGzip(reader: Reader): Promise<number> {
    let skip = reader.offset;
    let total = 0;
    const stream = createReadStream(reader.gzipPath!).pipe(createGunzip());
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let data = chunk;
        if (skip > 0) {
          const n = Math.min(skip, data.length);
          data = data.subarray(n);
          skip -= n;
        }
        if (data.length > 0) {
          total += data.length;
          this.#feed(reader, data);
        }
      }
    } catch (error) {
      this.#o.onProblem('DPS_ERR_LOGS_GZIP', `Could not read all of ${reader.gzipPath}: ${(error as Error).message}.`, error);
    }
    return total;
  }

  #feed(reader: Reader, data: Buffer): void {
    this.#o.stats.bytes += data.length;
    for (const line of reader.splitter.push(data)) {
      this.#o.stats.lines += 1;
      if (line.truncated) this.#o.stats.truncatedLines += 1;
      if (line.invalid) this.#o.stats.decodeErrors += 1;
      this.#emit(reader, reader.assembler.push(line));
    }
  }

  #emit(reader: Reader, records: AssembledRecord[]): void {
    for (const record of records) {
      if (reader.notBeforeMs !== undefined && record.time !== undefined) {
        const t = Date.parse(record.time);
        if (Number.isFinite(t) && t < reader.notBeforeMs) continue;
      }
      this.#o.onRecord(record, this.#o.path);
    }
  }

  // Rename → drain the old inode and follow the new one; truncation → recover the tail, restart at 0.
  async #checkIdentity(live: Reader): Promise<void> {
    const st = await statOrUndefined(this.#o.path);
    if (st === undefined) return; // renamed or deleted: keep reading the open inode until a new file appears
    if (st.dev !== live.dev || st.ino !== live.ino) {
      live.quietPolls = 0;
      this.#draining.push(live);
      this.#live = undefined;
      if (await this.#openLive(0, 0, undefined)) await this.#read(this.#live!);
      return;
    }
    if (st.size < live.offset) {
      await this.#recoverCopiedTail(live);
      this.#emit(live, [...flushSplitter(live), ...live.assembler.flush()]);
      const fh = live.fh!;
      this.#live = this.#makeReader(fh, undefined, st.dev, st.ino, 0, 0, await readFingerprint(fh, st.size), undefined);
      await this.#read(this.#live);
    }
  }

  // copytruncate: lines written after our last read and before the copy are in the copy.
  async #recoverCopiedTail(live: Reader): Promise<void> {
    for (const file of (await findRotated(this.#o.path)).reverse()) {
      if (file.gzip || file.size <= live.offset) continue;
      const fh = await open(file.path, 'r');
      try {
        if (fingerprintOf(await readHead(fh, live.fingerprintBytes)) !== live.fingerprint) continue;
        const copy: Reader = { ...live, fh, notBeforeMs: undefined };
        while ((await this.#read(copy)) > 0) { /* read the copy's tail to its end */ }
        live.splitter = copy.splitter;
        live.assembler = copy.assembler;
        return;
      } finally {
        await fh.close();
      }
    }
  }

  async #retire(reader: Reader): Promise<void> {
    this.#emit(reader, [...flushSplitter(reader), ...reader.assembler.flush()]);
    this.#draining = this.#draining.filter((r) => r !== reader);
    await reader.fh?.close().catch(() => undefined);
  }

  #reportError(error: unknown): void {
    const code = (error as { code?: string }).code;
    if (code === 'EACCES' || code === 'EPERM') this.#setProblem('DPS_ERR_LOGS_PERMISSION', `Permission denied reading ${this.#o.path}.`, error);
    else if (code === 'EISDIR') this.#setProblem('DPS_ERR_LOGS_NOT_A_FILE', `${this.#o.path} is a directory.`, error);
    else this.#setProblem('DPS_ERR_LOGS_READ', `Could not read ${this.#o.path}: ${(error as Error).message}.`, error);
  }

  #setProblem(code: ErrorCode | undefined, message: string, cause?: unknown): void {
    if (code === this.#problem) return;
    this.#problem = code;
    this.#o.onProblem(code, message, cause);
  }
}

function flushSplitter(reader: Reader): AssembledRecord[] {
  const last = reader.splitter.flush();
  return last === undefined ? [] : reader.assembler.push(last);
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function headFingerprint(path: string, length: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    return fingerprintOf(await readHead(fh, length));
  } finally {
    await fh.close();
  }
}

async function readHead(fh: FileHandle, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = length === 0 ? { bytesRead: 0 } : await fh.read(buf, 0, length, 0);
  return buf.subarray(0, bytesRead);
}

// The offset just past the next newline at or after `from` (look-back starts on a whole line).
async function nextLineStart(fh: FileHandle, from: number, size: number): Promise<number> {
  const buf = Buffer.alloc(64 * 1024);
  let pos = from - 1;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl !== -1) return pos + nl + 1;
    pos += bytesRead;
  }
  return size;
}

async function gzipHeadFingerprint(path: string, length: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    const stream = createReadStream(path).pipe(createGunzip());
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= length) {
        stream.destroy();
        break;
      }
    }
  } catch {
    return undefined;
  }
  return fingerprintOf(Buffer.concat(parts).subarray(0, length));
}
