import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { JournalFollower } from '../../../lib/logs/journal-follower.ts';
import type { JournalEntry } from '../../../lib/logs/parse-journal-entry.ts';
import { parseJournalEntry } from '../../../lib/logs/parse-journal-entry.ts';

const FIXTURES = new URL('../../fixtures/logs/journal/', import.meta.url).pathname;
const FAKE = join(FIXTURES, 'fake-journalctl.mjs');

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'dps-journal-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(options: { command: string; directory: string; cursor?: string; matches?: string[] }) {
  const entries: JournalEntry[] = [];
  const problems: (string | undefined)[] = [];
  let decodeErrors = 0;
  const follower = new JournalFollower({
    command: options.command, directory: options.directory, matches: options.matches ?? ['-u', 'kubelet'], cursor: options.cursor,
    sinceMs: 0, maxLineBytes: 64 * 1024, restartBackoffMs: 50,
    onEntry: (e) => entries.push(e), onDecodeError: () => { decodeErrors += 1; }, onProblem: (code) => problems.push(code),
  });
  const controller = new AbortController();
  const done = follower.run(controller.signal);
  return { follower, entries, problems, decodeErrors: () => decodeErrors, stop: async () => { controller.abort(); await done; } };
}

t.test('parses journalctl JSON: unit to component, byte-array MESSAGE, realtime to RFC 3339', async (t) => {
  const lines = readFileSync(join(FIXTURES, 'kubelet-cni-not-ready.jsonl'), 'utf8').trim().split('\n');
  const [kubelet, , kernel, k3s, garbage] = lines.map(parseJournalEntry);
  t.match(kubelet, { cursor: 's=1;i=1', component: 'kubelet', time: '2024-04-16T22:26:35.152Z', invalid: false });
  t.match(kernel, { component: 'kernel', invalid: true, message: /^nf_conntrack: table full, dropping packet/ });
  t.equal(k3s?.component, 'k3s');
  t.equal(garbage, undefined);
});

t.test('follows a real child process, keeps the last cursor, and resumes after it on restart', async (t) => {
  const dir = tempDir(t);
  const argsFile = join(dir, 'args');
  process.env.FAKE_JOURNAL_ENTRIES = join(FIXTURES, 'kubelet-cni-not-ready.jsonl');
  process.env.FAKE_JOURNAL_ARGS = argsFile;
  t.teardown(() => { delete process.env.FAKE_JOURNAL_ENTRIES; delete process.env.FAKE_JOURNAL_ARGS; });
  const first = start({ command: FAKE, directory: dir });
  await until(() => first.entries.length === 4 && first.decodeErrors() === 1);
  await first.stop();
  t.equal(first.follower.cursor, 's=1;i=4');
  const second = start({ command: FAKE, directory: dir, cursor: 's=1;i=2' });
  await until(() => second.entries.length === 2);
  await second.stop();
  t.same(second.entries.map((e) => e.cursor), ['s=1;i=3', 's=1;i=4']);
  const calls = readFileSync(argsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
  t.same(calls[0]!.slice(0, 9), ['-o', 'json', '--follow', '--no-pager', '--no-tail', '-D', dir, '--since', '@0']);
  t.same(calls[1]!.slice(7, 9), ['--after-cursor', 's=1;i=2']);
});

t.test('restarts journalctl with backoff when it exits, resuming after the last cursor', async (t) => {
  const dir = tempDir(t);
  const argsFile = join(dir, 'args');
  process.env.FAKE_JOURNAL_ENTRIES = join(FIXTURES, 'kubelet-cni-not-ready.jsonl');
  process.env.FAKE_JOURNAL_ARGS = argsFile;
  process.env.FAKE_JOURNAL_EXIT = '1';
  t.teardown(() => { delete process.env.FAKE_JOURNAL_ENTRIES; delete process.env.FAKE_JOURNAL_ARGS; delete process.env.FAKE_JOURNAL_EXIT; });
  const f = start({ command: FAKE, directory: dir });
  await until(() => existsSync(argsFile) && readFileSync(argsFile, 'utf8').trim().split('\n').length >= 2);
  await f.stop();
  t.equal(f.entries.length, 4, 'entries are not handed out twice across restarts');
  t.ok(f.problems.includes('DPS_ERR_LOGS_JOURNAL'));
  const second = JSON.parse(readFileSync(argsFile, 'utf8').trim().split('\n')[1]!) as string[];
  t.same(second.slice(7, 9), ['--after-cursor', 's=1;i=4']);
});

t.test('a missing journal directory is reported and watched; a missing journalctl is reported', async (t) => {
  const dir = tempDir(t);
  const missing = start({ command: FAKE, directory: join(dir, 'not-yet') });
  await until(() => missing.problems.includes('DPS_ERR_LOGS_SOURCE_MISSING'));
  await missing.stop();
  const nobin = start({ command: join(dir, 'no-journalctl'), directory: dir });
  await until(() => nobin.problems.includes('DPS_ERR_LOGS_JOURNAL'));
  await nobin.stop();
});

// A real journal file, written by systemd-journal-remote from journal export format, read by the
// real journalctl. Skipped where either tool is missing (apt-get install systemd-journal-remote).
const REMOTE = '/usr/lib/systemd/systemd-journal-remote';
const haveJournal = existsSync(REMOTE) && spawnSync('journalctl', ['--version']).status === 0;
t.test('reads a real journal file with the real journalctl, then resumes after its cursor', { skip: haveJournal ? false : 'systemd-journal-remote or journalctl not installed' }, async (t) => {
  const dir = tempDir(t);
  const exportEntry = (i: number, unit: string, message: string) =>
    `__REALTIME_TIMESTAMP=${Date.now() * 1000 + i}\n__MONOTONIC_TIMESTAMP=${i}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT=${unit}\n_TRANSPORT=stdout\nMESSAGE=${message}\n\n`;
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, `${name}.export`), text);
    const r = spawnSync(REMOTE, ['-o', join(dir, `${name}.journal`), join(dir, `${name}.export`)]);
    if (r.status !== 0) throw new Error(r.stderr.toString());
    rmSync(join(dir, `${name}.export`));
  };
  write('system', exportEntry(1, 'kubelet.service', 'E0416 22:26:35.152045 10125 kubelet.go:2373] "Container runtime network not ready" networkReady="NetworkReady=false reason:NetworkPluginNotReady"')
    + exportEntry(2, 'sshd.service', 'Accepted publickey'));
  const first = start({ command: 'journalctl', directory: dir, matches: ['-u', 'kubelet'] });
  await until(() => first.entries.length === 1, 10_000);
  await first.stop();
  t.match(first.entries[0], { component: 'kubelet', message: /NetworkReady=false/ });
  write('system2', exportEntry(3, 'kubelet.service', 'second kubelet line'));
  const second = start({ command: 'journalctl', directory: dir, matches: ['-u', 'kubelet'], cursor: first.follower.cursor });
  await until(() => second.entries.length === 1, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  await second.stop();
  t.same(second.entries.map((e) => e.message), ['second kubelet line']);
});
