/**
 * Shared by the deploy tests: the repository's paths, YAML loading, a kustomize build (the real
 * one through `kubectl kustomize` when a kubectl is installed, a YAML-level one otherwise) and
 * the schema validation of Kubernetes objects against kubernetes-models (generated from the
 * Kubernetes OpenAPI) and @kubernetes-models/prometheus-operator (from its CRDs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A Kubernetes object as parsed from YAML. */
export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: any };

/** Every non-empty document of a YAML file (path relative to the root), failing on parse errors. */
export function loadYaml(path: string): any[] {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const docs = parseAllDocuments(text, { prettyErrors: true });
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
}

/** Runs a command with a time bound; never throws. */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 30_000, input: opts.input, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** True when `cmd` runs (e.g. `promtool --version`). */
export function have(cmd: string, args: string[] = ['--version']): boolean {
  const r = run(cmd, args, { timeoutMs: 15_000 });
  return r.error === undefined && r.status === 0;
}

/** A kubectl with kustomize built in, if installed (its version line), else undefined. */
export function kubectlKustomize(): string | undefined {
  const r = run('kubectl', ['version', '--client'], { timeoutMs: 15_000 });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return /Kustomize Version: (\S+)/.exec(r.stdout)?.[1];
}

/** `kubectl kustomize DIR` → objects. */
export function kustomizeWithKubectl(dir: string): KubeObject[] {
  const r = run('kubectl', ['kustomize', join(ROOT, dir)], { timeoutMs: 60_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr || r.error?.message}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean);
}

// ------------------------------------------------------------------------------------------
// YAML-level kustomize: the subset of kustomization fields this repository uses (resources,
// configMapGenerator with files and behavior create|replace|merge, patches with a target or a
// strategic-merge file keyed by kind/name, images, labels). Enough to build deploy/** without
// a kustomize binary; an unknown field fails the build instead of being ignored.
// ------------------------------------------------------------------------------------------

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'patches', 'images', 'labels', 'generatorOptions']);

/** Builds a kustomization directory (relative to the root) into objects, kustomize-style. */
export function kustomizeYamlLevel(dir: string): KubeObject[] {
  const k = loadYaml(join(dir, 'kustomization.yaml'))[0] ?? {};
  for (const key of Object.keys(k)) if (!KNOWN_FIELDS.has(key)) throw new Error(`${dir}/kustomization.yaml: field ${key} not supported by the YAML-level build`);
  let objects: KubeObject[] = [];
  for (const res of (k.resources ?? []) as string[]) {
    const path = join(dir, res);
    if (existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isDirectory()) objects.push(...kustomizeYamlLevel(path));
    else objects.push(...loadYaml(path));
  }
  for (const gen of (k.configMapGenerator ?? []) as any[]) {
    const data: Record<string, string> = {};
    for (const f of (gen.files ?? []) as string[]) {
      const [key, file] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [f.split('/').pop()!, f];
      data[key] = readFileSync(join(ROOT, dir, file), 'utf8');
    }
    const ns = gen.namespace;
    const existing = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === gen.name && (ns === undefined || o.metadata.namespace === ns));
    if (gen.behavior === 'replace' || gen.behavior === 'merge') {
      if (!existing) throw new Error(`${dir}: configMapGenerator ${gen.name} ${gen.behavior}s a ConfigMap that does not exist`);
      existing.data = gen.behavior === 'replace' ? data : { ...existing.data, ...data };
    } else {
      if (existing) throw new Error(`${dir}: configMapGenerator ${gen.name} already exists`);
      const labels = gen.options?.labels;
      objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: gen.name, ...(ns ? { namespace: ns } : {}), ...(labels ? { labels } : {}) }, data });
    }
  }
  for (const p of (k.patches ?? []) as any[]) {
    const patch = p.path !== undefined ? loadYaml(join(dir, p.path))[0] : (parseAllDocuments(p.patch)[0]!.toJS() as any);
    const target = p.target ?? { kind: patch.kind, name: patch.metadata?.name };
    const hits = objects.filter((o) => (!target.kind || o.kind === target.kind) && (!target.name || o.metadata.name === target.name));
    if (hits.length === 0) throw new Error(`${dir}: patch ${p.path ?? ''} matches nothing`);
    for (const o of hits) {
      if (Array.isArray(patch)) applyJsonPatch(o, patch);
      else strategicMerge(o, patch);
    }
  }
  for (const img of (k.images ?? []) as any[]) {
    for (const o of objects) {
      for (const c of o.spec?.template?.spec?.containers ?? []) {
        const [name, tag] = splitImage(c.image);
        if (name !== img.name) continue;
        c.image = `${img.newName ?? name}:${img.newTag ?? tag}`;
      }
    }
  }
  for (const l of (k.labels ?? []) as any[]) for (const o of objects) o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
  return objects;
}

function splitImage(image: string): [string, string] {
  const i = image.lastIndexOf(':');
  return i > image.lastIndexOf('/') ? [image.slice(0, i), image.slice(i + 1)] : [image, 'latest'];
}

// Strategic merge for the shapes used here: maps merge, lists of objects with `name` merge by
// name (containers, volumes, env, volumeMounts), other lists are replaced.
function strategicMerge(target: any, patch: any): void {
  for (const [key, value] of Object.entries(patch)) {
    const cur = target[key];
    if (Array.isArray(value) && Array.isArray(cur) && value.every((v) => v && typeof v === 'object' && 'name' in v)) {
      // New items go first, in the patch's order (what kustomize's merge does).
      const added: any[] = [];
      for (const item of value as any[]) {
        const mine = cur.find((c: any) => c?.name === item.name);
        if (mine) strategicMerge(mine, item);
        else added.push(item);
      }
      cur.unshift(...added);
    } else if (value && typeof value === 'object' && !Array.isArray(value) && cur && typeof cur === 'object' && !Array.isArray(cur)) {
      strategicMerge(cur, value);
    } else {
      target[key] = value;
    }
  }
}

