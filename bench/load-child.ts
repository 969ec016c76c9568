/**
 * The load generator in its own process (so the benchmark's own heap, which holds the generated
 * cluster, cannot stall it): `node bench/load-child.ts URL RPS DURATION_MS MAX_REQUESTS` prints
 * one JSON line with the result.
 */
import { runLoad } from './load.ts';

const [url, rps, durationMs, maxRequests] = process.argv.slice(2) as [string, string, string, string];
const result = await runLoad({ url, rps: Number(rps), durationMs: Number(durationMs), maxRequests: Number(maxRequests) });
process.stdout.write(`${JSON.stringify(result)}\n`);
