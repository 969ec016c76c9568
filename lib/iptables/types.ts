/**
 * The parsed form of an `iptables-save` / `ip6tables-save` dump. Structure, not strings: a rule keeps
 * every token, split into the base matches (`-s`, `-d`, `-p`, `-i`, `-o`, `-f`), the `-m` modules with
 * their options, the target with its options, and counters. Unknown modules and targets are kept as
 * they are.
 */

/** Which iptables backend printed a dump, from its header comment. */
export type Backend = 'nft' | 'legacy' | 'unknown';

/** An option of a match module or target: `[!] --name value...`. */
export interface RuleOption {
  /** The option name without dashes, e.g. `dport`, `comment`, `to-destination`. */
  readonly name: string;
  /** True when written as `! --name ...`. */
  readonly negated: boolean;
  /** The option's values (0 for flags such as `--rsource`). Quoted values are unquoted. */
  readonly values: readonly string[];
}

/** One `-m module` with its options. */
export interface RuleMatch {
  readonly module: string;
  readonly options: readonly RuleOption[];
}

/** A base match such as `-s 10.0.0.1/32` or `! -i eth0`. */
export interface BaseMatch {
  readonly negated: boolean;
  readonly value: string;
}

/** One rule (`-A CHAIN ...`). */
export interface Rule {
  /** The chain the rule is appended to. */
  readonly chain: string;
  /** 1-based line number in the dump. */
  readonly line: number;
  readonly source: BaseMatch | undefined;
  readonly destination: BaseMatch | undefined;
  readonly protocol: BaseMatch | undefined;
  readonly inInterface: BaseMatch | undefined;
  readonly outInterface: BaseMatch | undefined;
  /** `-f` / `! -f`, when present. */
  readonly fragment: BaseMatch | undefined;
  readonly matches: readonly RuleMatch[];
  /** The `-j` target or `-g` chain; undefined for a rule without one (it only counts). */
  readonly target: string | undefined;
  /** True for `-g` (goto) rather than `-j` (jump). */
  readonly goto: boolean;
  readonly targetOptions: readonly RuleOption[];
  /** The first `-m comment --comment` value, for convenience. */
  readonly comment: string | undefined;
  /** `[packets:bytes]` prefix or `-c packets bytes`, when present. */
  readonly counters: Counters | undefined;
}

/** Packet and byte counters (decimal strings can exceed 2^53; kept as numbers, approximate past that). */
export interface Counters {
  readonly packets: number;
  readonly bytes: number;
}

/** A chain declared with `:NAME POLICY [packets:bytes]`. */
export interface Chain {
  readonly name: string;
  /** The policy of a built-in chain (`ACCEPT`, `DROP`), undefined for user chains (`-`). */
  readonly policy: string | undefined;
  readonly counters: Counters | undefined;
  /** 1-based line of the declaration. */
  readonly line: number;
  /**
   * The rules' text as printed (`-A CHAIN ...`, or `[p:b] -A CHAIN ...` with counters), in order.
   * Hot paths read facts from these directly ({@link ruleFacts}); `rules` has the full structure.
   */
  readonly texts: readonly string[];
  /** 1-based line numbers of the rules, parallel to `texts`. */
  readonly lineNumbers: readonly number[];
  /** True when no rule of the dump has a backslash or single quote (lets fast paths skip looking). */
  readonly plain: boolean;
  /** Number of rules (cheaper than `texts.length`). */
  readonly size: number;
  /** The text of rule i (cheaper than `texts[i]`). */
  text(i: number): string;
  /** The line of rule i. */
  lineOf(i: number): number;
  /**
   * The `-j` target of rule i when the chain knows it without its text (compact chains; undefined:
   * read the text). Saves rendering a rule only to find where it jumps.
   */
  knownTarget?(i: number): string | undefined;
  /** The rules, fully structured; parsed on first access (throws DPS_ERR_RULES_SYNTAX naming the line). */
  readonly rules: readonly Rule[];
}

/** A table section `*name ... COMMIT`. */
export interface Table {
  readonly name: string;
  readonly line: number;
  readonly chains: Map<string, Chain>;
}

/** One dump: what a single `iptables-save` run printed. */
export interface Ruleset {
  /** Where it came from (file name, command), used in messages. */
  readonly source: string;
  readonly backend: Backend;
  /** The address family, when the header names the program (`ip6tables-save` → ipv6). */
  readonly family: 'ipv4' | 'ipv6' | undefined;
  /** The header's program name and version, e.g. `iptables-nft-save v1.8.9 (nf_tables)`. */
  readonly generator: string | undefined;
  readonly tables: Map<string, Table>;
  /** Warning comments the tool printed, e.g. `# Warning: iptables-legacy tables present ...`. */
  readonly warnings: readonly string[];
  /** Number of rules in all tables. */
  readonly ruleCount: number;
}
