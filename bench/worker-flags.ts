/**
 * The scan worker's V8 setting, taken from the agent itself so that the benchmarks cannot drift
 * from it: the flags agent/scan-worker-client.ts starts the worker with, and no TurboFan (which
 * agent/scan-worker.ts sets at its start, where an unknown flag is ignored). Imported only by the
 * benchmarks' parent processes: a measured child does not load the agent's modules.
 */
import { workerExecArgv } from '../agent/scan-worker-client.ts';

export const WORKER_NODE_FLAGS: readonly string[] = [...workerExecArgv([], undefined), '--no-turbofan'];
