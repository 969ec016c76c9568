/** `dataplane-sentinel scan-logs PATH... [--format text|json]` (issue 3). */
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';

/** Placeholder until the log signals land: says so and exits with the usage code. */
export async function runScanLogs(_argv: readonly string[], io: CliIo): Promise<number> {
  io.stderr.write('dataplane-sentinel scan-logs: not implemented yet\n');
  return EXIT.usage;
}
