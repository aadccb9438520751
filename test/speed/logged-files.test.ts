// Reading logged stream files: a read error keeps the code that says what went wrong (it used to become E_STATE).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { LambdaflowError } from '../../src/core/errors.js';
import { dataLayout } from '../../src/io/layout.js';
import { silentLogger } from '../../src/io/logger.js';
import { StreamFileReader } from '../../src/speed/logged-files.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();

it.each([
  { name: 'a logged file replaced by a FIFO', make: (file: string) => execFileSync('mkfifo', [file]), code: 'E_INPUT' },
  { name: 'a logged file that is gone', make: () => undefined, code: 'E_INPUT' },
  { name: 'a logged file that shrank', make: (file: string) => fs.writeFileSync(file, 'u,purchase,1.00,1\n'), code: 'E_STATE' },
])('regression: $name is $code, naming the file and its seq', async ({ make, code }) => {
  const layout = dataLayout(tempRoot().data);
  fs.mkdirSync(layout.streamInput, { recursive: true });
  const file = path.join(layout.streamInput, 'chunk-1.csv');
  make(file);
  const reader = new StreamFileReader(layout, 'permissive', silentLogger);
  const read = reader.read({ seq: 7, name: 'chunk-1.csv', size: 1_000, ingestedAtMs: 1 });
  await expect(read).rejects.toBeInstanceOf(LambdaflowError);
  await expect(read).rejects.toMatchObject({ code, message: expect.stringMatching(/chunk-1\.csv.*seq 7/) });
});
