/**
 * I/O: finds the rotated copies of a log file next to it — kubelet's `N.log.<YYYYMMDD-hhmmss>`
 * (later `.gz`), logrotate's `name.1`, `name.1.gz`, `name-20240101` — ordered oldest first
 * by modification time. `.tmp` files (kubelet's compression in progress) are ignored.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A rotated sibling of a live log file. */
export interface RotatedFile {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  gzip: boolean;
}

/** Lists rotated siblings of `livePath`, oldest first; an unreadable directory gives none. */
export async function findRotated(livePath: string): Promise<RotatedFile[]> {
  const dir = dirname(livePath);
  const base = basename(livePath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: RotatedFile[] = [];
  for (const name of names) {
    if (name === base || name.endsWith('.tmp')) continue;
    if (!name.startsWith(`${base}.`) && !name.startsWith(`${base}-`)) continue;
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (st.isFile()) out.push({ path, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, gzip: name.endsWith('.gz') });
    } catch {
      // vanished between readdir and stat (compressed or deleted): skip
    }
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
}
