// The speed layer on hostile stream files (issue 5), through the built CLI: bad rows, a truncated last line, CRLF and
// lone-CR files, weird names, a symlink to a file outside --data (renamed in like a stream file, never followed), a
// directory named x.csv, a FIFO, hidden and temp names, and a file that grows after it was ingested (only its logged
// size counts). No crash; the merged view, both from the realtime view and after a batch absorbed the stream, equals
// totals known from how the files were built.

import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Expected,
  STREAM_IGNORED_NAMES,
  badTotal,
  buy,
  expectFile,
  liveTotals,
  outsideTargetFile,
  renderFile,
  streamFiles,
  streamGrowingFile,
  streamHistoryFile,
  sumExpected,
} from '../fixtures/generate-hostile.js';
import { type RunResult, describeRun, errorLines, removeScratch, runCli, startCli, stackLines } from '../helpers/cli.js';
import { findByName, mkfifo, snapshotTree } from '../helpers/file-system.js';
import {
  completeBatchViews,
  completeRealtimeViews,
  loggedStreamFiles,
  plain,
  quarantineDir,
  quarantineNames,
  readManifest,
  readMergedView,
  realtimeThroughSeq,
} from '../helpers/outputs.js';
import { dropStreamFile, waitFor } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const MODES = ['permissive', 'drop'] as const;
const FAST = ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '2', '--log-level', 'warn'];
const DEADLINE_MS = 20_000;
const newTempRoot = tempRoots('file'); // first: its removal runs after the children are killed below
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeScratch();
});

