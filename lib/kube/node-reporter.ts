/**
 * I/O: reports the agent's verdict to its own Node: conditions (always), Events (on
 * transitions), the taint (only when enabled, dry-run by default). The NPD condition manager,
 * in TypeScript:
 *
 * - The agent calls `report(desired, {viewFresh})` after each scan. Nothing is written before the
 *   first call; the first write is planned against the conditions already on the Node, so an
 *   agent restart neither resets nor re-announces anything (NPD#304).
 * - `nodes/status` is patched only when a status, reason or message changes, or when the
 *   heartbeat is due (default every 5 min: thousands of nodes, one write each per 5 min at rest).
 * - A failed write is retried after `retryMs` (default 10 s) by the timer loop or the next report;
 *   Events for a transition are emitted once, after the write that made it succeeded.
 * - Taints: see taint-policy.ts. Before adding one the reporter waits a random part of
 *   `taintJitterMs` (so nodes that fail together do not all count 0 tainted nodes at once),
 *   counts tainted nodes, re-reads its Node, and writes a JSON patch guarded by a
 *   `resourceVersion` test (a concurrent taint change makes it fail and retry, never clobber).
 *
 * Concurrency: every sync runs on one promise chain, so writes never overlap and always see
 * the state the previous one left.
 */
import type { Clock, Logger, TimerHandle } from './deps.ts';
import { sleep } from './deps.ts';
import type { KubeApi } from './client.ts';
import { EVENT_REASONS, REPORTING_COMPONENT, TAINT_KEY, type DesiredCondition } from './conditions.ts';
import { ownedConditions, planConditions, rfc3339, type NodeCondition, type Transition } from './node-conditions.ts';
import { decideTaint, DEFAULT_TAINT_POLICY, validateTaintPolicy, type ClusterTaintCount, type Taint, type TaintDecision, type TaintPolicy } from './taint-policy.ts';
import { describeError } from './informer.ts';

/** Options of {@link NodeReporter}. */
export interface NodeReporterOptions {
  api: Pick<KubeApi, 'readNode' | 'patchNodeStatus' | 'patchNodeJson' | 'createEvent' | 'listNodes'>;
  nodeName: string;
  log: Logger;
  clock: Clock;
  signal?: AbortSignal;
  random?: () => number;
  /** Re-write unchanged conditions this often. Default 5 min. */
  heartbeatMs?: number;
  /** Retry a failed write after this long. Default 10 s. */
  retryMs?: number;
  taints?: TaintPolicy;
  /** Upper bound of the random wait before adding a taint. Default 30 s. */
  taintJitterMs?: number;
  /** Namespace of Node events (kubelet uses `default`). */
  eventNamespace?: string;
}

/** What one sync did. */
export interface ReportResult {
  wrote: boolean;
  why: string[];
  transitions: Transition[];
  taint: TaintDecision | undefined;
  taintApplied: boolean;
  error: { code: string; message: string } | undefined;
}

type NodeJson = { metadata?: { uid?: string; resourceVersion?: string }; spec?: { taints?: Taint[] }; status?: { conditions?: unknown[] } };

/** The reporter. */
export class NodeReporter {
  readonly #o: NodeReporterOptions & { heartbeatMs: number; retryMs: number; taints: TaintPolicy; taintJitterMs: number; eventNamespace: string };
  readonly #log: Logger;
  readonly #random: () => number;
  #desired: DesiredCondition[] | undefined;
  #viewFresh = false;
  #current: NodeCondition[] | undefined;
  #node: NodeJson | undefined;
  #lastWriteAt: number | undefined;
  #failedAt: number | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: TimerHandle | undefined;
  #closed = false;
  /** Last taint notice (dry run / skip) sent, so it is logged and evented once, not per scan. */
  #lastNotice = '';

  constructor(options: NodeReporterOptions) {
    this.#o = {
      heartbeatMs: 5 * 60_000,
      retryMs: 10_000,
      taintJitterMs: 30_000,
      eventNamespace: 'default',
      ...options,
      taints: validateTaintPolicy(options.taints ?? DEFAULT_TAINT_POLICY),
    };
    this.#log = options.log.child({ component: 'node-reporter', node: options.nodeName });
    this.#random = options.random ?? Math.random;
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** Records the agent's verdict and syncs it to the Node. */
  report(desired: readonly DesiredCondition[], state: { viewFresh: boolean }): Promise<ReportResult> {
    this.#desired = [...desired];
    this.#viewFresh = state.viewFresh;
    return this.sync(true);
  }

