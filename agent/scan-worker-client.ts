/**
 * The main thread's side of the scan worker: starts it on demand, matches replies to requests,
 * bounds every request with a timeout (a stuck parse terminates the worker; the next request
 * starts a fresh one), and recycles the worker when its heap grew past a limit after a big parse
 * (V8 keeps a grown heap; a fresh isolate gives the memory back).
 */
import { Worker } from 'node:worker_threads';
import { AgentError, agentError, ERROR_CODES } from '../lib/errors.ts';
import type { ClusterSource, PlainError, WorkerReply, WorkerRequest } from './scan-worker.ts';

type Pending = { resolve: (reply: WorkerReply) => void; reject: (error: AgentError) => void; timer: NodeJS.Timeout };
type Body<T extends WorkerRequest['type']> = Omit<Extract<WorkerRequest, { type: T }>, 'id' | 'type'>;

/** A coded error from its plain form. */
export function fromPlain(e: PlainError): AgentError {
  const hints: Record<string, string> = ERROR_CODES;
  const code = hints[e.code] !== undefined ? e.code : 'DPS_ERR_INTERNAL';
  return new AgentError(code, e.message, { ...(e.where === undefined ? {} : { where: e.where }), hint: hints[code] });
}

/** The client. */
export class ScanWorkerClient {
  readonly #url: URL;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #clusterLoaded = false;
  /** Workers started so far (1 + restarts and recycles). */
  started = 0;

  constructor(url: URL = new URL('./scan-worker.ts', import.meta.url)) {
    this.#url = url;
  }

  /** True when the running worker holds a cluster view (a new worker starts without one). */
  get hasCluster(): boolean {
    return this.#worker !== undefined && this.#clusterLoaded;
  }

  /** Loads (or replaces) the cluster view in the worker. */
  async loadCluster(source: ClusterSource, fingerprints: boolean, timeoutMs: number): Promise<Extract<WorkerReply, { type: 'cluster' }>> {
    const reply = await (this.#request('load-cluster', { source, fingerprints }, timeoutMs, []) as Promise<Extract<WorkerReply, { type: 'cluster' }>>);
    if (reply.ok) this.#clusterLoaded = true;
    return reply;
  }

  /** Hashes, parses and checks the dumps (buffers are transferred, not copied). */
  scan(body: Body<'scan'>, timeoutMs: number): Promise<Extract<WorkerReply, { type: 'scan' }>> {
    const transfer: ArrayBuffer[] = [];
    const dumps = body.dumps.map((d) => {
      const own = d.bytes.byteOffset === 0 && d.bytes.byteLength === d.bytes.buffer.byteLength && d.bytes.buffer instanceof ArrayBuffer ? d.bytes : d.bytes.slice();
      transfer.push(own.buffer as ArrayBuffer);
      return { ...d, bytes: own };
    });
    return this.#request('scan', { ...body, dumps }, timeoutMs, transfer) as Promise<Extract<WorkerReply, { type: 'scan' }>>;
  }

  /** Stops the worker; the next request starts a new one. */
  async recycle(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w !== undefined) await w.terminate();
  }

  /** Stops the worker and fails what is pending. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(agentError('DPS_ERR_AGENT_WORKER', 'The agent is stopping'));
    await this.recycle();
  }

  #request(type: WorkerRequest['type'], body: object, timeoutMs: number, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    if (this.#closed) return Promise.reject(agentError('DPS_ERR_AGENT_WORKER', 'The agent is stopping'));
    const worker = this.#ensure();
    const id = this.#nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(agentError('DPS_ERR_AGENT_SCAN_TIMEOUT', `Expected the scan worker to answer within ${timeoutMs} ms; it was restarted`));
        void this.recycle();
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...body, type, id }, transfer);
    });
  }

  #ensure(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(this.#url, { stdout: false, stderr: false });
    this.started++;
    this.#clusterLoaded = false;
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const p = this.#pending.get(reply.id);
      if (p === undefined) return;
      this.#pending.delete(reply.id);
      clearTimeout(p.timer);
      p.resolve(reply);
    });
    const gone = (why: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#failAll(agentError('DPS_ERR_AGENT_WORKER', `The scan worker stopped: ${why}`));
    };
    worker.on('error', (error) => gone(error.message));
    worker.on('exit', (code) => gone(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #failAll(error: AgentError): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.#pending.delete(id);
    }
  }
}
