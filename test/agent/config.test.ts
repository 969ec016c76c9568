// The agent's configuration: defaults from one literal, file < environment < flags, every bad
// setting reported together, a frozen result, and every setting documented in the README.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { DEFAULTS, envOf, flagOf, loadConfig, SETTINGS } from '../../agent/config.ts';
import { DEFAULT_FRESHNESS } from '../../lib/kube/freshness.ts';
import { DEFAULT_TAINT_POLICY } from '../../lib/kube/taint-policy.ts';

const load = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  loadConfig({ argv, env, readFile: (p) => { if (files[p] === undefined) throw new Error('ENOENT: no such file'); return files[p]!; } });

t.test('applies the defaults and freezes the result deeply', async (t) => {
  const { config } = load(['--node', 'n1']);
  t.equal(config!.node, 'n1');
  t.same(config!.listen, { host: '0.0.0.0', port: 9659 });
  t.equal(config!.intervalMs, 10_000);
  t.equal(config!.cpuBudget, DEFAULTS.cpuBudget);
  t.same(config!.families, [4]);
  t.ok(Object.isFrozen(config) && Object.isFrozen(config!.listen) && Object.isFrozen(config!.logConfig.signal));
  t.equal(config!.apiMaxViewAgeMs, DEFAULT_FRESHNESS.maxViewAgeMs, "the API view's age limit is lib/kube's");
  t.same(config!.taints, DEFAULT_TAINT_POLICY, 'tainting is off');
  t.ok(Object.isFrozen(config!.taints.conditionTypes));
});

t.test("the config file's taints section reaches the config; a bad one is reported with the rest", async (t) => {
  const files = { '/c.yaml': 'taints:\n  enabled: true\n  dryRun: false\n  conditionTypes: [ServiceRulesDrift]\n', '/bad.yaml': 'taints:\n  enabled: maybe\n' };
  t.match(load(['--node', 'n', '--config', '/c.yaml'], {}, files).config!.taints, { enabled: true, dryRun: false, conditionTypes: ['ServiceRulesDrift'], effect: 'NoSchedule' });
  t.throws(() => load(['--config', '/bad.yaml'], {}, files), { code: 'DPS_ERR_AGENT_CONFIG', message: /2 problems[\s\S]*\/bad.yaml: taints[\s\S]*enabled: expected true or false/ });
});

t.test('flags win over the environment, which wins over the config file', async (t) => {
  const files = { '/c.yaml': 'interval: 1m\njitter: 0.3\ncpuBudget: 0.2\nlogs:\n  signal: {activateCount: 5}\n' };
  const { config } = load(['--config', '/c.yaml', '--interval', '2s'], { NODE_NAME: 'from-env', DPS_JITTER: '0.2' }, files);
  t.equal(config!.node, 'from-env');
  t.equal(config!.intervalMs, 2000);
  t.equal(config!.jitter, 0.2);
  t.equal(config!.cpuBudget, 0.2);
  t.equal(config!.logConfig.signal.activateCount, 5);
});

t.test('reports every bad setting in one coded error that says what to do', async (t) => {
  const files = { '/c.yaml': 'bogus: 1\n' };
  let err: (Error & { code?: string }) | undefined;
  try {
    load(['--config', '/c.yaml', '--interval', 'soon', '--jitter', '2', '--listen', 'nowhere', '--rules-file', 'a', '--rules-command', 'b', '--backend', 'ipvs'], {}, files);
  } catch (e) {
    err = e as Error & { code?: string };
  }
  t.equal(err?.code, 'DPS_ERR_AGENT_CONFIG');
  for (const what of ['--node', '--interval', '--jitter', '--listen', '--rules-file and --rules-command', '--backend', '`bogus` is not a setting']) t.match(err?.message, what);
  t.match(err?.message, /7 problems/);
});

t.test('a boolean can be turned off with --no-X and from the environment', async (t) => {
  t.equal(load(['--node', 'n', '--no-follow-logs']).config!.logs, false);
  t.equal(load(['--node', 'n'], { DPS_KUBE_PROXY_PROBE: 'false' }).config!.kubeProxyProbe, false);
  t.throws(() => load(['--node', 'n'], { DPS_JOURNAL: 'maybe' }), /DPS_JOURNAL: expected true or false/);
});

t.test('--log-path adds plain files to the log sources; an unknown flag is a usage error', async (t) => {
  const { config } = load(['--node', 'n', '--log-path', '/var/log/a.log', '--log-path', '/var/log/b/*.log']);
  t.same(config!.logPaths, ['/var/log/a.log', '/var/log/b/*.log']);
  t.ok(config!.logConfig.files.some((f) => f.glob === '/var/log/b/*.log'));
  t.throws(() => load(['--node', 'n', '--frobnicate']), { code: 'DPS_ERR_AGENT_CONFIG' });
});

t.test('--help prints every setting with its variable and default', async (t) => {
  const r = load(['--help']);
  for (const s of SETTINGS) t.match(r.help!, flagOf(s.key));
});

t.test('the README documents every setting with its flag, variable and default', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const s of SETTINGS) t.ok(readme.includes(`\`${flagOf(s.key)}\``) && readme.includes(`\`${envOf(s)}\``), `${flagOf(s.key)} is in the README`);
});
