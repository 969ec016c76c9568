// kube-proxy's own test expectations (test/fixtures/kubeproxy, after a real iptables-restore /
// iptables-save round trip) must check as in sync, and every single-point mutation of them must be
// reported with the right kind, service and endpoint.
import t from 'tap';
import type { Test } from 'tap';
import { parseIptablesSave } from '../../../lib/iptables/parse.ts';
import type { Ruleset } from '../../../lib/iptables/types.ts';
import { targetOption } from '../../../lib/iptables/rule.ts';
import { commentServicePort } from '../../../lib/kubeproxy/actual.ts';
import { canonicalEndpoint } from '../../../lib/kubeproxy/chain-view.ts';
import { checkText, errorsOf } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';
import type { Scenario } from '../../helpers/fixtures.ts';

const scenarios = loadScenarios();
const MAX_PER_KIND = 3;

const serviceOf = (servicePort: string | undefined): string => (servicePort ?? '').split(':')[0] ?? '';
const dropLines = (text: string, lines: ReadonlySet<number>): string => text.split('\n').filter((_, i) => !lines.has(i + 1)).join('\n');
const editLine = (text: string, line: number, edit: (l: string) => string): string => text.split('\n').map((l, i) => (i + 1 === line ? edit(l) : l)).join('\n');

function natOf(text: string): Ruleset {
  return parseIptablesSave(text, { source: 'fixture' })[0] as Ruleset;
}

/** Endpoint chains of a dump with their DNAT target and service. */
function endpointChains(text: string): { chain: string; endpoint: string; service: string }[] {
  const nat = natOf(text).tables.get('nat');
  const out: { chain: string; endpoint: string; service: string }[] = [];
  for (const chain of nat?.chains.values() ?? []) {
    if (!chain.name.startsWith('KUBE-SEP-')) continue;
    const dnat = chain.rules.find((r) => r.target === 'DNAT');
    const to = dnat === undefined ? undefined : targetOption(dnat, 'to-destination')?.values[0];
    if (dnat === undefined || to === undefined) continue;
    out.push({ chain: chain.name, endpoint: canonicalEndpoint(to), service: serviceOf(commentServicePort(dnat.comment)) });
  }
  return out;
}

function expectFinding(t: Test, s: Scenario, rules: string, items: unknown[], want: { kind: string; service?: string; endpoint?: string }, what: string): void {
  const result = checkText(rules, items, s.node, s.family);
  const hit = result.findings.find((f) => f.kind === want.kind && (want.service === undefined || f.service === want.service) &&
    (want.endpoint === undefined || f.endpoint === want.endpoint));
  t.ok(hit !== undefined, `${what}: reports ${want.kind}${want.service === undefined ? '' : ` for ${want.service}`}${want.endpoint === undefined ? '' : ` endpoint ${want.endpoint}`}`, {
    findings: result.findings.map((f) => `${f.kind} ${f.service ?? '-'} ${f.endpoint ?? '-'} ${f.chain ?? '-'}`),
  });
  t.equal(result.verdict, 'drift', `${what}: verdict is drift`);
}

