// The layers' import rules (.dependency-cruiser.cjs), checked by dependency-cruiser over every source file: a cycle, a
// core module touching I/O, or an import against cli → pipeline/bench/soak → layers → io → core fails with the list.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ICruiseOptions, type ICruiseResult, type IViolation, cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempRoots } from './helpers/temp-dirs.js';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const SOURCES = ['main.ts', 'src', 'workers', 'bench'];
/** A tree that breaks every rule once: proof that each rule catches what it is meant to. */
const VIOLATIONS_TREE = path.join(REPO_ROOT, 'test', 'fixtures', 'architecture-violations');

const newTempRoot = tempRoots();

let options: ICruiseOptions;

beforeAll(async () => {
  options = await extractDepcruiseOptions(path.join(REPO_ROOT, '.dependency-cruiser.cjs'));
});

async function cruiseTree(baseDir: string, sources: readonly string[]): Promise<ICruiseResult> {
  const result = await cruise([...sources], { ...options, baseDir, validate: true });
  return result.output as ICruiseResult;
}

/** Writes `files` (path → text) under `root`: a tree made for one test. */
function writeTree(root: string, files: Readonly<Record<string, string>>): void {
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
}

/** One line per violation: the rule, then the import (or the cycle) that breaks it. */
function describeViolation(violation: IViolation): string {
  const route = violation.cycle?.length ? [violation.from, ...violation.cycle.map((step) => step.name)] : [violation.from, violation.to];
  return `${violation.rule.name}: ${route.join(' → ')}`;
}

describe('architecture', () => {
  it('every import follows the layers: no cycle, a pure core, cli → pipeline/bench/soak → layers → io → core', async () => {
    const result = await cruiseTree(REPO_ROOT, SOURCES);
    expect(result.summary.violations.map(describeViolation)).toEqual([]);
    // The check saw the whole tree, dynamic imports included.
    const sources = new Set(result.modules.map((m) => m.source));
    for (const file of ['main.ts', 'src/cli/commands.ts', 'src/pipeline/run-all.ts', 'src/core/window.ts', 'workers/batch-worker.ts', 'bench/speed.ts']) {
      expect(sources).toContain(file);
    }
    const commands = result.modules.find((m) => m.source === 'src/cli/commands.ts')!;
    expect(commands.dependencies.find((d) => d.resolved === 'src/pipeline/run-all.ts')?.dependencyTypes).toContain('dynamic-import');
  });

  it('each rule catches its own kind of violation', async () => {
    const result = await cruiseTree(VIOLATIONS_TREE, ['main.ts', 'src', 'workers']);
    const caught = new Set(result.summary.violations.map((v) => v.rule.name));
    const rules = (options.ruleSet?.forbidden ?? []).map((rule) => rule.name);
    expect(rules.length).toBeGreaterThan(10);
    expect([...caught].sort()).toEqual([...rules].sort());
    const lines = result.summary.violations.map(describeViolation);
    expect(lines).toContain('core-is-pure: src/core/impure.ts → fs');
    expect(lines).toContain('only-main-imports-cli: src/soak/soak.ts → src/cli/options.ts');
    expect(lines).toContain('no-folder-cycle: src/bench → src/soak → src/bench');
    // A root file of src/ and a folder importing each other's types: only the root-file rule sees that cycle.
    expect(lines.filter((line) => line.includes('src/shapes.ts'))).toEqual(['root-files-import-only-core: src/shapes.ts → src/serving/snapshot.ts']);
  });

  // Each tree is made of `import type` alone and has no cycle of modules: only the folder rules can see its cycle.
  it.each<{ name: string; files: Readonly<Record<string, string>>; refused: readonly string[] }>([
    {
      name: 'two layers importing types from each other',
      files: {
        'src/speed/window.ts': "import type { Snapshot } from '../serving/snapshot.js';\nexport interface Window { readonly at: Snapshot }\n",
        'src/serving/snapshot.ts': 'export interface Snapshot { readonly version: number }\n',
        'src/serving/view.ts': "import type { Window } from '../speed/window.js';\nexport interface View { readonly window: Window }\n",
      },
      refused: ['no-folder-cycle: src/serving → src/speed → src/serving', 'no-folder-cycle: src/speed → src/serving → src/speed'],
    },
    {
      name: 'a root file of src/ and a layer importing types from each other',
      files: {
        'src/messages.ts': "import type { Snapshot } from './serving/snapshot.js';\nexport interface Message { readonly snapshot: Snapshot }\n",
        'src/serving/snapshot.ts': 'export interface Snapshot { readonly version: number }\n',
        'src/serving/view.ts': "import type { Message } from '../messages.js';\nexport interface View { readonly last: Message }\n",
      },
      refused: ['root-files-import-only-core: src/messages.ts → src/serving/snapshot.ts'],
    },
    {
      name: 'a root file of src/ reaching a layer through another root file',
      files: {
        'src/messages.ts': "import type { Shape } from './shapes.js';\nexport interface Message { readonly shape: Shape }\n",
        'src/shapes.ts': "import type { Snapshot } from './serving/snapshot.js';\nexport interface Shape { readonly snapshot: Snapshot }\n",
        'src/serving/snapshot.ts': 'export interface Snapshot { readonly version: number }\n',
        'src/serving/view.ts': "import type { Message } from '../messages.js';\nexport interface View { readonly last: Message }\n",
      },
      refused: ['root-files-import-only-core: src/messages.ts → src/shapes.ts', 'root-files-import-only-core: src/shapes.ts → src/serving/snapshot.ts'],
    },
  ])('refuses a cycle of type-only imports: $name', async ({ files, refused }) => {
    const { root } = newTempRoot('lf-architecture-');
    writeTree(root, files);
    const result = await cruiseTree(root, ['src']);
    expect(result.modules.map((m) => m.source).sort()).toEqual(Object.keys(files).sort());
    expect(result.summary.violations.map(describeViolation).sort()).toEqual(refused);
  });
});
