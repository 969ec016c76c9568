/**
 * I/O: one list+watch informer over the real @kubernetes/client-node `Watch` and list calls.
 *
 * Why not the client's own `makeInformer`/`ListWatch`: it keeps every full object (we keep a
 * trimmed copy only), gives up after the first list error (we retry with jittered backoff), does
 * not ask for bookmarks, and exposes no freshness. The wire protocol, authentication and TLS
 * are still entirely the client's.
 *
 * Lifecycle (one async loop, never two requests at once):
 *   list (paged, resourceVersion "0" so the API server answers from its watch cache) →
 *   watch from the list's resourceVersion with bookmarks →
 *   on normal end (server timeout, our inactivity timeout): watch again from the last RV →
 *   on 410 Gone (watch ERROR event or HTTP 410): relist (RV "", a consistent read) →
 *   on any other failure: jittered backoff, then watch again (or relist if never synced).
 * Every `resyncMs` the loop relists anyway, healing any missed event. During a relist the old
 * view stays in place and is swapped only when the last page has arrived.
 */
import type { Clock, Logger } from './deps.ts';
import { sleep } from './deps.ts';
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, type BackoffPolicy } from './backoff.ts';
import { computeFreshness, DEFAULT_FRESHNESS, type Freshness, type FreshnessLimits } from './freshness.ts';
import { deepFreeze, Interner } from './intern.ts';
import type { DropReason, TrimResult } from './trim.ts';

/** One page of a list call. */
export interface ListPage {
  items: readonly unknown[];
  resourceVersion: string;
  /** The `continue` token, when more pages follow. */
  continueToken: string | undefined;
}

/** Arguments of a list call. */
export interface ListRequest {
  limit: number;
  continueToken: string | undefined;
  /** Omitted on continued pages (the token carries it). */
  resourceVersion: string | undefined;
  signal: AbortSignal;
  /**
   * When given, items may be handed over one by one as they are decoded (the page's `items`
   * then holds only those that were not), so that a whole page of full objects never exists.
   */
  onItem?: (item: unknown) => void;
}

/** The list call of one resource (see client.ts for the real one). */
export type ListFn = (request: ListRequest) => Promise<ListPage>;

/** The shape of @kubernetes/client-node's `Watch`. */
export interface WatchLike {
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController>;
}

/** A change to the store, as seen by {@link InformerOptions.onChange}. */
export interface StoreChange<T> {
  key: string;
  previous: T | undefined;
  current: T | undefined;
  at: number;
  /** True for the first list: the objects are not new, the agent is (their change time is unknown). */
  initial: boolean;
}

/** Options of {@link Informer}. */
export interface InformerOptions<T> {
  /** Name in logs and snapshots, e.g. `services`. */
  resource: string;
  /** Watch path, e.g. `/api/v1/services`. */
  path: string;
  list: ListFn;
  watch: WatchLike;
  trim: (obj: unknown, interner: Interner) => TrimResult<T>;
  fieldSelector?: string;
  /** List page size. Default 500 (client-go's pager). */
  pageSize?: number;
  /** Server-side watch timeout; each watch asks for a random value in [t, 2t). Default 300 s. */
  watchTimeoutSeconds?: number;
  /** Full relist period (0 = never). Default 30 min, jittered ±10%. */
  resyncMs?: number;
  /** Abort a list request after this long. Default 60 s. */
  listTimeoutMs?: number;
  backoff?: BackoffPolicy;
  freshness?: FreshnessLimits;
  onChange?: (change: StoreChange<T>) => void;
  log: Logger;
  clock: Clock;
  signal?: AbortSignal;
  /** Source of randomness in [0, 1). Default Math.random. */
  random?: () => number;
}

/** Counters exposed in snapshots. */
export interface InformerStats {
  objects: number;
  lists: number;
  watches: number;
  events: number;
  bookmarks: number;
  relistsAfterGone: number;
  failures: number;
  /** Objects dropped at the transport level, by reason. */
  dropped: Partial<Record<DropReason, number>>;
  /** Last failure, for the report: HTTP status or error name, and message. */
  lastError: { at: number; code: string; message: string } | undefined;
}

