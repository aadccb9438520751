// `all` through the real CLI: runs until stopped, stops cleanly, and serves an exact view.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { chunkText, exited, readMergedView, recount, spawnCli, tempDirsPerTest, totalsObject, waitFor } from '../helpers/pipeline.js';

const newTempDir = tempDirsPerTest();

it('regression: without --duration, all runs until SIGTERM (it used to stop at once), then stops cleanly and exactly', async () => {
  const dir = newTempDir();
  fs.mkdirSync(path.join(dir, 'batch_input'));
  fs.writeFileSync(path.join(dir, 'batch_input', 'h.csv'), chunkText(1, 200));
  const child = spawnCli(['all', '--data', dir, '--threads', '2', '--batch-interval', '200ms', '--slide', '400ms', '--window', '2s', '--stream-interval', '150ms', '--merge-interval', '200ms', '--rows-per-chunk', '50', '--log-level', 'warn']);
  const exit = exited(child);
  // Three status lines: it is still running well after the first slides.
  await waitFor(() => (child.output().match(/^all: \d\d:\d\d:\d\d/gm) ?? []).length >= 3, 20_000, 'three status lines');
  expect(child.exitCode).toBeNull();
  child.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(child.output()).toMatch(/all: stopped after/);
  expect(totalsObject(readMergedView(dir))).toEqual(totalsObject(recount(dir)));
});