  /** Writes what is due (changes, heartbeat, retry). `force` skips the retry delay. */
  sync(force = false): Promise<ReportResult> {
    const run = this.#chain.then(() => this.#syncOnce(force));
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Starts the heartbeat/retry timer loop (idempotent). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const tick = (): void => {
      if (this.#closed) return;
      void this.sync().finally(() => {
        if (!this.#closed) this.#timer = this.#o.clock.setTimeout(tick, this.#o.retryMs);
      });
    };
    this.#timer = this.#o.clock.setTimeout(tick, this.#o.retryMs);
  }

  /** Stops the timer; waits for a write in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#chain;
  }

  /** Our conditions as last written or read. */
  get conditions(): readonly NodeCondition[] | undefined {
    return this.#current;
  }

  async #syncOnce(force: boolean): Promise<ReportResult> {
    const result: ReportResult = { wrote: false, why: [], transitions: [], taint: undefined, taintApplied: false, error: undefined };
    if (this.#desired === undefined || this.#closed) return result; // nothing to say yet (NPD#304)
    const now = this.#o.clock.now();
    if (!force && this.#failedAt !== undefined && now - this.#failedAt < this.#o.retryMs) return result;
    try {
      if (this.#current === undefined) await this.#seed();
      const heartbeatDue = this.#lastWriteAt === undefined || now - this.#lastWriteAt >= this.#o.heartbeatMs;
      const plan = planConditions({ current: this.#current!, desired: this.#desired, now, heartbeatDue: heartbeatDue && this.#current!.length + this.#desired.length > 0 });
      if (plan.patch) {
        const node = (await this.#o.api.patchNodeStatus(this.#o.nodeName, plan.patch, this.#o.signal)) as NodeJson;
        this.#remember(node);
        this.#current = plan.next;
        this.#lastWriteAt = now;
        result.wrote = true;
        result.why = plan.why;
        result.transitions = plan.transitions;
        if (plan.why.includes('changed')) this.#log.info({ why: plan.why, conditions: plan.next.map((c) => `${c.type}=${c.status}/${c.reason}`) }, 'node conditions written');
        else this.#log.debug({ why: plan.why }, 'node conditions heartbeat');
        for (const t of plan.transitions) await this.#event(t.to === 'True' ? 'Warning' : 'Normal', t.reason, `${t.type} is ${t.to}: ${t.message}`);
      }
      this.#failedAt = undefined;
      result.taint = await this.#reconcileTaint(result);
    } catch (err) {
      this.#failedAt = now;
      const { code, message } = describeError(err);
      result.error = { code, message };
      this.#log.warn({ code, message, retryInMs: this.#o.retryMs }, 'node report failed; will retry');
    }
    return result;
  }

  // Reads the Node once: our conditions as they are (a restart changes nothing), uid, taints.
  async #seed(): Promise<void> {
    const node = (await this.#o.api.readNode(this.#o.nodeName, this.#o.signal)) as NodeJson;
    this.#remember(node);
    this.#current = ownedConditions(node.status?.conditions);
    const beats = this.#current.map((c) => Date.parse(c.lastHeartbeatTime)).filter((t) => !Number.isNaN(t));
    this.#lastWriteAt = beats.length > 0 ? Math.min(...beats) : undefined;
    this.#log.info({ existing: this.#current.map((c) => `${c.type}=${c.status}`) }, 'seeded from the node');
  }

  #remember(node: NodeJson | undefined): void {
    if (node && typeof node === 'object') this.#node = node;
  }

  // Taints: decide, guard, apply (or log in dry run).
  async #reconcileTaint(result: ReportResult): Promise<TaintDecision> {
    const policy = this.#o.taints;
    const input = { policy, conditions: this.#desired!, viewFresh: this.#viewFresh, nodeTaints: taintsOf(this.#node) };
    let decision = decideTaint(input);
    if (decision.action === 'need-cluster-count') {
      if (this.#o.taintJitterMs > 0 && !policy.dryRun) await sleep(this.#o.clock, this.#random() * this.#o.taintJitterMs, this.#o.signal);
      const cluster = await this.#countTainted();
      this.#remember((await this.#o.api.readNode(this.#o.nodeName, this.#o.signal)) as NodeJson);
      decision = decideTaint({ ...input, nodeTaints: taintsOf(this.#node), cluster });
    }
    if (decision.action === 'skip') {
      await this.#noticeOnce(`skip:${decision.reason}`, 'warn', decision.message, EVENT_REASONS.taintSkipped, { reason: decision.reason });
    } else if (decision.action === 'add' || decision.action === 'remove') {
      const what = `${decision.action} taint ${TAINT_KEY}=${decision.taint.value ?? ''}:${decision.taint.effect}`;
      if (policy.dryRun) {
        await this.#noticeOnce(`dry:${what}`, 'warn', `Dry run: would ${what} (${decision.reason}).`, EVENT_REASONS.taintDryRun, { dryRun: true });
      } else {
        await this.#applyTaint(decision);
        result.taintApplied = true;
        this.#lastNotice = '';
        this.#log.warn({ action: decision.action, taint: decision.taint, reason: decision.reason }, 'node taint changed');
        await this.#event(
          decision.action === 'add' ? 'Warning' : 'Normal',
          decision.action === 'add' ? EVENT_REASONS.taintAdded : EVENT_REASONS.taintRemoved,
          `${decision.action === 'add' ? 'Added' : 'Removed'} taint ${TAINT_KEY}=${decision.taint.value ?? ''}:${decision.taint.effect} (${decision.reason}).`,
        );
      }
    } else if (decision.action === 'none' && decision.reason === 'Healthy') {
      this.#lastNotice = '';
    }
    return decision;
  }

  async #noticeOnce(key: string, level: 'warn' | 'info', message: string, reason: string, fields: object): Promise<void> {
    if (this.#lastNotice === key) return;
    this.#lastNotice = key;
    this.#log[level]({ ...fields, message }, 'node taint not changed');
    await this.#event('Warning', reason, message);
  }

  // Counts all nodes and the other nodes carrying our taint key (paged, from the watch cache).
  async #countTainted(): Promise<ClusterTaintCount> {
    const list = this.#o.api.listNodes(undefined);
    let nodes = 0;
    let tainted = 0;
    let continueToken: string | undefined;
    do {
      const page = await list({ limit: 500, continueToken, resourceVersion: continueToken ? undefined : '0', signal: this.#o.signal ?? new AbortController().signal });
      for (const n of page.items as NodeJson[] & { metadata?: { name?: string } }[]) {
        nodes++;
        const name = (n as { metadata?: { name?: string } }).metadata?.name;
        if (name !== this.#o.nodeName && taintsOf(n)?.some((t) => t.key === TAINT_KEY)) tainted++;
      }
      continueToken = page.continueToken;
    } while (continueToken);
    return { nodes, tainted };
  }

  // JSON patch guarded by the resourceVersion we decided on.
  async #applyTaint(decision: Extract<TaintDecision, { action: 'add' | 'remove' }>): Promise<void> {
    const rv = this.#node?.metadata?.resourceVersion;
    const taints = taintsOf(this.#node);
    const ops: object[] = [{ op: 'test', path: '/metadata/resourceVersion', value: rv }];
    if (decision.action === 'add') {
      const taint = { ...decision.taint, timeAdded: rfc3339(this.#o.clock.now()) };
      ops.push(taints ? { op: 'add', path: '/spec/taints/-', value: taint } : { op: 'add', path: '/spec/taints', value: [taint] });
    } else {
      const i = (taints ?? []).findIndex((t) => t.key === decision.taint.key && t.effect === decision.taint.effect);
      if (i < 0) return;
      ops.push({ op: 'test', path: `/spec/taints/${i}/key`, value: TAINT_KEY }, { op: 'remove', path: `/spec/taints/${i}` });
    }
    this.#remember((await this.#o.api.patchNodeJson(this.#o.nodeName, ops, this.#o.signal)) as NodeJson);
  }

  // Best effort: an event that cannot be written is logged, never retried.
  async #event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = rfc3339(this.#o.clock.now());
    const name = this.#o.nodeName;
    try {
      await this.#o.api.createEvent(
        this.#o.eventNamespace,
        {
          metadata: { generateName: `${name}.`, namespace: this.#o.eventNamespace },
          involvedObject: { apiVersion: 'v1', kind: 'Node', name, uid: this.#node?.metadata?.uid ?? name },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: REPORTING_COMPONENT, host: name },
          reportingComponent: REPORTING_COMPONENT,
          reportingInstance: name,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
        this.#o.signal,
      );
    } catch (err) {
      this.#log.warn({ ...describeError(err), reason }, 'event not written');
    }
  }
}

function taintsOf(node: NodeJson | undefined): Taint[] | undefined {
  const t = node?.spec?.taints;
  return Array.isArray(t) ? t : undefined;
}
