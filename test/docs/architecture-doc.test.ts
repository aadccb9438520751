// docs/ARCHITECTURE.md's module map against the tree: every module of main.ts, src/ and workers/ listed exactly once,
// under its folder's heading, and every module the map lists exists, so the map cannot go stale.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOC = 'docs/ARCHITECTURE.md';
/** A module line's description: a phrase that fits on one line beside its name. */
const MAX_DESCRIPTION_CHARS = 110;

/** Every .ts module under `dir`, as a path relative to the repository root. */
function modulesUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => path.posix.join(dir, name.split(path.sep).join('/')));
}

interface Entry {
  /** The module's path relative to the repository root, from its section's folder and its name. */
  readonly module: string;
  readonly description: string;
  readonly line: number;
}

/**
 * The map's entries: under a heading naming a folder in backquotes (`` ### `src/io/files/` — … ``, `` `./` `` for the
 * root), one line `` - `name.ts` — what it is for `` per module. Code blocks (the picture) are skipped.
 */
function entriesOf(text: string): Entry[] {
  const entries: Entry[] = [];
  let folder: string | undefined;
  let inCode = false;
  text.split('\n').forEach((line, index) => {
    if (line.startsWith('```')) inCode = !inCode;
    if (inCode) return;
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (heading) {
      folder = /^`([^`]*\/)`/.exec(heading[1]!)?.[1];
      return;
    }
    const entry = /^- `([^`]+\.ts)` — (.+)$/.exec(line);
    if (entry && folder !== undefined) {
      entries.push({ module: path.posix.normalize(path.posix.join(folder, entry[1]!)), description: entry[2]!, line: index + 1 });
    }
  });
  return entries;
}

describe(`${DOC}: the module map`, () => {
  const entries = entriesOf(fs.readFileSync(path.join(ROOT, DOC), 'utf8'));
  const listed = entries.map((e) => e.module);
  const modules = ['main.ts', ...modulesUnder('src'), ...modulesUnder('workers')].sort();

  it('lists every module of main.ts, src/ and workers/', () => {
    expect(modules.filter((m) => !listed.includes(m))).toEqual([]);
  });

  it('lists each module once', () => {
    expect(listed.filter((m, i) => listed.indexOf(m) !== i)).toEqual([]);
  });

  it('lists only modules that exist', () => {
    expect(listed.filter((m) => !fs.existsSync(path.join(ROOT, m)))).toEqual([]);
  });

  it(`says what each module is for in one phrase of at most ${MAX_DESCRIPTION_CHARS} characters`, () => {
    const bad = entries.filter((e) => e.description.length > MAX_DESCRIPTION_CHARS || !e.description.endsWith('.'));
    expect(bad.map((e) => `${DOC}:${e.line} ${e.module}`)).toEqual([]);
  });
});