for (const s of scenarios) {
  t.test(s.name, async (t) => {
    for (const backend of ['nft', 'legacy'] as const) {
      const result = checkText(s[backend], s.cluster.items, s.node, s.family);
      t.same(errorsOf(result), [], `the ${backend} dump checks as in sync`);
      t.equal(result.verdict, 'in-sync', `the ${backend} dump's verdict is in-sync`);
    }
    const base = s.legacy;
    const items = s.cluster.items;
    const parsed = natOf(base);
    const nat = parsed.tables.get('nat');
    const filter = parsed.tables.get('filter');

    // a deleted KUBE-SEP chain (and every jump to it)
    for (const ep of endpointChains(base).slice(0, MAX_PER_KIND)) {
      const lines = new Set<number>();
      for (const chain of nat?.chains.values() ?? []) {
        if (chain.name === ep.chain) lines.add(chain.line);
        for (const r of chain.rules) if (r.chain === ep.chain || r.target === ep.chain) lines.add(r.line);
      }
      expectFinding(t, s, dropLines(base, lines), items, { kind: 'missing-endpoint', service: ep.service, endpoint: ep.endpoint }, `deleting ${ep.chain}`);
    }
    // a changed DNAT
    for (const ep of endpointChains(base).slice(0, MAX_PER_KIND)) {
      const rule = nat?.chains.get(ep.chain)?.rules.find((r) => r.target === 'DNAT');
      if (rule === undefined) continue;
      const mutated = editLine(base, rule.line, (l) => l.replace(/(--to-destination \S+:)\d+/, '$19999'));
      expectFinding(t, s, mutated, items, { kind: 'wrong-endpoint-target', service: ep.service, endpoint: ep.endpoint }, `changing the DNAT of ${ep.chain}`);
    }
    // a removed KUBE-SERVICES jump for a ClusterIP
    for (const rule of (nat?.chains.get('KUBE-SERVICES')?.rules ?? []).filter((r) => r.comment?.endsWith(' cluster IP')).slice(0, MAX_PER_KIND)) {
      expectFinding(t, s, dropLines(base, new Set([rule.line])), items, { kind: 'missing-service', service: serviceOf(commentServicePort(rule.comment)) }, `removing KUBE-SERVICES line ${rule.line}`);
    }
    // an endpoint deleted in the API while the node still sends traffic to it (the CircleCI failure)
    for (const ep of endpointChains(base).slice(0, MAX_PER_KIND)) {
      const ip = ep.endpoint.replace(/^\[/, '').replace(/\]?:\d+$/, '');
      const [ns, name] = ep.service.split('/');
      const mutatedItems = items.map((item) => {
        const meta = item.metadata as { namespace?: string; labels?: Record<string, string> } | undefined;
        if (item.kind !== 'EndpointSlice' || meta === undefined || meta.namespace !== ns || meta.labels?.['kubernetes.io/service-name'] !== name) return item;
        const endpoints = (item.endpoints as { addresses: string[] }[] | undefined) ?? [];
        return { ...item, endpoints: endpoints.filter((e) => !e.addresses.some((a) => a === ip || a.replace(/\b0+(\d)/g, '$1') === ip)) };
      });
      expectFinding(t, s, base, mutatedItems, { kind: 'stale-endpoint', service: ep.service, endpoint: ep.endpoint }, `deleting endpoint ${ep.endpoint} in the API`);
    }
    // a Service deleted in the API while its rules stay
    const captured = (nat?.chains.get('KUBE-SERVICES')?.rules ?? []).map((r) => serviceOf(commentServicePort(r.comment))).filter((x) => x !== '');
    for (const svc of [...new Set(captured)].slice(0, MAX_PER_KIND)) {
      const mutatedItems = items.filter((i) => !(i.kind === 'Service' && `${(i.metadata as { namespace: string }).namespace}/${(i.metadata as { name: string }).name}` === svc));
      expectFinding(t, s, base, mutatedItems, { kind: 'stale-service', service: svc }, `deleting Service ${svc} in the API`);
    }
    // a removed REJECT (service without endpoints)
    for (const chain of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES']) {
      for (const rule of (filter?.chains.get(chain)?.rules ?? []).filter((r) => r.target === 'REJECT' || r.target === 'DROP').slice(0, MAX_PER_KIND)) {
        expectFinding(t, s, dropLines(base, new Set([rule.line])), items, { kind: 'missing-reject', service: serviceOf(commentServicePort(rule.comment)) }, `removing filter ${chain} line ${rule.line}`);
      }
    }
    // a skewed probability
    for (const chain of [...(nat?.chains.values() ?? [])].filter((c) => c.name.startsWith('KUBE-SVC-') || c.name.startsWith('KUBE-SVL-')).slice(0, MAX_PER_KIND)) {
      const rule = chain.rules.find((r) => r.matches.some((m) => m.module === 'statistic'));
      if (rule === undefined) continue;
      const mutated = editLine(base, rule.line, (l) => l.replace(/--probability \S+/, '--probability 0.10000000009'));
      expectFinding(t, s, mutated, items, { kind: 'probability-skew', service: serviceOf(commentServicePort(rule.comment)) }, `skewing ${chain.name}`);
    }
    // a flushed nat table (iptables -t nat -F): rules gone, chains left
    if (nat !== undefined && (nat.chains.get('KUBE-SERVICES')?.rules.length ?? 0) > 0) {
      const lines = new Set<number>();
      for (const c of nat.chains.values()) for (const r of c.rules) lines.add(r.line);
      const flushed = dropLines(base, lines);
      expectFinding(t, s, flushed, items, { kind: 'missing-base-rules' }, 'flushing the nat table');
      for (const rule of (nat.chains.get('KUBE-SERVICES')?.rules ?? []).filter((r) => r.comment?.endsWith(' cluster IP'))) {
        expectFinding(t, s, flushed, items, { kind: 'missing-service', service: serviceOf(commentServicePort(rule.comment)) }, `flushing the nat table (${rule.comment})`);
      }
    }
    // a deleted canary (someone ran iptables -t mangle -F -X)
    const mangle = parsed.tables.get('mangle');
    const canary = mangle?.chains.get('KUBE-PROXY-CANARY');
    if (canary !== undefined) {
      expectFinding(t, s, dropLines(base, new Set([canary.line])), items, { kind: 'missing-canary' }, 'deleting the mangle canary');
    }
    // kube-proxy rules in both backends
    expectFinding(t, s, `${s.legacy}${s.nft}`, items, { kind: 'mixed-backends' }, 'concatenating the legacy and nft dumps');
  });
}
