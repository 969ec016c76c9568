/**
 * The chains the parser fills: each rule kept as its own text (copied out of the dump, so that the
 * dump itself is not retained) with its line number, full structure built on first access. Reading
 * 400k rules into objects costs seconds and gigabytes; most checks need a few facts of each rule,
 * which {@link ruleFacts} reads from the text without tokenizing it.
 *
 * A chain may also be one a caller supplies through {@link ChainFactory} (e.g. a compact form of
 * kube-proxy's service chains), and a table's whole chains map one it supplies through
 * {@link TableChainsFactory} (kube-proxy's endpoint chains as rows): the parser only needs
 * {@link ParsedChain} and {@link ByteChains}.
 */
import { agentError } from '../errors.ts';
import type { Copy } from './bytes.ts';
import { buildRule, RuleSyntaxError } from './rule.ts';
import { tokenizeLine } from './tokenize.ts';
import type { Chain, Counters, Rule } from './types.ts';

const COUNTERS_RE = /^\[(\d+):(\d+)\] /;

/** Facts about the whole dump that chains read after parsing. */
export interface DumpInfo {
  /** Name of the input, for messages. */
  readonly source: string;
  /** True while no rule of the dump has a backslash or a single quote. */
  plain: boolean;
  /** The dump's size in bytes when known beforehand (a file, a command's whole output), to size tables once. */
  readonly sizeHint?: number | undefined;
}


/** What the parser needs of a chain. */
export interface ParsedChain extends Chain {
  /**
   * Appends the rule at bytes[start, end) of the current piece (a line `-A CHAIN ...`), copying
   * what it keeps with `copy` (a string copied out does not retain the piece).
   * Returns true when it read the whole rule (quotes included), false when it kept the text as is.
   * `text`: the piece as latin1 (a character per byte) when it has no backslash, so that a quote
   * ends at the next quote character (found with String#indexOf).
   */
  append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): boolean;
  /** Inserts (`at`) or appends a rule given as a string (`-I`, counters prefix). */
  insert(rule: string, line: number, at: number | undefined): void;
  /** Removes every rule (restore input's re-declaration or `-F`). */
  flush(): void;
}

/**
 * Makes the chain object for a declaration; undefined for the default {@link TextChain}. `chains`
 * is the table's chains so far (iptables-save declares every chain before the first rule).
 */
export type ChainFactory = (
  table: string, name: string, policy: string | undefined, counters: Counters | undefined, line: number, info: DumpInfo,
  chains: ReadonlyMap<string, Chain>,
) => ParsedChain | undefined;

/**
 * A table's chains that keep some chains in a form of their own (e.g. kube-proxy's 100k endpoint
 * chains as columns): the parser offers each declaration and rule line to it, as bytes, before
 * making a chain object. Lookups and iteration still see every chain through the map.
 */
export interface ByteChains extends Map<string, Chain> {
  /** Takes `:NAME - [0:0]` (NAME at bytes[start, end)); false when NAME is not one it keeps. */
  declareAt(bytes: Uint8Array, start: number, end: number, line: number): boolean;
  /** The same for a name as a string (`-N`, a declaration with counters); false when not one it keeps. */
  declare(name: string, line: number): boolean;
  /**
   * Takes the rule line `-A NAME ...` at bytes[start, end) when NAME is a chain it keeps:
   * {@link RULE_READ} (read whole), {@link RULE_KEPT_TEXT} (kept as its text; quotes unchecked)
   * or {@link RULE_NOT_MINE}.
   */
  appendAt(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): number;
}

/** What {@link ByteChains.appendAt} did with a rule line. */
export const RULE_NOT_MINE = 0, RULE_READ = 1, RULE_KEPT_TEXT = 2;

/** Makes the chains map of a table (`*nat`, ...); undefined for a plain map. */
export type TableChainsFactory = (table: string, info: DumpInfo) => ByteChains | undefined;

/** A chain whose rules are kept as texts and parsed lazily. */
export class TextChain implements ParsedChain {
  readonly name: string;
  readonly policy: string | undefined;
  readonly counters: Counters | undefined;
  readonly line: number;
  readonly #info: DumpInfo;
  #texts: string[] = [];
  #lines: number[] = [];
  #rules: Rule[] | undefined;

  constructor(name: string, policy: string | undefined, counters: Counters | undefined, line: number, info: DumpInfo) {
    this.name = name;
    this.policy = policy;
    this.counters = counters;
    this.line = line;
    this.#info = info;
  }

  /** Where the dump came from. */
  get source(): string {
    return this.#info.source;
  }

  /** True when no rule of the dump has a backslash or a single quote. */
  get plain(): boolean {
    return this.#info.plain;
  }

  get size(): number {
    return this.#texts.length;
  }

  append(_bytes: Uint8Array, start: number, end: number, line: number, copy: Copy): boolean {
    this.#rules = undefined;
    this.#texts.push(copy(start, end));
    this.#lines.push(line);
    return false;
  }

  insert(rule: string, line: number, at: number | undefined): void {
    this.#rules = undefined;
    if (at === undefined) {
      this.#texts.push(rule);
      this.#lines.push(line);
    } else {
      this.#texts.splice(at, 0, rule);
      this.#lines.splice(at, 0, line);
    }
  }

  flush(): void {
    this.#texts = [];
    this.#lines = [];
    this.#rules = undefined;
  }

  text(i: number): string {
    return this.#texts[i] as string;
  }

  lineOf(i: number): number {
    return this.#lines[i] as number;
  }

  get texts(): string[] {
    return this.#texts.slice();
  }

  get lineNumbers(): number[] {
    return this.#lines.slice();
  }

  get rules(): readonly Rule[] {
    this.#rules ??= this.#texts.map((t, i) => parseRuleText(this.name, t, this.#lines[i] as number, this.#info.source));
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
