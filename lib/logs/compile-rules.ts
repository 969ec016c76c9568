/**
 * Turns rule data (built-ins plus the user's rules) into compiled regular expressions, once, at
 * startup. A bad rule is a coded startup error that names the rule; nothing is compiled later.
 */
import { agentError } from '../errors.ts';
import { SEVERITIES } from './types.ts';
import type { RuleData, Severity } from './types.ts';

/** A rule ready to test lines with. */
export interface CompiledRule {
  readonly id: string;
  readonly class: string;
  readonly severity: Severity;
  readonly components: readonly string[];
  readonly regex: RegExp;
  readonly unless: RegExp | undefined;
}

/** Compiled rules, in precedence order, with a per-component view built on first use. */
export interface RuleSet {
  /** All enabled rules in precedence order. */
  readonly rules: readonly CompiledRule[];
  /** The rules that apply to a component (those scoped to it or to `*`), in precedence order. */
  forComponent(component: string): readonly CompiledRule[];
}

/**
 * Merges user rules into the built-ins and compiles them. A user rule whose id equals a built-in
 * overrides the fields it sets, in place (so it keeps the built-in's precedence); `enabled: false`
 * switches a rule off; a rule with a new id is appended after the built-ins, in file order.
 */
export function compileRules(builtin: readonly RuleData[], user: readonly unknown[] = []): RuleSet {
  const merged: RuleData[] = builtin.map((rule) => ({ ...rule }));
  user.forEach((raw, index) => {
    const id = isRecord(raw) ? raw.id : undefined;
    const at = merged.findIndex((r) => r.id === id);
    const rule = validateRuleData(raw, `rules[${index}]`, at >= 0);
    if (at >= 0) merged[at] = { ...merged[at], ...rule };
    else merged.push(rule);
  });
  const rules = merged.filter((r) => r.enabled !== false).map((r) => compileRule(r));
  return makeRuleSet(rules);
}

function makeRuleSet(rules: readonly CompiledRule[]): RuleSet {
  const byComponent = new Map<string, readonly CompiledRule[]>();
  return {
    rules,
    forComponent(component) {
      let list = byComponent.get(component);
      if (list === undefined) {
        list = rules.filter((r) => r.components.includes('*') || r.components.includes(component));
        byComponent.set(component, list);
      }
      return list;
    },
  };
}

const FLAGS = /^[imsu]*$/;

function compileRule(rule: RuleData): CompiledRule {
  const where = `rule "${rule.id}"`;
  const flags = rule.flags ?? '';
  if (!FLAGS.test(flags)) {
    throw agentError('DPS_ERR_LOGS_RULE_INVALID', `Rule "${rule.id}": expected flags made of i, m, s, u, got "${flags}".`, { where });
  }
  return Object.freeze({
    id: rule.id,
    class: rule.class,
    severity: rule.severity,
    components: Object.freeze([...rule.components]),
    regex: compilePattern(rule.id, 'pattern', rule.pattern, flags),
    unless: rule.unless === undefined ? undefined : compilePattern(rule.id, 'unless', rule.unless, flags),
  });
}

function compilePattern(id: string, field: string, source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw agentError('DPS_ERR_LOGS_RULE_INVALID',
      `Rule "${id}": ${field} /${source}/ is not a valid regular expression (${(error as Error).message}).`,
      { where: `rule "${id}"`, cause: error });
  }
}

/** Checks one user rule's shape; a partial rule is allowed when it overrides a built-in by id. */
function validateRuleData(raw: unknown, where: string, overridesBuiltin: boolean): RuleData {
  const fail = (what: string): never => {
    const id = isRecord(raw) && typeof raw.id === 'string' ? `"${raw.id}"` : where;
    throw agentError('DPS_ERR_LOGS_RULE_INVALID', `Rule ${id} (${where}): ${what}.`, { where: `rule ${id}` });
  };
  if (!isRecord(raw)) return fail('expected an object with id, class, severity, components and pattern');
  if (typeof raw.id !== 'string' || raw.id === '') return fail('expected a non-empty string `id`');
  if (raw.pattern !== undefined && typeof raw.pattern !== 'string') return fail('expected `pattern` to be a string');
  if (raw.class !== undefined && (typeof raw.class !== 'string' || raw.class === '')) return fail('expected `class` to be a non-empty string');
  if (raw.severity !== undefined && !SEVERITIES.includes(raw.severity as Severity)) {
    return fail(`expected \`severity\` to be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(raw.severity)}`);
  }
  if (raw.components !== undefined && (!Array.isArray(raw.components) || raw.components.length === 0
    || !raw.components.every((c) => typeof c === 'string' && c !== ''))) {
    return fail('expected `components` to be a non-empty list of component names (or ["*"])');
  }
  for (const key of ['flags', 'unless', 'description'] as const) {
    if (raw[key] !== undefined && typeof raw[key] !== 'string') return fail(`expected \`${key}\` to be a string`);
  }
  if (raw.enabled !== undefined && typeof raw.enabled !== 'boolean') return fail('expected `enabled` to be true or false');
  if (!overridesBuiltin && (raw.pattern === undefined || raw.class === undefined || raw.severity === undefined || raw.components === undefined)) {
    return fail('no built-in rule has this id, so it needs `pattern`, `class`, `severity` and `components`');
  }
  return raw as unknown as RuleData;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
