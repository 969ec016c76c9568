import t from 'tap';
import { decodeWrapper } from '../../../lib/logs/decode-wrapper.ts';

t.test('decodes CRI lines as kubelet does', async (t) => {
  const cases: [string, string, Partial<ReturnType<typeof decodeWrapper>>][] = [
    // 9-digit fraction, Z
    ['full record', '2017-09-12T22:32:21.212861448Z stdout F hello world', { message: 'hello world', time: '2017-09-12T22:32:21.212861448Z', partial: false, format: 'cri' }],
    // trailing zeros trimmed and a local offset (kubernetes#… pastes)
    ['short fraction and offset', '2025-08-06T10:38:13.34267452+02:00 stderr F x', { message: 'x', time: '2025-08-06T10:38:13.34267452+02:00' }],
    ['no fraction', '2023-01-19T23:05:26-05:00 stderr F y', { message: 'y', time: '2023-01-19T23:05:26-05:00' }],
    ['partial record', '2023-01-19T23:05:26Z stderr P abc', { message: 'abc', partial: true }],
    // the tag is ':'-separated and forward compatible: only its first element counts
    ['tag with extras', '2023-01-19T23:05:26Z stderr P:x:y abc', { message: 'abc', partial: true }],
    ['empty message', '2023-01-19T23:05:26Z stdout F ', { message: '', partial: false, format: 'cri' }],
    ['a TAB-led continuation line keeps its TAB', '2026-07-10T14:33:53.863247473Z stderr F \tfailed to run nft', { message: '\tfailed to run nft' }],
  ];
  for (const [name, line, want] of cases) t.match(decodeWrapper(line), want, name);
});

t.test('decodes Docker json-file lines; a log without its newline is a partial chunk', async (t) => {
  t.match(decodeWrapper('{"log":"W0105 x\\n","stream":"stderr","time":"2022-01-05T19:44:24.622453484Z"}'),
    { message: 'W0105 x', time: '2022-01-05T19:44:24.622453484Z', partial: false, format: 'docker' });
  t.match(decodeWrapper('{"log":"first 16 KiB","stream":"stderr","time":"2022-01-05T19:44:24Z"}'), { message: 'first 16 KiB', partial: true });
});

t.test('anything else is a plain line, returned whole', async (t) => {
  for (const line of ['I0809 06:14:37.485205       1 proxier.go:779] Sync failed; retrying in 30s', '{"log": broken', '{"log":42}', '2024-10-01 10:00:00.000 [INFO][1] x', '']) {
    t.same(decodeWrapper(line), { message: line, time: undefined, partial: false, format: 'plain' }, JSON.stringify(line));
  }
});
