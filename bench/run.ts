/**
 * Runs the benchmarks one after the other: `npm run bench` (all) or `npm run bench -- check logs-tail`.
 * Each prints its own figures next to the baseline it measures in the same run; see the README.
 * Some need root and iptables (check's dump baselines, agent): they say so and measure what they can.
 * It compiles first (`npm run build:bench`: dist/ with dist/bench/), so that the agent and the
 * measured children run compiled, as the product does.
 */
import { spawnSync } from 'node:child_process';

const ALL: Record<string, string[]> = {
  check: ['check.ts', '1000,10000'], // issue 2: parse + diff, check end to end (add 20000 by hand)
  'kube-sync': ['kube-sync.ts'], // issue 4: initial sync of 10k Services / 100k endpoints
  'view-send': ['view-send.ts'], // issue 4: bringing the scan worker's view up to date
  'logs-classify': ['logs-classify.ts'], // issue 3: lines classified per second
  'logs-tail': ['logs-tail.ts'], // issue 3: following files, rotation, storms
  'worker-memory': ['worker-memory.ts'], // issue 2/5: the scan worker's memory, step by step
  agent: ['agent.ts'], // issue 5: /health and /metrics under scans, CPU, RSS (several minutes)
};
const build = spawnSync('npm', ['run', '--silent', 'build:bench'], { stdio: 'inherit', cwd: new URL('..', import.meta.url).pathname });
if (build.status !== 0) {
  console.error('npm run build:bench failed: the benchmarks would measure stale or missing compiled code');
  process.exit(1);
}
const chosen = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(ALL);
let failed = 0;
for (const name of chosen) {
  const args = ALL[name];
  if (args === undefined) {
    console.error(`unknown benchmark "${name}"; choose from: ${Object.keys(ALL).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  console.log(`\n=== ${name} ===`);
  const [script, ...rest] = args as [string, ...string[]];
  const r = spawnSync(process.execPath, [new URL(script, import.meta.url).pathname, ...rest], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.error(`${name}: exit ${r.status ?? r.signal}`); }
}
if (failed > 0) process.exitCode = 1;
