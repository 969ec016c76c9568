/**
 * The agent's side of the scan worker (a child process): starts it on demand, matches replies to
 * requests, bounds every request with a timeout (a stuck parse kills the worker; the next request
 * starts a fresh one), and recycles the worker when its heap grew past a limit after a big parse
 * (V8 keeps a grown heap; killing the process gives the memory back at once, without the pause a
 * worker thread's teardown costs the serving thread).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  #worker: ChildProcess | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #clusterLoaded = false;
  /** Workers started so far (1 + restarts and recycles). */
  started = 0;

  // The worker module next to this one: scan-worker.ts from the sources, scan-worker.js once compiled.
  constructor(url: URL = new URL(import.meta.url.endsWith('.ts') ? './scan-worker.ts' : './scan-worker.js', import.meta.url)) {
    this.#url = url;
  }

  /** True when the running worker holds a cluster view (a new worker starts without one). */
  get hasCluster(): boolean {
    return this.#worker !== undefined && this.#clusterLoaded;
  }

  /** Loads (or replaces) the cluster view in the worker; `seq` numbers an API view. */
  async loadCluster(source: ClusterSource, fingerprints: boolean, timeoutMs: number, seq?: number): Promise<Extract<WorkerReply, { type: 'cluster' }>> {
    const reply = await (this.#request('load-cluster', { source, fingerprints, ...(seq === undefined ? {} : { seq }) }, timeoutMs) as Promise<Extract<WorkerReply, { type: 'cluster' }>>);
    if (reply.ok) this.#clusterLoaded = true;
    return reply;
  }

  /** Sends the API objects that changed; a view out of step is dropped (see {@link hasCluster}). */
  async updateCluster(delta: Body<'cluster-delta'>, timeoutMs: number): Promise<Extract<WorkerReply, { type: 'cluster' }>> {
    const reply = await (this.#request('cluster-delta', delta, timeoutMs) as Promise<Extract<WorkerReply, { type: 'cluster' }>>);
    if (!reply.ok) this.#clusterLoaded = false;
    return reply;
  }

  /** Hashes, parses and checks the dumps (sent to the worker process over its IPC channel). */
  scan(body: Body<'scan'>, timeoutMs: number): Promise<Extract<WorkerReply, { type: 'scan' }>> {
    return this.#request('scan', body, timeoutMs) as Promise<Extract<WorkerReply, { type: 'scan' }>>;
  }

  /** Stops the worker; the next request starts a new one. */
  async recycle(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w !== undefined && w.exitCode === null && w.signalCode === null) {
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref(); // keep the event loop alive until the worker is gone
      w.kill('SIGKILL');
      await exited;
    }
  }

  /** Stops the worker and fails what is pending. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(agentError('DPS_ERR_AGENT_WORKER', 'The agent is stopping'));
    await this.recycle();
  }

  #request(type: WorkerRequest['type'], body: object, timeoutMs: number): Promise<WorkerReply> {
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
      worker.send({ ...body, type, id }, (error) => {
        if (error === null || error === undefined) return;
        const p = this.#pending.get(id);
        if (p === undefined) return;
        this.#pending.delete(id);
        clearTimeout(p.timer);
        p.reject(agentError('DPS_ERR_AGENT_WORKER', `Could not send to the scan worker: ${error.message}`));
      });
    });
  }

  #ensure(): ChildProcess {
    if (this.#worker !== undefined) return this.#worker;
    // advanced serialization: dumps travel as bytes, not as JSON
    const worker = fork(fileURLToPath(this.#url), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    this.started++;
    this.#clusterLoaded = false;
    worker.unref();
    worker.channel?.unref();
    worker.on('message', (message) => {
      const reply = message as WorkerReply;
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
    worker.on('exit', (code, signal) => gone(signal === null ? `exit code ${code}` : `signal ${signal}`));
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
