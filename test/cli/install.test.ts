// The install a newcomer runs first (`npm ci`): on the Node.js 20 the README names, no package's declared engines refuse
// it and every install script is one the project reviewed (npm's allowScripts), so a fresh install prints no warning.
//
// npm checks both itself: a dry run of `npm ci` on a copy of package.json and package-lock.json, with the warnings made
// errors (--engine-strict, --strict-allow-scripts), offline since a dry run fetches nothing.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempRoots } from '../helpers/temp-dirs.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const newTempRoot = tempRoots('test');

interface Lockfile {
  readonly packages: Record<string, { readonly version?: string; readonly hasInstallScript?: boolean }>;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(REPO, file), 'utf8')) as T;
}

describe('npm ci', () => {
  it('on this Node.js, no locked package declares engines that exclude it and no install script is unreviewed', () => {
    const { root } = newTempRoot();
    for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(REPO, file), path.join(root, file));
    const run = spawnSync('npm', ['ci', '--dry-run', '--offline', '--engine-strict', '--strict-allow-scripts', '--no-audit', '--no-fund'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 50_000,
    });
    expect(run.stderr, `npm ci --dry-run exited ${run.status}`).not.toMatch(/EBADENGINE|ESTRICTALLOWSCRIPTS|install-scripts/);
    expect(run.status).toBe(0);
  });

  it('allowScripts names every locked package that has an install script, so npm 12 runs the same scripts', () => {
    const lock = readJson<Lockfile>('package-lock.json');
    const allowed = readJson<{ allowScripts?: Record<string, boolean> }>('package.json').allowScripts ?? {};
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript === true)
      .map(([where, entry]) => ({ name: where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length), version: entry.version }));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const { name, version } of withScripts) expect(allowed[name] ?? allowed[`${name}@${version}`], `allowScripts entry for ${name}@${version}`).toBe(true);
  });
});
