/**
 * Runs a FileFollower on a path for a few polls and prints, as JSON, the problems it reported and the
 * messages it read. The permission test runs it as an unprivileged user (root ignores file modes).
 */
import { FileFollower } from '../../lib/logs/file-follower.ts';

const path = process.argv[2] as string;
const problems: (string | undefined)[] = [];
const messages: string[] = [];
const f = new FileFollower({
  path, start: { kind: 'beginning' }, maxLineBytes: 4096, readBudgetBytes: 1 << 20, idleFlushMs: 10, now: () => Date.now(),
  onRecord: (r) => messages.push(r.message), onProblem: (code) => problems.push(code),
  stats: { lines: 0, bytes: 0, truncatedLines: 0, decodeErrors: 0 },
});
for (let i = 0; i < 3; i++) await f.poll();
if (process.argv[3] === 'then-readable') {
  process.stdin.resume();
  process.stderr.write('polled\n'); // the parent makes the file readable now, and says so
  await new Promise((resolve) => process.stdin.once('data', resolve));
  for (let i = 0; i < 3; i++) await f.poll();
}
await f.close();
process.stdout.write(`${JSON.stringify({ problems, messages })}\n`);
process.exit(0);
