// The RBAC in deploy/base/rbac.yaml grants exactly the API calls the code makes: this test reads
// lib/kube/** and agent/** for the calls (raw list paths, informers = list + watch, the generated
// client's methods), lists the verbs granted, and fails on any difference in either direction.
// Anything API-shaped it cannot classify (another generated API class, an unknown client method,
// an API path outside a known call) fails too, so a new kind of call cannot slip past it.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, loadYaml } from './helpers.ts';

/** One permission: `group|resource|verb` (core group empty). */
type Perm = string;

// API path → group|resource.
function pathResource(path: string): string | undefined {
  const core = /^\/api\/v1\/(?:namespaces\/[^/]+\/)?([a-z]+)(\/[^/]+\/([a-z]+))?$/.exec(path);
  if (core) return `|${core[1]}${core[3] ? `/${core[3]}` : ''}`;
  const grouped = /^\/apis\/([^/]+)\/[^/]+\/(?:namespaces\/[^/]+\/)?([a-z]+)$/.exec(path);
  if (grouped) return `${grouped[1]}|${grouped[2]}`;
  return undefined;
}

// The generated client's method → group|resource|verb (CoreV1Api: the core group).
const API_GROUPS: Record<string, string> = { CoreV1Api: '', DiscoveryV1Api: 'discovery.k8s.io', EventsV1Api: 'events.k8s.io' };
const IRREGULAR_PLURALS: Record<string, string> = { EndpointSlice: 'endpointslices', Endpoints: 'endpoints' };
function clientMethod(group: string, method: string): Perm | undefined {
  const m = /^(read|list|create|patch|replace|delete|deleteCollection|watch)(Namespaced)?([A-Z][A-Za-z]*?)(Status|ForAllNamespaces)?$/.exec(method);
  if (!m) return undefined;
  const verb = { read: 'get', deleteCollection: 'deletecollection' }[m[1]!] ?? m[1]!;
  const kind = m[3]!;
  const plural = IRREGULAR_PLURALS[kind] ?? `${kind.toLowerCase()}${/s$/.test(kind) ? 'es' : 's'}`;
  return `${group}|${plural}${m[4] === 'Status' ? '/status' : ''}|${verb}`;
}