// RFC 6902 add/replace/remove with JSON pointers (`-` appends).
function applyJsonPatch(target: any, ops: any[]): void {
  for (const op of ops) {
    const parts = (op.path as string).split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let parent = target;
    for (const p of parts) parent = parent[p];
    if (parent === undefined) throw new Error(`JSON patch path ${op.path} does not exist`);
    if (op.op === 'add') {
      if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
      else parent[last] = op.value;
    } else if (op.op === 'replace') parent[last] = op.value;
    else if (op.op === 'remove') Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
    else throw new Error(`JSON patch op ${op.op} not supported by the YAML-level build`);
  }
}

/** Builds with kubectl when installed, else at YAML level. */
export function kustomize(dir: string): KubeObject[] {
  return kubectlKustomize() !== undefined ? kustomizeWithKubectl(dir) : kustomizeYamlLevel(dir);
}

// ------------------------------------------------------------------------------------------
// Schema validation
// ------------------------------------------------------------------------------------------

// apiVersion/kind → [module specifier, interface name] in the schema packages.
function modelModule(o: KubeObject): [string, string] {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  if (group === 'monitoring.coreos.com') return [`@kubernetes-models/prometheus-operator/${group}/${version}/${o.kind}`, `I${o.kind}`];
  return [`kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${o.kind}`, `I${o.kind}`];
}

/**
 * Validates objects against the OpenAPI-derived schemas: the packages' generated validators
 * (types, formats, required fields, enums) and, because those let unknown fields through
 * while `kubectl apply` (strict field validation) does not, the packages' TypeScript
 * declarations with excess-property checks. Returns one message per problem.
 */
export async function validateObjects(objects: readonly KubeObject[], label: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, o] of objects.entries()) {
    const [spec] = modelModule(o);
    let Model: any;
    try {
      Model = (await import(spec))[o.kind];
    } catch (err) {
      problems.push(`${label}: ${o.kind} ${o.metadata?.name}: no schema for ${o.apiVersion}/${o.kind} (${(err as Error).message})`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (err) {
      problems.push(`${label}: ${o.kind} ${o.metadata?.name} (#${i}): ${(err as Error).message}`);
    }
  }
  problems.push(...checkUnknownFields(objects, label));
  return problems;
}

function checkUnknownFields(objects: readonly KubeObject[], label: string): string[] {
  const file = join(ROOT, 'test/deploy/.schema-check.ts');
  const lines = objects.map((o, i) => {
    const [spec, iface] = modelModule(o);
    return `import type { ${iface} as T${i} } from '${spec}';\nexport const o${i}: T${i} = ${JSON.stringify(o)};`;
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2023,
    strict: true, noEmit: true, skipLibCheck: true, types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (resolve(name) === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const idx = line >= 0 ? Math.floor(line / 2) : -1;
    const o = objects[idx];
    const what = o ? `${o.kind} ${o.metadata?.name}` : relative(ROOT, d.file?.fileName ?? '?');
    return `${label}: ${what}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

// ------------------------------------------------------------------------------------------
// The metrics contract (docs/metrics.md)
// ------------------------------------------------------------------------------------------

/** Metric name → its contract labels, from docs/metrics.md's table (prefix families as `name*`). */
export function metricsContract(): Map<string, string[]> {
  const text = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells.length < 5 || !cells[1]?.startsWith('`dataplane_sentinel_')) continue;
    const labels = [...(cells[3] ?? '').matchAll(/`([a-z_]+)`(?:\s*\(|\s*=|,|$)/g)].map((m) => m[1]!);
    for (const m of cells[1].matchAll(/`(dataplane_sentinel_[a-z0-9_*]+)`/g)) out.set(m[1]!, labels);
  }
  return out;
}

// Labels every series has besides the contract's: target labels from the scrape.
export const TARGET_LABELS = ['job', 'instance', 'node', 'namespace', 'pod', 'container', 'endpoint'];

/**
 * Checks PromQL against the contract: each `dataplane_sentinel_*` name is in docs/metrics.md
 * (histograms with _bucket/_sum/_count; prom-client's process/nodejs families by prefix), and
 * each label matcher written on it is one of its contract labels or a target label.
 */
export function checkAgainstContract(expr: string, where: string, contract = metricsContract()): string[] {
  const problems: string[] = [];
  for (const m of expr.matchAll(/\b(dataplane_sentinel_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    const name = m[1]!;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const labels = contract.get(name) ?? contract.get(base) ?? [...contract.entries()].find(([k]) => k.endsWith('*') && name.startsWith(k.slice(0, -1)))?.[1];
    if (labels === undefined) {
      problems.push(`${where}: ${name} is not in docs/metrics.md`);
      continue;
    }
    const isFamily = !contract.has(name) && !contract.has(base);
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) {
      const label = lm[1]!;
      if (TARGET_LABELS.includes(label) || labels.includes(label) || (label === 'le' && name.endsWith('_bucket')) || isFamily) continue;
      problems.push(`${where}: ${name} has no label ${label} in docs/metrics.md (labels: ${labels.join(', ') || 'none'})`);
    }
  }
  return problems;
}