describe.each(MODES)('speed --mode %s on hostile stream files', (mode) => {
  it('ingests only complete regular *.csv files, counts their logged prefixes exactly, and writes nothing outside --data', async () => {
    const { root, data, outside } = newTempRoot();
    const streamDir = path.join(data, 'stream_input');
    fs.mkdirSync(path.join(data, 'batch_input'));
    fs.mkdirSync(streamDir);

    const history = streamHistoryFile();
    fs.writeFileSync(path.join(data, 'batch_input', history.name), renderFile(history));
    // Entries present before the speed layer starts that it must never ingest.
    for (const name of STREAM_IGNORED_NAMES)
      fs.writeFileSync(path.join(streamDir, name), renderFile({ name, eol: '\n', lines: [buy('must-not-count', '1.00', 100)] }));
    fs.mkdirSync(path.join(streamDir, 'x.csv'));
    fs.writeFileSync(path.join(streamDir, 'x.csv', 'inner.csv'), 'must-not-count,purchase,1.00,1\n');
    mkfifo(path.join(streamDir, 'fifo.csv'));
    fs.symlinkSync('/dev/zero', path.join(streamDir, 'dev-zero.csv'));
    const target = outsideTargetFile('stream-target.csv');
    fs.writeFileSync(path.join(outside, target.name), renderFile(target));
    const outsideBefore = snapshotTree(root, [data]);

    const batchArgs = ['batch', '--data', data, '--threads', '2', '--mode', mode, '--log-level', 'warn'];
    const first = await runCli(batchArgs, { timeoutMs: DEADLINE_MS, cwd: root });
    expect(first.code, describeRun(first)).toBe(0);

    const speedRun = startCli(['speed', '--data', data, '--mode', mode, ...FAST], { timeoutMs: 40_000, cwd: root });
    children.push(speedRun.child);
    let speedDone: RunResult | undefined;
    void speedRun.result.then((r) => (speedDone = r));
    await waitFor(() => completeRealtimeViews(data).length > 0 || speedDone !== undefined, 15_000, 'the speed layer to start');
    expect(speedDone, speedDone && describeRun(speedDone)).toBeUndefined();

    // Hostile files arrive the way producers must deliver them: a hidden temp name, then a rename.
    const expectations = new Map<string, Expected>();
    for (const spec of streamFiles()) {
      dropStreamFile(data, spec.name, renderFile(spec));
      expectations.set(spec.name, expectFile(spec));
    }
    fs.symlinkSync(path.join(outside, target.name), path.join(streamDir, '.s-outside-link.csv.tmp'));
    fs.renameSync(path.join(streamDir, '.s-outside-link.csv.tmp'), path.join(streamDir, 's-outside-link.csv'));

    // A file that grows after it was ingested: only the logged prefix is part of the master dataset.
    const grow = streamGrowingFile();
    const full = renderFile(grow.spec);
    const prefix = renderFile({ ...grow.spec, lines: grow.spec.lines.slice(0, grow.logged) });
    dropStreamFile(data, grow.spec.name, prefix);
    expectations.set(grow.spec.name, expectFile(grow.spec, grow.logged));
    await waitFor(() => loggedStreamFiles(data).some((e) => e.name === grow.spec.name) || speedDone !== undefined, 15_000, 'the growing file to be ingested');
    fs.appendFileSync(path.join(streamDir, grow.spec.name), full.subarray(prefix.length));

    const expectedNames = [...expectations.keys()].sort();
    await waitFor(
      () => (loggedStreamFiles(data).length >= expectedNames.length && realtimeThroughSeq(data) >= expectedNames.length) || speedDone !== undefined,
      15_000,
      `${expectedNames.length} stream files ingested and published`,
    );
    // A few more micro-batches: the grown file must not be ingested again, nothing else may be.
    await new Promise((r) => setTimeout(r, 800));
    expect(speedDone, speedDone && describeRun(speedDone)).toBeUndefined();
    const logged = loggedStreamFiles(data);
    expect(logged.map((e) => e.name).sort()).toEqual(expectedNames);
    expect(logged.find((e) => e.name === grow.spec.name)!.size).toBe(prefix.length);

    const expectedAll = sumExpected([expectFile(history), ...expectations.values()]);
    const mergeArgs = ['merge', '--once', '--data', data, '--log-level', 'warn'];
    // 1. Batch view (history only) + realtime view (every logged stream file).
    const mergedLive = await runCli(mergeArgs, { timeoutMs: DEADLINE_MS, cwd: root });
    expect(mergedLive.code, describeRun(mergedLive)).toBe(0);
    expect(plain(readMergedView(data))).toEqual(plain(liveTotals(expectedAll.totals)));

    speedRun.child.kill('SIGINT');
    const speed = await speedRun.result;
    expect(speed.timedOut, describeRun(speed)).toBe(false);
    expect(speed.code, describeRun(speed)).toBe(0);
    expect(errorLines(speed.stderr)).toEqual([]);
    expect(stackLines(speed.stderr)).toEqual([]);

    // 2. A batch that absorbed the whole stream (reading only the logged prefixes) + an empty realtime remainder.
    const second = await runCli(batchArgs, { timeoutMs: DEADLINE_MS, cwd: root });
    expect(second.code, describeRun(second)).toBe(0);
    const mergedBatch = await runCli(mergeArgs, { timeoutMs: DEADLINE_MS, cwd: root });
    expect(mergedBatch.code, describeRun(mergedBatch)).toBe(0);
    expect(plain(readMergedView(data))).toEqual(plain(liveTotals(expectedAll.totals)));
    const manifest = readManifest(completeBatchViews(data).at(-1)!);
    expect(manifest.streamWatermark).toBe(expectedNames.length);
    expect(manifest.inputs.find((i) => i.name === grow.spec.name)?.size).toBe(prefix.length);
    expect({ rows: manifest.rowsRead, purchases: manifest.purchases, bad: manifest.badRows, badTotal: manifest.badRowsTotal }).toEqual({
      rows: expectedAll.rows,
      purchases: expectedAll.purchases,
      bad: expectedAll.bad,
      badTotal: badTotal(expectedAll),
    });

    if (mode === 'permissive') {
      // Quarantine of stream files: line numbers within the file, only the logged prefix (not the grown tail).
      const withBad = [[history.name, expectFile(history)] as const, ...expectations].filter(([, e]) => e.quarantine.length > 0);
      expect(quarantineNames(data)).toEqual(withBad.map(([name]) => `${name}.bad`).sort());
      for (const [name, e] of withBad) {
        expect(fs.readFileSync(path.join(quarantineDir(data), `${name}.bad`)).toString('latin1'), name).toBe(e.quarantine.toString('latin1'));
      }
    } else {
      expect(quarantineNames(data)).toEqual([]);
    }

    // The odd entries are untouched and were never logged; nothing appeared outside --data; no shell ran.
    expect(fs.statSync(path.join(streamDir, 'x.csv')).isDirectory()).toBe(true);
    expect(fs.lstatSync(path.join(streamDir, 'fifo.csv')).isFIFO()).toBe(true);
    expect(fs.lstatSync(path.join(streamDir, 's-outside-link.csv')).isSymbolicLink()).toBe(true);
    expect(snapshotTree(root, [data])).toEqual(outsideBefore);
    for (const name of ['pwned-s', 'pwned-st']) {
      expect(findByName(root, name)).toEqual([]);
      expect(fs.existsSync(path.join(os.tmpdir(), name))).toBe(false);
    }
  });
});
