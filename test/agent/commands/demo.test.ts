// The README's main command: the demo runs the real engine against the embedded scenario and every
// step shows the expected verdict.
import t from 'tap';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../../agent/main.ts';

t.test('npm run demo shows in sync, then drift for a dead pod and a flushed table, then recovery', async (t) => {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await main(['demo'], { stdout, stderr: new PassThrough(), stdin: Readable.from([]), env: {}, signal: new AbortController().signal });
  t.equal(code, 0, out);
  t.match(out, /1\. a healthy node[\s\S]*IN-SYNC/);
  t.match(out, /stale-endpoint\s+shop\/web\s+10\.244\.2\.12:8080/);
  t.match(out, /flushed the nat table[\s\S]*DRIFT[\s\S]*missing-service/);
  t.match(out, /4\. kube-proxy recovers[\s\S]*IN-SYNC/);
});
