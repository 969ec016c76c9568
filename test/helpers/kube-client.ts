/** A real @kubernetes/client-node configuration pointing at a {@link FakeApiServer}. */
import * as k8s from '@kubernetes/client-node';
import { createKubeApi, type KubeApi } from '../../lib/kube/client.ts';

/** KubeApi over the real client, talking to `url` with bearer `token`. */
export function kubeApiFor(url: string, opts: { token?: string; watchInactivityMs?: number } = {}): KubeApi {
  const kc = new k8s.KubeConfig();
  kc.loadFromClusterAndUser({ name: 'fake', server: url, skipTLSVerify: true }, { name: 'test', token: opts.token ?? 'test-token' });
  return createKubeApi(kc, opts.watchInactivityMs === undefined ? {} : { watchInactivityMs: opts.watchInactivityMs });
}
