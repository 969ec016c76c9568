/**
 * The HTTP server (built, not listening: tests use inject() and real sockets alike). Every route
 * is a cheap read of state the loops already computed: /health never scans, /metrics renders the
 * registry. Nothing here shows rule text; findings appear only with `?verbose`, and /debug/* only
 * when enabled.
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Finding } from '../lib/kubeproxy/findings.ts';
import type { NodeVerdict } from './verdict.ts';

/** What /health reads. */
export interface HealthState {
  readonly node: string;
  readonly verdict: NodeVerdict;
  /** When the verdict was last computed (ms), if ever. */
  readonly checkedAt: number | undefined;
  /** Confirmed findings (shown with ?verbose). */
  readonly findings: readonly Finding[];
  /** Differences seen but not confirmed yet (grace period, persistence). */
  readonly unconfirmed: number;
}

/** What the server needs. */
export interface ServerDeps {
  health(): HealthState;
  livez(): { ok: boolean; loops: readonly { name: string; alive: boolean }[] };
  readyz(): { ok: boolean; waitingFor: readonly string[] };
  readonly registry: Registry;
  /** HTTP status while the verdict is unknown. */
  readonly unknownStatusCode: 200 | 503;
  /** /debug/last-diff content, or undefined when debug endpoints are off. */
  readonly debug: (() => unknown) | undefined;
}

/** Builds the fastify app with every route; the caller listens (or injects). */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024, connectionTimeout: 10_000, keepAliveTimeout: 5_000, requestTimeout: 10_000, return503OnClosing: true });

  app.get('/health', async (request, reply) => {
    const h = deps.health();
    const code = h.verdict.status === 'healthy' ? 200 : h.verdict.status === 'unhealthy' ? 503 : deps.unknownStatusCode;
    const verbose = Object.hasOwn(request.query as object, 'verbose') && (request.query as Record<string, string>).verbose !== 'false';
    const body: Record<string, unknown> = {
      status: h.verdict.status,
      node: h.node,
      checkedAt: h.checkedAt === undefined ? null : new Date(h.checkedAt).toISOString(),
      checks: h.verdict.checks.filter((c) => c.enabled).map((c) => ({ name: c.name, status: c.status, reason: c.reason, message: c.message })),
      reasons: h.verdict.reasons,
    };
    if (verbose) {
      body.findings = h.findings.map((f) => ({
        kind: f.kind, service: f.service ?? null, port: f.port ?? null, protocol: f.protocol ?? null, endpoint: f.endpoint ?? null,
        chain: f.chain ?? null, message: f.message, severity: f.severity, family: f.family,
      }));
      body.unconfirmed = h.unconfirmed;
    }
    return reply.code(code).header('cache-control', 'no-store').send(body);
  });

  app.get('/livez', async (_request, reply) => {
    const l = deps.livez();
    return reply.code(l.ok ? 200 : 503).send({ status: l.ok ? 'ok' : 'stuck', loops: l.loops });
  });

  app.get('/readyz', async (_request, reply) => {
    const r = deps.readyz();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'not-ready', waitingFor: r.waitingFor });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.registry.metrics();
    return reply.header('content-type', deps.registry.contentType).send(text);
  });

  if (deps.debug !== undefined) {
    const debug = deps.debug;
    app.get('/debug/last-diff', async () => debug());
  }
  return app;
}
