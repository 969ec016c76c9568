/**
 * I/O edge: reads cluster objects from a file or a directory of files, in every format
 * `check --cluster` accepts (kubectl JSON or YAML, a single object, a List, several documents),
 * into the ClusterView the engine checks against. Shared by `check` and the agent's file source.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { agentError, isAgentError } from '../lib/errors.ts';
import { readClusterObjects } from '../lib/kubeproxy/cluster-input.ts';
import type { ClusterView } from '../lib/kubeproxy/cluster.ts';
import { parseClusterText } from '../lib/kubeproxy/cluster-text.ts';

/** Largest cluster file read (kubectl's JSON for a very large cluster is a few hundred MB). */
const MAX_CLUSTER_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

/** Reads a cluster file or every .json/.yaml/.yml file of a directory (recursively, sorted). */
export async function readCluster(path: string): Promise<ClusterView> {
  let files: string[];
  try {
    const info = await stat(path);
    files = info.isDirectory() ? await listClusterFiles(path) : [path];
  } catch (error) {
    throw agentError('DPS_ERR_INPUT_READ', `Cannot read: ${(error as Error).message}`, { where: path, cause: error });
  }
  if (files.length === 0) throw agentError('DPS_ERR_CLUSTER_EMPTY', 'Expected .json or .yaml files in the directory, found none', { where: path });
  const items: unknown[] = [];
  const wheres: ((i: number) => string)[] = [];
  for (const file of files) {
    let text: string;
    try {
      const size = (await stat(file)).size;
      if (size > MAX_CLUSTER_FILE_BYTES) throw agentError('DPS_ERR_INPUT_READ', `Expected at most ${MAX_CLUSTER_FILE_BYTES} bytes, got ${size}`, { where: file });
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (isAgentError(error)) throw error;
      throw agentError('DPS_ERR_INPUT_READ', `Cannot read: ${(error as Error).message}`, { where: file, cause: error });
    }
    const parsed = parseClusterText(text, file);
    for (const item of parsed.items) items.push(item); // not push(...items): 100k+ objects overflow the call stack
    for (let i = 0; i < parsed.items.length; i++) wheres.push(() => parsed.where(i));
  }
  const view = readClusterObjects(items, { where: (i) => wheres[i]?.(i) ?? path });
  return view;
}

async function listClusterFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await listClusterFiles(full));
    else if (/\.(json|ya?ml)$/.test(entry.name)) out.push(full);
  }
  return out;
}
