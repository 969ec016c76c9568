/**
 * Reads the text of a cluster file: what `kubectl get services,endpointslices -A -o json` (or
 * `-o yaml`) prints, a single object, a `*List`, or several YAML documents. Pure: text in, objects
 * out, with a way to find the line of each object for messages. JSON takes the fast path; YAML (and
 * line numbers on errors) go through the `yaml` package.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { agentError } from '../errors.ts';

// The `yaml` package is loaded on first use: JSON input (kubectl's -o json, the common case) never
// needs it, and loading it costs ~20 ms on `check`'s critical path.
const requireHere = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlModule ??= requireHere('yaml') as typeof Yaml);

/** Objects of one file and where each one is. */
export interface ClusterText {
  readonly items: readonly unknown[];
  /** `file:line` of item i (computed on demand; slow for big files, used for messages only). */
  readonly where: (index: number) => string;
}

/** Parses a cluster file's text; throws DPS_ERR_CLUSTER_* naming the file and line. */
export function parseClusterText(text: string, source: string): ClusterText {
  if (text.indexOf('\0') !== -1) {
    throw agentError('DPS_ERR_CLUSTER_SYNTAX', 'Expected JSON or YAML text, got binary data', { where: source });
  }
  const trimmed = text.trimStart();
  if (trimmed === '') throw agentError('DPS_ERR_CLUSTER_EMPTY', 'Expected Kubernetes objects, got an empty file', { where: source });
  let docs: unknown[];
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      docs = [JSON.parse(text)];
    } catch (error) {
      const m = /line (\d+)/.exec((error as Error).message) ?? /position (\d+)/.exec((error as Error).message);
      const line = m === null ? yamlErrorLine(text) : m[0].startsWith('line') ? Number(m[1]) : lineOf(text, Number(m[1]));
      throw agentError('DPS_ERR_CLUSTER_SYNTAX', `Invalid JSON: ${(error as Error).message.split('\n')[0]}`, { where: line === undefined ? source : `${source}:${line}`, cause: error });
    }
  } else {
    const { LineCounter, parseAllDocuments } = yaml();
    const counter = new LineCounter();
    const parsed = parseAllDocuments(text, { lineCounter: counter, uniqueKeys: false });
    const list = Array.isArray(parsed) ? parsed : [parsed];
    for (const doc of list) {
      const err = doc.errors[0];
      if (err !== undefined) {
        throw agentError('DPS_ERR_CLUSTER_SYNTAX', `Invalid YAML: ${err.message.split('\n')[0]}`, { where: `${source}:${err.linePos?.[0].line ?? '?'}` });
      }
    }
    docs = list.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown).filter((d) => d !== null && d !== undefined);
  }
  const items: unknown[] = [];
  const origins: number[][] = []; // path of each item: [doc, index in list | -1]
  docs.forEach((doc, d) => {
    const push = (value: unknown, i: number): void => { items.push(value); origins.push([d, i]); };
    if (Array.isArray(doc)) doc.forEach(push);
    else if (isRecord(doc) && Array.isArray(doc.items) && (typeof doc.kind !== 'string' || doc.kind.endsWith('List'))) doc.items.forEach(push);
    else if (isRecord(doc) && typeof doc.kind === 'string') push(doc, -1);
    else {
      throw agentError('DPS_ERR_CLUSTER_NOT_KUBERNETES', `Expected Kubernetes objects (with "kind") or a List of them, got ${describe(doc)}${docs.length > 1 ? ` in document ${d + 1}` : ''}`, { where: `${source}:${docs.length > 1 ? '' : '1'}`.replace(/:$/, '') });
    }
  });
  let lines: number[][] | undefined;
  const where = (index: number): string => {
    const origin = origins[index];
    if (origin === undefined) return source;
    lines ??= itemLines(text, docs.length);
    const line = lines[origin[0] as number]?.[(origin[1] as number) + 1];
    return line === undefined ? `${source} (item ${index + 1})` : `${source}:${line}`;
  };
  return { items, where };
}

/** For each document: [line of the document, line of items[0], line of items[1], ...]. */
function itemLines(text: string, count: number): number[][] {
  const { LineCounter, parseAllDocuments, parseDocument, isMap, isSeq } = yaml();
  const counter = new LineCounter();
  const docs = count === 1 && /^\s*[[{]/.test(text)
    ? [parseDocument(text, { lineCounter: counter })]
    : parseAllDocuments(text, { lineCounter: counter }) as ReturnType<typeof Yaml.parseDocument>[];
  return docs.map((doc) => {
    const lineAt = (node: YamlNode | null | undefined): number => counter.linePos(node?.range?.[0] ?? 0).line;
    const out = [lineAt(doc.contents as YamlNode)];
    const contents = doc.contents;
    const list = isSeq(contents) ? contents : isMap(contents) ? contents.get('items', true) : undefined;
    if (isSeq(list)) for (const item of list.items) out.push(lineAt(item as YamlNode));
    return out;
  });
}

// JSON.parse does not always say where: the YAML parser (JSON is YAML) does.
function yamlErrorLine(text: string): number | undefined {
  const { LineCounter, parseDocument } = yaml();
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  return doc.errors[0]?.linePos?.[0].line;
}

function lineOf(text: string, position: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (isRecord(value)) return `an object with keys ${Object.keys(value).slice(0, 4).join(', ') || '(none)'}`;
  return Array.isArray(value) ? 'a list' : typeof value;
}
