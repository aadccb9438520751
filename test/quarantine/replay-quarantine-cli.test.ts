// replay-quarantine through the built CLI: rows a user fixed in a quarantine file enter the master dataset once (as a
// replay file the speed layer logs), rows still bad stay with their new reason, and no rerun, batch recompute (which
// rewrites quarantine files) or crash makes a fixed row count twice. The merged view is checked against a recount of
// the master dataset (test/helpers/reference.ts), and the fixed users against totals known from how they were fixed.
//
// Crashes are simulated by the on-disk state each crash point leaves, derived from a real run by undoing its later
// steps (README "Replaying quarantined rows": ledger append → replay file renamed into place → .bad rewritten).

import { type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeRun, errorLines, runCli, runCliOk, stackLines, startCli } from '../helpers/cli.js';
import { type QuarantineEntryOnDisk, loggedStreamFiles, readMergedView, readQuarantineEntries, readReplayLedger } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, expectExactMerge, waitFor, writeBatchInputs, writeQuarantineEntries } from '../helpers/pipeline.js';
import { deadPid } from '../helpers/file-system.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
const SPEED_ONCE = ['--batch-interval', '100ms', '--slide', '1s', '--window', '2s', '--threads', '2', '--log-level', 'warn'];
const GOOD_ROWS = 30;

/** The stream file's bad rows (lines 31–36), what the user makes of each, and what that must lead to. */
const ROWS = [
  { line: 31, original: 'fix-a,purchase,12.3x,1700000000', reason: 'bad_amount', edit: 'fix-a,purchase,12.30,1700000000' },
  { line: 32, original: 'fix-b,purchase,5.00,soon', reason: 'bad_timestamp', edit: 'fix-b,purchase,5.00,1700000001' },
  { line: 33, original: 'fix-v,click,0.00,1700000002', reason: 'unknown_event_type', edit: 'fix-v,view,0.00,1700000002' },
  { line: 34, original: 'still,purchase,1e3,1', reason: 'bad_amount', edit: 'still,purchase,1e3,1' },
  { line: 35, original: 'worse,buy,1.00,1', reason: 'unknown_event_type', edit: 'worse,purchase,1.005,1' },
  { line: 36, original: 'gone,purchase,x,1', reason: 'bad_amount', edit: undefined }, // the user deletes it
] as const;
const FIXED_LINES = [31, 32, 33];
/** The .bad file after a replay of the edits: the unchanged row, and the re-broken one with its new reason. */
const STILL_BAD: QuarantineEntryOnDisk[] = [
  { line: 34, reason: 'bad_amount', text: 'still,purchase,1e3,1' },
  { line: 35, reason: 'bad_amount', text: 'worse,purchase,1.005,1' },
];
const SUMMARY =
  /^replay-quarantine: (\d+) rows? replayed, (\d+) still bad, (\d+) files? written (?:\(([^)]*)\) )?from (\d+) quarantine files?(?:; (\d+) rows? already replayed, dropped)?$/;

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** A data folder whose stream file s1.csv (ingested, quarantined) has the bad rows of ROWS. */
async function ingestedWithBadRows(): Promise<string> {
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'history.csv': chunkText(1, 100) });
  dropStreamFile(data, 's1.csv', chunkText(2, GOOD_ROWS) + ROWS.map((r) => `${r.original}\n`).join(''));
  await runCliOk(['batch', '--data', data, '--threads', '2', '--log-level', 'warn']);
  await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
  return data;
}

/** The user's edit of s1.csv.bad: the third field of some rows changed, one row deleted. */
function editQuarantine(data: string): void {
  writeQuarantineEntries(
    data,
    's1.csv.bad',
    ROWS.flatMap((r) => (r.edit === undefined ? [] : [{ line: r.line, reason: r.reason, text: r.edit }])),
  );
}

interface Replay {
  readonly replayed: number;
  readonly stillBad: number;
  readonly files: string[];
  readonly already: number;
  readonly stderr: string;
}

async function replay(data: string, extra: string[] = []): Promise<Replay> {
  const run = await runCliOk(['replay-quarantine', '--data', data, '--log-level', 'warn', ...extra]);
  const lines = run.stdout.trim().split('\n');
  expect(lines, run.stdout).toHaveLength(1);
  const match = SUMMARY.exec(lines[0]!);
  expect(match, lines[0]).not.toBeNull();
  const files = match![4] === undefined ? [] : match![4].split(', ');
  expect(files).toHaveLength(Number(match![3]));
  return { replayed: Number(match![1]), stillBad: Number(match![2]), files, already: Number(match![6] ?? 0), stderr: run.stderr };
}

