/**
 * A coded error as plain data, to cross a process or thread boundary (structured clone keeps no
 * class), and back: code, message and place survive, the hint comes from the code table again.
 */
import { AgentError, ERROR_CODES, isAgentError } from '../lib/errors.ts';

/** The plain form. */
export interface PlainError {
  code: string;
  message: string;
  where: string | undefined;
}

/** Any thrown value as a plain coded error (not coded: DPS_ERR_INTERNAL). */
export function toPlain(error: unknown): PlainError {
  if (isAgentError(error)) return { code: error.code, message: error.message, where: error.where };
  return { code: 'DPS_ERR_INTERNAL', message: error instanceof Error ? error.message : String(error), where: undefined };
}

/** A coded error from its plain form. */
export function fromPlain(e: PlainError): AgentError {
  const hints: Record<string, string> = ERROR_CODES;
  const code = hints[e.code] !== undefined ? e.code : 'DPS_ERR_INTERNAL';
  return new AgentError(code, e.message, { ...(e.where === undefined ? {} : { where: e.where }), hint: hints[code] });
}
