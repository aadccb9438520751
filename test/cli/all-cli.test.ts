// `all` through the real CLI: runs until stopped, stops cleanly, and serves an exact view.
import { expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { plain, readMergedView } from '../helpers/outputs.js';
import { chunkText, waitFor, writeBatchInputs } from '../helpers/pipeline.js';
import { recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

it('regression: without --duration, all runs until SIGTERM (it used to stop at once), then stops cleanly and exactly', async () => {
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'h.csv': chunkText(1, 200) });
  const all = startCli([
    'all',
    '--data',
    data,
    '--threads',
    '2',
    '--port',
    '0',
    '--batch-interval',
    '200ms',
    '--slide',
    '400ms',
    '--window',
    '2s',
    '--stream-interval',
    '150ms',
    '--merge-interval',
    '200ms',
    '--rows-per-chunk',
    '50',
    '--log-level',
    'warn',
  ]);
  // Three status lines: it is still running well after the first slides.
  await waitFor(() => (all.output().match(/^all: \d\d:\d\d:\d\d/gm) ?? []).length >= 3, 20_000, 'three status lines');
  expect(all.child.exitCode).toBeNull();
  all.child.kill('SIGTERM');
  expect((await all.result).code).toBe(0);
  expect(all.output()).toMatch(/all: stopped after/);
  expect(plain(readMergedView(data))).toEqual(plain(recountMasterDataset(data)));
});
