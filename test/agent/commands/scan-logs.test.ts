import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { main } from '../../../agent/main.ts';

const FIXTURES = new URL('../../fixtures/logs/', import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(args, { stdout, stderr, stdin: new PassThrough(), env: {}, signal: new AbortController().signal });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('prints one JSON line per matched record of a CRI pod log, then a summary line', async (t) => {
  const { code, stdout } = await run(['scan-logs', join(FIXTURES, 'scan-kube-proxy-nftables-failing'), '--format', 'json']);
  t.equal(code, 0);
  const rows = jsonLines(stdout);
  const summary = rows.pop() as { summary: Record<string, unknown> };
  t.same(rows.map((r) => [r.line, r.class, r.component, r.severity]), [
    [3, 'proxy-sync-failure', 'kube-proxy', 'critical'], // the err=< block is one record at its header line
    [6, 'proxy-sync-failure', 'kube-proxy', 'warning'],
    [7, 'proxy-sync-failure', 'kube-proxy', 'critical'], // three P/F records joined
  ]);
  t.match(rows[0]!.message, /nftables sync failed" err=<\n\tnft: netlink_linearize/);
  t.equal(rows[0]!.time, '2026-07-25T11:35:58.172751052Z');
  t.match(rows[2]!.message, /"Failed to execute iptables-restore" err="exit status 2/);
  t.match(rows[0]!.file, /kube-proxy\/0\.log$/);
  t.same(summary.summary, { files: 1, lines: 11, matches: 3, byClass: { 'proxy-sync-failure': 3 }, truncatedLines: 0, decodeErrors: 0, errors: [] });
});

t.test('reads a plain Calico CNI log and infers calico-cni from its path', async (t) => {
  const { stdout } = await run(['scan-logs', join(FIXTURES, 'scan-calico-cni-apiserver-timeout'), '--format', 'json']);
  const rows = jsonLines(stdout);
  t.equal(rows.length, 2);
  t.same([rows[0]!.line, rows[0]!.class, rows[0]!.component, rows[0]!.time], [2, 'cni-api-unreachable', 'calico-cni', '2024-10-01T10:00:30.001Z']);
});

t.test('understands Docker json-file lines, joining a 16 KiB chunk with its continuation', async (t) => {
  const { stdout } = await run(['scan-logs', join(FIXTURES, 'scan-docker-json-file', 'kube-proxy-legacy.log'), '--format', 'json']);
  const rows = jsonLines(stdout);
  t.same(rows.slice(0, -1).map((r) => [r.line, r.class]), [[2, 'xtables-lock'], [3, 'proxy-sync-failure']]);
  t.match(rows[1]!.message, /line 53 failed$/);
});

t.test('reads a gzip-compressed rotated file by its content, whatever its name', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-scan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const podDir = join(dir, 'kube-system_kube-proxy-x7k2p_uid', 'kube-proxy');
  mkdirSync(podDir, { recursive: true });
  const src = readFileSync(join(FIXTURES, 'scan-kube-proxy-nftables-failing/kube-system_kube-proxy-x7k2p_5f1c2a4e-9b7d-4c1e-8a55-0e2b7d9c1f30/kube-proxy/0.log'));
  writeFileSync(join(podDir, '0.log.20260725-113700.gz'), gzipSync(src));
  const { code, stdout } = await run(['scan-logs', dir, '--format', 'json']);
  t.equal(code, 0);
  const rows = jsonLines(stdout);
  t.same(rows.slice(0, -1).map((r) => [r.line, r.component]), [[3, 'kube-proxy'], [6, 'kube-proxy'], [7, 'kube-proxy']]);
});

t.test('reports a corrupt .gz in the summary and stderr, and still exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-scan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gz = gzipSync(Buffer.from('nf_conntrack: table full, dropping packet\n'.repeat(1000)));
  writeFileSync(join(dir, 'kern.log.1.gz'), gz.subarray(0, gz.length - 20));
  const { code, stdout, stderr } = await run(['scan-logs', dir, '--format', 'json']);
  t.equal(code, 0);
  const summary = jsonLines(stdout).pop() as { summary: { errors: { code: string }[] } };
  t.equal(summary.summary.errors[0]?.code, 'DPS_ERR_LOGS_GZIP');
  t.match(stderr, /DPS_ERR_LOGS_GZIP/);
});

t.test('text format prints file:line, time, component, class, severity and message, then counts by class', async (t) => {
  const { code, stdout } = await run(['scan-logs', join(FIXTURES, 'scan-calico-cni-apiserver-timeout')]);
  t.equal(code, 0);
  t.match(stdout, /cni\.log:2 2024-10-01T10:00:30\.001Z calico-cni cni-api-unreachable critical .*Final result of CNI DEL/);
  t.match(stdout, /\n1 matching lines in 3 lines from 1 files\n {2}cni-api-unreachable: 1\n$/);
});

t.test('usage errors exit 2: no PATH, a bad --format, an unknown flag, a PATH that does not exist', async (t) => {
  t.equal((await run(['scan-logs'])).code, 2);
  t.equal((await run(['scan-logs', FIXTURES, '--format', 'yaml'])).code, 2);
  t.equal((await run(['scan-logs', FIXTURES, '--frmat', 'json'])).code, 2);
  const missing = await run(['scan-logs', '/nonexistent/dps']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /DPS_ERR_INPUT_READ/);
});

t.test('user rules from --config add a class; a bad pattern is a usage error naming the rule', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dps-scan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(FIXTURES, 'scan-calico-cni-apiserver-timeout/calico/cni/cni.log'), join(dir, 'cni.log'));
  writeFileSync(join(dir, 'good.yaml'), 'logs:\n  rules:\n    - id: calico-release-missing\n      class: cni-ipam-leak\n      severity: info\n      components: ["*"]\n      pattern: "Asked to release address but it doesn.t exist"\n');
  const good = await run(['scan-logs', join(dir, 'cni.log'), '--config', join(dir, 'good.yaml'), '--format', 'json']);
  t.equal(good.code, 0);
  t.ok(jsonLines(good.stdout).some((r) => r.class === 'cni-ipam-leak'));
  writeFileSync(join(dir, 'bad.yaml'), 'logs:\n  rules:\n    - id: broken-one\n      class: x\n      severity: info\n      components: ["*"]\n      pattern: "unclosed ("\n');
  const bad = await run(['scan-logs', join(dir, 'cni.log'), '--config', join(dir, 'bad.yaml')]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /Rule "broken-one".*not a valid regular expression.*DPS_ERR_LOGS_RULE_INVALID/);
});
