/**
 * I/O edge for one-shot reads (`scan-logs`): streams a file (gzip detected by its magic bytes),
 * splits, assembles and classifies it, and reports every match through a callback. Memory stays
 * bounded by the line limit whatever the file size.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { agentError } from '../errors.ts';
import type { RuleSet } from './compile-rules.ts';
import { componentOfPath } from './infer-component.ts';
import { LineSplitter } from './line-splitter.ts';
import { matchRecord } from './match-record.ts';
import { RecordAssembler } from './record-assembler.ts';
import type { LogMatch } from './types.ts';

/** What one scan saw. */
export interface ScanStats {
  lines: number;
  matches: number;
  truncatedLines: number;
  decodeErrors: number;
}

/** Options of scanFile. */
export interface ScanOptions {
  rules: RuleSet;
  /** Longest line kept, in bytes (longer lines are cut and counted). */
  maxLineBytes: number;
  /** Called for each match with the 1-based number of its first physical line. */
  onMatch: (match: LogMatch, line: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Reads a whole file once. Rejects with a coded error when it cannot be read. */
export async function scanFile(path: string, options: ScanOptions): Promise<ScanStats> {
  const component = componentOfPath(path);
  const stats: ScanStats = { lines: 0, matches: 0, truncatedLines: 0, decodeErrors: 0 };
  const splitter = new LineSplitter({ maxLineBytes: options.maxLineBytes });
  const assembler = new RecordAssembler({ maxRecordChars: options.maxLineBytes, maxBlockLines: 64 });
  const handle = async (records: ReturnType<RecordAssembler['push']>): Promise<void> => {
    for (const record of records) {
      if (record.truncated) stats.truncatedLines += 1;
      if (record.invalid) stats.decodeErrors += 1;
      const match = matchRecord(options.rules, record, component);
      if (match !== undefined) {
        stats.matches += 1;
        await options.onMatch(match, record.line);
      }
    }
  };
  const stream = await openStream(path, options.signal);
  try {
    for await (const chunk of stream) {
      for (const line of splitter.push(chunk as Buffer)) {
        stats.lines += 1;
        await handle(assembler.push(line));
      }
    }
  } catch (error) {
    const gzip = (error as { code?: string }).code?.startsWith('Z_') === true;
    throw agentError(gzip ? 'DPS_ERR_LOGS_GZIP' : 'DPS_ERR_LOGS_READ',
      `Could not read ${path} after ${stats.lines} lines (${(error as Error).message}).`, { where: path, cause: error });
  }
  const last = splitter.flush();
  if (last !== undefined) {
    stats.lines += 1;
    await handle(assembler.push(last));
  }
  await handle(assembler.flush());
  return stats;
}

// Opens the file, through gunzip when it starts with the gzip magic bytes.
async function openStream(path: string, signal: AbortSignal | undefined): Promise<Readable> {
  let magic: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
      magic = buffer.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw agentError(code === 'EACCES' || code === 'EPERM' ? 'DPS_ERR_LOGS_PERMISSION' : code === 'EISDIR' ? 'DPS_ERR_LOGS_NOT_A_FILE' : 'DPS_ERR_LOGS_READ',
      `Could not open ${path} (${(error as Error).message}).`, { where: path, cause: error });
  }
  const file = createReadStream(path, { highWaterMark: 256 * 1024, ...(signal === undefined ? {} : { signal }) });
  if (magic[0] === 0x1f && magic[1] === 0x8b) return file.pipe(createGunzip());
  return file;
}
