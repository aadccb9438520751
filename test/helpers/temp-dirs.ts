// Temporary folders for tests: a root holding `data/` (the --data folder) and `outside/` (which must never change),
// removed after each test or after the file's tests; set LF_KEEP_TMP=1 to keep them for a post-mortem.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';

export interface TempRoot {
  readonly root: string;
  /** `<root>/data`, created empty: the folder to pass as --data. */
  readonly data: string;
  /** `<root>/outside`, created empty: beside the data folder, for symlink targets and proof that nothing leaked. */
  readonly outside: string;
}

/** A new empty folder under the system temp folder, by its real path (so path comparisons after realpath hold). */
export function makeTempDir(prefix = 'lf-'): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

export function removeTempDir(dir: string): void {
  if (!process.env.LF_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
}

function makeTempRoot(prefix: string): TempRoot {
  const root = makeTempDir(prefix);
  const data = path.join(root, 'data');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(data);
  fs.mkdirSync(outside);
  return { root, data, outside };
}

/**
 * For a test file: returns a maker of temp roots that are removed after each test (`'test'`), or once the file's
 * tests are done (`'file'`: for roots made while collecting, or shared by the tests of a describe block).
 *
 * Call it at the top of the file, before registering hooks that must run first at the end (unmounting a tmpfs inside
 * a root, killing a child that writes there): vitest runs after-hooks in reverse order of registration.
 */
export function tempRoots(removeAfter: 'test' | 'file' = 'test'): (prefix?: string) => TempRoot {
  const roots: string[] = [];
  (removeAfter === 'test' ? afterEach : afterAll)(() => {
    for (const root of roots.splice(0)) removeTempDir(root);
  });
  return (prefix = 'lf-') => {
    const made = makeTempRoot(prefix);
    roots.push(made.root);
    return made;
  };
}
