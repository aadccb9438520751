// The import rules of lambdaflow's layers, checked by dependency-cruiser (test/architecture.test.ts; by hand:
// `npm run check:imports`). Imports flow one way:
//
//   main.ts → src/cli → src/pipeline, src/bench, src/soak → src/batch, src/speed, src/serving, src/generate, src/quarantine → src/io → src/core
//   workers/ and bench/ are entry points: leaves that may import src/ (not src/cli); nothing imports them.
//
// src/messages.ts names the messages that cross a thread boundary: it sits just above src/core (it names types of the
// core only, and the layers and workers use it) and holds types only, so every import of it, and every import it
// makes, must be `import type`. It then adds no load-time dependency, and no cycle.
// Type-only imports count everywhere (dependency-cruiser reads them with tsPreCompilationDeps): a cycle of types is
// still a cycle of design.
//
// A root file of src/ (src/messages.ts) is a node of its own, but no-folder-cycle cannot see it: dependency-cruiser
// counts such a file as the folder src/, which holds every other folder, so `src/messages.ts → src/serving/…` and
// `src/serving/… → src/messages.ts` never form a cycle there. root-files-import-only-core closes that gap: a root
// file imports src/core only, which imports nothing outside itself, so no folder it depends on can depend on it back.

/** Folders of each level, as path patterns. */
const CORE = '^src/core/';
const IO = '^src/io/';
const LAYERS = '^src/(batch|speed|serving|generate|quarantine)/';
const MESSAGES = '^src/messages\\.ts$';
const ROOT_FILES = '^src/[^/]+$';
const PIPELINE = '^src/pipeline/';
const TOOLS = '^src/(bench|soak)/';
const CLI = '^src/cli/';
const ENTRY_POINTS = '^(main\\.ts$|workers/|bench/)';

/** Node built-ins and packages that do I/O, run threads or processes, or read time: never in the pure core. */
const IMPURE_MODULES = [
  '^(node:)?(fs|fs/promises|worker_threads|timers|timers/promises|child_process|cluster|net|tls|dgram|http|https|http2|readline|os|perf_hooks|process|inspector)$',
  '^(chokidar|piscina|write-file-atomic|commander|tinybench|@duckdb/node-api)$',
];

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Modules import each other in a cycle: move what both need one level down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment: 'Folders import each other in a cycle: move what both need one level down.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'src/core is the pure logic: it imports nothing of the project outside src/core.',
      from: { path: CORE },
      to: { pathNot: CORE, dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-no-pkg'] },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'src/core never touches files, threads, processes, timers or the clock (pure packages such as mnemonist and csv-parse are fine).',
      from: { path: CORE },
      to: { path: IMPURE_MODULES },
    },
    {
      name: 'io-imports-only-core',
      severity: 'error',
      comment: 'src/io sits just above src/core: it never imports a layer, the pipeline, a tool, the CLI or the messages.',
      from: { path: IO },
      to: { path: [LAYERS, MESSAGES, PIPELINE, TOOLS, CLI, ENTRY_POINTS] },
    },
    {
      name: 'layers-import-only-below',
      severity: 'error',
      comment: 'The layers (batch, speed, serving, generate, quarantine) never import the pipeline, a tool, the CLI or an entry point.',
      from: { path: LAYERS },
      to: { path: [PIPELINE, TOOLS, CLI, ENTRY_POINTS] },
    },
    {
      name: 'root-files-import-only-core',
      severity: 'error',
      comment:
        'A root file of src/ (src/messages.ts) imports src/core only, type-only imports included: a folder it imported ' +
        'could import it back, a cycle no-folder-cycle cannot see (it counts a root file as the folder src/).',
      from: { path: ROOT_FILES },
      to: { pathNot: CORE, dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-no-pkg'] },
    },
    {
      name: 'messages-imports-are-type-only',
      severity: 'error',
      comment: 'src/messages.ts holds types only: its own imports are `import type`.',
      from: { path: MESSAGES },
      to: { dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'messages-imported-as-types',
      severity: 'error',
      comment: 'Import src/messages.ts with `import type`, on both sides of a thread boundary.',
      from: {},
      to: { path: MESSAGES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'pipeline-imports-only-below',
      severity: 'error',
      comment: 'src/pipeline wires the layers: it never imports a tool (bench, soak), the CLI or an entry point.',
      from: { path: PIPELINE },
      to: { path: [TOOLS, CLI, ENTRY_POINTS] },
    },
    {
      name: 'tools-import-no-cli',
      severity: 'error',
      comment: 'src/bench and src/soak run the pipeline: they never import the CLI or an entry point.',
      from: { path: TOOLS },
      to: { path: [CLI, ENTRY_POINTS] },
    },
    {
      name: 'only-main-imports-cli',
      severity: 'error',
      comment: 'src/cli is the top: only main.ts (and src/cli itself) imports it.',
      from: { pathNot: ['^main\\.ts$', CLI] },
      to: { path: CLI },
    },
    {
      name: 'entry-points-are-leaves',
      severity: 'error',
      comment: 'main.ts, workers/ and bench/ are entry points: nothing imports them (workers are started by file URL).',
      from: {},
      to: { path: ENTRY_POINTS },
    },
    {
      name: 'cli-loads-commands-lazily',
      severity: 'error',
      comment:
        'src/cli loads the layers, the pipeline and the tools with `await import()` when a command runs (or imports types ' +
        'only), so a short command does not pay for loading them all. The one exception is src/serving/view-kind.ts, where ' +
        "the merged view's kinds (a choice of --view) are declared.",
      from: { path: CLI },
      to: { path: [LAYERS, PIPELINE, TOOLS], pathNot: '^src/serving/view-kind\\.ts$', dependencyTypesNot: ['dynamic-import', 'type-only'] },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve to a file or an installed package.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
