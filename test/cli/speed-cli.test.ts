// The speed and serving layers through the real CLI: the exact-once invariant across batch recomputes and kill -9.
import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunResult, type RunningCli, describeRun, runCli, startCli } from '../helpers/cli.js';
import { loggedStreamFiles, readMergedView, realtimeThroughSeq } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, expectExactMerge, waitFor, writeBatchInputs } from '../helpers/pipeline.js';
import { seeded } from '../helpers/prng.js';
import { recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const FAST = ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '2', '--log-level', 'warn'];
const newTempRoot = tempRoots();
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function newDataDir(batchRows = 300): string {
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'history.csv': `user_id,event_type,amount,unix_timestamp\n${chunkText(1, batchRows)}` });
  return data;
}

function startSpeed(dir: string, extra: string[] = []): RunningCli {
  const speed = startCli(['speed', '--data', dir, ...FAST, ...extra]);
  children.push(speed.child);
  return speed;
}

/** Stops a speed layer with SIGTERM and resolves to its exit code. */
async function stopSpeed(speed: RunningCli): Promise<number | null> {
  speed.child.kill('SIGTERM');
  return (await speed.result).code;
}

async function caughtUp(dir: string, files: number): Promise<void> {
  await waitFor(() => loggedStreamFiles(dir).length === files && realtimeThroughSeq(dir) === files, 20_000, `${files} files ingested and published`);
}

describe('speed + serving layers', () => {
  it('keeps merged_view exact while batch recomputes interleave with stream chunks', async () => {
    const dir = newDataDir();
    expect((await runCli(['batch', '--data', dir, '--threads', '1'])).code).toBe(0);
    const speed = startSpeed(dir, ['--window', '30s']); // every chunk stays in the window for the --view window check
    const batches: Promise<RunResult>[] = [];
    for (let i = 0; i < 12; i++) {
      dropStreamFile(dir, `chunk-${String(i).padStart(3, '0')}.csv`, chunkText(100 + i, 40));
      if (i % 3 === 1) batches.push(runCli(['batch', '--data', dir, '--threads', '2']));
      if (i % 4 === 2) batches.push(runCli(['merge', '--once', '--data', dir]));
      await new Promise((r) => setTimeout(r, 60 + (i % 5) * 40));
    }
    for (const result of await Promise.all(batches)) expect(result.code, describeRun(result)).toBe(0);
    await caughtUp(dir, 12);
    await expectExactMerge(dir);

    // A batch that absorbs everything: the realtime part it absorbed must be dropped exactly once.
    expect((await runCli(['batch', '--data', dir, '--threads', '2'])).code).toBe(0);
    await expectExactMerge(dir);

    // Graceful stop exits 0 within a few seconds.
    const stoppedAt = Date.now();
    expect(await stopSpeed(speed)).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);

    // The window merge is the original demo's arithmetic: batch + window, which double-counts absorbed events.
    const window = await runCli(['merge', '--once', '--view', 'window', '--data', dir]);
    expect(window.code).toBe(0);
    const exact = recountMasterDataset(dir);
    const windowView = readMergedView(dir);
    const counted = (t: typeof exact): number => [...t.values()].reduce((n, v) => n + v.count, 0);
    expect(counted(windowView)).toBeGreaterThan(counted(exact));
  });

  it('counts every event exactly once across kill -9 restarts, with files arriving while it is down', async () => {
    const dir = newDataDir();
    let files = 0;
    const drop = (): void => {
      dropStreamFile(dir, `chunk-${String(files).padStart(3, '0')}.csv`, chunkText(1000 + files, 30));
      files++;
    };
    const random = seeded(12345);
    for (let round = 0; round < 5; round++) {
      const speed = startSpeed(dir);
      for (let i = 0; i < 3; i++) {
        drop();
        await new Promise((r) => setTimeout(r, random.int(250)));
      }
      if (round === 2) await runCli(['batch', '--data', dir, '--threads', '1']);
      await new Promise((r) => setTimeout(r, random.int(400)));
      speed.child.kill('SIGKILL');
      await speed.result;
      drop(); // arrives while the speed layer is down
      if (round === 3) expect((await runCli(['batch', '--data', dir, '--threads', '2'])).code).toBe(0);
    }
    const speed = startSpeed(dir);
    await caughtUp(dir, files);
    const names = loggedStreamFiles(dir).map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    await expectExactMerge(dir);
    expect(await stopSpeed(speed)).toBe(0);
    await expectExactMerge(dir);
  });

  it('ignores temp names, ingests an empty file, and refuses a second speed layer on the same folder', async () => {
    const dir = newDataDir(50);
    const speed = startSpeed(dir);
    await waitFor(() => fs.existsSync(path.join(dir, 'ingest', 'speed.lock')), 10_000, 'the first speed layer to lock');
    fs.writeFileSync(path.join(dir, 'stream_input', '.hidden.csv.tmp'), chunkText(5, 10));
    fs.writeFileSync(path.join(dir, 'stream_input', 'partial.csv.tmp'), chunkText(6, 10));
    fs.writeFileSync(path.join(dir, 'stream_input', '_temporary.csv'), chunkText(7, 10));
    dropStreamFile(dir, 'empty.csv', '');
    dropStreamFile(dir, 'real.csv', chunkText(8, 25));
    await caughtUp(dir, 2);
    expect(
      loggedStreamFiles(dir)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['empty.csv', 'real.csv']);

    const second = await runCli(['speed', '--data', dir, ...FAST]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/E_LOCKED.*another speed layer \(pid \d+\)/);

    expect((await runCli(['batch', '--data', dir, '--threads', '1'])).code).toBe(0);
    await expectExactMerge(dir);
    expect(await stopSpeed(speed)).toBe(0);
  });

  it('regression: a graceful stop ingests files renamed just before it (it trusted watcher hints that had not arrived)', async () => {
    const dir = newDataDir(10);
    const speed = startSpeed(dir);
    await waitFor(() => realtimeThroughSeq(dir) === 0 && fs.existsSync(path.join(dir, 'serving', 'realtime')), 10_000, 'the speed layer to start');
    await waitFor(() => fs.readdirSync(path.join(dir, 'serving', 'realtime')).some((n) => n.startsWith('realtime-')), 10_000, 'a first realtime view');
    for (let i = 0; i < 3; i++) dropStreamFile(dir, `late-${i}.csv`, chunkText(70 + i, 5));
    expect(await stopSpeed(speed)).toBe(0);
    expect(
      loggedStreamFiles(dir)
        .map((e) => e.name)
        .sort(),
    ).toEqual(['late-0.csv', 'late-1.csv', 'late-2.csv']);
  });

  it('rejects a window that is not a multiple of the slide, naming both', async () => {
    const dir = newDataDir(10);
    const result = await runCli(['speed', '--data', dir, '--window', '25s', '--slide', '10s']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--window: 25000 ms is not a multiple of --slide \(10000 ms\)/);
  });
});
