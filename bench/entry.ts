/**
 * The agent's entry point for the benchmarks: the installed one (`bin/dataplane-sentinel.js`,
 * running the compiled dist/) when dist/ is built, as users run it; else the sources
 * (`agent/main.ts`). The compiled agent's scan worker starts in ~0.1 CPU-s, ~0.4 from the sources.
 * Likewise for the measured child processes ({@link benchScript}).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// the project's root, from bench/entry.ts or from its compiled dist/bench/entry.js
const root = new URL(import.meta.url.endsWith('.js') ? '../../' : '../', import.meta.url);

/** The path to run with `node <entry> <command> …`. */
export const AGENT_ENTRY = fileURLToPath(existsSync(new URL('dist/agent/main.js', root)) ? new URL('bin/dataplane-sentinel.js', root) : new URL('agent/main.ts', root));

/**
 * The Node flags the installed entry point starts Node with when executed (its `exec node ...` line
 * for sh), to run it with this Node as `npx dataplane-sentinel` would (none for the sources).
 */
export function agentNodeFlags(): string[] {
  if (!AGENT_ENTRY.endsWith('.js')) return [];
  const flags = /^":" \/\/; exec node((?: --\S+)*) "\$0"/m.exec(readFileSync(AGENT_ENTRY, 'utf8'))?.[1] ?? '';
  return flags.split(' ').filter((f) => f !== '');
}

/**
 * A library module to import in a measured process: compiled (`dist/lib/<path>.js`) when built, as
 * the agent and `check` run it (TypeScript stripping alone costs ~35 MB of RSS), else the source.
 */
export function libModule(path: string): string {
  const built = new URL(`dist/lib/${path}.js`, root);
  return (existsSync(built) ? built : new URL(`lib/${path}.ts`, root)).href;
}

/**
 * A benchmark's measured child (`check-child`, ...): compiled (`dist/bench/<name>.js`) when built,
 * as the product runs, else the source. A TypeScript entry point loads Node's type stripper, a
 * WebAssembly module: ~25 MB more RSS, and its memory growth detaches an ArrayBuffer, which V8
 * then assumes of every typed array (slower access in the parser). Neither is the product's.
 */
export function benchScript(name: string): string {
  const built = new URL(`dist/bench/${name}.js`, root);
  return fileURLToPath(existsSync(built) ? built : new URL(`bench/${name}.ts`, root));
}
