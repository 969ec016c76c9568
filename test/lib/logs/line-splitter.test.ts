import t from 'tap';
import { LineSplitter } from '../../../lib/logs/line-splitter.ts';

t.test('splits chunks into lines with the byte offset just past each newline', async (t) => {
  const s = new LineSplitter({ maxLineBytes: 100 });
  const a = s.push(Buffer.from('one\ntw'));
  const b = s.push(Buffer.from('o\r\nthree'));
  t.same(a.map((l) => [l.text, l.end]), [['one', 4]]);
  t.same(b.map((l) => [l.text, l.end]), [['two', 9]]);
  t.same(s.flush(), { text: 'three', end: 14, truncated: false, invalid: false });
  t.equal(s.flush(), undefined);
});

t.test('starts counting offsets where reading resumed', async (t) => {
  const s = new LineSplitter({ maxLineBytes: 100, startOffset: 1000 });
  t.equal(s.push(Buffer.from('x\n'))[0]?.end, 1002);
});

t.test('cuts a line longer than the limit, keeps its head, and marks it truncated', async (t) => {
  const s = new LineSplitter({ maxLineBytes: 8 });
  const lines = [...s.push(Buffer.from('0123456789')), ...s.push(Buffer.from('abcdef\nok\n'))];
  t.same(lines.map((l) => [l.text, l.truncated, l.end]), [['01234567', true, 17], ['ok', false, 20]]);
  t.equal(s.pendingBytes, 0);
});

t.test('holds at most the limit in memory for a line without a newline', async (t) => {
  const s = new LineSplitter({ maxLineBytes: 1024 });
  for (let i = 0; i < 100; i++) s.push(Buffer.alloc(1024 * 1024, 97));
  t.ok(s.pendingBytes <= 1024);
  t.equal(s.flush()?.truncated, true);
});

t.test('marks invalid UTF-8 and NUL bytes as invalid, decoding what it can', async (t) => {
  const s = new LineSplitter({ maxLineBytes: 100 });
  const [bad, nul, good] = s.push(Buffer.concat([Buffer.from([0x66, 0xff, 0xfe, 0x0a]), Buffer.from('a\u0000b\n'), Buffer.from('héllo\n')]));
  t.equal(bad?.invalid, true);
  t.equal(nul?.invalid, true);
  t.same([good?.text, good?.invalid], ['héllo', false]);
});
