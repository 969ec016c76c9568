/**
 * `dataplane-sentinel agent [flags]`: the DaemonSet's process. Loads the configuration (flags,
 * DPS_* variables, --config file), starts the agent and serves HTTP until SIGTERM/SIGINT, then
 * stops within 5 s. Exit 2 for an invalid configuration or an address that cannot be bound.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { DestinationStream } from 'pino';
import { Registry } from 'prom-client';
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';
import { formatError } from '../../lib/errors.ts';
import { systemClock } from '../../lib/kube/deps.ts';
import { createAgent } from '../agent.ts';
import { loadConfig } from '../config.ts';

/** The package version (also in main's --version). */
const VERSION = '0.1.0';

/** Runs the agent until the signal aborts. */
export async function runAgent(argv: readonly string[], io: CliIo): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig({ argv, env: io.env, readFile: (p) => readFileSync(p, 'utf8') });
  } catch (error) {
    io.stderr.write(`dataplane-sentinel agent: ${formatError(error)}\n`);
    return EXIT.usage;
  }
  if (loaded.help !== undefined) {
    io.stdout.write(loaded.help);
    return EXIT.ok;
  }
  const { config } = loaded;
  const log = pino({ level: config.logLevel, base: { node: config.node } }, io.stdout as unknown as DestinationStream);
  let agent;
  try {
    agent = await createAgent({ config, log, clock: systemClock, registry: new Registry(), signal: io.signal, version: VERSION, env: io.env });
    await agent.listen();
  } catch (error) {
    io.stderr.write(`dataplane-sentinel agent: ${formatError(error)}\n`);
    await agent?.close();
    return EXIT.usage;
  }
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await agent.close();
  return EXIT.ok;
}
