/**
 * A module next to the caller's, to start as a worker: `name.ts` from the sources (node runs them
 * as they are), `name.js` once compiled to dist/ (where only .js files are).
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
