/**
 * A small Kubernetes API server for tests: the real wire protocol for the resources
 * dataplane-sentinel uses, so the real @kubernetes/client-node code runs against it.
 *
 * - list with `limit`/`continue` and `resourceVersion` (`metadata.resourceVersion` on the list),
 * - `?watch=true` streams of JSON lines from a resourceVersion (or the current state for ""/"0"),
 *   with BOOKMARK events when asked (`allowWatchBookmarks`), `timeoutSeconds`, and
 *   `ERROR` 410 Expired when the resourceVersion is older than the compacted history,
 * - `metadata.name=` field selectors, bearer-token check,
 * - node status strategic-merge patches (conditions by `type`, `$patch: delete`), node JSON
 *   patches (`test`/`add`/`replace`/`remove`), core/v1 Event creation; all recorded,
 * - faults: status codes (429 with Retry-After, 5xx, 410), slow and hanging responses, dropped
 *   connections, silently stalled watches, the whole server going down and up again.
 * Listens on 127.0.0.1 only: plain HTTP, or HTTPS with the certificate given in `tls`.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** Resource collections served. */
export type Kind = 'services' | 'endpointslices' | 'nodes';

type Obj = Record<string, any>;

const KINDS: Record<Kind, { kind: string; listKind: string; apiVersion: string; namespaced: boolean }> = {
  services: { kind: 'Service', listKind: 'ServiceList', apiVersion: 'v1', namespaced: true },
  endpointslices: { kind: 'EndpointSlice', listKind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', namespaced: true },
  nodes: { kind: 'Node', listKind: 'NodeList', apiVersion: 'v1', namespaced: false },
};

/** A fault injected into matching requests. */
export interface Fault {
  /** Which requests: method, a path regexp, watch or not. Unset fields match anything. */
  match?: { method?: string; path?: RegExp; watch?: boolean };
  /** What happens: an error status, a delay, a hang, or a dropped connection. */
  action:
    | { status: number; retryAfter?: number; reason?: string }
    | { delayMs: number }
    | { hang: true }
    | { destroy: true };
  /** How many requests it applies to (default 1; Infinity for all). */
  times?: number;
}

/** One recorded request. */
export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
  authorization: string | undefined;
}

/** Options of {@link FakeApiServer.start}. */
export interface FakeApiServerOptions {
  /** Bearer token required on every request (default: none required). */
  token?: string;
  /** Bookmark period for watches that ask for them; 0 disables. Default 0. */
  bookmarkIntervalMs?: number;
  /** Caps `timeoutSeconds` of watches, in ms (tests use short values). Default: honour the request. */
  maxWatchMs?: number;
  /** Record request bodies (off for big benchmarks). Default true. */
  record?: boolean;
  /** Serve HTTPS with this certificate and key (PEM; e.g. from test-pki.ts). Default plain HTTP. */
  tls?: { cert: string; key: string };
}

interface Watcher {
  kind: Kind;
  name: string | undefined;
  res: http.ServerResponse;
  bookmarks: boolean;
  timers: NodeJS.Timeout[];
}

interface HistoryEntry {
  rv: number;
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

/** The fake API server. */
export class FakeApiServer {
  readonly requests: RequestRecord[] = [];
  /** Node patches (status and JSON), in order. */
  readonly patches: { path: string; contentType: string | undefined; body: any }[] = [];
  /** Created events. */
  readonly events: Obj[] = [];
  readonly faults: Fault[] = [];
  /** With `tls`: failed TLS handshakes (the error's code or message), e.g. a client refusing the certificate. */
  readonly tlsErrors: string[] = [];
  #server: http.Server;
  #opts: FakeApiServerOptions;
  #port = 0;
  #rv = 1000;
  #minRv = 0;
  #stores: Record<Kind, Map<string, Obj>> = { services: new Map(), endpointslices: new Map(), nodes: new Map() };
  #history: HistoryEntry[] = [];
  #watchers = new Set<Watcher>();
  #sockets = new Set<Socket>();
  #stalled = false;
  #uid = 0;
  #connections = 0;

  private constructor(opts: FakeApiServerOptions) {
    this.#opts = opts;
    this.#server = this.#create();
  }

