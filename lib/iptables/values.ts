/**
 * Value-level comparison of what iptables-save rewrites: addresses (`/32` added, masks, IPv6
 * compression, leading zeros), marks (`0x00004000` vs `0x4000`, `--or-mark` vs `--set-xmark`), and
 * probabilities (11 printed decimals). Pure.
 */

/** An address or network in canonical form. */
export interface Cidr {
  readonly family: 4 | 6;
  /** Canonical address text (`10.0.0.1`, `fd00::1`). */
  readonly ip: string;
  readonly prefix: number;
}

/** Parses an IPv4 address "sloppily" as kube-proxy does (leading zeros read as decimal). */
export function parseIPv4(text: string): number[] | undefined {
  // hand-rolled: this runs for every endpoint address
  const out: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 46 : text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || value > 255 || out.length === 4) return undefined;
      out.push(value);
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else {
      return undefined;
    }
  }
  return out.length === 4 ? out : undefined;
}

/** Parses an IPv6 address into 8 16-bit groups (IPv4-suffixed forms included). */
export function parseIPv6(text: string): number[] | undefined {
  if (text.length === 0 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    // an IPv4 suffix (::ffff:10.0.0.1): rewrite it as two hex groups
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const hi = ((v4[0] as number) * 256 + (v4[1] as number)).toString(16);
    const lo = ((v4[2] as number) * 256 + (v4[3] as number)).toString(16);
    body = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  if (head === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const rest = groups(halves[1] ?? '');
  if (rest === undefined) return undefined;
  const fill = 8 - head.length - rest.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...rest];
}

/** RFC 5952 text of 8 groups: lower case, longest run of zero groups (≥ 2) as `::`. */
export function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** True when `text` is a dotted quad as canonicalIP prints it: 0-255, no leading zeros. */
export function isCanonicalIPv4(text: string): boolean {
  let octets = 0;
  let value = 0;
  let digits = 0;
  let first = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 46 /* . */ : text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255 || (digits > 1 && first === 48) || ++octets > 4) return false;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      if (digits === 0) first = c;
      value = value * 10 + c - 48;
      digits++;
    } else {
      return false;
    }
  }
  return octets === 4;
}

/** Canonical text of an IP address (either family), or undefined when it is not one. */
export function canonicalIP(text: string): string | undefined {
  if (isCanonicalIPv4(text)) return text; // the common case (100k endpoint addresses): no array, no join
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return v4.join('.');
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : formatIPv6(v6);
}

/** The family of an IP address text, or undefined. */
export function ipFamily(text: string): 4 | 6 | undefined {
  if (isCanonicalIPv4(text) || parseIPv4(text) !== undefined) return 4;
  if (parseIPv6(text) !== undefined) return 6;
  return undefined;
}

/** Parses `addr`, `addr/prefix` or `addr/dotted-mask` into a canonical CIDR (host bits kept as written). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addr);
  if (v4 !== undefined) {
    let prefix = 32;
    if (slash !== -1) {
      const m = text.slice(slash + 1);
      if (/^\d{1,3}$/.test(m) && Number(m) <= 32) prefix = Number(m); // sloppy, like kube-proxy: "025"

      else {
        const mask = parseIPv4(m);
        if (mask === undefined) return undefined;
        const bits = mask.map((b) => b.toString(2).padStart(8, '0')).join('');
        if (!/^1*0*$/.test(bits)) return undefined;
        prefix = bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
      }
    }
    return { family: 4, ip: v4.join('.'), prefix };
  }
  const v6 = parseIPv6(addr);
  if (v6 === undefined) return undefined;
  let prefix = 128;
  if (slash !== -1) {
    const m = text.slice(slash + 1);
    if (!/^\d{1,4}$/.test(m) || Number(m) > 128) return undefined;
    prefix = Number(m);
  }
  return { family: 6, ip: formatIPv6(v6), prefix };
}

/** Canonical `ip/prefix` text of an address or network, or undefined. */
export function canonicalCidr(text: string): string | undefined {
  const c = parseCidr(text);
  return c === undefined ? undefined : `${c.ip}/${c.prefix}`;
}

/** True when `cidr` (canonical or not) contains the address `ip`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  if (c === undefined) return false;
  const bitsOf = (text: string): string | undefined => {
    const v4 = parseIPv4(text);
    if (v4 !== undefined) return v4.map((b) => b.toString(2).padStart(8, '0')).join('');
    const v6 = parseIPv6(text);
    return v6?.map((g) => g.toString(2).padStart(16, '0')).join('');
  };
  const a = bitsOf(c.ip);
  const b = bitsOf(ip);
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.slice(0, c.prefix) === b.slice(0, c.prefix);
}

/** A netfilter mark with mask, as numbers. */
export interface Mark {
  readonly value: number;
  readonly mask: number;
}

/** Parses `0x4000`, `0x00004000/0x4000`, `16384` into {value, mask}; a missing mask is all ones. */
export function parseMark(text: string): Mark | undefined {
  const [v, m] = text.split('/');
  const num = (s: string | undefined): number | undefined => {
    if (s === undefined || !/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) return undefined;
    return Number(s) >>> 0;
  };
  const value = num(v);
  if (value === undefined) return undefined;
  const mask = m === undefined ? 0xffffffff : num(m);
  if (mask === undefined) return undefined;
  return { value, mask };
}

/** Parses a `--probability` value; undefined unless it is a number in [0, 1]. */
export function parseProbability(text: string): number | undefined {
  if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The tolerance for comparing probabilities: kube-proxy prints 10 decimals and the kernel stores a
 * 32-bit fixed-point value (iptables-save prints it back with 11), an error below 1e-9 per rule.
 */
export const PROBABILITY_TOLERANCE = 1e-6;
