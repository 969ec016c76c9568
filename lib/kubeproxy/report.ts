/** Renders a {@link NodeCheckResult} as the `check` command's text report or JSON document. Pure. */
import type { NodeCheckResult } from './check-node.ts';
import type { Finding } from './findings.ts';
import type { InputProblem } from './cluster.ts';

/** The JSON document of `check --format json` (a contract: extend, never rename). */
export function toJsonReport(result: NodeCheckResult, node: string, skipped: readonly InputProblem[]): string {
  const doc = {
    verdict: result.verdict,
    node,
    findings: result.findings.map((f) => ({
      kind: f.kind, service: f.service ?? null, port: f.port ?? null, protocol: f.protocol ?? null,
      endpoint: f.endpoint ?? null, chain: f.chain ?? null, message: f.message, severity: f.severity, family: f.family,
    })),
    stats: { ...result.stats, skipped },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The readable report: a summary line, then findings grouped by service. */
export function toTextReport(result: NodeCheckResult, node: string, skipped: readonly InputProblem[]): string {
  const s = result.stats;
  const errors = result.findings.filter((f) => f.severity === 'error');
  const warnings = result.findings.length - errors.length;
  const services = new Set(errors.map((f) => f.service ?? '(node)'));
  const families = s.families.map((f) => `${f} (${s.backends[f] ?? 'unknown'} backend)`).join(', ');
  const lines: string[] = [];
  const head = result.verdict === 'in-sync'
    ? `IN SYNC: ${s.servicePorts} service ports and ${s.expectedEndpoints} endpoints checked`
    : `DRIFT: ${errors.length} finding${errors.length === 1 ? '' : 's'} in ${services.size} service${services.size === 1 ? '' : 's'} (${s.servicePorts} service ports, ${s.expectedEndpoints} endpoints checked)`;
  lines.push(`node ${node}, ${families}: ${head}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}`);
  if (!s.nodeKnown) lines.push(`  note: no Node object for ${node} in the cluster input; topology hints are matched against every zone`);
  if (s.ignoredServices > 0) lines.push(`  note: ${s.ignoredServices} services ignored as kube-proxy ignores them (headless, ExternalName, other proxy)`);
  for (const p of skipped) lines.push(`  skipped: ${p.where}: ${p.object}: ${p.reason}`);
  const groups = new Map<string, Finding[]>();
  for (const f of result.findings) {
    const key = f.service ?? '(node)';
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [f]);
    else list.push(f);
  }
  const keys = [...groups.keys()].sort((a, b) => (a === '(node)' ? -1 : b === '(node)' ? 1 : a.localeCompare(b)));
  for (const key of keys) {
    lines.push('', key);
    for (const f of groups.get(key) ?? []) {
      const where = [f.port === undefined ? undefined : `port ${f.port}/${f.protocol ?? '?'}`, f.endpoint === undefined ? undefined : `endpoint ${f.endpoint}`, f.chain, f.family === 'IPv6' ? 'IPv6' : undefined]
        .filter((x) => x !== undefined).join('  ');
      lines.push(`  ${f.severity === 'warning' ? 'warning: ' : ''}${f.kind}  ${where}`);
      lines.push(`      ${f.message}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
