import t from 'tap';
import { payloadTime } from '../../../lib/logs/payload-time.ts';

t.test('reads the time each payload format carries, as RFC 3339', async (t) => {
  const cases: [string, string, string | undefined][] = [
    ['Calico', '2024-03-22 20:01:54.493 [INFO][1] x', '2024-03-22T20:01:54.493Z'],
    ['Multus / old AWS CNI', '2022-09-28T15:09:38Z [error] Multus: x', '2022-09-28T15:09:38Z'],
    ['svlogd (BIRD files)', '2016-06-15_07:13:11.99522 bird: x', '2016-06-15T07:13:11.99522Z'],
    ['node-cache startup', '2022/08/17 10:55:04 [INFO] x', '2022-08-17T10:55:04Z'],
    ['logrus', 'time="2024-05-13T08:17:17.696520957Z" level=info msg="x"', '2024-05-13T08:17:17.696520957Z'],
    ['zap JSON', '{"level":"info","ts":"2025-12-08T08:50:58.725Z","msg":"x"}', '2025-12-08T08:50:58.725Z'],
    ['klog JSON (float ms)', '{"ts":1616398324656.7979,"msg":"x","v":1}', '2021-03-22T07:32:04.656Z'],
    ['klog text has no year', 'I0809 06:14:37.485205       1 proxier.go:779] x', undefined],
    ['BIRD on stdout has no time', 'bird: Mesh_1: State changed to up', undefined],
  ];
  for (const [name, line, want] of cases) t.equal(payloadTime(line), want, name);
});
