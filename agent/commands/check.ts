/** `dataplane-sentinel check` (issue 2). */
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';

/** Placeholder until the engine lands. */
export async function runCheck(_argv: readonly string[], io: CliIo): Promise<number> {
  io.stderr.write('dataplane-sentinel check: not implemented yet\n');
  return EXIT.usage;
}
