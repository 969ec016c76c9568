// Seeded random mutations of kube-proxy's own rulesets (every scenario, both backends and the
// restore input): lines deleted, doubled, swapped or moved to another chain, tokens dropped,
// swapped or taken from elsewhere in the dump, digits changed, restore commands (-F, -X, -N, -I,
// -D) inserted, escaped quotes in comments, non-ASCII characters in chain names. Whatever the mutation, the check
// either runs, with the compact chains, the plain texts and the prepared rules agreeing on every
// finding (checkText's oracle), or stops with a coded input error: never a crash, never an
// internal error. A failure names the scenario, the seed and the mutations, to replay it.
import t from 'tap';
import { isAgentError } from '../../../lib/errors.ts';
import { checkText } from '../../helpers/check.ts';
import { loadScenarios } from '../../helpers/fixtures.ts';

// per scenario and dump (36 scenarios x 3 dumps x 12 in the suite); DPS_MUTATIONS=N and
// DPS_MUTATION_SEED=S run more, or others, by hand
const VARIANTS = Number(process.env.DPS_MUTATIONS ?? 12);
const BASE_SEED = Number(process.env.DPS_MUTATION_SEED ?? 20261123);

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}

type Mutation = (lines: string[], pick: (n: number) => number) => string;

const isRule = (l: string): boolean => l.startsWith('-A ');
const ruleAt = (lines: string[], pick: (n: number) => number): number => {
  const rules = lines.flatMap((l, i) => (isRule(l) ? [i] : []));
  return rules.length === 0 ? -1 : rules[pick(rules.length)] as number;
};

const MUTATIONS: Record<string, Mutation> = {
  'delete a line': (lines, pick) => { const i = pick(lines.length); lines.splice(i, 1); return `line ${i + 1}`; },
  'double a line': (lines, pick) => { const i = pick(lines.length); lines.splice(i, 0, lines[i] as string); return `line ${i + 1}`; },
  'swap two neighbouring lines': (lines, pick) => {
    const i = pick(Math.max(1, lines.length - 1));
    [lines[i], lines[i + 1]] = [lines[i + 1] as string, lines[i] as string];
    return `lines ${i + 1}-${i + 2}`;
  },
  'move a rule to another chain': (lines, pick) => {
    const i = ruleAt(lines, pick);
    const j = ruleAt(lines, pick);
    if (i === -1 || j === -1) return 'no rule';
    const chain = (lines[j] as string).split(' ')[1] as string;
    lines[i] = (lines[i] as string).replace(/^-A \S+/, `-A ${chain}`);
    return `line ${i + 1} into ${chain}`;
  },
  'drop a token of a rule': (lines, pick) => {
    const i = ruleAt(lines, pick);
    if (i === -1) return 'no rule';
    const words = (lines[i] as string).split(' ');
    const k = 2 + pick(Math.max(1, words.length - 2));
    words.splice(k, 1);
    lines[i] = words.join(' ');
    return `line ${i + 1}, word ${k + 1}`;
  },
  'swap two tokens of a rule': (lines, pick) => {
    const i = ruleAt(lines, pick);
    if (i === -1) return 'no rule';
    const words = (lines[i] as string).split(' ');
    const a = 2 + pick(Math.max(1, words.length - 2));
    const b = 2 + pick(Math.max(1, words.length - 2));
    [words[a], words[b]] = [words[b] as string, words[a] as string];
    lines[i] = words.join(' ');
    return `line ${i + 1}, words ${a + 1} and ${b + 1}`;
  },
  'replace a token by one from elsewhere': (lines, pick) => {
    const i = ruleAt(lines, pick);
    const j = ruleAt(lines, pick);
    if (i === -1 || j === -1) return 'no rule';
    const words = (lines[i] as string).split(' ');
    const from = (lines[j] as string).split(' ');
    const k = 2 + pick(Math.max(1, words.length - 2));
    words[k] = from[pick(from.length)] as string;
    lines[i] = words.join(' ');
    return `line ${i + 1}, word ${k + 1} from line ${j + 1}`;
  },
  'change a digit': (lines, pick) => {
    const i = ruleAt(lines, pick);
    if (i === -1) return 'no rule';
    const line = lines[i] as string;
    const digits = [...line].flatMap((c, k) => (c >= '0' && c <= '9' ? [k] : []));
    if (digits.length === 0) return `line ${i + 1}: no digit`;
    const k = digits[pick(digits.length)] as number;
    lines[i] = `${line.slice(0, k)}${String((Number(line[k]) + 1 + pick(9)) % 10)}${line.slice(k + 1)}`;
    return `line ${i + 1}, column ${k + 1}`;
  },
  'insert a restore command': (lines, pick) => {
    const i = ruleAt(lines, pick);
    const j = ruleAt(lines, pick);
    if (i === -1 || j === -1) return 'no rule';
    const chain = (lines[i] as string).split(' ')[1] as string;
    const rest = (lines[j] as string).split(' ').slice(2).join(' ');
    const command = [`-F ${chain}`, `-X ${chain}`, `-N ${chain}`, `-I ${chain} 1 ${rest}`, `-I ${chain} ${rest}`, `-D ${chain} ${rest}`][pick(6)] as string;
    const at = pick(lines.length);
    lines.splice(at, 0, command);
    return `"${command.slice(0, 40)}" at line ${at + 1}`;
  },
  'escape a quote in a comment': (lines, pick) => {
    const i = ruleAt(lines, pick);
    if (i === -1) return 'no rule';
    const line = lines[i] as string;
    const q = line.indexOf('--comment "');
    if (q === -1) return `line ${i + 1}: no quoted comment`;
    lines[i] = `${line.slice(0, q + 12)}\\"x\\\\${line.slice(q + 12)}`;
    return `line ${i + 1}`;
  },
  'put a non-ASCII character in a chain name': (lines, pick) => {
    const i = pick(lines.length);
    const line = lines[i] as string;
    const at = line.indexOf('KUBE-');
    if (at === -1) return `line ${i + 1}: no chain name`;
    const k = at + 5 + pick(8);
    lines[i] = `${line.slice(0, k)}é${line.slice(k + 1)}`;
    return `line ${i + 1}, column ${k + 1}`;
  },
};
const NAMES = Object.keys(MUTATIONS);

for (const s of loadScenarios()) {
  t.test(`${s.name}: random mutations never crash the check and the compact and plain parses agree`, async (t) => {
    let coded = 0;
    let checked = 0;
    for (const [which, text] of [['legacy.save', s.legacy], ['nft.save', s.nft], ['expected.restore', s.restore]] as const) {
      for (let v = 0; v < VARIANTS; v++) {
        const seed = BASE_SEED + v * 7919 + which.length * 104729 + s.name.length;
        const pick = prng(seed);
        const lines = text.split('\n');
        const done: string[] = [];
        for (let m = 1 + pick(3); m > 0; m--) {
          const name = NAMES[pick(NAMES.length)] as string;
          done.push(`${name} (${(MUTATIONS[name] as Mutation)(lines, pick)})`);
        }
        const what = `${which}, seed ${seed}: ${done.join('; ')}`;
        try {
          checkText(lines.join('\n'), s.cluster.items, s.node, s.family);
          checked++;
        } catch (error) {
          if (isAgentError(error) && error.code !== 'DPS_ERR_INTERNAL') { coded++; continue; }
          t.fail(what, { error: error instanceof Error ? error.stack : String(error) });
        }
      }
    }
    t.pass(`${checked} mutated dumps checked, ${coded} refused with a coded error`);
  });
}
