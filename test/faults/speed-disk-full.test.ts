// Disk full under the speed layer: it reports the failed writes, keeps what is published intact, and resumes
// exactly when space returns.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { tmpfsMounts } from '../helpers/file-system.js';
import { loggedStreamFiles, plain, readMergedView, realtimeThroughSeq } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, waitFor, writeBatchInputs } from '../helpers/pipeline.js';
import { recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

// In this order, so that after a test the speed layer is killed, then the tmpfs unmounted, then the folder removed.
const newTempRoot = tempRoots();
const mountTmpfs = tmpfsMounts();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

it('speed layer: a full disk under serving/ stops publishing, not ingesting; it catches up exactly when space returns', async (context) => {
  const dir = newTempRoot().data;
  const serving = path.join(dir, 'serving');
  if (!mountTmpfs(serving, 2 << 20)) {
    context.skip(); // needs root and tmpfs; CI runs as root
    return;
  }
  writeBatchInputs(dir, { 'h.csv': chunkText(3, 100) });
  expect((await runCli(['batch', '--data', dir, '--threads', '1'])).code).toBe(0);

  const speed = startCli(['speed', '--data', dir, '--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '2']);
  cleanups.push(() => speed.child.kill('SIGKILL'));
  dropStreamFile(dir, 'a.csv', chunkText(10, 50));
  await waitFor(() => loggedStreamFiles(dir).length === 1, 10_000, 'the first file');

  // Fill the disk: publishing fails, ingesting (ingest/ is on another disk) goes on.
  const filler = path.join(serving, 'filler');
  try {
    fs.writeFileSync(filler, Buffer.alloc(4 << 20));
  } catch {
    // ENOSPC once full: what we want.
  }
  dropStreamFile(dir, 'b.csv', chunkText(11, 50));
  dropStreamFile(dir, 'c.csv', chunkText(12, 50));
  await waitFor(() => loggedStreamFiles(dir).length === 3, 10_000, 'files ingested while the disk is full');
  await waitFor(() => /failed, will retry/.test(speed.output()), 10_000, 'a logged write failure');
  expect(speed.child.exitCode).toBeNull();
  // What was published before stays readable.
  expect((await runCli(['merge', '--once', '--data', path.join(dir)])).code).not.toBe(0); // merged_view cannot be written either

  fs.rmSync(filler);
  await waitFor(() => realtimeThroughSeq(dir) === 3, 10_000, 'the realtime view to catch up');
  const merged = await runCli(['merge', '--once', '--data', dir]);
  expect(merged.code).toBe(0);
  expect(plain(readMergedView(dir))).toEqual(plain(recountMasterDataset(dir)));
  speed.child.kill('SIGTERM');
  expect((await speed.result).code).toBe(0);
});
