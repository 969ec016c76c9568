/**
 * The chain store the parser fills: rule texts and line numbers kept as printed, full structure built
 * on first access. Reading 400k rules into objects costs seconds and gigabytes; most checks need a
 * few facts of each rule, which {@link ruleFacts} reads from the text without tokenizing it.
 */
import { agentError } from '../errors.ts';
import { buildRule, RuleSyntaxError } from './rule.ts';
import { tokenizeLine } from './tokenize.ts';
import type { Chain, Counters, Rule } from './types.ts';

const COUNTERS_RE = /^\[(\d+):(\d+)\] /;

/** A chain whose rules are parsed lazily. */
export class LazyChain implements Chain {
  readonly name: string;
  readonly policy: string | undefined;
  readonly counters: Counters | undefined;
  readonly line: number;
  readonly texts: string[] = [];
  readonly lineNumbers: number[] = [];
  readonly source: string;
  #rules: Rule[] | undefined;

  constructor(name: string, policy: string | undefined, counters: Counters | undefined, line: number, source: string) {
    this.name = name;
    this.policy = policy;
    this.counters = counters;
    this.line = line;
    this.source = source;
  }

  /** Appends (or, with `at`, inserts) a rule's text. */
  add(text: string, lineNo: number, at?: number): void {
    if (at === undefined) {
      this.texts.push(text);
      this.lineNumbers.push(lineNo);
    } else {
      this.texts.splice(at, 0, text);
      this.lineNumbers.splice(at, 0, lineNo);
    }
    this.#rules = undefined;
  }

  /** Removes every rule (restore input's re-declaration or `-F`). */
  flush(): void {
    this.texts.length = 0;
    this.lineNumbers.length = 0;
    this.#rules = undefined;
  }

  get rules(): readonly Rule[] {
    this.#rules ??= this.texts.map((text, i) => parseRuleText(this.name, text, this.lineNumbers[i] ?? 0, this.source));
    return this.#rules;
  }
}

/** Parses one rule's text into structure; throws DPS_ERR_RULES_SYNTAX with `source:line`. */
export function parseRuleText(chain: string, text: string, lineNo: number, source: string): Rule {
  let body = text;
  let counters: Counters | undefined;
  if (text.charCodeAt(0) === 91 /* [ */) {
    const m = COUNTERS_RE.exec(text);
    if (m !== null) {
      counters = { packets: Number(m[1]), bytes: Number(m[2]) };
      body = text.slice(m[0].length);
    }
  }
  const tokens = tokenizeLine(body);
  const where = `${source}:${lineNo}`;
  if (tokens === undefined) throw agentError('DPS_ERR_RULES_SYNTAX', `Unterminated quote in "${preview(body)}"`, { where });
  let start = 2;
  if (tokens.tokens[0] === '-I') start = tokens.tokens[2] !== undefined && /^\d+$/.test(tokens.tokens[2]) ? 3 : 2;
  try {
    return buildRule(chain, lineNo, tokens.tokens, start, tokens.quoted, counters);
  } catch (error) {
    if (error instanceof RuleSyntaxError) throw agentError('DPS_ERR_RULES_SYNTAX', `Cannot read rule: ${error.message} in "${preview(body)}"`, { where });
    throw error;
  }
}

/** A line shortened and made printable for messages. */
export function preview(line: string): string {
  const shown = line.length > 80 ? `${line.slice(0, 77)}...` : line;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
