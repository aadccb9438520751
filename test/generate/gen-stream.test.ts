// gen-stream through the real CLI: each chunk lands whole under its final name (hidden temp, fsync, rename), and the
// temps a killed generator left are removed when the next one starts.

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, runCliOk } from '../helpers/cli.js';
import { deadPid } from '../helpers/file-system.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

beforeAll(() => requireBuild());

describe('gen-stream', () => {
  it('writes each chunk whole under its final name, removes a dead writer’s temps and keeps other hidden files', async () => {
    const { data } = newTempRoot();
    const input = path.join(data, 'stream_input');
    fs.mkdirSync(input);
    const stale = `.chunk-000000000000001-000000.csv.tmp-${deadPid()}-7`;
    fs.writeFileSync(path.join(input, stale), 'u1,purchase,1.00,1\nu2,purch');
    fs.writeFileSync(path.join(input, '.keep'), 'not a temp');
    await runCliOk(['gen-stream', '--data', data, '--chunks', '3', '--interval', '10ms', '--rows-per-chunk', '200']);
    const names = fs.readdirSync(input).sort();
    const chunks = names.filter((n) => /^chunk-\d+-\d+\.csv$/.test(n));
    expect(chunks).toHaveLength(3);
    expect(names.filter((n) => !chunks.includes(n))).toEqual(['.keep']);
    for (const chunk of chunks) {
      const text = fs.readFileSync(path.join(input, chunk), 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      expect(text.trimEnd().split('\n')).toHaveLength(200);
    }
  });
});
