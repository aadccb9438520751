// Compaction through the real CLI: stream files move into compacted master files and the landing folder empties,
// while the master dataset's totals never change — also when `compact` is killed -9 at every step boundary.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, requireBuild, runCli, runCliOk } from '../helpers/cli.js';
import { compactedMasterFiles, loggedStreamFiles, plain, readMergedView } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, writeBatchInputs } from '../helpers/pipeline.js';
import { recountDataFolder, recountMasterDataset, sortedReferenceTotals } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();
/** For the crash tests, which run side by side: removed once the file's tests are done. */
const sharedTempRoot = tempRoots('file');

/** A data folder with history and `files` stream files logged by the speed layer (some with bad rows). */
async function loggedFolder(files: number, root = tempRoot): Promise<string> {
  requireBuild();
  const data = root().data;
  writeBatchInputs(data, { 'history.csv': chunkText(1, 300) });
  for (let i = 0; i < files; i++) {
    const bad = i % 4 === 0 ? 'not,a,row\nu1,purchase,1e3,1700000000\n' : '';
    dropStreamFile(
      data,
      `chunk-${String(i).padStart(3, '0')}.csv`,
      (i % 3 === 0 ? 'user_id,event_type,amount,unix_timestamp\n' : '') + chunkText(100 + i, 60) + bad,
    );
  }
  await runCliOk(['speed', '--once', '--data', data]);
  await runCliOk(['batch', '--data', data]);
  return data;
}

const streamFilesLeft = (data: string): string[] => fs.readdirSync(path.join(data, 'stream_input')).filter((n) => n.endsWith('.csv') && !n.startsWith('.'));

/**
 * Every reader agrees with the recount: a restarted speed layer logs nothing twice, then merge (realtime view +
 * deltas) and, when `withBatch`, a batch recompute + merge.
 */
async function expectExact(data: string, truth: ReturnType<typeof recountMasterDataset>, withBatch = true): Promise<void> {
  expect(plain(recountMasterDataset(data))).toEqual(plain(truth));
  const logged = loggedStreamFiles(data).length;
  await runCliOk(['speed', '--once', '--data', data]);
  expect(loggedStreamFiles(data).length).toBeLessThanOrEqual(logged); // nothing logged twice (folding only shrinks the log)
  await runCliOk(['merge', '--once', '--data', data]);
  expect(plain(readMergedView(data))).toEqual(plain(truth));
  if (!withBatch) return;
  await runCliOk(['batch', '--data', data]);
  await runCliOk(['merge', '--once', '--data', data]);
  expect(plain(readMergedView(data))).toEqual(plain(truth));
}

