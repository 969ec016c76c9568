/**
 * A chain that keeps its rules in a form of its own (a few values per rule) and renders each as an
 * equivalent rule text when asked: what the texts, line numbers and full rule structure of such a
 * chain are, derived from `text(i)` and `lineOf(i)`. A user chain: no policy, no counters. Pure.
 */
import { parseRuleText } from './chain.ts';
import type { Copy } from './bytes.ts';
import type { ParsedChain } from './chain.ts';
import type { Rule } from './types.ts';

export abstract class RenderedChain implements ParsedChain {
  abstract readonly name: string;
  abstract readonly line: number;
  /** True when no rule of the dump has a backslash or a single quote. */
  abstract readonly plain: boolean;
  /** Name of the input, for messages. */
  protected abstract readonly source: string;
  abstract readonly size: number;
  /** The text of rule i (a rule kept as values is rendered without its comment). */
  abstract text(i: number): string;
  abstract lineOf(i: number): number;
  abstract append(bytes: Uint8Array, start: number, end: number, line: number, copy: Copy, text?: string): boolean;
  abstract insert(rule: string, line: number, at: number | undefined): void;
  abstract flush(): void;

  // prototype getters, not fields: many such chains, no words spent on them
  get policy(): undefined {
    return undefined;
  }

  get counters(): undefined {
    return undefined;
  }

  get texts(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.text(i));
  }

  get lineNumbers(): number[] {
    return Array.from({ length: this.size }, (_, i) => this.lineOf(i));
  }

  /** The rules' structure, parsed on each access (few callers ask, and the rules may change under restore input). */
  get rules(): readonly Rule[] {
    return Array.from({ length: this.size }, (_, i) => parseRuleText(this.name, this.text(i), this.lineOf(i), this.source));
  }
}
