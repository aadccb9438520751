// The merge loop on its own thread: an unexpected failure rejects (it used to hang with the worker kept alive).
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { dataLayout } from '../../src/io/layout.js';
import { silentLogger } from '../../src/io/logger.js';
import { mergeLoopOnThread } from '../../src/serving/merge-thread.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

it('regression: an unexpected merge error rejects instead of hanging', async () => {
  const dir = newTempRoot().data;
  const view = path.join(dir, 'serving', 'batch', 'batch-1');
  fs.mkdirSync(path.join(view, 'part-00000'), { recursive: true }); // a directory where a part file belongs: EISDIR
  fs.writeFileSync(path.join(view, '_MANIFEST.json'), '{"streamWatermark":0}\n');
  fs.writeFileSync(path.join(view, '_SUCCESS'), '');
  const stop = new AbortController();
  const run = mergeLoopOnThread({ layout: dataLayout(dir), logger: silentLogger, logLevel: 'error', signal: stop.signal, intervalMs: 50, view: 'exact' });
  const outcome = await Promise.race([run.then(() => 'resolved', (error: Error) => error.message), new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
  stop.abort();
  expect(outcome).toMatch(/EISDIR|illegal operation on a directory/);
});
