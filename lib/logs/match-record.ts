/** Pure: classifies one assembled record into a LogMatch, or undefined when no rule matches. */
import { classifyMessage } from './classify-message.ts';
import type { RuleSet } from './compile-rules.ts';
import { componentOfMessage } from './infer-component.ts';
import { payloadTime } from './payload-time.ts';
import type { LogMatch } from './types.ts';

/**
 * Classifies a record's message. `component` is what the source says (path, unit); when the
 * source says nothing it is undefined and the line's own format decides.
 */
export function matchRecord(
  rules: RuleSet,
  record: { message: string; time: string | undefined },
  component: string | undefined,
): LogMatch | undefined {
  const who = component ?? componentOfMessage(record.message);
  const rule = classifyMessage(rules, who, record.message);
  if (rule === undefined) return undefined;
  return {
    rule: rule.id,
    class: rule.class,
    severity: rule.severity,
    component: who,
    time: record.time ?? payloadTime(record.message),
    message: record.message,
  };
}
