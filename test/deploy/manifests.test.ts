// deploy/**: every kustomization builds, every object validates against the Kubernetes OpenAPI
// schemas (kubernetes-models; prometheus-operator's CRDs), and the DaemonSet keeps the safety
// properties docs/operations.md promises (least privilege, safe defaults).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type KubeObject, ROOT, kubectlKustomize, kustomize, kustomizeWithKubectl, kustomizeYamlLevel, validateObjects } from './helpers.ts';
import { parseLogConfig, DEFAULT_LOG_CONFIG } from '../../lib/logs/log-config.ts';
import { DEFAULT_TAINT_POLICY, validateTaintPolicy } from '../../lib/kube/taint-policy.ts';
import { OWNED_CONDITION_TYPES } from '../../lib/kube/conditions.ts';
import { loadConfig } from '../../agent/config.ts';

const OVERLAYS = readdirSync(join(ROOT, 'deploy/overlays'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `deploy/overlays/${d.name}`);
const KUSTOMIZATIONS = ['deploy/base', 'deploy/prometheus', 'deploy/grafana', ...OVERLAYS];
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

const daemonSet = (objs: KubeObject[]) => objs.find((o) => o.kind === 'DaemonSet')!;
const agentContainer = (ds: KubeObject) => ds.spec.template.spec.containers.find((c: any) => c.name === 'agent');
// The agent's config file, as mounted (the ConfigMap the DaemonSet names).
function agentConfig(objs: KubeObject[]): any {
  const ds = daemonSet(objs);
  const cmName = ds.spec.template.spec.volumes.find((v: any) => v.name === 'config').configMap.name;
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName);
  if (!cm) throw new Error(`ConfigMap ${cmName} not found`);
  return parse(cm.data['config.yaml']);
}

t.test('every kustomization builds and validates against the Kubernetes schemas', async (t) => {
  const version = kubectlKustomize();
  t.comment(version ? `built with kubectl kustomize (kustomize ${version})` : 'no kubectl: YAML-level build only');
  for (const dir of KUSTOMIZATIONS) {
    const objs = kustomize(dir);
    t.ok(objs.length > 0, `${dir} builds`);
    t.same(await validateObjects(objs, dir), [], `${dir}: every object is valid`);
    const keys = objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    t.same(keys.filter((k, i) => keys.indexOf(k) !== i), [], `${dir}: no object twice`);
  }
});

t.test('the YAML-level build agrees with kustomize (when kubectl is installed)', { skip: kubectlKustomize() === undefined ? 'no kubectl with kustomize on this machine' : false }, async (t) => {
  // Generated ConfigMap names carry kustomize's content hash; compare without it.
  const norm = (objs: KubeObject[]) =>
    JSON.parse(JSON.stringify(objs).replace(/(dataplane-sentinel-[a-z-]*config)-[a-z0-9]{10}"/g, '$1"'))
      .map((o: any) => JSON.stringify(sortKeys(o))).sort();
  for (const dir of KUSTOMIZATIONS) t.same(norm(kustomizeYamlLevel(dir)), norm(kustomizeWithKubectl(dir)), dir);
});

function sortKeys(v: any): any {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

t.test('the base ships its own Namespace, never kube-system, with Pod Security allowing the agent there only', async (t) => {
  for (const dir of KUSTOMIZATIONS) {
    const namespaces = kustomize(dir).filter((o) => o.kind === 'Namespace');
    t.notOk(namespaces.some((o) => o.metadata.name === 'kube-system' || o.metadata.name === 'default'), `${dir}: never ships kube-system or default (uninstall deletes it)`);
  }
  const ns = kustomize('deploy/base').find((o) => o.kind === 'Namespace');
  t.equal(ns?.metadata.name, 'dataplane-sentinel');
  t.equal((ns?.metadata.labels as Record<string, string> | undefined)?.['pod-security.kubernetes.io/enforce'], 'privileged', 'the host network and NET_ADMIN need the privileged profile');
  for (const o of kustomize('deploy/base')) {
    if (o.metadata.namespace !== undefined && o.kind !== 'Role' && o.kind !== 'RoleBinding') t.equal(o.metadata.namespace, 'dataplane-sentinel', `${o.kind} ${o.metadata.name}`);
  }
});

t.test('the DaemonSet: least privilege and safe defaults', async (t) => {
  const objs = kustomize('deploy/base');
  const ds = daemonSet(objs);
  const pod = ds.spec.template.spec;
  const c = agentContainer(ds);
  t.equal(ds.metadata.namespace, 'dataplane-sentinel');
  t.equal(pod.serviceAccountName, 'dataplane-sentinel');
  t.equal(pod.hostNetwork, true, 'host network: iptables-save reads the namespace it runs in');
  t.equal(pod.dnsPolicy, 'Default', 'the node resolver, not CoreDNS behind a ClusterIP');
  t.notOk(pod.hostPID, 'no host PID namespace');
  t.notOk(pod.hostIPC, 'no host IPC namespace');
  t.equal(pod.priorityClassName, 'system-node-critical');
  t.same(pod.tolerations, [{ operator: 'Exists' }], 'tolerates every taint');
  t.same(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, 'one node at a time');
  t.equal(pod.containers.length, 1);
  t.equal(c.image, `dataplane-sentinel:${pkg.version}`, 'image tag follows package.json');
  const sc = c.securityContext;
  t.equal(sc.privileged, false);
  t.equal(sc.allowPrivilegeEscalation, false);
  t.equal(sc.readOnlyRootFilesystem, true);
  t.same(sc.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
  t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  t.same(c.env, [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }], 'NODE_NAME from the downward API');
  t.same(c.args, ['agent', '--listen=0.0.0.0:9808', '--config=/etc/dataplane-sentinel/config.yaml']);
  t.same(c.ports, [{ name: 'metrics', containerPort: 9808, protocol: 'TCP' }]);
  t.equal(c.livenessProbe.httpGet.path, '/livez');
  t.equal(c.startupProbe.httpGet.path, '/livez');
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  for (const p of [c.livenessProbe, c.startupProbe, c.readinessProbe]) t.equal(p.httpGet.port, 'metrics');
  // Requests and limits: set, small, and limit ≥ request.
  const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1]);
  const milli = (q: string) => Number(/^(\d+)m$/.exec(q)?.[1]);
  const r = c.resources;
  t.ok(milli(r.requests.cpu) <= 100 && mi(r.requests.memory) <= 256, 'small requests');
  t.ok(milli(r.limits.cpu) >= milli(r.requests.cpu) && mi(r.limits.memory) >= mi(r.requests.memory), 'limits ≥ requests');
  t.ok(mi(r.limits.memory) >= 384, 'memory limit above the measured 1k-service scan peak (~260 MB) plus the API view');
});

t.test('host mounts: read-only except the state directory', async (t) => {
  const ds = daemonSet(kustomize('deploy/base'));
  const pod = ds.spec.template.spec;
  const mounts = agentContainer(ds).volumeMounts as any[];
  const hostPaths = Object.fromEntries(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath]));
  const byPath = Object.fromEntries(mounts.map((m) => [m.mountPath, m]));
  t.same(Object.values(hostPaths).map((h: any) => h.path).sort(), ['/run/log/journal', '/var/lib/dataplane-sentinel', '/var/log']);
  for (const m of mounts) {
    if (!hostPaths[m.name]) continue;
    if (hostPaths[m.name].path === '/var/lib/dataplane-sentinel') t.notOk(m.readOnly, 'the state directory is writable');
    else t.equal(m.readOnly, true, `${m.mountPath} is read-only`);
    t.equal(m.mountPath, hostPaths[m.name].path, `${m.name} is mounted at its host path (paths in logs and config mean the same inside)`);
  }
  t.equal(byPath['/etc/dataplane-sentinel']?.readOnly, true, 'config mounted read-only');
  t.ok(byPath['/tmp'], 'a writable /tmp on a read-only root');
  t.notOk(pod.volumes.some((v: any) => ['/', '/etc', '/var/run', '/run', '/var/lib/kubelet', '/proc', '/sys'].includes(v.hostPath?.path)), 'no broad host paths');
  t.notOk(pod.volumes.some((v: any) => /docker\.sock|containerd\.sock|crio\.sock|xtables\.lock/.test(v.hostPath?.path ?? '')), 'no runtime sockets, no xtables lock');
});

