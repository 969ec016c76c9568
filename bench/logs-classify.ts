/**
 * Benchmark: lines classified per second on one core with the built-in rules, against a baseline
 * measured in the same run (raw line splitting of the same bytes). Run: node bench/logs-classify.ts
 */
import { BUILTIN_RULES } from '../lib/logs/builtin-rules.ts';
import { compileRules } from '../lib/logs/compile-rules.ts';
import { LineSplitter } from '../lib/logs/line-splitter.ts';
import { matchRecord } from '../lib/logs/match-record.ts';
import { RecordAssembler } from '../lib/logs/record-assembler.ts';

// A realistic mix: steady-state lines of each component, plus 1 % failures.
const BENIGN: [string, string][] = [
  ['kube-proxy', 'I0725 11:35:58.075625       1 proxier.go:1863] "Reloading service nftables data" ipFamily="IPv6" numServices=4 numEndpoints=4'],
  ['kube-proxy', 'I1028 20:41:24.249572       1 config.go:167] Calling handler.OnEndpointsUpdate'],
  ['kube-proxy', 'I0529 07:19:18.411303       1 conntrack.go:83] Setting conntrack hashsize to 32768'],
  ['kube-proxy', 'I0710 14:33:53.856605       1 proxier.go:1097] "Syncing nftables rules" ipFamily="IPv4" fullSync=true'],
  ['calico-node', '2024-03-22 20:01:54.493 [INFO][63] felix/int_dataplane.go 1954: Received *proto.WorkloadEndpointUpdate update from calculation graph msg=id:<orchestrator_id:"k8s" workload_id:"default/web-0" endpoint_id:"eth0" >'],
  ['calico-node', '2018-04-27 08:49:11.909 [INFO][277] ipam.go 195: Need to allocate 1 more addresses - allocate another block'],
  ['calico-node', 'bird: Mesh_10_116_0_3: State changed to up'],
  ['coredns', '[INFO] 10.244.0.5:44709 - 33460 "A IN web.default.svc.cluster.local. udp 47 false 512" NOERROR qr,aa,rd 98 0.000134s'],
  ['cilium-agent', 'time="2024-05-13T08:17:17Z" level=info msg="Rewrote endpoint BPF program" containerID=0a1b datapathPolicyRevision=12 desiredPolicyRevision=12 endpointID=3410 identity=4 ipv4=10.0.1.2 k8sPodName=default/web-0 subsys=endpoint'],
];
const FAILURES: [string, string][] = [
  ['kube-proxy', 'I0928 23:55:47.039519    4424 proxier.go:858] "Sync failed" retryingTime="30s"'],
  ['calico-node', '2017-11-21 15:44:46.903 [WARNING][7] table.go 978: Failed to execute ip(6)tables-restore command error=exit status 4'],
  ['coredns', '[ERROR] plugin/errors: 2 github.com. AAAA: read udp 172.17.0.2:46499->192.168.49.1:53: i/o timeout'],
];

function build(lines: number): { byComponent: Map<string, Buffer>; total: number } {
  const parts = new Map<string, string[]>();
  for (let i = 0; i < lines; i++) {
    const [component, message] = i % 100 === 99 ? FAILURES[i % FAILURES.length]! : BENIGN[i % BENIGN.length]!;
    const list = parts.get(component) ?? [];
    list.push(`2026-07-25T11:35:58.${String(i % 1e9).padStart(9, '0')}Z stderr F ${message}\n`);
    parts.set(component, list);
  }
  return { byComponent: new Map([...parts].map(([c, l]) => [c, Buffer.from(l.join(''))])), total: lines };
}

function time(fn: () => number): { seconds: number; result: number } {
  const start = process.hrtime.bigint();
  const result = fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

const CHUNK = 256 * 1024;
function chunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += CHUNK) out.push(buf.subarray(i, i + CHUNK));
  return out;
}

const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const { byComponent, total } = build(LINES);
const bytes = [...byComponent.values()].reduce((n, b) => n + b.length, 0);
const rules = compileRules(BUILTIN_RULES);

function baseline(): number {
  let n = 0;
  for (const buf of byComponent.values()) {
    const s = new LineSplitter({ maxLineBytes: 64 * 1024 });
    for (const c of chunks(buf)) n += s.push(c).length;
  }
  return n;
}

function full(): number {
  let matches = 0;
  for (const [component, buf] of byComponent) {
    const s = new LineSplitter({ maxLineBytes: 64 * 1024 });
    const a = new RecordAssembler({ maxRecordChars: 64 * 1024, maxBlockLines: 64 });
    for (const c of chunks(buf)) {
      for (const line of s.push(c)) {
        for (const record of a.push(line)) if (matchRecord(rules, record, component) !== undefined) matches += 1;
      }
    }
  }
  return matches;
}

// Warm up both paths, then take the best of 3 runs of each.
baseline(); full();
const best = (fn: () => number) => [0, 1, 2].map(() => time(fn)).sort((a, b) => a.seconds - b.seconds)[0]!;
const b = best(baseline);
const f = best(full);
const lps = total / f.seconds;
console.log(JSON.stringify({
  lines: total,
  megabytes: +(bytes / 1e6).toFixed(1),
  rules: rules.rules.length,
  matches: f.result,
  baselineSplitLinesPerSecond: Math.round(total / b.seconds),
  classifiedLinesPerSecond: Math.round(lps),
  ratioToSplitting: +(b.seconds / f.seconds).toFixed(3),
  target: 200_000,
  ok: lps >= 200_000,
}, null, 2));
