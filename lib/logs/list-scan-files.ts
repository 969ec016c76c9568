/** I/O: expands scan-logs PATH arguments into the regular files to read, in a stable order. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { agentError } from '../errors.ts';

/** A file to scan, or a path that could not be listed. */
export type ScanTarget = { file: string } | { error: Error; path: string };

/**
 * Lists files: a file argument as is, a directory recursively (sorted by name, `.tmp` leftovers of
 * kubelet's compression skipped). A PATH that does not exist rejects (it is a usage error); an
 * unreadable directory below it is reported as a target with an error.
 */
export async function listScanFiles(paths: readonly string[]): Promise<ScanTarget[]> {
  const out: ScanTarget[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw agentError('DPS_ERR_INPUT_READ', `Cannot read ${path}: ${(error as Error).message}.`, { where: path, cause: error });
    }
    if (info.isDirectory()) await walk(path, out);
    else out.push({ file: path });
  }
  return out;
}

async function walk(dir: string, out: ScanTarget[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as { code?: string }).code === 'EACCES' ? 'DPS_ERR_LOGS_PERMISSION' : 'DPS_ERR_LOGS_READ';
    out.push({ path: dir, error: agentError(code, `Cannot list ${dir}: ${(error as Error).message}.`, { where: dir, cause: error }) });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, out);
    else if (entry.isFile() && !entry.name.endsWith('.tmp')) out.push({ file: path });
  }
}
