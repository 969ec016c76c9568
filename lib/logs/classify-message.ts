/** Pure: the first rule (in precedence order) that matches a message from a component. */
import type { CompiledRule, RuleSet } from './compile-rules.ts';

/** Returns the matching rule, or undefined for a line that means nothing to the dataplane. */
export function classifyMessage(rules: RuleSet, component: string, message: string): CompiledRule | undefined {
  for (const rule of rules.forComponent(component)) {
    if (rule.regex.test(message) && (rule.unless === undefined || !rule.unless.test(message))) return rule;
  }
  return undefined;
}
