// Every external command is bounded and never throws: missing, failing, hanging, too chatty and
// cancelled commands come back as coded errors; the output comes back as bytes.
import t from 'tap';
import { systemExec } from '../../agent/exec.ts';

const run = (file: string, args: string[], over: { timeoutMs?: number; maxBytes?: number; signal?: AbortSignal } = {}) =>
  systemExec({ file, args, timeoutMs: over.timeoutMs ?? 5000, maxBytes: over.maxBytes ?? 1 << 20, signal: over.signal ?? new AbortController().signal });
const fixture = (name: string): string => new URL(`../fixtures/agent/${name}`, import.meta.url).pathname;

t.test('a command that succeeds gives its output as bytes and its CPU cost', async (t) => {
  const r = await run('sh', ['-c', 'echo hello']);
  t.equal(r.error, undefined);
  t.equal(Buffer.from(r.stdout).toString(), 'hello\n');
  t.ok(r.cpuSeconds >= 0);
});

t.test('a missing program is DPS_ERR_AGENT_EXEC_NOT_FOUND', async (t) => {
  t.equal((await run('iptables-save-does-not-exist', [])).error?.code, 'DPS_ERR_AGENT_EXEC_NOT_FOUND');
});

t.test('a failing command is DPS_ERR_AGENT_EXEC_FAILED with its exit status and stderr', async (t) => {
  const r = await run(fixture('fail.sh'), []);
  t.equal(r.error?.code, 'DPS_ERR_AGENT_EXEC_FAILED');
  t.match(r.error?.message, /exit status 1: iptables-save: cannot initialize/);
});

t.test('a hanging command is killed at the timeout: DPS_ERR_AGENT_EXEC_TIMEOUT', async (t) => {
  const started = Date.now();
  const r = await run(fixture('hang.sh'), [], { timeoutMs: 200 });
  t.equal(r.error?.code, 'DPS_ERR_AGENT_EXEC_TIMEOUT');
  t.ok(Date.now() - started < 3000);
});

t.test('more output than the limit is DPS_ERR_AGENT_EXEC_OUTPUT_LIMIT', async (t) => {
  t.equal((await run('sh', ['-c', 'head -c 100000 /dev/zero'], { maxBytes: 1000 })).error?.code, 'DPS_ERR_AGENT_EXEC_OUTPUT_LIMIT');
});

t.test('aborting the signal stops the command', async (t) => {
  const c = new AbortController();
  setTimeout(() => c.abort(), 100);
  const r = await run(fixture('hang.sh'), [], { signal: c.signal });
  t.equal(r.error?.code, 'DPS_ERR_AGENT_EXEC_FAILED');
  t.match(r.error?.message, /cancelled/);
});
