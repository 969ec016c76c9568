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

/**
 * Where the rules of one dump are: offsets into the dump's text and line numbers, for all chains
 * together in typed arrays (a 450k-rule dump would otherwise hold 450k strings and 200k arrays).
 */
export class RuleStore {
  readonly text: string;
  starts: Int32Array = new Int32Array(1024);
  ends: Int32Array = new Int32Array(1024);
  lines: Int32Array = new Int32Array(1024);
  count = 0;

  /** True when the dump has no backslash and no single quote anywhere: fast paths need not look for them. */
  readonly plain: boolean;

  constructor(text: string) {
    this.text = text;
    this.plain = text.indexOf('\\') === -1 && text.indexOf("'") === -1;
  }

  /** Records a rule at text[start, end) on line `line`; returns its index. */
  push(start: number, end: number, line: number): number {
    if (this.count === this.starts.length) {
      const grow = (a: Int32Array): Int32Array => { const b = new Int32Array(a.length * 2); b.set(a); return b; };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      this.lines = grow(this.lines);
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.lines[this.count] = line;
    return this.count++;
  }
}

/** A chain whose rules are kept as places in the text and parsed lazily. */
export class LazyChain implements Chain {
  readonly name: string;
  readonly policy: string | undefined;
  readonly counters: Counters | undefined;
  readonly line: number;
  readonly source: string;
  readonly #store: RuleStore;
  // Rules of a chain are usually consecutive in a dump: [first, first + size) in the store.
  // Otherwise (restore input, -I), an explicit list of store indexes.
  #first = 0;
  #size = 0;
  #list: number[] | undefined;
  #rules: Rule[] | undefined;

  constructor(name: string, policy: string | undefined, counters: Counters | undefined, line: number, source: string, store: RuleStore) {
    this.name = name;
    this.policy = policy;
    this.counters = counters;
    this.line = line;
    this.source = source;
    this.#store = store;
  }

  /** True when no rule of the dump has a backslash or a single quote. */
  get plain(): boolean {
    return this.#store.plain;
  }

  /** Number of rules. */
  get size(): number {
    return this.#list === undefined ? this.#size : this.#list.length;
  }

  /** Appends (or, with `at`, inserts) the rule with store index `index`. */
  add(index: number, at?: number): void {
    this.#rules = undefined;
    if (this.#list === undefined && at === undefined) {
      if (this.#size === 0) { this.#first = index; this.#size = 1; return; }
      if (this.#first + this.#size === index) { this.#size++; return; }
    }
    this.#list ??= Array.from({ length: this.#size }, (_, i) => this.#first + i);
    if (at === undefined) this.#list.push(index);
    else this.#list.splice(at, 0, index);
  }

  /** Removes every rule (restore input's re-declaration or `-F`). */
  flush(): void {
    this.#size = 0;
    this.#list = undefined;
    this.#rules = undefined;
  }

  /** Store index of rule i. */
  #index(i: number): number {
    return this.#list === undefined ? this.#first + i : this.#list[i] as number;
  }

  /** The text of rule i, as printed. */
  text(i: number): string {
    const k = this.#index(i);
    return this.#store.text.slice(this.#store.starts[k], this.#store.ends[k]);
  }

  /** The 1-based line of rule i. */
  lineOf(i: number): number {
    return this.#store.lines[this.#index(i)] as number;
  }

  get texts(): string[] {
    const out = new Array<string>(this.size);
    for (let i = 0; i < out.length; i++) out[i] = this.text(i);
    return out;
  }

  get lineNumbers(): number[] {
    const out = new Array<number>(this.size);
    for (let i = 0; i < out.length; i++) out[i] = this.lineOf(i);
    return out;
  }

  get rules(): readonly Rule[] {
    this.#rules ??= Array.from({ length: this.size }, (_, i) => parseRuleText(this.name, this.text(i), this.lineOf(i), this.source));
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
