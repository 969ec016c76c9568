import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { emptyState, loadState, saveState } from '../../../lib/logs/state-store.ts';

function dir(t: { teardown: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'dps-state-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('a missing state file is a first start without a problem', async (t) => {
  const r = await loadState(join(dir(t), 'nope.json'), 'node-a');
  t.same([r.firstStart, r.problem, r.state], [true, undefined, emptyState('node-a')]);
});

t.test('saves atomically into a new directory and loads back what it saved', async (t) => {
  const path = join(dir(t), 'sub', 'state.json');
  const state = { ...emptyState('node-a'), files: { '/x/0.log': [{ path: '/x/0.log', dev: 1, ino: 2, offset: 3, line: 1, fingerprint: 'ab', fingerprintBytes: 3 }] }, journal: { '/var/log/journal#units': 's=1;i=2' } };
  await saveState(path, state);
  t.same(readdirSync(join(path, '..')), ['state.json'], 'no temp file left behind');
  const r = await loadState(path, 'node-a');
  t.same([r.firstStart, r.problem, r.state], [false, undefined, state]);
});

t.test('a corrupt state file is reported and ignored', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'a.json'), '{"version":1,"node":"n","files":{');
  writeFileSync(join(d, 'b.json'), '{"version":1,"node":"n","files":{"x":[{"path":"x"}]},"journal":{}}');
  for (const name of ['a.json', 'b.json']) {
    const r = await loadState(join(d, name), 'n');
    t.equal(r.problem?.code, 'DPS_ERR_LOGS_STATE_CORRUPT', name);
    t.same(r.state, emptyState('n'));
  }
});

t.test('a state file from another node is reported and ignored', async (t) => {
  const path = join(dir(t), 's.json');
  await saveState(path, emptyState('node-a'));
  const r = await loadState(path, 'node-b');
  t.equal(r.problem?.code, 'DPS_ERR_LOGS_STATE_OTHER_NODE');
  t.match(r.problem?.message, /written on node "node-a", this is "node-b"/);
});

t.test('an unwritable state path rejects with a coded error', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'file'), 'x');
  await t.rejects(saveState(join(d, 'file', 'state.json'), emptyState('n')), { code: 'DPS_ERR_LOGS_STATE_WRITE' });
  t.equal(readFileSync(join(d, 'file'), 'utf8'), 'x');
});
