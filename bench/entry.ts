/**
 * The agent's entry point for the benchmarks: the installed one (`bin/dataplane-sentinel.js`,
 * running the compiled dist/) when dist/ is built, as users run it; else the sources
 * (`agent/main.ts`). The compiled agent's scan worker starts in ~0.1 CPU-s, ~0.4 from the sources.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);

/** The path to run with `node <entry> <command> …`. */
export const AGENT_ENTRY = fileURLToPath(existsSync(new URL('dist/agent/main.js', root)) ? new URL('bin/dataplane-sentinel.js', root) : new URL('agent/main.ts', root));
