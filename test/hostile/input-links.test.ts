// Input hygiene through the built CLI: a symbolic link (to a CSV outside the data folder, to a directory) or a FIFO
// named `*.csv` in batch_input/ or stream_input/ is never read, and is refused with one warning naming it — once per
// batch run, and once per speed process however many micro-batches see it. Totals equal a recount of the regular
// files alone (test/helpers/reference.ts, which follows no link either).

import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeRun, errorLines, runCli, runCliOk, startCli } from '../helpers/cli.js';
import { mkfifo } from '../helpers/file-system.js';
import { latestBatchView, loggedStreamFiles, readMergedView } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, expectExactMerge, waitFor, writeBatchInputs } from '../helpers/pipeline.js';
import { type TempRoot, tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** The entries to refuse, by name: a link to a readable CSV outside --data, a link to a directory, a FIFO. */
const REFUSED = ['outside-link.csv', 'dir-link.csv', 'fifo.csv'] as const;
/** The one user the outside CSV (and the CSV inside the linked directory) holds: it must never be counted. */
const OUTSIDE_USER = 'outside-user';

/** Puts the refused entries into `dir`; their targets live in the temp root's `outside/`. */
function addRefusedEntries(root: TempRoot, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(root.outside, 'target.csv');
  fs.writeFileSync(target, `${OUTSIDE_USER},purchase,5.00,1700000000\n`);
  fs.mkdirSync(path.join(root.outside, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(root.outside, 'dir', 'inner.csv'), `${OUTSIDE_USER},purchase,7.00,1700000000\n`);
  fs.symlinkSync(target, path.join(dir, 'outside-link.csv'));
  fs.symlinkSync(path.join(root.outside, 'dir'), path.join(dir, 'dir-link.csv'));
  mkfifo(path.join(dir, 'fifo.csv'));
}

/** Lines of `stderr` naming `file` (a full path): each refused entry must have exactly one. */
function linesNaming(stderr: string, file: string): string[] {
  return stderr.split('\n').filter((line) => line.includes(file));
}

function expectOneWarningEach(stderr: string, dir: string, names: readonly string[]): void {
  for (const name of names) {
    const lines = linesNaming(stderr, path.join(dir, name));
    expect(lines, `${name} in ${JSON.stringify(stderr)}`).toHaveLength(1);
    expect(lines[0]).toMatch(/ warn /);
  }
}

describe('batch_input/', () => {
  it('batch skips a link to an outside CSV, a link to a directory and a FIFO with one warning each; totals are the regular files only', async () => {
    const root = newTempRoot();
    const batchDir = path.join(root.data, 'batch_input');
    writeBatchInputs(root.data, { 'a.csv': chunkText(1, 200), 'b.csv': `${chunkText(2, 100)}u1,purchase,oops,1\n` });
    addRefusedEntries(root, batchDir);

    const run = await runCliOk(['batch', '--data', root.data, '--threads', '2', '--log-level', 'warn']);
    expect(errorLines(run.stderr)).toEqual([]);
    expectOneWarningEach(run.stderr, batchDir, REFUSED);
    expect(latestBatchView(root.data).manifest.inputs.map((i) => i.name)).toEqual(['a.csv', 'b.csv']);
    await expectExactMerge(root.data);
    expect(readMergedView(root.data).has(OUTSIDE_USER)).toBe(false);
    expect(readMergedView(root.data).size).toBeGreaterThan(0);
  });

  it('a logged stream file swapped for a link after it was ingested stops batch with one E_INPUT line naming it', async () => {
    const root = newTempRoot();
    writeBatchInputs(root.data, { 'a.csv': chunkText(1, 50) });
    dropStreamFile(root.data, 's1.csv', chunkText(2, 50));
    await runCliOk(['speed', '--once', '--data', root.data, '--threads', '2', '--log-level', 'warn']);
    const file = path.join(root.data, 'stream_input', 's1.csv');
    fs.renameSync(file, path.join(root.outside, 's1.csv'));
    fs.symlinkSync(path.join(root.outside, 's1.csv'), file);

    const run = await runCli(['batch', '--data', root.data, '--threads', '2']);
    expect(run.code, describeRun(run)).toBe(1);
    const errors = errorLines(run.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('[E_INPUT]');
    expect(errors[0]).toContain(file);
  });
});

describe('stream_input/', () => {
  const FAST = ['--batch-interval', '100ms', '--slide', '1s', '--window', '2s', '--threads', '2'];

  it('speed never ingests a link or a FIFO, warns once per name per process across micro-batches, and merges exactly', async () => {
    const root = newTempRoot();
    const streamDir = path.join(root.data, 'stream_input');
    writeBatchInputs(root.data, { 'history.csv': chunkText(1, 100) });
    dropStreamFile(root.data, 's1.csv', chunkText(2, 80));
    dropStreamFile(root.data, 's2.csv', `${chunkText(3, 40)}u2,purchase,1.00,not-a-time\n`);
    addRefusedEntries(root, streamDir);
    await runCliOk(['batch', '--data', root.data, '--threads', '2', '--log-level', 'warn']); // the history's batch view

    // --once: every complete regular file is ingested, each refused entry warned about once.
    const once = await runCliOk(['speed', '--once', '--data', root.data, ...FAST, '--log-level', 'warn']);
    expectOneWarningEach(once.stderr, streamDir, REFUSED);
    expect(loggedStreamFiles(root.data).map((e) => e.name)).toEqual(['s1.csv', 's2.csv']);

    // Running: ~15 micro-batches and several full listings; a link renamed in while it runs is refused once too.
    const speed = startCli(['speed', '--data', root.data, ...FAST, '--log-level', 'info']);
    children.push(speed.child);
    await waitFor(() => speed.output().includes('speed: recovered') || speed.child.exitCode !== null, 20_000, 'the speed layer to start');
    fs.symlinkSync(path.join(root.outside, 'target.csv'), path.join(streamDir, '.late-link.csv.tmp'));
    fs.renameSync(path.join(streamDir, '.late-link.csv.tmp'), path.join(streamDir, 'late-link.csv'));
    dropStreamFile(root.data, 's3.csv', chunkText(4, 60));
    await waitFor(() => loggedStreamFiles(root.data).length === 3 || speed.child.exitCode !== null, 20_000, 's3.csv to be ingested');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    speed.child.kill('SIGTERM');
    const stopped = await speed.result;
    expect(stopped.code, describeRun(stopped)).toBe(0);
    expect(errorLines(stopped.stderr)).toEqual([]);
    expectOneWarningEach(stopped.stderr, streamDir, [...REFUSED, 'late-link.csv']);

    expect(loggedStreamFiles(root.data).map((e) => e.name)).toEqual(['s1.csv', 's2.csv', 's3.csv']);
    await expectExactMerge(root.data);
    expect(readMergedView(root.data).has(OUTSIDE_USER)).toBe(false);
    // The refused entries are left as they were.
    expect(fs.lstatSync(path.join(streamDir, 'outside-link.csv')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(path.join(streamDir, 'fifo.csv')).isFIFO()).toBe(true);
  });
});