  // An HTTP or HTTPS server (same handler), tracking its TCP connections.
  #create(): http.Server {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.#handle(req, res);
    const tls = this.#opts.tls;
    const server: http.Server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler);
    server.keepAliveTimeout = 60_000;
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => this.tlsErrors.push(err.code ?? err.message));
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      this.#connections++;
      s.on('close', () => this.#sockets.delete(s));
    });
    return server;
  }

  /** Starts a server on 127.0.0.1 (a random port unless given). */
  static async start(opts: FakeApiServerOptions = {}, port = 0): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await s.#listen(port);
    return s;
  }

  /** Base URL, e.g. http://127.0.0.1:34567 (https with `tls`). */
  get url(): string {
    return `${this.#opts.tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  /** Current resourceVersion. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Number of open watch streams. */
  get openWatches(): number {
    return this.#watchers.size;
  }

  async #listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  // ---- data ----

  #key(kind: Kind, obj: Obj): string {
    return KINDS[kind].namespaced ? `${obj.metadata?.namespace}/${obj.metadata?.name}` : String(obj.metadata?.name);
  }

  /** Adds or replaces an object, bumping the resourceVersion and notifying watches. */
  upsert(kind: Kind, obj: Obj): Obj {
    const key = this.#key(kind, obj);
    const existed = this.#stores[kind].get(key);
    const stored = structuredClone(obj);
    stored.metadata ??= {};
    stored.metadata.uid ??= existed?.metadata?.uid ?? `uid-${++this.#uid}`;
    stored.metadata.resourceVersion = String(++this.#rv);
    this.#stores[kind].set(key, stored);
    this.#emit({ rv: this.#rv, kind, type: existed ? 'MODIFIED' : 'ADDED', object: stored });
    return stored;
  }

  /** Loads many objects without history (a fast initial state). */
  load(kind: Kind, objs: Iterable<Obj>): void {
    for (const obj of objs) {
      obj.metadata ??= {};
      obj.metadata.uid ??= `uid-${++this.#uid}`;
      obj.metadata.resourceVersion = String(++this.#rv);
      this.#stores[kind].set(this.#key(kind, obj), obj);
    }
    this.#minRv = this.#rv;
  }

  /** Deletes an object, notifying watches. */
  remove(kind: Kind, namespace: string | undefined, name: string): void {
    const key = KINDS[kind].namespaced ? `${namespace}/${name}` : name;
    const existed = this.#stores[kind].get(key);
    if (!existed) return;
    this.#stores[kind].delete(key);
    const object = { ...existed, metadata: { ...existed.metadata, resourceVersion: String(++this.#rv) } };
    this.#emit({ rv: this.#rv, kind, type: 'DELETED', object });
  }

  /** The stored object, if any. */
  get(kind: Kind, namespace: string | undefined, name: string): Obj | undefined {
    return this.#stores[kind].get(KINDS[kind].namespaced ? `${namespace}/${name}` : name);
  }

  /** All stored objects of a kind. */
  list(kind: Kind): Obj[] {
    return [...this.#stores[kind].values()];
  }

  /** Forgets the event history: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.#history = [];
    this.#minRv = this.#rv;
  }

  // ---- faults ----

  /** Adds a fault (see {@link Fault}). */
  addFault(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** While on, open and new watches receive nothing at all (no events, no bookmarks). */
  stallWatches(on: boolean): void {
    this.#stalled = on;
  }

  /** Ends every open watch stream gracefully (as the server-side timeout does). */
  closeWatches(): void {
    for (const w of this.#watchers) this.#endWatch(w);
  }

  /** Drops every open watch connection (no proper end of the stream). */
  dropWatches(): void {
    for (const w of [...this.#watchers]) {
      this.#watchers.delete(w);
      for (const t of w.timers) clearTimeout(t);
      w.res.socket?.destroy();
    }
  }

  /** Stops listening and drops every connection: the API is unreachable until {@link up}. */
  async down(): Promise<void> {
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    this.dropWatches();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    this.#server = this.#create();
    await this.#listen(this.#port);
  }

  /** Stops the server for good. */
  async stop(): Promise<void> {
    await this.down().catch(() => {});
  }

  // ---- HTTP ----

  #takeFault(method: string, path: string, watch: boolean): Fault['action'] | undefined {
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i]!;
      const m = f.match ?? {};
      if (m.method !== undefined && m.method !== method) continue;
      if (m.path !== undefined && !m.path.test(path)) continue;
      if (m.watch !== undefined && m.watch !== watch) continue;
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) this.faults.splice(i, 1);
      return f.action;
    }
    return undefined;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const watch = query['watch'] === 'true' || query['watch'] === '1';
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    if (this.#opts.record !== false) {
      this.requests.push({ method, path: url.pathname, query, contentType: req.headers['content-type'], body, authorization: req.headers.authorization });
    }
    const fault = this.#takeFault(method, url.pathname, watch);
    if (fault) {
      if ('hang' in fault) return; // never answer; the socket is dropped at stop()
      if ('destroy' in fault) {
        req.socket.destroy();
        return;
      }
      if ('delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
      else {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
        return this.#status(res, fault.status, fault.reason ?? http.STATUS_CODES[fault.status] ?? 'Error', 'injected fault', headers);
      }
    }
    if (this.#opts.token !== undefined && req.headers.authorization !== `Bearer ${this.#opts.token}`) {
      return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    const p = url.pathname;
    let m: RegExpMatchArray | null;
    if (method === 'GET' && p === '/api/v1/services') return this.#listOrWatch('services', query, watch, res);
    if (method === 'GET' && p === '/apis/discovery.k8s.io/v1/endpointslices') return this.#listOrWatch('endpointslices', query, watch, res);
    if (method === 'GET' && p === '/api/v1/nodes') return this.#listOrWatch('nodes', query, watch, res);
    if ((m = p.match(/^\/api\/v1\/nodes\/([^/]+)$/)) && method === 'GET') {
      const node = this.#stores.nodes.get(decodeURIComponent(m[1]!));
      return node ? this.#json(res, 200, node) : this.#status(res, 404, 'NotFound', `nodes "${m[1]}" not found`);
    }
    if ((m = p.match(/^\/api\/v1\/nodes\/([^/]+)(\/status)?$/)) && method === 'PATCH') {
      return this.#patchNode(decodeURIComponent(m[1]!), m[2] !== undefined, req.headers['content-type'], body, res);
    }
    if ((m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/events$/)) && method === 'POST') {
      const ev = { ...(body as Obj), metadata: { ...(body as Obj)?.metadata, namespace: m[1], resourceVersion: String(++this.#rv) } };
      if (!ev.metadata.name) ev.metadata.name = `${ev.metadata.generateName ?? 'event.'}${this.#rv}`;
      this.events.push(ev);
      return this.#json(res, 201, ev);
    }
    return this.#status(res, 404, 'NotFound', `no route for ${method} ${p}`);
  }

  #json(res: http.ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  #status(res: http.ServerResponse, code: number, reason: string, message: string, headers: Record<string, string> = {}): void {
    this.#json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }, headers);
  }

  #matches(kind: Kind, name: string | undefined, obj: Obj): boolean {
    return name === undefined || obj.metadata?.name === name;
  }

  #listOrWatch(kind: Kind, query: Record<string, string>, watch: boolean, res: http.ServerResponse): void {
    const fs = query['fieldSelector'];
    const name = fs?.startsWith('metadata.name=') ? fs.slice('metadata.name='.length) : undefined;
    if (watch) return this.#watch(kind, name, query, res);
    const limit = query['limit'] ? Number(query['limit']) : 0;
    let start = 0;
    let listRv = this.#rv;
    if (query['continue']) {
      try {
        const token = JSON.parse(Buffer.from(query['continue'], 'base64url').toString('utf8')) as { rv: number; start: number };
        if (token.rv < this.#minRv) return this.#status(res, 410, 'Expired', 'The provided continue parameter is too old');
        start = token.start;
        listRv = token.rv;
      } catch {
        return this.#status(res, 400, 'BadRequest', 'invalid continue token');
      }
    }
    const all = [...this.#stores[kind].values()].filter((o) => this.#matches(kind, name, o));
    const end = limit > 0 ? Math.min(all.length, start + limit) : all.length;
    const items = all.slice(start, end);
    const metadata: Obj = { resourceVersion: String(listRv) };
    if (end < all.length) {
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, start: end })).toString('base64url');
      metadata.remainingItemCount = all.length - end;
    }
    this.#json(res, 200, { kind: KINDS[kind].listKind, apiVersion: KINDS[kind].apiVersion, metadata, items });
  }

  #watch(kind: Kind, name: string | undefined, query: Record<string, string>, res: http.ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { kind, name, res, bookmarks: query['allowWatchBookmarks'] === 'true', timers: [] };
    this.#watchers.add(w);
    res.on('close', () => {
      this.#watchers.delete(w);
      for (const t of w.timers) clearTimeout(t);
    });
    const rvParam = query['resourceVersion'] ?? '';
    if (rvParam === '' || rvParam === '0') {
      for (const obj of this.#stores[kind].values()) if (this.#matches(kind, name, obj)) this.#send(w, 'ADDED', obj);
    } else {
      const from = Number(rvParam);
      if (!Number.isFinite(from) || from < this.#minRv) {
        this.#send(w, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rvParam} (${this.#minRv})`, reason: 'Expired', code: 410 });
        this.#endWatch(w);
        return;
      }
      for (const h of this.#history) if (h.kind === kind && h.rv > from && this.#matches(kind, name, h.object)) this.#send(w, h.type, h.object);
    }
    const seconds = query['timeoutSeconds'] ? Number(query['timeoutSeconds']) : 1800;
    const ms = Math.min(seconds * 1000, this.#opts.maxWatchMs ?? Infinity);
    w.timers.push(setTimeout(() => this.#endWatch(w), ms));
    const every = this.#opts.bookmarkIntervalMs ?? 0;
    if (w.bookmarks && every > 0) {
      const tick = (): void => {
        this.#send(w, 'BOOKMARK', { kind: KINDS[kind].kind, apiVersion: KINDS[kind].apiVersion, metadata: { resourceVersion: String(this.#rv) } });
        w.timers.push(setTimeout(tick, every));
      };
      w.timers.push(setTimeout(tick, every));
    }
  }

  #send(w: Watcher, type: string, object: Obj): void {
    if (this.#stalled && type !== 'ERROR') return;
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  #endWatch(w: Watcher): void {
    this.#watchers.delete(w);
    for (const t of w.timers) clearTimeout(t);
    if (!w.res.writableEnded) w.res.end();
  }

  #emit(h: HistoryEntry): void {
    this.#history.push(h);
    if (this.#history.length > 10_000) {
      const dropped = this.#history.splice(0, this.#history.length - 10_000);
      this.#minRv = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.#watchers) if (w.kind === h.kind && this.#matches(h.kind, w.name, h.object)) this.#send(w, h.type, h.object);
  }

  // ---- node patches ----

  #patchNode(name: string, status: boolean, contentType: string | undefined, body: any, res: http.ServerResponse): void {
    this.patches.push({ path: `/api/v1/nodes/${name}${status ? '/status' : ''}`, contentType, body: structuredClone(body) });
    const node = this.#stores.nodes.get(name);
    if (!node) return this.#status(res, 404, 'NotFound', `nodes "${name}" not found`);
    let next: Obj;
    if (contentType?.startsWith('application/strategic-merge-patch+json')) {
      next = strategicMerge(structuredClone(node), status ? { status: body?.status } : body);
    } else if (contentType?.startsWith('application/json-patch+json')) {
      const r = applyJsonPatch(structuredClone(node), body);
      if (!r.ok) return this.#status(res, 422, 'Invalid', r.message);
      next = r.value;
    } else if (contentType?.startsWith('application/merge-patch+json')) {
      next = strategicMerge(structuredClone(node), body);
    } else {
      return this.#status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`);
    }
    if (status) next.spec = node.spec;
    else next.status = node.status;
    const stored = this.upsert('nodes', next);
    this.#json(res, 200, stored);
  }
}

// Strategic merge, enough for nodes: lists of objects with `type` merge by type (honouring
// `$patch: delete`), other lists replace, objects merge, null deletes.
export function strategicMerge(target: Obj, patch: Obj | undefined): Obj {
  if (!patch || typeof patch !== 'object') return target;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (Array.isArray(v) && v.every((e) => e && typeof e === 'object' && 'type' in e) && Array.isArray(target[k])) {
      const list: Obj[] = target[k];
      for (const e of v as Obj[]) {
        const i = list.findIndex((x) => x.type === e.type);
        if (e['$patch'] === 'delete') {
          if (i >= 0) list.splice(i, 1);
        } else if (i >= 0) list[i] = strategicMerge(list[i]!, e);
        else list.push(e);
      }
    } else if (Array.isArray(v)) target[k] = (v as Obj[]).filter((e) => !(e && e['$patch'] === 'delete'));
    else if (typeof v === 'object' && target[k] && typeof target[k] === 'object' && !Array.isArray(target[k])) target[k] = strategicMerge(target[k], v);
    else target[k] = v;
  }
  return target;
}

// RFC 6902 for simple paths (no array-index escapes beyond ~0/~1).
export function applyJsonPatch(doc: Obj, ops: any): { ok: true; value: Obj } | { ok: false; message: string } {
  if (!Array.isArray(ops)) return { ok: false, message: 'patch is not a list of operations' };
  for (const op of ops) {
    const parts = String(op.path).split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) return { ok: false, message: `bad path ${op.path}` };
    let parent: any = doc;
    for (const p of parts) {
      if (parent == null || typeof parent !== 'object') return { ok: false, message: `path ${op.path} not found` };
      parent = parent[p];
    }
    if (parent == null || typeof parent !== 'object') return { ok: false, message: `path ${op.path} not found` };
    switch (op.op) {
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) return { ok: false, message: `test failed at ${op.path}` };
        break;
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else parent[last] = op.value;
        break;
      case 'replace':
        if (!(last in parent)) return { ok: false, message: `replace of missing ${op.path}` };
        parent[last] = op.value;
        break;
      case 'remove':
        if (!(last in parent)) return { ok: false, message: `remove of missing ${op.path}` };
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        return { ok: false, message: `unsupported op ${op.op}` };
    }
  }
  return { ok: true, value: doc };
}
