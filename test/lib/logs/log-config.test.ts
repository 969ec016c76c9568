import t from 'tap';
import { DEFAULT_LOG_CONFIG, parseLogConfig } from '../../../lib/logs/log-config.ts';

t.test('an absent section gives the defaults, frozen', async (t) => {
  const config = parseLogConfig(undefined);
  t.same(config, DEFAULT_LOG_CONFIG);
  t.ok(Object.isFrozen(config.journal.units));
});

t.test('short forms expand: a container name, a file glob', async (t) => {
  const config = parseLogConfig({ containers: ['kube-proxy'], files: ['/var/log/x/*.log'], journal: { units: ['kubelet'] } });
  t.same(config.containers, [{ namespace: '*', pod: '*', container: 'kube-proxy' }]);
  t.same(config.files, [{ glob: '/var/log/x/*.log' }]);
  t.same(config.journal.units, ['kubelet']);
  t.equal(config.journal.enabled, true);
});

t.test('every bad field is reported in one coded error', async (t) => {
  t.throws(() => parseLogConfig({ pollIntervalMs: -1, journal: { enabled: 'yes' }, colour: 'red', rules: {} }), {
    code: 'DPS_ERR_LOGS_CONFIG_INVALID',
    message: /pollIntervalMs.*journal\.enabled.*rules.*colour.*unknown option|pollIntervalMs/,
  });
  try {
    parseLogConfig({ pollIntervalMs: -1, journal: { enabled: 'yes' }, colour: 'red', rules: {} });
  } catch (error) {
    const message = (error as Error).message;
    for (const field of ['pollIntervalMs', 'journal.enabled', 'colour', 'rules']) t.match(message, field);
  }
  t.throws(() => parseLogConfig([1]), { code: 'DPS_ERR_LOGS_CONFIG_INVALID' });
});
