/**
 * The agent's side of the scan worker (a child process): starts it on demand (and gives it the
 * rules source's config, with what the previous worker's source learned), matches replies to
 * requests, passes its log lines to the agent's logger, bounds every request with a timeout (a
 * stuck parse kills the worker; the next request starts a fresh one), and recycles the worker when
 * its heap grew past a limit after a big parse (V8 keeps a grown heap; killing the process gives
 * the memory back at once, without the pause a worker thread's teardown costs the serving thread).
 *
 * The worker leads a process group of its own: stopping it (recycle, timeout, close) kills the
 * group, so a dump command it was running (iptables-save, --rules-command) goes with it.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AgentError, agentError } from '../lib/errors.ts';
import type { Logger } from '../lib/kube/deps.ts';
import type { RulesConfig } from './config.ts';
import type { RulesMemory } from './rules-source.ts';
import { siblingModule } from './sibling-module.ts';
import type { ClusterSource, WorkerNotice, WorkerReply, WorkerRequest } from './scan-worker.ts';

type Pending = { resolve: (reply: WorkerReply) => void; reject: (error: AgentError) => void; timer: NodeJS.Timeout; afterDump: number | undefined };
type Body<T extends Exclude<WorkerRequest['type'], 'init'>> = Omit<Extract<WorkerRequest, { type: T }>, 'id' | 'type'>;

/** Options of {@link ScanWorkerClient}. */
export interface ScanWorkerOptions {
  /** The rules source's config (needed by scans). */
  readonly rules?: RulesConfig;
  /** Where the worker's log lines go (default: dropped). */
  readonly log?: Logger;
}

/**
 * The worker's Node flags:
 * - a 2 MB young generation (V8's semi-space; the parse makes short-lived objects by the million,
 *   and the default lets them take ~100 MB more RSS at 10k Services, at no gain in time), unless
 *   the agent was started with a semi-space size of its own: a flag is passed on, NODE_OPTIONS is
 *   inherited;
 * - V8 without background threads (`--single-threaded`): a scan is one pass that the worker runs at
 *   nice 19 beside the agent, and V8's concurrent marking and compiling only add threads and their
 *   memory to it (peak RSS of a 10k scan pinned to one core 127 -> 120 MB, the same time).
 * Other flags of the agent are not passed on.
 */
export function workerExecArgv(parent: readonly string[], nodeOptions: string | undefined): string[] {
  const isSemi = (a: string): boolean => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(a);
  if ((nodeOptions ?? '').split(/\s+/).some(isSemi)) return [SINGLE_THREADED];
  const i = parent.findIndex(isSemi);
  if (i < 0) return ['--max-semi-space-size=2', SINGLE_THREADED];
  return [...(parent[i]!.includes('=') ? [parent[i]!] : parent.slice(i, i + 2)), SINGLE_THREADED];
}

const SINGLE_THREADED = '--single-threaded';

/** The client. */
export class ScanWorkerClient {
  readonly #url: URL;
  #worker: ChildProcess | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #clusterLoaded = false;
  readonly #rules: RulesConfig | undefined;
  #memory: RulesMemory | undefined;
  readonly #log: Logger | undefined;
  /** Workers started so far (1 + restarts and recycles). */
  started = 0;

  constructor(options: ScanWorkerOptions = {}) {
    this.#url = siblingModule('scan-worker', import.meta.url);
    this.#rules = options.rules;
    this.#log = options.log;
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

  /**
   * The worker dumps the rules (within `dumpTimeoutMs`), then hashes, parses and checks them
   * (within `timeoutMs` from the end of the dumps).
   */
  async scan(body: Body<'scan'>, timeoutMs: number, dumpTimeoutMs: number = timeoutMs): Promise<Extract<WorkerReply, { type: 'scan' }>> {
    const request = body.usePending === true ? this.#request('scan', body, timeoutMs) : this.#request('scan', body, dumpTimeoutMs, timeoutMs);
    const reply = await (request as Promise<Extract<WorkerReply, { type: 'scan' }>>);
    if (reply.memory !== undefined) this.#memory = reply.memory;
    return reply;
  }

  /** Stops the worker; the next request starts a new one. */
  async recycle(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w !== undefined && w.exitCode === null && w.signalCode === null) {
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref(); // keep the event loop alive until the worker is gone
      killGroup(w);
      await exited;
    }
  }

  /** Stops the worker and fails what is pending. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(agentError('DPS_ERR_AGENT_WORKER', 'The agent is stopping'));
    await this.recycle();
  }

  // `afterDump`: a scan's timeout once the worker says its dumps are in (`timeoutMs` bounds them).
  #request(type: Exclude<WorkerRequest['type'], 'init'>, body: object, timeoutMs: number, afterDump?: number): Promise<WorkerReply> {
    if (this.#closed) return Promise.reject(agentError('DPS_ERR_AGENT_WORKER', 'The agent is stopping'));
    const worker = this.#ensure();
    const id = this.#nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      const timer = this.#timer(id, timeoutMs, afterDump === undefined ? 'to answer' : 'to dump the rules');
      this.#pending.set(id, { resolve, reject, timer, afterDump });
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

  #timer(id: number, timeoutMs: number, what: string): NodeJS.Timeout {
    return setTimeout(() => {
      const p = this.#pending.get(id);
      if (p === undefined) return;
      this.#pending.delete(id);
      p.reject(agentError('DPS_ERR_AGENT_SCAN_TIMEOUT', `Expected the scan worker ${what} within ${timeoutMs} ms; it was restarted`));
      void this.recycle();
    }, timeoutMs);
  }

  // A notice from the worker: a log line, or a scan's dumps done (its parse timeout starts).
  #notice(n: WorkerNotice): void {
    if (n.type === 'log') {
      const log = Object.keys(n.bindings).length === 0 ? this.#log : this.#log?.child(n.bindings);
      if (n.msg === undefined) log?.[n.level](n.obj);
      else log?.[n.level](n.obj, n.msg);
      return;
    }
    const p = this.#pending.get(n.id);
    if (p?.afterDump === undefined) return;
    clearTimeout(p.timer);
    p.timer = this.#timer(n.id, p.afterDump, 'to answer');
  }

  #ensure(): ChildProcess {
    if (this.#worker !== undefined) return this.#worker;
    // advanced serialization: cluster objects travel as bytes or clones, not as JSON;
    // detached: the worker leads its own process group (see killGroup)
    const worker = fork(fileURLToPath(this.#url), [], {
      serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true,
      execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS),
    });
    this.started++;
    this.#clusterLoaded = false;
    worker.unref();
    worker.channel?.unref();
    if (this.#rules !== undefined) worker.send({ type: 'init', rules: this.#rules, memory: this.#memory } satisfies WorkerRequest);
    worker.on('message', (message) => {
      if ((message as WorkerNotice).type === 'log' || (message as WorkerNotice).type === 'dumped') {
        this.#notice(message as WorkerNotice);
        return;
      }
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
    worker.on('exit', (code, signal) => {
      killGroup(worker); // a dump command the worker was running when it died
      gone(signal === null ? `exit code ${code}` : `signal ${signal}`);
    });
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

// Kills the worker and whatever it runs (its process group); the worker alone if that fails.
function killGroup(worker: ChildProcess): void {
  if (worker.pid === undefined) return;
  try {
    process.kill(-worker.pid, 'SIGKILL');
  } catch {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  }
}
