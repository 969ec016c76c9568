/**
 * Splits one iptables-save line into tokens the way iptables-restore does: whitespace separates,
 * double (or single) quotes group, and a backslash inside quotes escapes the next character
 * (`--comment "say \"hi\""`). Pure.
 */

/** Tokens of a line; `quoted[i]` is true when token i was written in quotes (so `"-x"` is a value). */
export interface Tokens {
  readonly tokens: string[];
  readonly quoted: readonly boolean[] | undefined;
}

const EMPTY: readonly boolean[] = [];

/** Tokenizes a line; returns undefined for an unterminated quote. */
export function tokenizeLine(line: string): Tokens | undefined {
  // Fast path: most lines have no quotes or escapes, and split() is native.
  if (line.indexOf('"') === -1 && line.indexOf("'") === -1 && line.indexOf('\\') === -1) {
    const parts = line.split(' ');
    let tokens = parts;
    if (parts.includes('') || line.indexOf('\t') !== -1) tokens = line.split(/[ \t]+/).filter((s) => s !== '');
    return { tokens, quoted: undefined };
  }
  // Quotes without escapes (every kube-proxy comment): split at the quotes, then at spaces outside them.
  if (line.indexOf('\\') === -1 && line.indexOf("'") === -1 && line.indexOf('\t') === -1) {
    const parts = line.split('"');
    if (parts.length % 2 === 0) return undefined;
    const tokens: string[] = [];
    const quoted: boolean[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (i % 2 === 1) {
        // a quoted token must stand alone (`"a b"`), not glued to text (`x"a b"`)
        if (!(parts[i - 1] ?? '').endsWith(' ')) return tokenizeQuoted(line);
        tokens.push(part);
        quoted.push(true);
        continue;
      }
      for (const tok of part.split(' ')) {
        if (tok === '') continue;
        tokens.push(tok);
        quoted.push(false);
      }
    }
    return { tokens, quoted };
  }
  return tokenizeQuoted(line);
}

function tokenizeQuoted(line: string): Tokens | undefined {
  const tokens: string[] = [];
  const quoted: boolean[] = [];
  let current = '';
  let inToken = false;
  let wasQuoted = false;
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote !== '') {
      if (ch === '\\' && i + 1 < line.length) {
        current += line[++i];
      } else if (ch === quote) {
        quote = '';
      } else {
        current += ch;
      }
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      if (inToken) {
        tokens.push(current);
        quoted.push(wasQuoted);
        current = '';
        inToken = false;
        wasQuoted = false;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
      wasQuoted = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
      inToken = true;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote !== '') return undefined;
  if (inToken) {
    tokens.push(current);
    quoted.push(wasQuoted);
  }
  return { tokens, quoted: quoted.length === 0 ? EMPTY : quoted };
}

/**
 * End of the token at `at` in `text` (the next space, or the text's end), when the token has no
 * quote or backslash, which only {@link tokenizeLine} reads; else -1. For fast readers of one rule shape.
 */
export function plainTokenEnd(text: string, at: number): number {
  const n = text.length;
  for (let i = at; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) return i;
    if (c === 34 || c === 39 || c === 92) return -1;
  }
  return n;
}

/** True when text[from, to) has a quote or a backslash (a span only {@link tokenizeLine} reads right). */
export function hasQuoteOrBackslash(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 || c === 39 || c === 92) return true;
  }
  return false;
}
