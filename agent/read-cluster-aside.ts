/**
 * Reads the cluster objects on another thread while the caller parses the dump (`check` has two
 * inputs and machines have several cores): the view comes back as JSON text (cheaper than a
 * structured clone of its ~250k objects). Errors keep their code, message and place.
 */
import { Worker } from 'node:worker_threads';
import { AgentError } from '../lib/errors.ts';
import type { ClusterView } from '../lib/kubeproxy/cluster.ts';
import { fromPlain } from './plain-error.ts';
import type { PlainError } from './plain-error.ts';
import { siblingModule } from './sibling-module.ts';

/** What the thread posts back. */
export type AsideReply =
  | { ok: true; json: string }
  | { ok: false; error: PlainError };

/** A read in progress: `view` settles with the view or the coded error; `cancel` stops the thread. */
export interface ClusterRead {
  readonly view: Promise<ClusterView>;
  cancel(): void;
}

/** Starts reading `path` (file or directory, as `check --cluster` takes it) on a worker thread. */
export function readClusterAside(path: string): ClusterRead {
  const worker = new Worker(siblingModule('read-cluster-thread', import.meta.url), { workerData: path });
  const view = new Promise<ClusterView>((resolve, reject) => {
    worker.once('message', (reply: AsideReply) => {
      void worker.terminate();
      if (reply.ok) resolve(JSON.parse(reply.json) as ClusterView);
      else reject(fromPlain(reply.error));
    });
    worker.once('error', (error) => reject(new AgentError('DPS_ERR_INTERNAL', `Reading the cluster objects failed: ${error.message}`, { where: path })));
  });
  view.catch(() => {}); // the caller may never await it (its own input failed first)
  return { view, cancel: () => { void worker.terminate(); } };
}
