// The README's main command: the demo runs the real agent (HTTP, scan worker, log watcher) against
// the embedded scenario; /health turns unhealthy for a dead pod and a flushed table, then recovers,
// and nothing is left behind.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../../agent/main.ts';

const leftovers = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('dataplane-sentinel-demo-'));

t.test('npm run demo shows healthy, then unhealthy for a dead pod and a flushed table, then recovery', async (t) => {
  const before = leftovers();
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await main(['demo'], { stdout, stderr: new PassThrough(), stdin: Readable.from([]), env: {}, signal: new AbortController().signal });
  t.equal(code, 0, out);
  t.match(out, /1\. a healthy node[\s\S]*GET \/health → 200 HEALTHY/);
  t.match(out, /2\. stale endpoint[\s\S]*GET \/health → 503 UNHEALTHY[\s\S]*kube-proxy-logs\s+unhealthy LogSignalActive/);
  t.match(out, /stale-endpoint\s+shop\/web\s+10\.244\.2\.12:8080/);
  t.match(out, /dataplane_sentinel_findings\{kind="stale-endpoint",family="IPv4"\} 1/);
  t.match(out, /dataplane_sentinel_log_matches_total\{class="proxy-sync-failure",component="kube-proxy"\} [1-9]/);
  t.match(out, /3\. flushed nat table[\s\S]*503 UNHEALTHY[\s\S]*missing-service/);
  t.match(out, /4\. repaired[\s\S]*GET \/health → 200 HEALTHY/);
  t.match(out, /cleaned up/);
  t.same(leftovers(), before, 'the temp directory is removed');
});

t.test('Ctrl-C during the demo stops the agent and removes everything', async (t) => {
  const before = leftovers();
  const controller = new AbortController();
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('agent listening')) controller.abort();
  });
  const started = Date.now();
  await main(['demo'], { stdout, stderr: new PassThrough(), stdin: Readable.from([]), env: {}, signal: controller.signal });
  t.ok(Date.now() - started < 15_000, 'it stops promptly');
  t.match(out, /cleaned up/);
  t.same(leftovers(), before, 'the temp directory is removed');
});
