/**
 * The only entry point: picks the sub-command, wires the process (signals, streams, exit code)
 * and nothing else. Every command is a plain function of (argv, io) so tests run them in-process.
 */
import process from 'node:process';
import type { CliIo, Command } from './cli-io.ts';
import { EXIT } from './cli-io.ts';
import { formatError } from '../lib/errors.ts';

const HELP = `dataplane-sentinel: is this node's service dataplane doing what the Kubernetes API says?

Usage:
  dataplane-sentinel check --rules FILE|- [--rules6 FILE] --cluster PATH --node NAME [--format text|json]
  dataplane-sentinel scan-logs PATH... [--format text|json]
  dataplane-sentinel agent [flags]          (the DaemonSet's process)
  dataplane-sentinel demo                   (the agent against an embedded scenario, no cluster needed)
  dataplane-sentinel --version

Run a command with --help for its flags.
`;

// Commands are loaded lazily so that `check` does not pay for fastify or the Kubernetes client.
const COMMANDS: Record<string, () => Promise<Command>> = {
  check: async () => (await import('./commands/check.ts')).runCheck,
  'scan-logs': async () => (await import('./commands/scan-logs.ts')).runScanLogs,
  agent: async () => (await import('./commands/agent.ts')).runAgent,
  demo: async () => (await import('./commands/demo.ts')).runDemo,
};

/** Runs the CLI with the given arguments and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    io.stderr.write(`dataplane-sentinel: unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}.\n`);
    return EXIT.usage;
  }
  try {
    return await (await load())(rest, io);
  } catch (error) {
    io.stderr.write(`dataplane-sentinel ${name}: ${formatError(error)}\n`);
    return EXIT.usage;
  }
}

/** The package version, printed by --version. */
export const VERSION = '0.1.0';

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  return import.meta.url.endsWith(entry) || /(main\.[jt]s|dataplane-sentinel(\.js)?)$/.test(entry);
}

if (isEntryPoint()) {
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: controller.signal,
  });
  process.exitCode = code;
}
