// `promtool check metrics` on the real agent's /metrics, and every metric the alerts and the
// dashboard use is really exported. Runs once the agent daemon exists (agent/server.ts or an
// `agent` command); until then it is skipped with that reason.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, have, loadYaml, run } from './helpers.ts';

const mainSource = readFileSync(join(ROOT, 'agent/main.ts'), 'utf8');
const agentExists = existsSync(join(ROOT, 'agent/server.ts')) || /['"]?agent['"]?\s*:\s*async/.test(mainSource) || existsSync(join(ROOT, 'agent/commands/agent.ts'));
const skip = !agentExists
  ? 'the agent daemon is not in this tree yet (no agent/server.ts, no `agent` command): runs after the agent is merged'
  : !have('promtool') ? 'promtool is not installed (Debian package prometheus)' : false;

t.test('the real agent exports valid metrics covering the alerts and the dashboard', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-agent-'));
  const fixture = join(ROOT, 'test/fixtures/kubeproxy/overall-iptables-rules');
  const scenario = JSON.parse(readFileSync(join(fixture, 'scenario.json'), 'utf8'));
  writeFileSync(join(dir, 'config.yaml'), `logs:\n  stateFile: ${join(dir, 'positions.json')}\n  podLogDir: ${join(dir, 'pods')}\n  files: []\n  journal: { enabled: false }\n`);
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'agent/main.ts'), 'agent',
    `--node=${scenario.node?.name ?? 'node1'}`, `--listen=127.0.0.1:${port}`, '--interval=1s',
    `--cluster-file=${join(fixture, 'cluster.json')}`, `--rules-file=${join(fixture, 'nft.save')}`,
    `--log-path=${join(dir, 'logs')}`, `--config=${join(dir, 'config.yaml')}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  t.teardown(async () => {
    // wait for the agent to stop (it writes its state on the way out) before removing its directory
    const exited = child.exitCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    rmSync(dir, { recursive: true, force: true });
  });
  // Wait (bounded) for a scan to be reflected in /metrics.
  let text = '';
  for (let i = 0; i < 60 && child.exitCode === null; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
      text = await r.text();
      if (r.ok && /^dataplane_sentinel_last_scan_timestamp_seconds [1-9]/m.test(text)) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  t.match(text, /dataplane_sentinel_build_info/, `the agent served /metrics (stderr: ${stderr.slice(-1000)})`);
  const check = run('promtool', ['check', 'metrics'], { input: text });
  t.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  // Every dataplane_sentinel_* name used by the alerts and the dashboard is exported.
  const exported = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
  const rules = JSON.stringify(loadYaml('deploy/prometheus/dataplane-sentinel.rules.yaml'));
  const dashboard = readFileSync(join(ROOT, 'deploy/grafana/dataplane-sentinel.json'), 'utf8');
  const used = new Set([...`${rules}\n${dashboard}`.matchAll(/\b(dataplane_sentinel_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
  for (const name of used) t.ok(exported.has(name) || exported.has(name.replace(/_total$/, '')), `${name} is exported`);
});