/** The users only fixed rows hold: each fix counted exactly once (fix-v is a view; `absent` never became good). */
function expectFixedUsersOnce(data: string, absent = ['fix-v', 'still', 'worse', 'gone']): void {
  const merged = readMergedView(data);
  expect(merged.get('fix-a')).toEqual({ count: 1, cents: 1230 });
  expect(merged.get('fix-b')).toEqual({ count: 1, cents: 500 });
  for (const user of absent) expect(merged.has(user), user).toBe(false);
}

function streamNames(data: string): string[] {
  return fs.readdirSync(path.join(data, 'stream_input')).sort();
}

describe('replay-quarantine', () => {
  it('fixed rows enter the master dataset once; rows still bad stay with their new reason; reruns and batch recomputes never count them twice', async () => {
    const data = await ingestedWithBadRows();
    expect(readQuarantineEntries(data, 's1.csv.bad')).toEqual(ROWS.map((r) => ({ line: r.line, reason: r.reason, text: r.original })));
    editQuarantine(data);

    // 1. Three rows fixed (two purchases and a view), one unchanged, one broken another way, one deleted.
    const first = await replay(data);
    expect(first).toMatchObject({ replayed: 3, stillBad: 2, already: 0 });
    expect(first.files).toHaveLength(1);
    const replayFile = first.files[0]!;
    expect(replayFile).toMatch(/^replay-s1-\d+\.csv$/);
    expect(readQuarantineEntries(data, 's1.csv.bad')).toEqual(STILL_BAD);
    const fixes = ROWS.filter((r) => FIXED_LINES.includes(r.line));
    expect(readReplayLedger(data, 's1.csv')).toEqual(fixes.map((r) => ({ line: r.line, sha256: sha256(r.edit!), file: replayFile })));
    expect(fs.readFileSync(path.join(data, 'stream_input', replayFile), 'utf8')).toBe(
      `user_id,event_type,amount,unix_timestamp\n${fixes.map((r) => `${r.edit}\n`).join('')}`,
    );
    // Not in the master dataset until the speed layer logs it.
    expect(loggedStreamFiles(data).map((e) => e.name)).toEqual(['s1.csv']);

    // 2. The same replay again: nothing to do.
    const streamBefore = streamNames(data);
    expect(await replay(data)).toMatchObject({ replayed: 0, stillBad: 2, files: [], already: 0 });
    expect(streamNames(data)).toEqual(streamBefore);
    expect(readQuarantineEntries(data, 's1.csv.bad')).toEqual(STILL_BAD);

    // The speed layer logs the replay file like any stream file. (It may also re-read s1.csv for its window and
    // rewrite s1.csv.bad from it, as a batch does below.)
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    expect(loggedStreamFiles(data).map((e) => e.name)).toEqual(['s1.csv', replayFile]);
    await expectExactMerge(data);
    expectFixedUsersOnce(data);

    // 3. A batch recompute rewrites the quarantine file from the inputs, leaving out the rows already replayed (and
    //    bringing back the row the user only deleted from the quarantine file: it is still bad in its input).
    await runCliOk(['batch', '--data', data, '--threads', '2', '--log-level', 'warn']);
    expect(readQuarantineEntries(data, 's1.csv.bad')).toEqual(
      ROWS.filter((r) => !FIXED_LINES.includes(r.line)).map((r) => ({ line: r.line, reason: r.reason, text: r.original })),
    );
    await expectExactMerge(data);
    expectFixedUsersOnce(data);

    // 4. Rows already replayed that come back into the file (pasted back, or written by a batch that read the ledger
    //    just before the replay) are dropped, never replayed again, even fixed differently; a new fix still goes in.
    writeQuarantineEntries(data, 's1.csv.bad', [
      { line: 31, reason: 'bad_amount', text: 'fix-a,purchase,12.30,1700000000' },
      { line: 32, reason: 'bad_timestamp', text: 'fix-b,purchase,50.00,1700000001' },
      { line: 34, reason: 'bad_amount', text: 'still,purchase,1.00,1' },
    ]);
    const again = await replay(data, ['--file', 's1.csv']);
    expect(again).toMatchObject({ replayed: 1, stillBad: 0, already: 2 });
    expect(linesMentioning(again.stderr, 'line 32')).toHaveLength(1);
    expect(linesMentioning(again.stderr, 'line 31')).toHaveLength(0);
    expect(readQuarantineEntries(data, 's1.csv.bad')).toEqual([]);
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    await expectExactMerge(data);
    expectFixedUsersOnce(data, ['fix-v', 'worse', 'gone']);
    expect(readMergedView(data).get('still')).toEqual({ count: 1, cents: 100 });

    // 5. A batch that absorbs everything: still once.
    await runCliOk(['batch', '--data', data, '--threads', '2', '--log-level', 'warn']);
    await expectExactMerge(data);
    expectFixedUsersOnce(data, ['fix-v', 'worse', 'gone']);
    expect(readMergedView(data).get('still')).toEqual({ count: 1, cents: 100 });
  });

  it('with the speed layer running, the replay file is logged within a micro-batch and counted once', async () => {
    const data = await ingestedWithBadRows();
    const speed = startCli(['speed', '--data', data, ...SPEED_ONCE, '--log-level', 'info']);
    children.push(speed.child);
    // Once it has recovered (which may rewrite s1.csv.bad from s1.csv, as any re-read does), the user edits.
    await waitFor(() => speed.output().includes('speed: recovered') || speed.child.exitCode !== null, 20_000, 'the speed layer to start');
    editQuarantine(data);
    const first = await replay(data);
    expect(first).toMatchObject({ replayed: 3, stillBad: 2 });
    await waitFor(
      () => loggedStreamFiles(data).some((e) => e.name === first.files[0]) || speed.child.exitCode !== null,
      20_000,
      'the replay file to be logged',
    );
    expect(await replay(data)).toMatchObject({ replayed: 0, stillBad: 2, files: [] });
    speed.child.kill('SIGTERM');
    const stopped = await speed.result;
    expect(stopped.code, describeRun(stopped)).toBe(0);
    expect(loggedStreamFiles(data).map((e) => e.name)).toEqual(['s1.csv', first.files[0]]);
    await expectExactMerge(data);
    expectFixedUsersOnce(data);
  });

  it('--file takes a quarantine file with or without .bad; a name that does not exist is one E_INPUT line', async () => {
    const data = await ingestedWithBadRows();
    dropStreamFile(data, 's2.csv', 'x,purchase,oops,1\n');
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    writeQuarantineEntries(data, 's2.csv.bad', [{ line: 1, reason: 'bad_amount', text: 'x,purchase,1.00,1' }]);
    editQuarantine(data);

    const only = await replay(data, ['--file', 's2.csv.bad']);
    expect(only).toMatchObject({ replayed: 1, stillBad: 0 });
    expect(only.files[0]).toMatch(/^replay-s2-\d+\.csv$/);
    expect(readReplayLedger(data, 's1.csv')).toEqual([]); // s1.csv.bad was left alone

    const missing = await runCli(['replay-quarantine', '--data', data, '--file', 'nope.csv']);
    expect(missing.code, describeRun(missing)).toBe(1);
    expect(errorLines(missing.stderr)).toEqual([
      `lambdaflow replay-quarantine: error [E_INPUT]: no quarantine file ${path.join(data, 'quarantine', 'nope.csv.bad')}`,
    ]);
    expect(stackLines(missing.stderr)).toEqual([]);
    expect(missing.stdout).toBe('');
  });

  it('a quarantine file an edit broke is one E_INPUT line naming its line; nothing is replayed from it', async () => {
    const data = await ingestedWithBadRows();
    const file = path.join(data, 'quarantine', 's1.csv.bad');
    fs.writeFileSync(file, '31\tbad_amount\tfix-a,purchase,12.30,1700000000\nfix-b,purchase,5.00,1700000001\n');
    const before = fs.readFileSync(file);
    const streamBefore = streamNames(data);

    const run = await runCli(['replay-quarantine', '--data', data]);
    expect(run.code, describeRun(run)).toBe(1);
    const errors = errorLines(run.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('[E_INPUT]');
    expect(errors[0]).toContain(`${file} line 2`);
    expect(fs.readFileSync(file)).toEqual(before);
    expect(streamNames(data)).toEqual(streamBefore);
    expect(readReplayLedger(data, 's1.csv')).toEqual([]);
  });
});

function linesMentioning(stderr: string, text: string): string[] {
  return stderr.split('\n').filter((line) => line.includes(text));
}

describe('replay-quarantine after a crash (kill -9) at each step boundary', () => {
  /**
   * Runs a complete replay of the user's edits, then undoes what came after the crash point, so the folder holds
   * what a replay killed there leaves. Returns the folder, the edited .bad bytes and the first replay file's name.
   */
  async function replayedThenUndone(undo: (data: string, replayFile: string, editedBad: Buffer) => void): Promise<{ data: string; replayFile: string }> {
    const data = await ingestedWithBadRows();
    editQuarantine(data);
    const edited = fs.readFileSync(path.join(data, 'quarantine', 's1.csv.bad'));
    const first = await replay(data);
    expect(first.files).toHaveLength(1);
    undo(data, first.files[0]!, edited);
    return { data, replayFile: first.files[0]! };
  }

  /** After the crash: replay again, let the speed layer log what is there, and check every fixed row counts once. */
  async function expectRecoveredOnce(data: string): Promise<Replay> {
    const rerun = await replay(data);
    expect(readQuarantineEntries(data, 's1.csv.bad')).toEqual(STILL_BAD);
    expect(streamNames(data).filter((n) => n.startsWith('.'))).toEqual([]); // no temp file left behind
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    await expectExactMerge(data);
    expectFixedUsersOnce(data);
    // A batch recompute, and one more replay, change nothing.
    await runCliOk(['batch', '--data', data, '--threads', '2', '--log-level', 'warn']);
    expect(await replay(data)).toMatchObject({ replayed: 0, files: [] });
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    await expectExactMerge(data);
    expectFixedUsersOnce(data);
    return rerun;
  }

  it('killed after the ledger append, before the rename: the ledger lines are void and the rows are replayed once, under a new name', async () => {
    const pid = deadPid();
    const { data, replayFile } = await replayedThenUndone((dir, file, edited) => {
      const stream = path.join(dir, 'stream_input');
      fs.renameSync(path.join(stream, file), path.join(stream, `.${file}.tmp-${pid}-1`));
      fs.writeFileSync(path.join(dir, 'quarantine', 's1.csv.bad'), edited);
    });
    const rerun = await expectRecoveredOnce(data);
    expect(rerun).toMatchObject({ replayed: 3, stillBad: 2, already: 0 });
    expect(rerun.files).toHaveLength(1);
    expect(rerun.files[0]).not.toBe(replayFile);
    const ledger = readReplayLedger(data, 's1.csv');
    expect(ledger.map((l) => [l.line, l.file])).toEqual([...FIXED_LINES.map((n) => [n, replayFile]), ...FIXED_LINES.map((n) => [n, rerun.files[0]])]);
    expect(fs.existsSync(path.join(data, 'stream_input', replayFile))).toBe(false);
  });

  it('killed in the middle of the ledger append: the cut-off line is ignored and dropped, the rows replayed once', async () => {
    const { data, replayFile } = await replayedThenUndone((dir, file, edited) => {
      fs.rmSync(path.join(dir, 'stream_input', file));
      fs.writeFileSync(path.join(dir, 'quarantine', 's1.csv.bad'), edited);
      const ledger = path.join(dir, 'quarantine', 's1.csv.replayed');
      const text = fs.readFileSync(ledger, 'utf8');
      fs.writeFileSync(ledger, text.slice(0, text.indexOf('\n') + 20)); // one whole line and the start of the next
    });
    const rerun = await expectRecoveredOnce(data);
    expect(rerun).toMatchObject({ replayed: 3, stillBad: 2, already: 0 });
    const ledger = readReplayLedger(data, 's1.csv');
    expect(ledger.map((l) => [l.line, l.file])).toEqual([[31, replayFile], ...FIXED_LINES.map((n) => [n, rerun.files[0]])]);
  });

  it('killed after the rename, before the .bad rewrite: the rows count as replayed and are dropped, not replayed again', async () => {
    const { data, replayFile } = await replayedThenUndone((dir, _file, edited) => {
      fs.writeFileSync(path.join(dir, 'quarantine', 's1.csv.bad'), edited);
    });
    const rerun = await expectRecoveredOnce(data);
    expect(rerun).toMatchObject({ replayed: 0, stillBad: 2, files: [], already: 3 });
    expect(readReplayLedger(data, 's1.csv').map((l) => l.file)).toEqual(FIXED_LINES.map(() => replayFile));
  });

  it('killed after the rename while the speed layer had not logged the file yet: logged at its next run, once', async () => {
    // The same state as above, seen from the speed layer: the replay file is complete in stream_input/, unlogged.
    const { data, replayFile } = await replayedThenUndone(() => undefined);
    expect(loggedStreamFiles(data).map((e) => e.name)).toEqual(['s1.csv']);
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    await runCliOk(['speed', '--once', '--data', data, ...SPEED_ONCE]);
    expect(loggedStreamFiles(data).map((e) => e.name)).toEqual(['s1.csv', replayFile]);
    await expectExactMerge(data);
    expectFixedUsersOnce(data);
  });
});
