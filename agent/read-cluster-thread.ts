/** The thread of {@link readClusterAside}: reads the cluster objects and posts the view back. */
import { parentPort, workerData } from 'node:worker_threads';
import { isAgentError } from '../lib/errors.ts';
import type { AsideReply } from './read-cluster-aside.ts';
import { readCluster } from './read-cluster.ts';

const path = workerData as string;
let reply: AsideReply;
try {
  reply = { ok: true, view: await readCluster(path) };
} catch (error) {
  reply = isAgentError(error)
    ? { ok: false, error: { code: error.code, message: error.message, where: error.where } }
    : { ok: false, error: { code: 'DPS_ERR_INTERNAL', message: error instanceof Error ? error.message : String(error), where: path } };
}
parentPort?.postMessage(reply);
