/**
 * I/O: the files the watcher should follow right now — live `N.log` files of the selected CRI
 * containers under the pod log directory (every restart count, so a restart's `N+1.log` is picked
 * up), and the configured plain-file globs. Rotated copies are not listed: followers drain them.
 */
import { glob, readdir } from 'node:fs/promises';
import { join, matchesGlob } from 'node:path';
import { componentOfPath } from './infer-component.ts';
import type { ContainerSelector, FileSource } from './log-config.ts';

/** A file to follow, with the component that writes it. */
export interface DiscoveredFile {
  path: string;
  component: string | undefined;
}

const LIVE_CRI = /^\d+\.log$/;

/** Lists the files to follow; a missing or unreadable directory contributes none (reported by the caller). */
export async function discoverFiles(options: { podLogDir: string; containers: readonly ContainerSelector[]; files: readonly FileSource[] }): Promise<{ files: DiscoveredFile[]; podLogDirMissing: boolean }> {
  const out: DiscoveredFile[] = [];
  let podLogDirMissing = false;
  let pods: string[] = [];
  try {
    pods = await readdir(options.podLogDir);
  } catch {
    podLogDirMissing = true;
  }
  for (const podDir of pods.sort()) {
    const [namespace, pod] = podDir.split('_');
    if (namespace === undefined || pod === undefined) continue;
    let containers: string[];
    try {
      containers = await readdir(join(options.podLogDir, podDir));
    } catch {
      continue;
    }
    for (const container of containers) {
      if (!options.containers.some((s) => matchesGlob(namespace, s.namespace) && matchesGlob(pod, s.pod) && matchesGlob(container, s.container))) continue;
      let names: string[];
      try {
        names = await readdir(join(options.podLogDir, podDir, container));
      } catch {
        continue;
      }
      for (const name of names.filter((n) => LIVE_CRI.test(n)).sort()) {
        const path = join(options.podLogDir, podDir, container, name);
        out.push({ path, component: componentOfPath(path) });
      }
    }
  }
  for (const source of options.files) {
    try {
      for await (const path of glob(source.glob)) out.push({ path, component: source.component ?? componentOfPath(path) });
    } catch {
      // an unreadable directory in the glob: nothing from it this round
    }
    // A literal path that does not exist yet is still followed, so it is read from its first line when it appears.
    if (!/[*?[{]/.test(source.glob) && !out.some((f) => f.path === source.glob)) out.push({ path: source.glob, component: source.component ?? componentOfPath(source.glob) });
  }
  return { files: out, podLogDirMissing };
}
