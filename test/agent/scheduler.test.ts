// The loop: never two runs at once, survives errors, stretches when asked, wakes early, reports stuck runs.
import t from 'tap';
import { startLoop } from '../../agent/scheduler.ts';
import { systemClock } from '../../lib/kube/deps.ts';
import { waitFor } from '../helpers/kube-testing.ts';

t.test('runs never overlap, and an error does not end the loop', async (t) => {
  const stop = new AbortController();
  let running = 0;
  let maxRunning = 0;
  let n = 0;
  const errors: unknown[] = [];
  const loop = startLoop({
    name: 'x', clock: systemClock, signal: stop.signal, jitter: 0.5, stuckAfterMs: 1000, intervalMs: () => 1, onError: (e) => errors.push(e),
    task: async () => {
      running++; maxRunning = Math.max(maxRunning, running); n++;
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (n % 2 === 0) throw new Error('boom');
    },
  });
  await waitFor(() => loop.runs >= 6);
  stop.abort();
  await loop.done;
  t.equal(maxRunning, 1);
  t.ok(errors.length >= 3);
  t.notOk(loop.alive(Date.now()), 'an ended loop is not alive');
});

t.test('the interval is asked after every run, and wake() starts the next run at once', async (t) => {
  const stop = new AbortController();
  const asked: number[] = [];
  const loop = startLoop({ name: 'x', clock: systemClock, signal: stop.signal, jitter: 0, stuckAfterMs: 1000, onError: () => {}, task: async () => {}, intervalMs: () => { asked.push(Date.now()); return 60_000; } });
  await waitFor(() => loop.runs === 1);
  loop.wake();
  await waitFor(() => loop.runs === 2, 1000, 'the woken run');
  t.equal(asked.length, 2);
  stop.abort();
  await loop.done;
});

t.test('a run longer than its limit makes the loop not alive', async (t) => {
  const stop = new AbortController();
  const loop = startLoop({ name: 'x', clock: systemClock, signal: stop.signal, jitter: 0, stuckAfterMs: 20, onError: () => {}, intervalMs: () => 10, task: (s) => new Promise((r) => s.addEventListener('abort', () => r(), { once: true })) });
  t.ok(loop.alive(Date.now()));
  t.notOk(loop.alive(Date.now() + 100));
  stop.abort();
  await loop.done;
});
