/**
 * I/O edge: the read-position state file. Written atomically (temp file, fsync, rename), so a
 * crash leaves the old or the new state, never a torn one. A corrupt file or one written on
 * another node is reported (coded error for the log line and the metric) and ignored.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { agentError } from '../errors.ts';
import type { AgentError } from '../errors.ts';
import type { FilePosition } from './file-position.ts';

/** What the state file holds. */
export interface LogState {
  version: 1;
  /** The node that wrote it (a state file from another node is ignored). */
  node: string;
  /** Read positions per followed path, oldest first. */
  files: Record<string, FilePosition[]>;
  /** journald cursors per journal source key. */
  journal: Record<string, string>;
}

/** An empty state for a node. */
export function emptyState(node: string): LogState {
  return { version: 1, node, files: {}, journal: {} };
}

/** Loads the state; a missing file is a first start (no problem), a bad one is a problem plus an empty state. */
export async function loadState(path: string, node: string): Promise<{ state: LogState; problem: AgentError | undefined; firstStart: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { state: emptyState(node), problem: undefined, firstStart: true };
    return { state: emptyState(node), firstStart: true, problem: agentError('DPS_ERR_LOGS_READ', `Cannot read the state file ${path}: ${(error as Error).message}.`, { where: path, cause: error }) };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return { state: emptyState(node), firstStart: true, problem: agentError('DPS_ERR_LOGS_STATE_CORRUPT', `The state file ${path} is not valid JSON (${(error as Error).message}).`, { where: path, cause: error }) };
  }
  if (!isState(doc)) {
    return { state: emptyState(node), firstStart: true, problem: agentError('DPS_ERR_LOGS_STATE_CORRUPT', `The state file ${path} does not have the expected shape (version 1, node, files, journal).`, { where: path }) };
  }
  if (doc.node !== node) {
    return { state: emptyState(node), firstStart: true, problem: agentError('DPS_ERR_LOGS_STATE_OTHER_NODE', `The state file ${path} was written on node "${doc.node}", this is "${node}".`, { where: path }) };
  }
  return { state: doc, problem: undefined, firstStart: false };
}

/** Writes the state atomically. Rejects with DPS_ERR_LOGS_STATE_WRITE. */
export async function saveState(path: string, state: LogState): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (error) {
    throw agentError('DPS_ERR_LOGS_STATE_WRITE', `Cannot write the state file ${path}: ${(error as Error).message}.`, { where: path, cause: error });
  }
}

function isState(doc: unknown): doc is LogState {
  if (typeof doc !== 'object' || doc === null) return false;
  const d = doc as Record<string, unknown>;
  if (d.version !== 1 || typeof d.node !== 'string' || typeof d.files !== 'object' || d.files === null || typeof d.journal !== 'object' || d.journal === null) return false;
  for (const list of Object.values(d.files as Record<string, unknown>)) {
    if (!Array.isArray(list)) return false;
    for (const p of list) {
      const q = p as Record<string, unknown>;
      if (typeof p !== 'object' || p === null || typeof q.path !== 'string' || typeof q.dev !== 'number' || typeof q.ino !== 'number'
        || typeof q.offset !== 'number' || typeof q.line !== 'number' || typeof q.fingerprint !== 'string' || typeof q.fingerprintBytes !== 'number') return false;
    }
  }
  return Object.values(d.journal as Record<string, unknown>).every((c) => typeof c === 'string');
}