// Distinguishes "the watch ended and the RV is too old" from other ends.
class GoneError extends Error {
  override name = 'GoneError';
}

/** List+watch of one resource into a trimmed, frozen, in-memory store. */
export class Informer<T> {
  readonly resource: string;
  readonly #o: Required<Pick<InformerOptions<T>, 'pageSize' | 'watchTimeoutSeconds' | 'resyncMs' | 'listTimeoutMs' | 'backoff' | 'freshness'>> &
    InformerOptions<T>;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #controller = new AbortController();
  readonly #interner = new Interner();
  #store = new Map<string, T>();
  #rv = '';
  #needList = true;
  #listRv = '0';
  #synced = false;
  #watching = false;
  #currentWatch: AbortController | undefined;
  #lastListAt: number | undefined;
  #lastEventAt: number | undefined;
  #lastWatchStartAt: number | undefined;
  #lastChangeAt: number | undefined;
  #consecutiveFailures = 0;
  /** Watches in a row that ended by our inactivity timeout without a single event. */
  #silentWatches = 0;
  #nextResyncAt = Infinity;
  #loop: Promise<void> | undefined;
  #syncedWaiters: (() => void)[] = [];
  readonly #stats: InformerStats = {
    objects: 0, lists: 0, watches: 0, events: 0, bookmarks: 0, relistsAfterGone: 0, failures: 0, dropped: {}, lastError: undefined,
  };

  constructor(options: InformerOptions<T>) {
    this.#o = {
      pageSize: 500,
      watchTimeoutSeconds: 300,
      resyncMs: 30 * 60_000,
      listTimeoutMs: 60_000,
      backoff: DEFAULT_BACKOFF,
      freshness: DEFAULT_FRESHNESS,
      ...options,
    };
    this.resource = options.resource;
    this.#log = options.log.child({ component: 'kube-informer', resource: options.resource });
    this.#random = options.random ?? Math.random;
    if (options.signal) {
      if (options.signal.aborted) this.#controller.abort();
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  /** Starts the loop (idempotent). Returns at once; see {@link waitForSync}. */
  start(): void {
    if (this.#loop || this.#controller.signal.aborted) return;
    this.#loop = this.#run().catch((err: unknown) => {
      this.#log.error({ err }, 'informer loop crashed');
    });
  }

  /** Resolves once the first full list has been stored (or when closed). */
  waitForSync(): Promise<void> {
    if (this.#synced || this.#controller.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#syncedWaiters.push(resolve));
  }

  /** Stops the loop and the open watch; idempotent. */
  async close(): Promise<void> {
    if (!this.#controller.signal.aborted) this.#controller.abort(new Error('informer closed'));
    this.#currentWatch?.abort();
    this.#releaseWaiters();
    await this.#loop;
  }

  /**
   * The stored (trimmed, frozen) objects. Do not mutate. An object is replaced by a new one when
   * it changes, and kept (the same object) otherwise, relists included.
   */
  values(): T[] {
    return [...this.#store.values()];
  }

  /** One stored object by key (`namespace/name`, or `name` for cluster-scoped kinds). */
  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  /** Freshness of this view at `now`. */
  freshness(now: number = this.#o.clock.now()): Freshness {
    return computeFreshness(
      {
        lastListAt: this.#lastListAt,
        lastEventAt: this.#lastEventAt,
        lastWatchStartAt: this.#lastWatchStartAt,
        synced: this.#synced,
        watching: this.#watching,
        consecutiveFailures: this.#consecutiveFailures,
      },
      now,
      this.#o.freshness,
    );
  }

  /** Time of the last change to the store (any key), if any. */
  get lastChangeAt(): number | undefined {
    return this.#lastChangeAt;
  }

  /** A copy of the counters. */
  stats(): InformerStats {
    return { ...this.#stats, objects: this.#store.size, dropped: { ...this.#stats.dropped } };
  }

  /** The resourceVersion the next watch starts from. */
  get resourceVersion(): string {
    return this.#rv;
  }

  // ---- the loop ----

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    while (!signal.aborted) {
      try {
        if (this.#needList || this.#o.clock.now() >= this.#nextResyncAt) await this.#relist();
        await this.#watchOnce();
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof GoneError) {
          // Not a failure: the RV is too old; relist at once (consistent read).
          this.#stats.relistsAfterGone++;
          this.#needList = true;
          this.#listRv = '';
          this.#log.info({ rv: this.#rv }, 'resourceVersion expired (410 Gone): relisting');
          continue;
        }
        await this.#onFailure(err);
      }
    }
    this.#watching = false;
  }

  // Records a failure and waits the jittered backoff.
  async #onFailure(err: unknown): Promise<void> {
    const before = this.freshness().state;
    const attempt = this.#consecutiveFailures;
    this.#consecutiveFailures++;
    this.#stats.failures++;
    const { code, message, retryAfter } = describeError(err);
    this.#stats.lastError = { at: this.#o.clock.now(), code, message };
    const delay = backoffDelay(attempt, this.#random(), this.#o.backoff, parseRetryAfter(retryAfter, this.#o.clock.now()));
    const after = this.freshness().state;
    const fields = { code, message, attempt: this.#consecutiveFailures, retryInMs: delay };
    if (before !== after) this.#log.warn({ ...fields, state: after }, 'API view state changed');
    else this.#log.debug(fields, 'list/watch failed; backing off');
    try {
      await sleep(this.#o.clock, delay, this.#controller.signal);
    } catch {
      // closed while waiting
    }
  }

  // Marks success; logs a state change when it ends an outage.
  #onSuccess(): void {
    if (this.#consecutiveFailures > 0) {
      const was = this.#consecutiveFailures;
      this.#consecutiveFailures = 0;
      this.#log.info({ failuresBefore: was, state: this.freshness().state }, 'API reachable again');
    }
  }

  // Lists all pages into a new map, then swaps it in and reports the differences.
  async #relist(): Promise<void> {
    const signal = this.#controller.signal;
    const next = new Map<string, T>();
    let continueToken: string | undefined;
    let rv = '';
    const dropped: Partial<Record<DropReason, number>> = {};
    // Each object is trimmed as soon as it is decoded: the full ones are garbage at once.
    const onItem = (item: unknown): void => {
      const r = this.#o.trim(item, this.#interner);
      if (r.ok) next.set(r.key, deepFreeze(r.value));
      else dropped[r.reason] = (dropped[r.reason] ?? 0) + 1;
    };
    do {
      const timeout = AbortSignal.timeout(this.#o.listTimeoutMs);
      let page: ListPage;
      try {
        page = await this.#o.list({
          limit: this.#o.pageSize,
          continueToken,
          resourceVersion: continueToken === undefined ? this.#listRv : undefined,
          signal: AbortSignal.any([signal, timeout]),
          onItem,
        });
      } catch (err) {
        if (statusOf(err) === 410) {
          // The continue token (or RV) expired mid-list: start over with a consistent read.
          this.#listRv = '';
        }
        throw err;
      }
      for (const item of page.items) onItem(item);
      rv = page.resourceVersion;
      continueToken = page.continueToken || undefined;
    } while (continueToken !== undefined);

    const now = this.#o.clock.now();
    this.#applyList(next, now);
    this.#rv = rv;
    this.#needList = false;
    this.#listRv = '0';
    this.#lastListAt = now;
    this.#silentWatches = 0;
    this.#stats.lists++;
    this.#scheduleResync(now);
    for (const [reason, n] of Object.entries(dropped) as [DropReason, number][]) {
      this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + n;
      this.#log.warn({ reason, count: n }, 'objects dropped from list');
    }
    this.#onSuccess();
    const firstSync = !this.#synced;
    this.#synced = true;
    if (firstSync) {
      this.#log.info({ objects: next.size, rv, state: this.freshness(now).state }, 'initial list synced');
      this.#releaseWaiters();
    } else {
      this.#log.debug({ objects: next.size, rv }, 'relisted');
    }
  }

  // Swaps in a freshly listed map and emits the per-key differences.
  #applyList(next: Map<string, T>, now: number): void {
    const prev = this.#store;
    const initial = !this.#synced;
    this.#store = next;
    let changed = false;
    for (const [key, current] of next) {
      const previous = prev.get(key);
      if (previous === undefined || rvOf(previous) !== rvOf(current) || rvOf(current) === undefined) {
        changed = true;
        this.#o.onChange?.({ key, previous, current, at: now, initial });
      } else {
        // Unchanged: keep the object already held, so that a new object always means a change.
        next.set(key, previous);
      }
    }
    for (const [key, previous] of prev) {
      if (!next.has(key)) {
        changed = true;
        this.#o.onChange?.({ key, previous, current: undefined, at: now, initial });
      }
    }
    if (changed) this.#lastChangeAt = now;
  }

  #scheduleResync(now: number): void {
    const r = this.#o.resyncMs;
    this.#nextResyncAt = r > 0 ? now + r * (0.9 + 0.2 * this.#random()) : Infinity;
  }

  // One watch request, from open to end. Resolves on a normal end, rejects otherwise.
  async #watchOnce(): Promise<void> {
    const signal = this.#controller.signal;
    const timeoutSeconds = Math.round(this.#o.watchTimeoutSeconds * (1 + this.#random()));
    const startedAt = this.#o.clock.now();
    let established = false;
    let doneCalled = false;
    let gone = false;
    let delivered = 0;
    const query: Record<string, string | number | boolean | undefined> = {
      resourceVersion: this.#rv,
      allowWatchBookmarks: true,
      timeoutSeconds,
    };
    if (this.#o.fieldSelector !== undefined) query['fieldSelector'] = this.#o.fieldSelector;
    this.#stats.watches++;
    const onEvent = (phase: string, obj: unknown): void => {
      delivered++;
      if (this.#onWatchEvent(phase, obj)) gone = true;
    };
    const abortWatch = (): void => this.#currentWatch?.abort();
    signal.addEventListener('abort', abortWatch, { once: true });
    // The resync deadline ends the watch gracefully so that the loop relists.
    const resyncIn = this.#nextResyncAt - this.#o.clock.now();
    const resyncTimer = Number.isFinite(resyncIn) ? this.#o.clock.setTimeout(abortWatch, Math.max(0, resyncIn)) : undefined;
    const err = await new Promise<unknown>((resolve) => {
      this.#o.watch
        .watch(this.#o.path, query, onEvent, (e: unknown) => {
          doneCalled = true;
          resolve(e ?? null);
        })
        .then((controller) => {
          // `watch()` resolves after the response headers: if `done` has not run, the stream is open.
          this.#currentWatch = controller;
          if (!doneCalled) {
            established = true;
            this.#watching = true;
            // After a silent watch, a new one proves only that the server answers, not that data
            // flows: it is not counted as contact until an event or bookmark arrives.
            if (this.#silentWatches === 0) this.#lastWatchStartAt = this.#o.clock.now();
            this.#onSuccess();
          }
          if (signal.aborted) controller.abort();
        })
        .catch(resolve);
    });
    this.#watching = false;
    this.#currentWatch = undefined;
    signal.removeEventListener('abort', abortWatch);
    if (resyncTimer !== undefined) this.#o.clock.clearTimeout(resyncTimer);
    if (signal.aborted) return;
    if (gone || statusOf(err) === 410) throw new GoneError('resourceVersion expired');
    if (err === null || isTimeout(err) || (established && isAbort(err))) {
      // A normal end: server-side timeout, our inactivity timeout, or the resync abort.
      if (!established) throw err ?? new Error('watch closed before it opened');
      if (isTimeout(err) && delivered === 0) {
        // Silent for the whole inactivity window: a stalled watch or a server without bookmarks.
        this.#silentWatches++;
        this.#log.warn({ silentWatches: this.#silentWatches, state: this.freshness().state }, 'watch silent; reconnecting');
        if (this.#silentWatches >= 2) {
          // Prove the data path with a consistent list rather than trusting another quiet watch.
          this.#needList = true;
          this.#listRv = '';
        }
        return;
      }
      const lasted = this.#o.clock.now() - startedAt;
      if (err === null && delivered === 0 && lasted < 1000) throw new Error('watch closed immediately');
      return;
    }
    throw err;
  }

  // Applies one watch event; returns true when it says the RV is gone.
  #onWatchEvent(phase: string, obj: unknown): boolean {
    const now = this.#o.clock.now();
    this.#lastEventAt = now;
    this.#silentWatches = 0;
    this.#stats.events++;
    const rv = rvOfRaw(obj);
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED': {
        const r = this.#o.trim(obj, this.#interner);
        if (!r.ok) {
          this.#drop(r.reason, phase);
          break;
        }
        const previous = this.#store.get(r.key);
        const current = deepFreeze(r.value);
        this.#store.set(r.key, current);
        this.#lastChangeAt = now;
        this.#o.onChange?.({ key: r.key, previous, current, at: now, initial: false });
        break;
      }
      case 'DELETED': {
        const r = this.#o.trim(obj, this.#interner);
        if (!r.ok) {
          this.#drop(r.reason, phase);
          break;
        }
        const previous = this.#store.get(r.key);
        if (previous !== undefined) {
          this.#store.delete(r.key);
          this.#lastChangeAt = now;
          this.#o.onChange?.({ key: r.key, previous, current: undefined, at: now, initial: false });
        }
        break;
      }
      case 'BOOKMARK':
        this.#stats.bookmarks++;
        break;
      case 'ERROR': {
        const code = (obj as { code?: unknown } | null)?.code;
        if (code === 410) return true;
        this.#log.warn({ code, message: (obj as { message?: unknown } | null)?.message }, 'watch ERROR event');
        return false;
      }
      default:
        this.#log.debug({ phase }, 'unknown watch event type');
        return false;
    }
    if (rv !== undefined) this.#rv = rv;
    return false;
  }

  #drop(reason: DropReason, phase: string): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
    this.#log.warn({ reason, phase }, 'watch object dropped');
  }

  #releaseWaiters(): void {
    const waiters = this.#syncedWaiters;
    this.#syncedWaiters = [];
    for (const w of waiters) w();
  }
}

