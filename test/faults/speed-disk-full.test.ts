// Disk full under the speed layer: it reports the failed writes, keeps what is published intact, and resumes
// exactly when space returns.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { chunkText, dropStreamFile, exited, loggedStreamFiles, readMergedView, realtimeThroughSeq, recount, runCli, spawnCli, tempDataDir, totalsObject, waitFor } from '../helpers/pipeline.js';

function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

it('speed layer: a full disk under serving/ stops publishing, not ingesting; it catches up exactly when space returns', async (context) => {
  const dir = tempDataDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const serving = path.join(dir, 'serving');
  fs.mkdirSync(serving, { recursive: true });
  if (!tryMountTmpfs(serving, '2m')) {
    context.skip(); // needs root and tmpfs; CI runs as root
    return;
  }
  cleanups.push(() => execFileSync('umount', ['-l', serving]));
  fs.mkdirSync(path.join(dir, 'batch_input'));
  fs.writeFileSync(path.join(dir, 'batch_input', 'h.csv'), chunkText(3, 100));
  expect((await runCli(['batch', '--data', dir, '--threads', '1'])).code).toBe(0);

  const speed = spawnCli(['speed', '--data', dir, '--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '2']);
  cleanups.push(() => speed.kill('SIGKILL'));
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
  expect(speed.exitCode).toBeNull();
  // What was published before stays readable.
  expect((await runCli(['merge', '--once', '--data', path.join(dir)])).code).not.toBe(0); // merged_view cannot be written either

  fs.rmSync(filler);
  await waitFor(() => realtimeThroughSeq(dir) === 3, 10_000, 'the realtime view to catch up');
  const merged = await runCli(['merge', '--once', '--data', dir]);
  expect(merged.code).toBe(0);
  expect(totalsObject(readMergedView(dir))).toEqual(totalsObject(recount(dir)));
  speed.kill('SIGTERM');
  expect(await exited(speed)).toBe(0);
});
