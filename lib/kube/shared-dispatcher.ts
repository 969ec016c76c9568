/**
 * I/O edge: one connection pool for the list calls. The client's `applySecurityAuthentication`
 * builds a new undici Agent for every request, so every page of a list opened its own
 * keep-alive connection (a TLS handshake each, against a real API server), and each Agent with
 * its socket and buffers stayed in memory until the server closed the idle connection: ~40
 * pools after a 10k-Service sync with 500-object pages, ~200 with 100-object pages.
 *
 * Here the request keeps the client's headers (token re-read as the client does), but is sent
 * through the Agent of the first request made with the same TLS material (CA, client
 * certificate and key, verification, server name). When that material changes (a rotated
 * certificate), the new Agent replaces the old one, which is closed.
 */
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<k8s.RequestContext['getDispatcher']>>;

// A digest of what makes two Agents interchangeable.
async function tlsKey(kc: k8s.KubeConfig): Promise<string> {
  const opts: Record<string, unknown> = {};
  await kc.applyToHTTPSOptions(opts);
  const hash = createHash('sha256');
  for (const field of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername']) {
    const v = opts[field];
    hash.update(`${field}=`);
    if (Buffer.isBuffer(v) || typeof v === 'string') hash.update(v);
    else hash.update(JSON.stringify(v ?? null));
    hash.update('\n');
  }
  return hash.digest('base64');
}

/** Authenticates a request and routes it through the shared Agent. */
export type Authenticate = (ctx: k8s.RequestContext) => Promise<void>;

/** Builds the shared-Agent authentication step over a client configuration. */
export function sharedDispatcher(kc: k8s.KubeConfig): Authenticate {
  let current: { key: string; dispatcher: Dispatcher } | undefined;
  return async (ctx) => {
    await kc.applySecurityAuthentication(ctx);
    const fresh = ctx.getDispatcher();
    if (fresh === undefined) return; // plain http without TLS options: the global dispatcher
    const key = await tlsKey(kc);
    if (current !== undefined && current.key === key) {
      void fresh.close().catch(() => {}); // never used: no connection to close
      ctx.setDispatcher(current.dispatcher);
      return;
    }
    const old = current;
    current = { key, dispatcher: fresh };
    if (old !== undefined) void old.dispatcher.close().catch(() => {});
  };
}
