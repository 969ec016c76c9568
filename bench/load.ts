/**
 * A small open-loop HTTP load generator for the agent benchmark: `rps` requests per second to one
 * URL on 127.0.0.1 (only), for at most `durationMs` and `maxRequests`. Latency is measured from
 * each request's *scheduled* start, so a stalled server cannot hide its stalls (no coordinated
 * omission). Keep-alive connections, at most `connections` in flight.
 */
import { Agent, request } from 'node:http';

/** Latency summary in milliseconds. */
export interface LoadResult {
  sent: number;
  ok: number;
  errors: number;
  statuses: Record<number, number>;
  p50: number;
  p99: number;
  max: number;
}

/** Percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs the load; resolves when every request has answered or failed. */
export async function runLoad(o: { url: string; rps: number; durationMs: number; maxRequests: number; connections?: number }): Promise<LoadResult> {
  const url = new URL(o.url);
  if (url.hostname !== '127.0.0.1') throw new Error('the load generator only targets 127.0.0.1');
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections ?? 64 });
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  let sent = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  const total = Math.min(o.maxRequests, Math.floor((o.rps * o.durationMs) / 1000));
  const one = (scheduled: number): Promise<void> => new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => {
        statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
        latencies.push(performance.now() - scheduled);
        resolve();
      });
    });
    req.on('error', () => { errors++; resolve(); });
    req.on('timeout', () => req.destroy());
    req.end();
  });
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) * o.rps) / 1000) + 1);
    for (; sent < due; sent++) inflight.push(one(start + (sent * 1000) / o.rps));
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { sent, ok: latencies.length, errors, statuses, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? NaN };
}
