/**
 * Measured in a fresh process that holds only the API view (as the agent does): read the dump a piece
 * at a time and parse it, compute the expected model and diff. Prints one JSON line with the phase
 * times and peak RSS. Args: RULES_FILE VIEW_FILE (v8-serialized ClusterView) NODE [RUNS]. With RUNS > 1
 * the same is done again RUNS - 1 times in the same process, as the agent's long-lived scan worker
 * does on each scan: `warmParseDiffMs` is the median of those (the first run pays for compiling).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { deserialize } from 'node:v8';
import type { ClusterView } from '../lib/kubeproxy/cluster.ts';
import { libModule as lib } from './entry.ts';
import { peakRssBytes } from './peak-rss.ts';

const { PIECE_BYTES } = await import(lib('iptables/parse')) as typeof import('../lib/iptables/parse.ts');
const { checkNode } = await import(lib('kubeproxy/check-node')) as typeof import('../lib/kubeproxy/check-node.ts');
const { nodeRulesParser } = await import(lib('kubeproxy/parse-node-rules')) as typeof import('../lib/kubeproxy/parse-node-rules.ts');

const [rulesFile, viewFile, node, runsArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const runs = Math.max(1, Number(runsArg ?? 1));
const view = deserialize(readFileSync(viewFile)) as ClusterView;
const rssBefore = process.memoryUsage().rss;
// The dump's lines, counted after the measured runs (the product never counts them), a piece at a time.
function countLines(): number {
  const fd = openSync(rulesFile, 'r');
  const piece = Buffer.allocUnsafe(PIECE_BYTES);
  let n = 0;
  for (let got = readSync(fd, piece); got > 0; got = readSync(fd, piece)) {
    for (let i = piece.indexOf(10); i !== -1 && i < got; i = piece.indexOf(10, i + 1)) n++;
  }
  closeSync(fd);
  return n;
}
// One parse + diff: the dump read a piece at a time, parsed, checked against the view.
function parseAndDiff(): { bytes: number; parseMs: number; diffMs: number; verdict: string; findings: number } {
  const t0 = performance.now();
  const parser = nodeRulesParser(rulesFile, statSync(rulesFile).size); // as `check` does
  const fd = openSync(rulesFile, 'r');
  const piece = Buffer.allocUnsafe(PIECE_BYTES);
  let bytes = 0;
  for (let n = readSync(fd, piece); n > 0; n = readSync(fd, piece)) {
    bytes += n;
    parser.push(piece.subarray(0, n));
  }
  closeSync(fd);
  const rulesets = parser.end();
  const t1 = performance.now();
  const result = checkNode({ rules: [{ family: 4, rulesets }], cluster: view, nodeName: node });
  const t2 = performance.now();
  return { bytes, parseMs: t1 - t0, diffMs: t2 - t1, verdict: result.verdict, findings: result.findings.length };
}

const cpu0 = process.cpuUsage();
const first = parseAndDiff();
const { bytes, parseMs, diffMs } = first;
const parseDiffMs = parseMs + diffMs;
const cpu = process.cpuUsage(cpu0);
const firstMaxRss = peakRssBytes();
const warm: number[] = [];
for (let i = 1; i < runs; i++) {
  const r = parseAndDiff();
  if (r.verdict !== first.verdict || r.findings !== first.findings) throw new Error(`run ${i + 1} disagrees with the first: ${r.verdict} (${r.findings})`);
  warm.push(r.parseMs + r.diffMs);
}
warm.sort((a, b) => a - b);
const lines = countLines();
process.stdout.write(`${JSON.stringify({
  cpuMs: (cpu.user + cpu.system) / 1000, parseMs, diffMs, parseDiffMs, lines, bytes,
  linesPerSecond: Math.round(lines / (parseDiffMs / 1000)), verdict: first.verdict, findings: first.findings,
  warmParseDiffMs: warm.length === 0 ? undefined : warm[Math.floor((warm.length - 1) / 2)],
  maxRssMB: Math.round(firstMaxRss / 1048576), rssBeforeMB: Math.round(rssBefore / 1048576),
  warmMaxRssMB: warm.length === 0 ? undefined : Math.round(peakRssBytes() / 1048576),
})}\n`);
