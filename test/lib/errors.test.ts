// The error catalog is a contract: codes are unique, well formed, and each one is documented in the README.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { agentError, ERROR_CODES, formatError, isAgentError } from '../../lib/errors.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('every code is DPS_ERR_<AREA>_<WHAT> and listed in the README', async (t) => {
  for (const code of Object.keys(ERROR_CODES)) {
    t.match(code, /^DPS_ERR_[A-Z]+(_[A-Z0-9]+)*$/, `${code} is well formed`);
    t.ok(readme.includes(`\`${code}\``), `${code} is documented in README.md`);
  }
});

t.test('a coded error carries where, a hint and its cause', async (t) => {
  const cause = new Error('boom');
  const err = agentError('DPS_ERR_INPUT_READ', 'Cannot read', { where: 'x.json:3', cause });
  t.ok(isAgentError(err));
  t.equal(err.cause, cause);
  t.equal(formatError(err), `x.json:3: Cannot read [DPS_ERR_INPUT_READ]\n  hint: ${ERROR_CODES.DPS_ERR_INPUT_READ}`);
  t.notOk(isAgentError(new Error('plain')));
});