describe('compact', () => {
  it('moves every old enough logged file into compacted files, empties stream_input/, folds the log, and changes no total', async () => {
    const data = await loggedFolder(12);
    const truth = recountMasterDataset(data);
    const run = await runCliOk(['compact', '--data', data, '--min-age', '0', '--target-size', '2kB']);
    expect(run.stdout).toMatch(/compact: 12 stream files .* seqs 1\.\.12 compacted; ingest log folded through seq 12/);
    expect(streamFilesLeft(data)).toEqual([]);
    expect(loggedStreamFiles(data)).toEqual([]);
    const files = compactedMasterFiles(data);
    expect(files.at(-1)!.last).toBe(12);
    expect(files.length).toBeGreaterThan(1); // the target size splits them
    // Compacted files hold the good rows only; the bad ones stay quarantined under their original names.
    for (const file of files) expect(fs.readFileSync(file.path, 'utf8')).not.toMatch(/not,a,row|1e3|event_type/);
    expect(fs.readdirSync(path.join(data, 'quarantine')).sort()).toEqual(['chunk-000.csv.bad', 'chunk-004.csv.bad', 'chunk-008.csv.bad']);
    await expectExact(data, truth);

    // More files arrive; the next compaction extends the last compacted file while it is below the target size.
    for (let i = 12; i < 15; i++) dropStreamFile(data, `chunk-${i}.csv`, chunkText(100 + i, 60));
    await runCliOk(['speed', '--once', '--data', data]);
    const more = recountMasterDataset(data);
    await runCliOk(['compact', '--data', data, '--min-age', '0', '--target-size', '64kB']);
    expect(compactedMasterFiles(data).at(-1)!.last).toBe(15);
    expect(streamFilesLeft(data)).toEqual([]);
    await expectExact(data, more);
  });

  it('leaves files younger than --min-age where they are', async () => {
    const data = await loggedFolder(3);
    const run = await runCliOk(['compact', '--data', data, '--min-age', '1h']);
    expect(run.stdout).toMatch(/compact: 0 stream files/);
    expect(streamFilesLeft(data)).toHaveLength(3);
  });

  it('prints the master dataset for a watermark inside a compacted file as a prefix of it (master-files)', async () => {
    const data = await loggedFolder(6);
    const before = JSON.parse((await runCliOk(['master-files', '--data', data, '--watermark', '4'])).stdout) as {
      files: { path: string; bytes: number; source: string }[];
    };
    expect(before.files.filter((f) => f.source === 'stream_input').map((f) => path.basename(f.path))).toEqual([
      'chunk-000.csv',
      'chunk-001.csv',
      'chunk-002.csv',
      'chunk-003.csv',
    ]);
    await runCliOk(['compact', '--data', data, '--min-age', '0']);
    const after = JSON.parse((await runCliOk(['master-files', '--data', data, '--watermark', '4'])).stdout) as {
      watermark: number;
      files: { path: string; bytes: number; source: string }[];
    };
    expect(after.watermark).toBe(4);
    const compacted = after.files.filter((f) => f.source === 'master');
    expect(compacted).toHaveLength(1);
    expect(compacted[0]!.bytes).toBe(compactedMasterFiles(data)[0]!.seqEnds[3]);
    expect(compacted[0]!.bytes).toBeLessThan(fs.statSync(compacted[0]!.path).size);
    const past = await runCli(['master-files', '--data', data, '--watermark', '99']);
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(/E_OPTIONS.*--watermark 99 is past the ingest log's last seq 6/);
  });

  it('rebuilds lost deltas of compacted seqs from their segments of the compacted files', async () => {
    const data = await loggedFolder(5);
    await runCliOk(['compact', '--data', data, '--min-age', '0', '--target-size', '2kB']);
    // No batch view, no checkpoint, no delta: the realtime view must come from the compacted files, seq by seq.
    for (const dir of ['serving/batch', 'serving/realtime']) fs.rmSync(path.join(data, dir), { recursive: true, force: true });
    await runCliOk(['speed', '--once', '--data', data]);
    await runCliOk(['merge', '--once', '--data', data]);
    const streamOnly = recountDataFolder(data, { history: false, afterSeq: 0, throughSeq: Infinity });
    expect(plain(readMergedView(data))).toEqual(
      plain(new Map(sortedReferenceTotals(streamOnly.totals).map((t) => [t.userId, { count: t.count, cents: t.cents }]))),
    );
    expect(fs.readdirSync(path.join(data, 'serving', 'realtime', 'deltas')).length).toBeGreaterThan(0);
  });

  // Side by side: each is a chain of short CLI runs, mostly waiting on process start-up.
  it.concurrent.each(['written', 'synced', 'renamed', 'recorded', 'recorded@2', 'removing-1', 'removing-1@3', 'removed', 'folded'])(
    'stays exact when killed -9 at step %s, and the next run finishes the job',
    async (failpoint) => {
      const data = await loggedFolder(8, sharedTempRoot);
      const truth = recountMasterDataset(data);
      const killed = await runCli(['compact', '--data', data, '--min-age', '0', '--target-size', '2kB', '--failpoint', failpoint]);
      expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
      // Right after the crash every reader is still exact, and nothing is logged twice.
      await expectExact(data, truth, false);
      await runCliOk(['compact', '--data', data, '--min-age', '0', '--target-size', '2kB']);
      expect(streamFilesLeft(data)).toEqual([]);
      expect(compactedMasterFiles(data).at(-1)!.last).toBe(8);
      await expectExact(data, truth);
    },
  );
});
