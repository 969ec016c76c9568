// A log file the agent may not read gives a clear, coded problem and watching goes on: run for real as
// an unprivileged user (root ignores file modes), with setpriv.
import t from 'tap';
import { execa } from 'execa';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Test } from 'tap';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const setpriv = '/usr/bin/setpriv';
const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath];
// without tap's NODE_OPTIONS: its process-info hook would try, as nobody, to write into root's .tap/
const env = { NODE_OPTIONS: '' };
const here = new URL('../../../', import.meta.url).pathname;
const skip = process.getuid?.() !== 0 ? 'needs root to switch to an unprivileged user' : undefined;
const LINE = '2024-01-01T00:00:00Z stderr F E0312 17:42:27.092778 1 proxier.go:1520] "Failed to execute iptables-restore" err="exit status 1"\n';

function unreadableFile(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'dps-perm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const file = join(dir, '0.log');
  writeFileSync(file, LINE);
  chmodSync(file, 0o000);
  return file;
}

t.test('scan-logs names the file and DPS_ERR_LOGS_PERMISSION, and still exits 0', { skip }, async (t) => {
  const file = unreadableFile(t);
  const r = await execa(setpriv, [...asNobody, join(here, 'agent/main.ts'), 'scan-logs', file, '--format', 'json'], { env, reject: false, timeout: 30_000 });
  t.equal(r.exitCode, 0, 'exits 0', { stderr: r.stderr });
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { summary: { errors: { file: string; code: string }[] } };
  t.match(summary.summary.errors, [{ file, code: 'DPS_ERR_LOGS_PERMISSION' }]);
  t.match(r.stderr, /permission denied.*DPS_ERR_LOGS_PERMISSION/is);
});

t.test('a follower reports permission denied, then reads the file once it becomes readable', { skip }, async (t) => {
  const file = unreadableFile(t);
  const child = execa(setpriv, [...asNobody, join(here, 'test/helpers/follow-once.ts'), file, 'then-readable'], { env, reject: false, timeout: 30_000 });
  // the follower has polled the unreadable file (however slowly this machine started it)
  await new Promise<void>((resolve) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => { seen += chunk.toString(); if (seen.includes('polled\n')) resolve(); });
    void child.finally(() => resolve());
  });
  chmodSync(file, 0o644);
  child.stdin?.write('go\n');
  const r = await child;
  const out = JSON.parse(r.stdout) as { problems: (string | null)[]; messages: string[] };
  t.equal(out.problems[0], 'DPS_ERR_LOGS_PERMISSION', 'the first problem is permission denied');
  t.equal(out.problems.at(-1), null, 'the problem clears when the file becomes readable');
  t.equal(out.messages.length, 1, 'and the line is read, once');
});
