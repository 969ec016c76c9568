/**
 * Benchmark of issue 2: parse + diff of kube-proxy-shaped rulesets at 1k, 10k and 20k services × 10
 * endpoints, against the time `iptables-legacy-save` / `iptables-nft-save` take to print the same
 * ruleset in the same run (loaded into a throwaway network namespace). Run: `node bench/check.ts [sizes]`.
 * Needs root, unshare and iptables for the dump baselines; without them only our side is measured.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { serialize } from 'node:v8';
import { readClusterObjects } from '../lib/kubeproxy/cluster-input.ts';
import { AGENT_ENTRY, agentNodeFlags, benchScript } from './entry.ts';
import { WORKER_NODE_FLAGS } from './worker-flags.ts';
import { generateCluster } from './generate.ts';
import { percentile } from './load.ts';
import { waitForQuiet } from './quiet.ts';

const sizes = (process.argv[2] ?? '1000,10000,20000').split(',').map(Number);
const endpoints = 10;
const dir = mkdtempSync(join(tmpdir(), 'dps-bench-'));
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`);
// Each size's one-core figure in the worker's setting, for the marginal rate between sizes.
const perSize: { n: number; lines: number; ms: number }[] = [];
try {
  for (const n of sizes) {
    const g = generateCluster(n, endpoints);
    const restore = join(dir, `restore-${n}.txt`);
    const cluster = join(dir, `cluster-${n}.json`);
    writeFileSync(restore, g.restore);
    writeFileSync(cluster, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: g.items }));
    // the API view as the agent holds it, for the measured process (it never sees the raw JSON)
    const viewFile = join(dir, `view-${n}.bin`);
    writeFileSync(viewFile, serialize(readClusterObjects(g.items, { where: String })));
    // Load into a namespace and time both save programs there; keep the legacy dump for our side.
    const saved = join(dir, `saved-${n}.txt`);
    const script = `set -e
iptables-legacy-restore < "$1"
for i in 1 2 3; do s=$(date +%s%N); iptables-legacy-save > "$2"; e=$(date +%s%N); echo legacy $(( (e - s) / 1000000 )); done
iptables-nft-restore < "$1"
s=$(date +%s%N); iptables-nft-save > /dev/null; e=$(date +%s%N); echo nft $(( (e - s) / 1000000 ))`;
    let legacyMs = NaN;
    let nftMs = NaN;
    const r = await execa('unshare', ['-n', 'sh', '-c', script, 'sh', restore, saved], { reject: false, timeout: 600_000 });
    if (r.exitCode === 0) {
      legacyMs = median([...r.stdout.matchAll(/legacy (\d+)/g)].map((x) => Number(x[1])));
      nftMs = Number(/nft (\d+)/.exec(r.stdout)?.[1]);
    } else {
      writeFileSync(saved, g.restore);
      console.log(`  (no namespace/iptables: ${r.stderr.split('\n')[0]}; measuring on the restore text)`);
    }
    // the namespace's rules are torn down by the kernel after it exits: measure once that is done
    const waited = await waitForQuiet();
    console.log(waited === undefined ? '  (the machine did not become quiet within 300 s: figures may be slow)' : `  (waited ${(waited / 1000).toFixed(1)} s for the machine to be quiet)`);
    // One measured process (check-child.ts): its JSON line, or undefined when `taskset` is missing.
    const measure = async (o: { flags?: readonly string[]; pinned?: boolean; runs?: number }): Promise<Record<string, number> | undefined> => {
      const args = [...(o.flags ?? []), benchScript('check-child'), saved, viewFile, g.node, String(o.runs ?? 1)];
      const child = o.pinned === true
        ? await execa('taskset', ['-c', '0', process.execPath, ...args], { reject: false, timeout: 600_000 })
        : await execa(process.execPath, args, { timeout: 600_000 });
      return child.exitCode === 0 ? JSON.parse(child.stdout) as Record<string, number> : undefined;
    };
    // three fresh processes; the run with the median parse + diff is reported
    const cold: Record<string, number>[] = [];
    for (let i = 0; i < 3; i++) cold.push((await measure({}))!);
    cold.sort((a, b) => Number(a.parseDiffMs) - Number(b.parseDiffMs));
    const m = cold[1] as Record<string, number>;
    // The same pinned to one core (taskset), in V8's default setting and in the scan worker's: V8
    // otherwise compiles and marks on a second core, and the figures above are wall time with that
    // help (median of 3 each; skipped without taskset).
    const pinnedRuns = async (flags: readonly string[]): Promise<number[]> => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await measure({ flags, pinned: true });
        if (r === undefined) return [];
        runs.push(Number(r.parseDiffMs));
      }
      return runs;
    };
    const pinned = await pinnedRuns([]);
    const pinnedWorker = await pinnedRuns(WORKER_NODE_FLAGS);
    // The same in the V8 setting the agent's scan worker runs with (a small young generation, no
    // TurboFan: agent/scan-worker.ts). Were it long-lived, from its second scan on the code would be
    // compiled (the "warm" figure, median of 4).
    const w = (await measure({ flags: WORKER_NODE_FLAGS, runs: 5 }))!;
    // the installed entry point (compiled dist/) when built, as users run it; else the sources (median of 3)
    const e2eRuns: number[] = [];
    let e2eExit: number | undefined = 0;
    for (let i = 0; i < 3; i++) {
      const c0 = performance.now();
      const e2e = await execa(process.execPath, [...agentNodeFlags(), AGENT_ENTRY, 'check', '--rules', saved, '--cluster', cluster, '--node', g.node], { reject: false, timeout: 600_000 });
      e2eRuns.push(performance.now() - c0);
      if (e2e.exitCode !== 0) e2eExit = e2e.exitCode;
    }
    const e2eMs = median(e2eRuns);
    const mb = statSync(saved).size / 2 ** 20;
    console.log(`${n} services x ${endpoints} endpoints: ${m.lines} lines, ${mb.toFixed(1)} MB`);
    console.log(`  iptables-legacy-save ${legacyMs} ms (median of 3), iptables-nft-save ${nftMs} ms (baselines)`);
    console.log(`  parse ${m.parseMs?.toFixed(0)} ms + diff ${m.diffMs?.toFixed(0)} ms = ${m.parseDiffMs?.toFixed(0)} ms (median of 3 processes; ${cold.map((c) => Number(c.parseDiffMs).toFixed(0)).join(', ')}) (${((m.linesPerSecond ?? 0) / 1e6).toFixed(2)} M lines/s), ${(Number(m.parseDiffMs) / legacyMs).toFixed(2)}x legacy-save; peak RSS ${m.maxRssMB} MB (${m.rssBeforeMB} MB with the API view, before the dump was read); verdict ${String(m.verdict) === 'in-sync' ? 'in-sync' : `drift?! ${m.findings}`}`);
    const show = (runs: number[]): string => `${median(runs).toFixed(0)} ms (median of 3; ${runs.map((x) => x.toFixed(0)).join(', ')}), ${(median(runs) / legacyMs).toFixed(2)}x legacy-save`;
    if (pinned.length === 3 && pinnedWorker.length === 3) {
      console.log(`  pinned to one core (taskset -c 0): parse + diff ${show(pinned)}; in the scan worker's V8 setting ${show(pinnedWorker)}`);
      // From the previous size to this one, the run's fixed costs (V8 compiling the code for its first
      // run, collecting after the view arrived, the process itself) cancel out: the rate of the work.
      const before = perSize.at(-1);
      const ms = median(pinnedWorker);
      if (before !== undefined && ms > before.ms) {
        console.log(`  one core, worker's setting, ${before.n} -> ${n} services: +${(ms - before.ms).toFixed(0)} ms for +${Number(m.lines) - before.lines} lines, ${((Number(m.lines) - before.lines) / (ms - before.ms) / 1e3).toFixed(2)} M lines/s at the margin`);
      }
      perSize.push({ n, lines: Number(m.lines), ms });
    }
    console.log(`  with the scan worker's V8 setting (${WORKER_NODE_FLAGS.join(' ')}): parse + diff ${w.parseDiffMs?.toFixed(0)} ms, peak RSS ${w.maxRssMB} MB; warm (its later scans) ${w.warmParseDiffMs?.toFixed(0)} ms, ${(Number(w.warmParseDiffMs) / legacyMs).toFixed(2)}x legacy-save`);
    console.log(`  check command end to end: ${e2eMs.toFixed(0)} ms (median of 3, exit ${e2eExit}), ${(e2eMs / legacyMs).toFixed(2)}x legacy-save`);
    // A generated ruleset matches its cluster: anything but in-sync is a broken engine, not a figure.
    if (cold.some((c) => String(c.verdict) !== 'in-sync') || String(w.verdict) !== 'in-sync' || e2eExit !== 0) {
      console.error(`  FAILED: expected in-sync everywhere, got ${String(m.verdict)} / ${String(w.verdict)} / check exit ${e2eExit}`);
      process.exitCode = 1;
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}
