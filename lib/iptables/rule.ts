/**
 * Builds a structured {@link Rule} from the tokens of a `-A CHAIN ...` line. Pure. iptables-save prints
 * rules in a canonical order (`-s -d -i -o -p -f`, then `-m` modules in the order given, then the target),
 * but restore input may order base matches freely, so any order is accepted.
 */
import type { BaseMatch, Counters, Rule, RuleMatch, RuleOption } from './types.ts';

/** Why a rule could not be read; the parser adds the file and line. */
export class RuleSyntaxError extends Error {}

const BASE: Record<string, 'source' | 'destination' | 'protocol' | 'inInterface' | 'outInterface' | 'fragment'> = {
  '-s': 'source', '--source': 'source', '--src': 'source',
  '-d': 'destination', '--destination': 'destination', '--dst': 'destination',
  '-p': 'protocol', '--protocol': 'protocol',
  '-i': 'inInterface', '--in-interface': 'inInterface',
  '-o': 'outInterface', '--out-interface': 'outInterface',
  '-f': 'fragment', '--fragment': 'fragment',
};

interface MutableRule {
  source: BaseMatch | undefined;
  destination: BaseMatch | undefined;
  protocol: BaseMatch | undefined;
  inInterface: BaseMatch | undefined;
  outInterface: BaseMatch | undefined;
  fragment: BaseMatch | undefined;
}

/**
 * Parses `tokens[start..]` (after `-A CHAIN`) into a rule. `quoted` marks tokens written in quotes,
 * which are always values, never option names.
 */
export function buildRule(
  chain: string, line: number, tokens: readonly string[], start: number,
  quoted: readonly boolean[] | undefined, counters: Counters | undefined,
): Rule {
  const base: MutableRule = {
    source: undefined, destination: undefined, protocol: undefined,
    inInterface: undefined, outInterface: undefined, fragment: undefined,
  };
  const matches: RuleMatch[] = [];
  let options: RuleOption[] | undefined; // options of the current -m module or target
  let target: string | undefined;
  let goto = false;
  let targetOptions: RuleOption[] = [];
  let comment: string | undefined;
  let ruleCounters = counters;
  let negate = false;
  const n = tokens.length;
  const isName = (i: number): boolean => {
    const t = tokens[i] as string;
    return t.length > 1 && t.charCodeAt(0) === 45 /* - */ && (quoted === undefined || quoted[i] !== true);
  };

  let i = start;
  while (i < n) {
    const tok = tokens[i] as string;
    if (tok === '!' && (quoted === undefined || quoted[i] !== true)) {
      negate = true;
      i++;
      continue;
    }
    if (!isName(i)) throw new RuleSyntaxError(`unexpected "${tok}"`);
    const baseKey = BASE[tok];
    if (baseKey !== undefined && (tok.length === 2 || target === undefined)) {
      if (baseKey === 'fragment') {
        base.fragment = { negated: negate, value: '' };
        i++;
      } else {
        const value = tokens[i + 1];
        if (value === undefined) throw new RuleSyntaxError(`${tok} needs a value`);
        base[baseKey] = { negated: negate, value };
        i += 2;
      }
      negate = false;
      continue;
    }
    if (tok === '-m' || tok === '--match') {
      const module = tokens[i + 1];
      if (module === undefined) throw new RuleSyntaxError(`${tok} needs a module name`);
      options = [];
      matches.push({ module, options });
      i += 2;
      negate = false;
      continue;
    }
    if (tok === '-j' || tok === '--jump' || tok === '-g' || tok === '--goto') {
      const name = tokens[i + 1];
      if (name === undefined) throw new RuleSyntaxError(`${tok} needs a target`);
      if (target !== undefined) throw new RuleSyntaxError('more than one target');
      target = name;
      goto = tok === '-g' || tok === '--goto';
      targetOptions = [];
      options = targetOptions;
      i += 2;
      negate = false;
      continue;
    }
    if (tok === '-c' || tok === '--set-counters') {
      const p = tokens[i + 1];
      const b = tokens[i + 2];
      if (p === undefined || b === undefined || !/^\d+$/.test(p) || !/^\d+$/.test(b)) {
        throw new RuleSyntaxError(`${tok} needs two numbers`);
      }
      ruleCounters = { packets: Number(p), bytes: Number(b) };
      i += 3;
      continue;
    }
    if (options === undefined) {
      // An option before any -m module: an unknown short/long base option. Keep it as a pseudo-module.
      options = [];
      matches.push({ module: '', options });
    }
    // --name [values...]: values run until the next option name or `!`.
    const name = tok.startsWith('--') ? tok.slice(2) : tok.slice(1);
    let j = i + 1;
    while (j < n && !isName(j) && !(tokens[j] === '!' && (quoted === undefined || quoted[j] !== true))) j++;
    const values = j === i + 1 ? EMPTY : tokens.slice(i + 1, j);
    options.push({ name, negated: negate, values });
    if (comment === undefined && name === 'comment' && matches.length > 0 && matches[matches.length - 1]?.module === 'comment') {
      comment = values.join(' ');
    }
    negate = false;
    i = j;
  }
  if (negate) throw new RuleSyntaxError('"!" at the end of the rule');
  return {
    chain, line, ...base, matches, target, goto, targetOptions, comment, counters: ruleCounters,
  };
}

const EMPTY: readonly string[] = Object.freeze([]);

/** The first option `name` of module `module` (e.g. `tcp`/`dport`), or undefined. */
export function matchOption(rule: Rule, module: string, name: string): RuleOption | undefined {
  for (const m of rule.matches) {
    if (m.module !== module) continue;
    for (const o of m.options) if (o.name === name) return o;
  }
  return undefined;
}

/** The first target option `name`, or undefined. */
export function targetOption(rule: Rule, name: string): RuleOption | undefined {
  for (const o of rule.targetOptions) if (o.name === name) return o;
  return undefined;
}