/** Scans TypeScript sources for Kubernetes API calls. */
export function scanCalls(files: { name: string; text: string }[]): { perms: Map<Perm, string[]>; unknown: string[] } {
  const perms = new Map<Perm, string[]>();
  const unknown: string[] = [];
  const add = (p: Perm, where: string) => perms.set(p, [...(perms.get(p) ?? []), where]);
  for (const { name, text } of files) {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const consumed = new Set<number>();
    // Raw paged lists: rawList(kc, http, '/api/v1/services'[, fieldSelector]).
    for (const m of code.matchAll(/rawList\([^,]+,[^,]+,\s*'([^']+)'/g)) {
      const r = pathResource(m[1]!);
      if (r) add(`${r}|list`, `${name}: rawList ${m[1]}`);
      consumed.add(m.index! + m[0].indexOf(`'${m[1]}'`));
    }
    // Informers list and watch their path.
    for (const m of code.matchAll(/new Informer(?:<[^>]*>)?\(\{[\s\S]*?path:\s*'([^']+)'/g)) {
      const r = pathResource(m[1]!);
      if (r) for (const verb of ['list', 'watch']) add(`${r}|${verb}`, `${name}: Informer ${m[1]}`);
      consumed.add(m.index! + m[0].lastIndexOf(`'${m[1]}'`));
    }
    // Generated API clients: `const x = kc.makeApiClient(k8s.CoreV1Api)`, then `x.method(`.
    for (const m of code.matchAll(/(?:const|let)\s+(\w+)\s*=\s*\w+\.makeApiClient\((?:k8s\.)?(\w+)\)/g)) {
      const [, variable, apiClass] = m as unknown as [string, string, string];
      const group = API_GROUPS[apiClass];
      if (group === undefined) {
        unknown.push(`${name}: makeApiClient(${apiClass}) is not known to this test: add its group`);
        continue;
      }
      for (const c of code.matchAll(new RegExp(`\\b${variable}\\.(\\w+)\\(`, 'g'))) {
        const p = clientMethod(group, c[1]!);
        if (p) add(p, `${name}: ${apiClass}.${c[1]}`);
        else unknown.push(`${name}: ${apiClass}.${c[1]} is not a call this test can classify`);
      }
    }
    for (const m of code.matchAll(/makeApiClient\(/g)) {
      if (!/(?:const|let)\s+\w+\s*=\s*\w+\.makeApiClient\($/.test(code.slice(Math.max(0, m.index! - 80), m.index! + 'makeApiClient('.length))) unknown.push(`${name}: makeApiClient not assigned to a variable`);
    }
    // Any other API path literal is a call this test does not understand.
    for (const m of code.matchAll(/'(\/apis?\/[^']*)'/g)) {
      if (!consumed.has(m.index!)) unknown.push(`${name}: API path ${m[1]} used outside rawList/Informer`);
    }
  }
  return { perms, unknown };
}

function sources(dir: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push({ name: relative(ROOT, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(ROOT, dir));
  return out;
}

function granted(): Map<Perm, string> {
  const out = new Map<Perm, string>();
  for (const d of loadYaml('deploy/base/rbac.yaml')) {
    if (d.kind !== 'ClusterRole' && d.kind !== 'Role') continue;
    for (const r of d.rules) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.set(`${g}|${res}|${v}`, `${d.kind} ${d.metadata.name}`);
  }
  return out;
}

t.test('the scanner classifies the call shapes it claims to', async (t) => {
  const { perms, unknown } = scanCalls([{ name: 'x.ts', text: `
    const core = kc.makeApiClient(k8s.CoreV1Api);
    rawList(kc, http, '/api/v1/pods');
    new Informer<X>({ ...common, path: '/apis/apps/v1/daemonsets', list });
    core.deleteNamespacedPod({});
    core.patchNodeStatus({});
    core.readNode({});
    core.frobnicate({});
    fetch('/api/v1/secrets');
    // core.deleteNode() in a comment is not a call
  ` }]);
  t.same([...perms.keys()].sort(), ['apps|daemonsets|list', 'apps|daemonsets|watch', '|nodes/status|patch', '|nodes|get', '|pods|delete', '|pods|list']);
  t.same(unknown, ['x.ts: CoreV1Api.frobnicate is not a call this test can classify', 'x.ts: API path /api/v1/secrets used outside rawList/Informer']);
});

t.test('RBAC grants exactly the API calls in lib/kube and agent', async (t) => {
  const files = [...sources('lib/kube'), ...sources('agent')];
  const { perms, unknown } = scanCalls(files);
  t.same(unknown, [], 'every API call is classified');
  const grants = granted();
  const used = [...perms.keys()].sort();
  t.comment(`calls: ${used.join(', ')}`);
  t.same(used.filter((p) => !grants.has(p)), [], 'every call is granted (else the agent gets 403 DPS_ERR_KUBE_FORBIDDEN)');
  t.same([...grants.keys()].filter((p) => !perms.has(p)).sort(), [], 'every grant is used (least privilege)');
  // The expected list, spelled out so a change shows up in review.
  t.same(used, [
    'discovery.k8s.io|endpointslices|list', 'discovery.k8s.io|endpointslices|watch', '|events|create', '|nodes/status|patch',
    '|nodes|get', '|nodes|list', '|nodes|patch', '|nodes|watch', '|services|list', '|services|watch',
  ]);
  t.equal(grants.get('|nodes|patch'), 'ClusterRole dataplane-sentinel-taints', 'patching nodes (taints) only through the opt-in role');
  t.equal(grants.get('|events|create'), 'Role dataplane-sentinel-events', 'events only through the namespaced Role');
});
