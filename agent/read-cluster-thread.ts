/** The thread of {@link readClusterAside}: reads the cluster objects and posts the view back. */
import { parentPort, workerData } from 'node:worker_threads';
import { isAgentError } from '../lib/errors.ts';
import type { AsideReply } from './read-cluster-aside.ts';
import { toPlain } from './plain-error.ts';
import { readCluster } from './read-cluster.ts';

const path = workerData as string;
let reply: AsideReply;
try {
  // as JSON text: stringify, copy and parse cost half of a structured clone (~50 instead of ~100 ms
  // at 10k Services), and the view is plain data (no undefined that matters, no Map, no class)
  reply = { ok: true, json: JSON.stringify(await readCluster(path)) };
} catch (error) {
  // a fault that is not a coded error is still placed at the path being read
  reply = { ok: false, error: isAgentError(error) ? toPlain(error) : { ...toPlain(error), where: path } };
}
parentPort?.postMessage(reply);
