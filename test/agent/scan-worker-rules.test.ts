// The scan worker runs the rules source itself: its log lines reach the agent's logger, what it
// learned (the backend) outlives a recycled worker, a dump that hangs past its bound restarts the
// worker with the command it ran, and the worker's Node flags.
import t from 'tap';
import { loadConfig, rulesConfig } from '../../agent/config.ts';
import { ScanWorkerClient, workerExecArgv } from '../../agent/scan-worker-client.ts';
import { memoryLogger, waitFor } from '../helpers/kube-testing.ts';
import { processesRunning } from '../helpers/processes.ts';

const rules = (...argv: string[]) => rulesConfig(loadConfig({ argv: ['--node', 'n', ...argv], env: {} }).config!);
const MS = 60_000;
const scan = (w: ScanWorkerClient, dumpTimeoutMs = MS) => w.scan({ nodeName: 'n', previousHashes: {}, reuse: false }, MS, dumpTimeoutMs);

t.test('the worker\'s log lines reach the agent\'s logger; a new worker keeps the backend its predecessor found', async (t) => {
  const log = memoryLogger();
  const w = new ScanWorkerClient({ rules: rules('--backend', 'legacy'), log });
  t.teardown(() => w.close());
  const first = await scan(w);
  t.match([...first.dumps, ...first.failures], [{ family: 4, backend: 'legacy', source: 'iptables-legacy-save' }], 'the dump is described');
  const said = () => log.records.filter((r) => r.msg === 'iptables backend');
  t.match(said(), [{ level: 'info', fields: { component: 'rules-source', backend: 'legacy', why: 'set by --backend' } }]);
  t.match(first.memory, { backend: { name: 'legacy' } });
  await w.recycle();
  await scan(w);
  t.equal(w.started, 2, 'a new worker');
  t.equal(said().length, 1, 'not detected (nor logged) again');
});

t.test('a dump past its bound: the worker and the command it runs are killed', async (t) => {
  const token = `31.${process.pid}${Date.now() % 1000}`;
  const w = new ScanWorkerClient({ rules: rules('--rules-command', `sleep ${token}`) });
  t.teardown(() => w.close());
  const started = Date.now();
  await t.rejects(scan(w, 500), { code: 'DPS_ERR_AGENT_SCAN_TIMEOUT', message: /dump the rules within 500 ms/ });
  t.ok(Date.now() - started < 2000, 'bounded');
  await waitFor(() => processesRunning(['sleep', token]) === 0, 3000, 'the command killed');
  t.pass('no command left behind');
  const again = await scan(w, 500).catch((e: unknown) => e);
  t.match(again, { code: 'DPS_ERR_AGENT_SCAN_TIMEOUT' }, 'the next scan starts a new worker');
  t.equal(w.started, 2);
});

t.test('the worker gets a 2 MB young generation unless the agent sets one, and V8 without background threads', async (t) => {
  t.same(workerExecArgv([], undefined), ['--max-semi-space-size=2', '--single-threaded']);
  t.same(workerExecArgv(['--import', 'x', '--max-old-space-size=100'], ''), ['--max-semi-space-size=2', '--single-threaded'], 'other flags are not passed on');
  t.same(workerExecArgv(['--max-semi-space-size=8'], undefined), ['--max-semi-space-size=8', '--single-threaded']);
  t.same(workerExecArgv(['--max_semi_space_size', '4'], undefined), ['--max_semi_space_size', '4', '--single-threaded']);
  t.same(workerExecArgv([], '--max-semi-space-size=16 --no-warnings'), ['--single-threaded'], 'NODE_OPTIONS is inherited');
});
