import t from 'tap';
import { BUILTIN_RULES } from '../../../lib/logs/builtin-rules.ts';
import { compileRules } from '../../../lib/logs/compile-rules.ts';
import { classifyMessage } from '../../../lib/logs/classify-message.ts';

const base = { class: 'x', severity: 'warning', components: ['*'] };

t.test('compiles the built-ins with unique ids', async (t) => {
  const ids = BUILTIN_RULES.map((r) => r.id);
  t.equal(new Set(ids).size, ids.length);
  t.equal(compileRules(BUILTIN_RULES).rules.length, BUILTIN_RULES.length);
});

t.test('a user rule with a new id is appended; one with a built-in id overrides it in place', async (t) => {
  const set = compileRules(BUILTIN_RULES, [
    { id: 'mine', ...base, pattern: 'custom failure' },
    { id: 'kube-proxy-sync-failed', severity: 'critical' },
  ]);
  t.equal(set.rules.at(-1)?.id, 'mine');
  const sync = set.rules.find((r) => r.id === 'kube-proxy-sync-failed');
  t.equal(sync?.severity, 'critical');
  t.equal(set.rules.indexOf(sync!), BUILTIN_RULES.findIndex((r) => r.id === 'kube-proxy-sync-failed'));
  t.equal(classifyMessage(set, 'anything', 'a custom failure here')?.id, 'mine');
});

t.test('enabled: false switches a built-in off', async (t) => {
  const set = compileRules(BUILTIN_RULES, [{ id: 'conntrack-table-full', enabled: false }]);
  t.equal(classifyMessage(set, 'kernel', 'nf_conntrack: table full, dropping packet'), undefined);
});

t.test('unless vetoes a match', async (t) => {
  const set = compileRules([], [{ id: 'r', ...base, pattern: 'boom', unless: 'harmless' }]);
  t.ok(classifyMessage(set, 'c', 'boom'));
  t.equal(classifyMessage(set, 'c', 'boom but harmless'), undefined);
});

t.test('rules apply only to their components (or *)', async (t) => {
  const set = compileRules([], [{ id: 'r', ...base, components: ['kube-proxy'], pattern: 'boom' }]);
  t.ok(classifyMessage(set, 'kube-proxy', 'boom'));
  t.equal(classifyMessage(set, 'calico-node', 'boom'), undefined);
});

t.test('a bad rule is a coded error that names it', async (t) => {
  const bad: [string, unknown, RegExp][] = [
    ['invalid regex', { id: 'bad-re', ...base, pattern: '(' }, /Rule "bad-re": pattern \/\(\/ is not a valid regular expression/],
    ['invalid unless', { id: 'bad-unless', ...base, pattern: 'x', unless: '[' }, /Rule "bad-unless": unless/],
    ['bad flags', { id: 'bad-flags', ...base, pattern: 'x', flags: 'g' }, /Rule "bad-flags": expected flags/],
    ['bad severity', { id: 'bad-sev', ...base, severity: 'fatal', pattern: 'x' }, /Rule "bad-sev".*severity/],
    ['no components', { id: 'no-comp', ...base, components: [], pattern: 'x' }, /Rule "no-comp".*components/],
    ['new rule without pattern', { id: 'new-one', ...base }, /Rule "new-one".*needs `pattern`/],
    ['not an object', 'x', /Rule rules\[0\]/],
    ['no id', { ...base, pattern: 'x' }, /non-empty string `id`/],
  ];
  for (const [name, rule, message] of bad) {
    t.throws(() => compileRules(BUILTIN_RULES, [rule]), { code: 'DPS_ERR_LOGS_RULE_INVALID', message }, name);
  }
});
