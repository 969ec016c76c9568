// What the real binaries print: every scenario's restore data is loaded with iptables-restore in a
// throwaway network namespace and read back with iptables-nft-save and iptables-legacy-save (and the
// ip6tables ones for IPv6), then parsed and checked.
import t from 'tap';
import { parseIptablesSave } from '../../../lib/iptables/parse.ts';
import { checkText, errorsOf } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';
import { netnsUnavailable, roundTrip } from '../../helpers/netns.ts';

const why = netnsUnavailable();
const scenarios = loadScenarios();

t.test('the real iptables binaries', { skip: why }, async (t) => {
  for (const s of scenarios) {
    t.test(s.name, async (t) => {
      const dumps: Record<string, string> = {};
      for (const backend of ['nft', 'legacy'] as const) {
        dumps[backend] = await roundTrip(s.restore, { family: s.family, backend, nfacct: s.nfacct });
        const result = checkText(dumps[backend], s.cluster.items, s.node, s.family);
        t.same(errorsOf(result), [], `the live ${backend} dump checks as in sync`);
      }
      // Both backends print the same rules: same chains and rule counts per table.
      const shape = (text: string) => [...(parseIptablesSave(text, { source: 'x' })[0]?.tables.values() ?? [])]
        .map((tb) => `${tb.name}:${[...tb.chains.values()].map((c) => `${c.name}=${c.rules.length}`).sort().join(',')}`).sort();
      t.same(shape(dumps.nft ?? ''), shape(dumps.legacy ?? ''), 'the nft and legacy dumps have the same structure');
    });
  }
  t.test('a nat table flushed with iptables -t nat -F -X is drift', async (t) => {
    const s = scenarios.find((x) => x.name === 'overall-iptables-rules');
    if (s === undefined) return t.fail('scenario missing');
    const dump = await roundTrip(s.restore, { family: 4, backend: 'legacy', nfacct: s.nfacct, after: 'iptables-legacy -t nat -F; iptables-legacy -t nat -X' });
    const result = checkText(dump, s.cluster.items, s.node);
    t.equal(result.verdict, 'drift');
    t.ok(result.findings.some((f) => f.kind === 'missing-base-rules' && f.chain === 'nat/KUBE-SERVICES'), 'reports the missing nat KUBE-SERVICES chain');
    t.ok(result.findings.some((f) => f.kind === 'missing-canary' && f.chain === 'nat/KUBE-PROXY-CANARY'), 'reports the missing nat canary');
    t.ok(result.findings.some((f) => f.kind === 'missing-service' && f.service === 'ns1/svc1'), 'reports ns1/svc1 as unreachable');
  });
});
