import t from 'tap';
import { LineSplitter } from '../../../lib/logs/line-splitter.ts';
import { RecordAssembler } from '../../../lib/logs/record-assembler.ts';

function assemble(text: string, options = { maxRecordChars: 10_000, maxBlockLines: 64 }) {
  const splitter = new LineSplitter({ maxLineBytes: 10_000 });
  const assembler = new RecordAssembler(options);
  const records = [];
  const safe: number[] = [];
  for (const line of splitter.push(Buffer.from(text))) {
    records.push(...assembler.push(line));
    safe.push(assembler.safeOffset);
  }
  records.push(...assembler.flush());
  return { records, safe, assembler };
}

t.test('joins CRI partial records into one line numbered by its first record', async (t) => {
  const { records, safe } = assemble('2024-01-01T00:00:00Z stderr P abc\n2024-01-01T00:00:01Z stderr P def\n2024-01-01T00:00:02Z stderr F ghi\n');
  t.same(records.map((r) => [r.message, r.line, r.time]), [['abcdefghi', 1, '2024-01-01T00:00:00Z']]);
  // while partials are pending, a saved position points at the first of them
  t.same(safe, [0, 0, 102]);
});

t.test('joins a klog err=< block (TAB lines, closing " >") into its header record', async (t) => {
  const lines = [
    '2026-07-10T14:33:53Z stderr F E0710 14:33:53.863126       1 proxier.go:994] "Failed to list nftables elements" err=<',
    '2026-07-10T14:33:53Z stderr F \tfailed to run nft: JSON support not compiled-in',
    '2026-07-10T14:33:53Z stderr F  > ipFamily="IPv4" containerName="cluster-ips" containerType="set"',
    '2026-07-10T14:33:54Z stderr F I0710 14:33:54.000000       1 proxier.go:1211] "Sync failed" retryingTime="30s"',
  ];
  const { records } = assemble(`${lines.join('\n')}\n`);
  t.equal(records.length, 2);
  t.equal(records[0]!.message, 'E0710 14:33:53.863126       1 proxier.go:994] "Failed to list nftables elements" err=<\n\tfailed to run nft: JSON support not compiled-in\n > ipFamily="IPv4" containerName="cluster-ips" containerType="set"');
  t.same([records[0]!.line, records[1]!.line], [1, 4]);
});

t.test('a block without its closing line ends at the next header line', async (t) => {
  const { records } = assemble('E1 x err=<\n\tcause\nI2 next\n');
  t.same(records.map((r) => r.message), ['E1 x err=<\n\tcause', 'I2 next']);
});

t.test('a block is handed out after maxBlockLines lines', async (t) => {
  const { records } = assemble(`H err=<\n${'\tx\n'.repeat(10)}`, { maxRecordChars: 10_000, maxBlockLines: 4 });
  t.equal(records[0]!.message.split('\n').length, 4);
});

t.test('caps a joined record at maxRecordChars and marks it truncated', async (t) => {
  const text = `${'2024-01-01T00:00:00Z stderr P 0123456789\n'.repeat(5)}2024-01-01T00:00:00Z stderr F end\n`;
  const { records } = assemble(text, { maxRecordChars: 25, maxBlockLines: 64 });
  t.same([records[0]!.message.length, records[0]!.truncated], [25, true]);
});
