// Where the compiled worker entry points are, decided in one place for the build and for tests run from source.

/** Workers always run from the build: tests importing `src/` as TypeScript use `dist/workers/` too. */
export function workerUrl(name: string): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL(`../../../dist/workers/${name}.js`, here) : new URL(`../../../workers/${name}.js`, here);
}