t.test('the default config: the agent defaults, and every path it reads is mounted', async (t) => {
  for (const dir of ['deploy/base', ...OVERLAYS]) {
    const objs = kustomize(dir);
    const cfg = agentConfig(objs);
    const logs = parseLogConfig(cfg.logs);
    const taints = validateTaintPolicy({ ...DEFAULT_TAINT_POLICY, ...cfg.taints });
    t.ok(taints.conditionTypes.every((c) => OWNED_CONDITION_TYPES.includes(c)), `${dir}: taint condition types are ours`);
    const loaded = loadConfig({ argv: ['--node', 'n1', '--config', '/etc/dataplane-sentinel/config.yaml'], env: {}, readFile: () => JSON.stringify(cfg) }).config;
    t.same(loaded?.taints, taints, `${dir}: the agent starts with it, and its taints section reaches the agent`);
    const mounts = (agentContainer(daemonSet(objs)).volumeMounts as any[]).map((m) => m.mountPath as string);
    const under = (p: string) => mounts.some((m) => p === m || p.startsWith(m.endsWith('/') ? m : `${m}/`));
    const paths = [logs.podLogDir, logs.stateFile, ...logs.files.map((f) => f.glob), ...logs.journal.directories];
    for (const p of paths) t.ok(under(p), `${dir}: ${p} is inside a mounted volume`);
    const stateMount = (agentContainer(daemonSet(objs)).volumeMounts as any[]).find((m) => logs.stateFile.startsWith(`${m.mountPath}/`));
    t.notOk(stateMount?.readOnly, `${dir}: the state file's volume is writable`);
  }
  const base = agentConfig(kustomize('deploy/base'));
  t.same(parseLogConfig(base.logs), DEFAULT_LOG_CONFIG, 'base logs section = the built-in defaults');
  t.same(validateTaintPolicy({ ...DEFAULT_TAINT_POLICY, ...base.taints }), DEFAULT_TAINT_POLICY, 'base taints section = the defaults (off, dry run)');
  t.same(Object.keys(base).sort(), ['logs', 'taints']);
});

t.test('RBAC: the taint role is bound only by the taints overlay', async (t) => {
  const bound = (objs: KubeObject[]) => objs.some((o) => o.kind === 'ClusterRoleBinding' && o.roleRef.name === 'dataplane-sentinel-taints');
  for (const dir of ['deploy/base', ...OVERLAYS]) t.equal(bound(kustomize(dir)), dir === 'deploy/overlays/taints', dir);
});
