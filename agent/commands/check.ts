/**
 * `dataplane-sentinel check --rules FILE|- [--rules6 FILE] --cluster PATH --node NAME [--format text|json]`
 * Offline drift check for incident response. Exit 0 in sync, 1 drift, 2 bad input or usage.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';
import { agentError, formatError, isAgentError } from '../../lib/errors.ts';
import type { Ruleset } from '../../lib/iptables/types.ts';
import { readClusterAside } from '../read-cluster-aside.ts';

type Engine = typeof import('./check-engine.ts');

const USAGE = `Usage: dataplane-sentinel check --rules FILE|- [--rules6 FILE] --cluster PATH --node NAME [--format text|json]

  --rules FILE|-    iptables-save output of the node (- for standard input); several dumps concatenated
                    (iptables-legacy-save; iptables-nft-save) are checked for mixed backends
  --rules6 FILE     ip6tables-save output, to check IPv6 service ports too (alone: an IPv6-only node)
  --cluster PATH    kubectl get services,endpointslices -A -o json (or -o yaml) output, a single object
                    list, or a directory of such files; Node objects in it give the node's zone
  --node NAME       the node's name (decides which endpoints are local)
  --format FORMAT   text (default) or json

Exit status: 0 in sync, 1 drift found, 2 bad input or usage.
`;

/** Largest input file read (a 20k-service dump is about 100 MB). */
const MAX_INPUT_BYTES = 1024 * 1024 * 1024;

/** Runs the check command. */
export async function runCheck(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        rules: { type: 'string' }, rules6: { type: 'string' }, cluster: { type: 'string' },
        node: { type: 'string' }, format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true, allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`dataplane-sentinel check: ${(error as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help === true) { io.stdout.write(USAGE); return EXIT.ok; }
  // --rules may be left out for an IPv6-only node checked with --rules6
  const required = typeof values.rules6 === 'string' ? ['cluster', 'node'] : ['rules', 'cluster', 'node'];
  const missing = required.filter((k) => typeof values[k] !== 'string' || values[k] === '');
  if (missing.length > 0) {
    io.stderr.write(`dataplane-sentinel check: missing ${missing.map((m) => `--${m}`).join(', ')}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.format !== 'text' && values.format !== 'json') {
    io.stderr.write(`dataplane-sentinel check: --format must be text or json, got "${String(values.format)}"\n`);
    return EXIT.usage;
  }
  const rulesPath = values.rules as string | undefined;
  const rules6Path = values.rules6 as string | undefined;
  const node = values.node as string;
  // The cluster objects are read on another thread while the dumps are parsed here.
  const clusterRead = readClusterAside(values.cluster as string);
  try {
    // (loaded now: the other thread boots meanwhile)
    const engine: Engine = await import('./check-engine.ts');
    const { checkNode, prepareNodeRules, toJsonReport, toTextReport } = engine;
    const rules: { family: 4 | 6; rulesets: Ruleset[] }[] = [];
    if (rulesPath !== undefined) {
      const v4 = await readRules(engine, rulesPath, io);
      rules.push({ family: 4, rulesets: requireFamily(v4, 'ipv4', '--rules') });
    }
    if (rules6Path !== undefined) {
      const v6 = await readRules(engine, rules6Path, io);
      rules.push({ family: 6, rulesets: requireFamily(v6, 'ipv6', '--rules6') });
    }
    // what needs only the rules is done while the other thread still reads the cluster objects
    const prepared = prepareNodeRules(rules);
    const cluster = await clusterRead.view;
    if (cluster.skipped.length > 0) {
      const list = cluster.skipped.slice(0, 20).map((p) => `  ${p.where}: ${p.object}: ${p.reason}`).join('\n');
      throw agentError('DPS_ERR_CLUSTER_INVALID', `Expected valid Services and EndpointSlices, found ${cluster.skipped.length} problem${cluster.skipped.length === 1 ? '' : 's'}:\n${list}${cluster.skipped.length > 20 ? '\n  ...' : ''}`, { where: values.cluster as string });
    }
    const result = checkNode({ rules, cluster, nodeName: node, prepared });
    io.stdout.write(values.format === 'json' ? toJsonReport(result, node, cluster.skipped) : toTextReport(result, node, cluster.skipped));
    return result.verdict === 'in-sync' ? EXIT.ok : EXIT.drift;
  } catch (error) {
    io.stderr.write(`dataplane-sentinel check: ${formatError(error)}\n`);
    return EXIT.usage;
  } finally {
    clusterRead.cancel();
  }
}

function requireFamily(rulesets: Ruleset[], family: 'ipv4' | 'ipv6', flag: string): Ruleset[] {
  const wrong = rulesets.find((r) => r.family !== undefined && r.family !== family);
  if (wrong !== undefined) {
    throw agentError('DPS_ERR_RULES_FAMILY', `Expected ${family === 'ipv4' ? 'iptables-save' : 'ip6tables-save'} output for ${flag}, got ${wrong.generator ?? 'the other family'}`, { where: wrong.source });
  }
  return rulesets;
}

// Parsed as it is read, a piece at a time: a 50 MB dump is never held whole.
async function readRules({ nodeRulesParser, PIECE_BYTES }: Engine, path: string, io: CliIo): Promise<Ruleset[]> {
  if (path === '-') {
    const parser = nodeRulesParser('stdin');
    let size = 0;
    for await (const chunk of io.stdin) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += buf.length;
      if (size > MAX_INPUT_BYTES) throw agentError('DPS_ERR_INPUT_READ', `Standard input is larger than ${MAX_INPUT_BYTES} bytes`, { where: 'stdin' });
      parser.push(buf);
    }
    return parser.end();
  }
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const info = fstatSync(fd);
    if (info.isDirectory()) throw agentError('DPS_ERR_INPUT_READ', 'Expected a file, got a directory', { where: path });
    if (info.size > MAX_INPUT_BYTES) throw agentError('DPS_ERR_INPUT_READ', `Expected at most ${MAX_INPUT_BYTES} bytes, got ${info.size}`, { where: path });
    const parser = nodeRulesParser(path, info.size);
    const piece = Buffer.allocUnsafe(PIECE_BYTES);
    let total = 0;
    for (let n = readSync(fd, piece); n > 0; n = readSync(fd, piece)) {
      total += n;
      if (total > MAX_INPUT_BYTES) throw agentError('DPS_ERR_INPUT_READ', `Expected at most ${MAX_INPUT_BYTES} bytes`, { where: path });
      parser.push(piece.subarray(0, n));
    }
    return parser.end();
  } catch (error) {
    if (isAgentError(error)) throw error;
    throw agentError('DPS_ERR_INPUT_READ', `Cannot read: ${(error as Error).message}`, { where: path, cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
