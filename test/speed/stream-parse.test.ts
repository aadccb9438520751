// Parsing logged stream files: a read error keeps the code that says what went wrong (it used to become E_STATE),
// naming the file and its seq; a file that shrank is reported, not silently short.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { LambdaflowError } from '../../src/core/errors.js';
import { parseFileRange } from '../../src/io/files/read-range.js';
import { parseStreamFiles } from '../../src/speed/stream-parse.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();
const readFromDisk = (
  file: { path: string; start: number; end: number },
  table: Parameters<typeof parseFileRange>[3],
  mode: Parameters<typeof parseFileRange>[4],
) => parseFileRange(file.path, file.start, file.end, table, mode, 3_600);

it.each([
  { name: 'a logged file replaced by a FIFO', make: (file: string) => execFileSync('mkfifo', [file]), code: 'E_INPUT' },
  { name: 'a logged file that is gone', make: () => undefined, code: 'E_INPUT' },
])('regression: $name is $code, naming the file and its seq', ({ make, code }) => {
  const file = path.join(tempRoot().data, 'chunk-1.csv');
  make(file);
  const parse = (): unknown => parseStreamFiles([{ seq: 7, path: file, start: 0, end: 1_000 }], 2, 'permissive', 3_600, readFromDisk);
  expect(parse).toThrow(LambdaflowError);
  try {
    parse();
  } catch (error) {
    expect(error).toMatchObject({ code, message: expect.stringMatching(/chunk-1\.csv.*seq 7/) });
  }
});

it('reports a logged file that shrank below its logged size', () => {
  const file = path.join(tempRoot().data, 'chunk-1.csv');
  fs.writeFileSync(file, 'u,purchase,1.00,1\n');
  const result = parseStreamFiles([{ seq: 3, path: file, start: 0, end: 1_000 }], 2, 'permissive', 3_600, readFromDisk);
  expect(result.files).toMatchObject([{ seq: 3, truncated: true }]);
});

it('writes each file its own delta lines and sums all files per partition', () => {
  const dir = tempRoot().data;
  const a = path.join(dir, 'a.csv');
  const b = path.join(dir, 'b.csv');
  fs.writeFileSync(a, 'u1,purchase,1.00,1\nu2,purchase,2.00,1\nu1,view,0,1\n');
  fs.writeFileSync(b, 'u1,purchase,3.00,1\nbad line\n');
  const result = parseStreamFiles(
    [
      { seq: 4, path: a, start: 0, end: fs.statSync(a).size },
      { seq: 5, path: b, start: 0, end: fs.statSync(b).size },
    ],
    1,
    'permissive',
    3_600,
    readFromDisk,
  );
  expect(Buffer.from(result.deltas).toString().split('\n').filter(Boolean).sort()).toEqual(['4,u1,0,1,1.00', '4,u2,0,1,2.00', '5,u1,0,1,3.00']);
  expect(result.files.map((f) => [f.seq, f.counts.rows, f.badRowCount])).toEqual([
    [4, 3, 0],
    [5, 2, 1],
  ]);
  expect(result.blocks).toHaveLength(1);
  expect([...result.blocks[0]!.counts].sort()).toEqual([1, 2]);
});
