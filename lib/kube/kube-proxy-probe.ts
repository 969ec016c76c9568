/**
 * I/O: scrapes kube-proxy's metrics and /livez on the node (host network). Both are optional
 * and bounded: a kube-proxy that is absent (replaced by Cilium, say) yields `Unknown`, not an error.
 */
import type { Clock } from './deps.ts';
import { readKubeProxyMetrics, type KubeProxyScrape } from './kube-proxy-signals.ts';

/** Options of {@link scrapeKubeProxy}. */
export interface KubeProxyProbeOptions {
  /** Default http://127.0.0.1:10249/metrics. */
  metricsUrl?: string;
  /** Default http://127.0.0.1:10256/livez. */
  livezUrl?: string;
  /** Per-request timeout. Default 2 s. */
  timeoutMs?: number;
  clock: Clock;
  signal?: AbortSignal;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
}

/** One scrape of both endpoints. Never throws. */
export async function scrapeKubeProxy(o: KubeProxyProbeOptions): Promise<KubeProxyScrape> {
  const f = o.fetch ?? fetch;
  const timeout = o.timeoutMs ?? 2000;
  const signal = (): AbortSignal => (o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(timeout)]) : AbortSignal.timeout(timeout));
  const errors: string[] = [];
  const [metrics, livezStatus] = await Promise.all([
    f(o.metricsUrl ?? 'http://127.0.0.1:10249/metrics', { signal: signal() })
      .then(async (r) => {
        if (!r.ok) throw new Error(`metrics HTTP ${r.status}`);
        return readKubeProxyMetrics(await r.text());
      })
      .catch((err: unknown) => {
        errors.push(`metrics: ${(err as Error).message ?? String(err)}`);
        return undefined;
      }),
    f(o.livezUrl ?? 'http://127.0.0.1:10256/livez', { signal: signal() })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch((err: unknown) => {
        errors.push(`livez: ${(err as Error).message ?? String(err)}`);
        return undefined;
      }),
  ]);
  return { at: o.clock.now(), metrics, livezStatus, error: errors.length > 0 ? errors.join('; ') : undefined };
}
