import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { FileFollower } from '../../../lib/logs/file-follower.ts';
import type { FollowStart } from '../../../lib/logs/file-follower.ts';

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dps-follow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function follower(path: string, start: FollowStart = { kind: 'beginning' }) {
  const messages: string[] = [];
  const problems: (string | undefined)[] = [];
  const stats = { lines: 0, bytes: 0, truncatedLines: 0, decodeErrors: 0 };
  const f = new FileFollower({
    path, start, maxLineBytes: 1024, readBudgetBytes: 1 << 20, idleFlushMs: 60_000, now: () => Date.now(),
    onRecord: (r) => messages.push(r.message), onProblem: (code) => problems.push(code), stats,
  });
  return { f, messages, problems, stats };
}

const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}\n`).join('');
const cri = (msg: string, time = '2024-01-01T00:00:00Z') => `${time} stderr F ${msg}\n`;

t.test('follows appended lines and never hands one out twice', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, lines('a', 3));
  const { f, messages } = follower(path);
  await f.poll();
  appendFileSync(path, 'a4\na5');
  await f.poll();
  await f.poll();
  appendFileSync(path, '\n');
  await f.poll();
  t.same(messages, ['a1', 'a2', 'a3', 'a4', 'a5']);
  await f.close();
});

t.test('reads the renamed file to its end before following the new one (kubelet rotation)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeFileSync(path, lines('old', 2));
  const { f, messages } = follower(path);
  await f.poll();
  appendFileSync(path, 'old3\n');
  renameSync(path, `${path}.20240101-000000`);
  // the runtime keeps writing to the renamed inode until ReopenContainerLog
  appendFileSync(`${path}.20240101-000000`, 'old4\n');
  writeFileSync(path, lines('new', 2));
  await f.poll();
  appendFileSync(`${path}.20240101-000000`, 'old5\n');
  appendFileSync(path, 'new3\n');
  for (let i = 0; i < 4; i++) await f.poll();
  t.same(messages.filter((m) => m.startsWith('old')), ['old1', 'old2', 'old3', 'old4', 'old5']);
  t.same(messages.filter((m) => m.startsWith('new')), ['new1', 'new2', 'new3']);
  t.equal(f.positions().length, 1, 'the drained file is closed after two quiet polls');
  await f.close();
});

t.test('keeps reading a renamed file that kubelet then gzips and deletes', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeFileSync(path, lines('x', 1));
  const { f, messages } = follower(path);
  await f.poll();
  appendFileSync(path, 'x2\n');
  renameSync(path, `${path}.20240101-000000`);
  await f.poll(); // path missing: the open inode is still read
  writeFileSync(`${path}.20240101-000000.gz`, gzipSync(readFileSync(`${path}.20240101-000000`)));
  unlinkSync(`${path}.20240101-000000`);
  writeFileSync(path, 'y1\n');
  for (let i = 0; i < 3; i++) await f.poll();
  t.same(messages, ['x1', 'x2', 'y1']);
  await f.close();
});

t.test('copytruncate: reads the tail from the copy, then the truncated file from its start', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'cni.log');
  writeFileSync(path, lines('a', 3));
  const { f, messages } = follower(path);
  await f.poll();
  appendFileSync(path, 'a4\na5\n');
  copyFileSync(path, `${path}.1`);
  truncateSync(path, 0);
  appendFileSync(path, 'b1\n');
  await f.poll();
  await f.poll();
  t.same(messages, ['a1', 'a2', 'a3', 'a4', 'a5', 'b1']);
  await f.close();
});

t.test('a restart resumes exactly at the saved position in the same file', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, lines('a', 3));
  const first = follower(path);
  await first.f.poll();
  const saved = first.f.positions();
  await first.f.close();
  appendFileSync(path, 'a4\n');
  const second = follower(path, { kind: 'resume', positions: saved });
  await second.f.poll();
  t.same(second.messages, ['a4']);
  t.equal(second.f.positions()[0]?.line, 4);
  await second.f.close();
});

t.test('a restart after rotation and gzip reads the rest of the compressed file, then the new one', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '0.log');
  writeFileSync(path, lines('a', 300)); // longer than the fingerprint
  const first = follower(path);
  await first.f.poll();
  const saved = first.f.positions();
  await first.f.close();
  // while the agent is down: more lines, rotation, compression, a new file
  appendFileSync(path, 'a301\na302\n');
  renameSync(path, `${path}.20240101-000000`);
  writeFileSync(`${path}.20240101-000000.gz`, gzipSync(readFileSync(`${path}.20240101-000000`)));
  unlinkSync(`${path}.20240101-000000`);
  writeFileSync(path, 'b1\n');
  const second = follower(path, { kind: 'resume', positions: saved });
  await second.f.poll();
  await second.f.poll();
  t.same(second.messages, ['a301', 'a302', 'b1']);
  await second.f.close();
});

t.test('a restart finds a file that was replaced under the same name and reads it from the start', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, lines('a', 3));
  const first = follower(path);
  await first.f.poll();
  const saved = first.f.positions();
  await first.f.close();
  unlinkSync(path);
  writeFileSync(path, 'b1\n');
  const second = follower(path, { kind: 'resume', positions: saved });
  await second.f.poll();
  t.same(second.messages, ['b1']);
  await second.f.close();
});

t.test('on first start, reads only lines newer than the look-back', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, cri('old', '2020-01-01T00:00:00Z') + cri('recent', new Date().toISOString()));
  const { f, messages } = follower(path, { kind: 'lookback', notBeforeMs: Date.now() - 60_000, maxBytes: 1 << 20 });
  await f.poll();
  t.same(messages, ['recent']);
  await f.close();
});

t.test('look-back by size starts on a whole line', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, lines('line-', 100));
  const { f, messages } = follower(path, { kind: 'lookback', notBeforeMs: 0, maxBytes: 20 });
  await f.poll();
  t.same(messages, ['line-99', 'line-100']);
  await f.close();
});

t.test('a missing file is watched until it appears, then read from its first line', async (t) => {
  const path = join(tempDir(t), 'later.log');
  const { f, messages, problems } = follower(path, { kind: 'lookback', notBeforeMs: Date.now(), maxBytes: 0 });
  await f.poll();
  t.same(problems, ['DPS_ERR_LOGS_SOURCE_MISSING']);
  writeFileSync(path, 'hello\n');
  await f.poll();
  t.same(messages, ['hello']);
  t.same(problems, ['DPS_ERR_LOGS_SOURCE_MISSING', undefined]);
  await f.close();
});

t.test('a path that is a directory is reported, and read once it is a file again', async (t) => {
  const path = join(tempDir(t), 'x.log');
  mkdirSync(path);
  const { f, messages, problems } = follower(path);
  await f.poll();
  await f.poll();
  t.same(problems, ['DPS_ERR_LOGS_NOT_A_FILE'], 'reported once, not per poll');
  rmSync(path, { recursive: true });
  writeFileSync(path, 'ok\n');
  await f.poll();
  t.same(messages, ['ok']);
  await f.close();
});

t.test('joins CRI partial records that arrive in different polls', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, '2024-01-01T00:00:00Z stderr P Failed to exec\n');
  const { f, messages } = follower(path);
  await f.poll();
  t.same(messages, []);
  t.equal(f.positions()[0]?.offset, 0, 'the saved position stays before the pending partial');
  appendFileSync(path, '2024-01-01T00:00:00Z stderr F ute iptables-restore\n');
  await f.poll();
  t.same(messages, ['Failed to execute iptables-restore']);
  await f.close();
});

t.test('counts truncated over-long lines and invalid bytes', async (t) => {
  const path = join(tempDir(t), '0.log');
  writeFileSync(path, Buffer.concat([Buffer.from(`${'x'.repeat(5000)}\n`), Buffer.from([0xff, 0x00, 0x0a]), Buffer.from('fine\n')]));
  const { f, messages, stats } = follower(path);
  await f.poll();
  t.same([stats.lines, stats.truncatedLines, stats.decodeErrors], [3, 1, 1]);
  t.equal(messages[0]?.length, 1024);
  t.equal(messages[2], 'fine');
  await f.close();
});
