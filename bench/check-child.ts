/**
 * Measured in a fresh process: read the dump, parse it, read the cluster objects, compute the
 * expected model and diff. Prints one JSON line with the phase times and peak RSS.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { decodeDump } from '../lib/iptables/decode.ts';
import { parseIptablesSave } from '../lib/iptables/parse.ts';
import { checkNode } from '../lib/kubeproxy/check-node.ts';
import { readClusterObjects } from '../lib/kubeproxy/cluster-input.ts';

const [rulesFile, clusterFile, node] = process.argv.slice(2) as [string, string, string];
const cluster = JSON.parse(readFileSync(clusterFile, 'utf8')) as { items: unknown[] };
const rssBefore = process.memoryUsage().rss;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const text = decodeDump(readFileSync(rulesFile));
const t1 = performance.now();
const rulesets = parseIptablesSave(text, { source: rulesFile });
const t2 = performance.now();
const view = readClusterObjects(cluster.items, { where: String });
const result = checkNode({ rules: [{ family: 4, rulesets }], cluster: view, nodeName: node });
const t3 = performance.now();
const cpu = process.cpuUsage(cpu0);
const lines = text.split('\n').length;
process.stdout.write(`${JSON.stringify({
  readMs: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000, parseMs: t2 - t1, diffMs: t3 - t2, parseDiffMs: t3 - t1, lines,
  linesPerSecond: Math.round(lines / ((t3 - t1) / 1000)), verdict: result.verdict, findings: result.findings.length,
  maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), rssBeforeMB: Math.round(rssBefore / 1048576),
})}\n`);