// metadata.resourceVersion of a stored object.
function rvOf(v: unknown): string | undefined {
  return rvOfRaw(v);
}

function rvOfRaw(v: unknown): string | undefined {
  const meta = (v as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
  return typeof meta?.resourceVersion === 'string' ? meta.resourceVersion : undefined;
}

/** HTTP status carried by a client error (ApiException.code, watch statusCode), if any. */
export function statusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

function isTimeout(err: unknown): boolean {
  return err !== null && typeof err === 'object' && (err as Error).name === 'TimeoutError';
}

function isAbort(err: unknown): boolean {
  return err !== null && typeof err === 'object' && (err as Error).name === 'AbortError';
}

/** A short code and message for logs and stats, plus a Retry-After header when present. */
export function describeError(err: unknown): { code: string; message: string; retryAfter: string | undefined } {
  const status = statusOf(err);
  const headers = (err as { headers?: Record<string, string> } | null)?.headers;
  const retryAfter = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (status !== undefined) {
    const body = (err as { body?: unknown }).body;
    const bodyMessage = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
    const msg = typeof bodyMessage === 'string' ? bodyMessage : firstLine(err);
    return { code: `HTTP${status}`, message: msg, retryAfter };
  }
  if (err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err)) {
    const e = err as Error & { cause?: { code?: unknown; message?: unknown } };
    const causeCode = typeof e.cause?.code === 'string' ? e.cause.code : undefined;
    return { code: causeCode ?? e.name, message: firstLine(err), retryAfter };
  }
  return { code: 'Unknown', message: String(err), retryAfter };
}

function firstLine(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  const cause = (err as { cause?: { message?: unknown } } | null)?.cause?.message;
  const text = typeof m === 'string' ? m : String(err);
  const full = typeof cause === 'string' ? `${text}: ${cause}` : text;
  return full.split('\n')[0]!.slice(0, 300);
}
