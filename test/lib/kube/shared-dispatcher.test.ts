// List pages share one connection pool instead of opening one per request.
import t from 'tap';
import * as k8s from '@kubernetes/client-node';
import { sharedDispatcher } from '../../../lib/kube/shared-dispatcher.ts';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';
import { kubeApiFor } from '../../helpers/kube-client.ts';
import { makeService } from '../../helpers/kube-objects.ts';

function config(skipTLSVerify: boolean): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromClusterAndUser({ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify }, { name: 'u', token: 't' });
  return kc;
}

const context = (): k8s.RequestContext => new k8s.RequestContext('https://127.0.0.1:6443/api/v1/services', k8s.HttpMethod.GET);

t.test('requests with the same TLS material get the same Agent, and the client headers', async (t) => {
  const authenticate = sharedDispatcher(config(true));
  const a = context();
  const b = context();
  await authenticate(a);
  await authenticate(b);
  t.ok(a.getDispatcher());
  t.equal(b.getDispatcher(), a.getDispatcher());
  t.equal(b.getHeaders()['Authorization'], 'Bearer t');
});

t.test('changed TLS material gets a new Agent', async (t) => {
  const kc = config(true);
  const authenticate = sharedDispatcher(kc);
  const a = context();
  await authenticate(a);
  kc.clusters[0] = { ...kc.clusters[0]!, skipTLSVerify: false, caData: Buffer.from('not a real CA').toString('base64') };
  const b = context();
  await authenticate(b);
  t.not(b.getDispatcher(), a.getDispatcher());
  const c = context();
  await authenticate(c);
  t.equal(c.getDispatcher(), b.getDispatcher());
});

t.test('a paged list through the real client reuses its connections', async (t) => {
  const server = await FakeApiServer.start({ token: 'test-token' });
  t.teardown(() => server.stop());
  server.load('services', Array.from({ length: 10 }, (_, i) => makeService(i)));
  const api = kubeApiFor(server.url);
  let continueToken: string | undefined;
  let pages = 0;
  do {
    const page = await api.listServices({ limit: 2, continueToken, resourceVersion: undefined, signal: new AbortController().signal });
    continueToken = page.continueToken;
    pages++;
  } while (continueToken !== undefined);
  t.equal(pages, 5);
  // One per page without the shared Agent; undici may open a second while the first is released.
  t.ok(server.connections <= 2, `${server.connections} connections for 5 pages`);
});
