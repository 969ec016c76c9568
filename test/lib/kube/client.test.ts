// Which path to the API server is used, and the real client really takes it.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig, createKubeApi } from '../../../lib/kube/client.ts';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';
import { makeService } from '../../helpers/kube-objects.ts';

const dir = mkdtempSync(join(tmpdir(), 'dps-kube-'));
writeFileSync(join(dir, 'token'), 'sa-token');
writeFileSync(join(dir, 'ca.crt'), '');
const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

t.test('--api-server wins and avoids the Service ClusterIP', async (t) => {
  const { path, kubeConfig } = loadKubeConfig({ apiServer: 'https://192.168.0.5:6443', serviceAccountDir: dir, env });
  t.same(path, { source: 'api-server-flag', server: 'https://192.168.0.5:6443', viaServiceClusterIP: false, credentials: 'service-account' });
  t.equal(kubeConfig.getCurrentCluster()?.caFile, join(dir, 'ca.crt'));
});

t.test('--api-server pointing at the ClusterIP is flagged', async (t) => {
  const { path } = loadKubeConfig({ apiServer: 'https://10.96.0.1:443', serviceAccountDir: dir, env });
  t.equal(path.viaServiceClusterIP, true);
});

t.test('a bad --api-server is a coded error', async (t) => {
  t.throws(() => loadKubeConfig({ apiServer: 'not a url', env }), { code: 'DPS_ERR_KUBE_CONFIG' });
});

t.test('a host kubeconfig gives the address and CA; credentials stay the service account', async (t) => {
  const kc = join(dir, 'kube-proxy.conf');
  writeFileSync(kc, `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://172.18.0.2:6443
    certificate-authority-data: Y2E=
users:
- name: u
  user:
    token: kube-proxy-token
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`);
  const { path, kubeConfig } = loadKubeConfig({ kubeconfigPath: kc, serviceAccountDir: dir, env });
  t.same(path, { source: 'kubeconfig', server: 'https://172.18.0.2:6443', viaServiceClusterIP: false, credentials: 'service-account' });
  t.equal(kubeConfig.getCurrentCluster()?.caData, 'Y2E=');
  t.equal(kubeConfig.getCurrentUser()?.token, undefined, "the kube-proxy token is not borrowed");
  const own = loadKubeConfig({ kubeconfigPath: kc, kubeconfigCredentials: true, env });
  t.equal(own.path.credentials, 'kubeconfig');
  t.throws(() => loadKubeConfig({ kubeconfigPath: join(dir, 'missing'), env }), { code: 'DPS_ERR_KUBE_CONFIG' });
});

t.test('in-cluster config is the fallback and says it depends on the ClusterIP', async (t) => {
  const { path } = loadKubeConfig({ serviceAccountDir: dir, env });
  t.same(path, { source: 'in-cluster', server: 'https://10.96.0.1:443', viaServiceClusterIP: true, credentials: 'service-account' });
  t.equal(loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' } }).path.server, 'https://[fd00::1]:443');
  t.throws(() => loadKubeConfig({ env: {} }), { code: 'DPS_ERR_KUBE_CONFIG', message: /--api-server/ });
});

t.test('the service-account token file is what the real client sends', async (t) => {
  const server = await FakeApiServer.start({ token: 'sa-token' });
  t.teardown(() => server.stop());
  server.load('services', [makeService(1)]);
  const { kubeConfig } = loadKubeConfig({ apiServer: server.url, serviceAccountDir: dir, env });
  // The fake server speaks plain HTTP; the client refuses that unless TLS checks are off.
  (kubeConfig.getCurrentCluster() as { skipTLSVerify: boolean }).skipTLSVerify = true;
  const api = createKubeApi(kubeConfig);
  const page = await api.listServices({ limit: 10, continueToken: undefined, resourceVersion: '0', signal: new AbortController().signal });
  t.equal(page.items.length, 1);
  t.equal(server.requests[0]!.authorization, 'Bearer sa-token');
});
