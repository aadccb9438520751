// replay-quarantine: rows a user fixed in place in `<data>/quarantine/<input>.bad` re-enter the master dataset
// exactly once, as a new immutable stream file that the speed layer ingests and logs like any other.
//
// The master dataset is batch_input/ plus the stream files in the ingest log, and only the speed layer appends to the
// log. So this command never touches the log: it publishes its rows as stream_input/replay-<input>-<ms>.csv (R), and R
// joins the master dataset when the speed layer logs it (within a micro-batch when it runs, at its next start
// otherwise; `speed --once` at once). R's name is its identity, so it is logged once; batch recomputes read it.
//
// Order of effects for one quarantine file, under quarantine/.replay.lock (one replay at a time):
//   1. read and judge: each entry of <input>.bad goes through the core parser; a row the ledger says is replayed is
//      dropped (never replayed again, whatever its text now), a good row is to be replayed, a bad one stays with its
//      new reason, a blank one (or a line the user deleted) is gone;
//   2. the ledger <input>.replayed gets a line per row to replay, naming R (append + fsync);
//   3. R is written under a hidden temp name in stream_input/, fsynced and renamed to R, the folder fsynced: the commit;
//   4. <input>.bad is rewritten atomically with the rows still bad.
// A ledger line counts only while the file it names exists (io/replay-ledger.ts). A crash before step 3's rename
// leaves lines naming a file that never appeared: void, so the next run replays those rows, under a new name (one no
// ledger line names), and removes the dead run's temp file. A crash after the rename leaves R in place: its rows
// count as replayed, and the next run only finishes step 4. A crash in step 4 leaves the old or the new <input>.bad.
// At every point each fixed row is either not replayed yet or replayed once.

import fs from 'node:fs';
import path from 'node:path';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type QuarantineEntry, formatQuarantineEntries, judgeRow, parseQuarantineEntries, replayFileText } from '../core/quarantine-entries.js';
import { publishNewFile, removeStaleTemps, writeFileAtomically } from '../io/files/atomic.js';
import { type DataLayout, replayLedgerPath } from '../io/files/layout.js';
import { acquireLock } from '../io/files/lock.js';
import { type Logger } from '../io/runtime/logger.js';
import { appendReplayLedger, readReplayLedger, replayedRows, rowDigest } from '../io/logs/replay-ledger.js';

const QUARANTINE_SUFFIX = '.bad';
/** Replay files are stream files named `replay-<input name without .csv>-<ms>.csv`. */
const REPLAY_PREFIX = 'replay-';
/** The input's part of a replay file name is cut to this many bytes, so the name stays under the usual 255. */
const MAX_STEM_BYTES = 200;

export interface ReplayOptions {
  /** Only this quarantine file: its name in quarantine/, with or without `.bad`. Every one when undefined. */
  readonly file: string | undefined;
}

export interface ReplayConfig extends ReplayOptions {
  readonly layout: DataLayout;
  readonly logger: Logger;
  readonly clock: Clock;
}

export interface ReplaySummary {
  readonly quarantineFiles: number;
  /** Fixed rows written to replay files by this run. */
  readonly replayed: number;
  /** Rows left in the quarantine files, with their reasons. */
  readonly stillBad: number;
  /** Rows found in a quarantine file although an earlier run replayed them: dropped, not replayed again. */
  readonly alreadyReplayed: number;
  /** Names of the replay files written into stream_input/. */
  readonly filesWritten: readonly string[];
}

/** Replays the fixed rows of every quarantine file (or of `config.file`). */
export async function replayQuarantine(config: ReplayConfig): Promise<ReplaySummary> {
  const { layout } = config;
  const names = quarantineFiles(layout, config.file);
  let summary: ReplaySummary = { quarantineFiles: names.length, replayed: 0, stillBad: 0, alreadyReplayed: 0, filesWritten: [] };
  if (names.length === 0) return summary;
  const lock = acquireLock(layout.replayLock, 'replay-quarantine');
  try {
    await removeStaleTemps(layout.streamInput, REPLAY_PREFIX);
    for (const name of names) {
      const one = await replayOne(config, name);
      summary = {
        ...summary,
        replayed: summary.replayed + one.replayed,
        stillBad: summary.stillBad + one.stillBad,
        alreadyReplayed: summary.alreadyReplayed + one.alreadyReplayed,
        filesWritten: one.written === undefined ? summary.filesWritten : [...summary.filesWritten, one.written],
      };
    }
  } finally {
    lock.release();
  }
  return summary;
}

/** The quarantine files to replay, sorted: regular `*.bad` files (links not followed), or the one asked for. */
function quarantineFiles(layout: DataLayout, only: string | undefined): string[] {
  if (only !== undefined) {
    const name = only.endsWith(QUARANTINE_SUFFIX) ? only : `${only}${QUARANTINE_SUFFIX}`;
    const file = path.join(layout.quarantine, name);
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() !== true) {
      throw new LambdaflowError('E_INPUT', `no quarantine file ${file}`, { file });
    }
    return [name];
  }
  let names: string[];
  try {
    names = fs.readdirSync(layout.quarantine);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LambdaflowError('E_INPUT', `cannot list ${layout.quarantine}: ${(error as Error).message}`, { file: layout.quarantine });
  }
  return names
    .filter((name) => name.endsWith(QUARANTINE_SUFFIX) && !name.startsWith('.'))
    .filter((name) => fs.lstatSync(path.join(layout.quarantine, name), { throwIfNoEntry: false })?.isFile() === true)
    .sort();
}

/** Steps 1–4 for one quarantine file. */
async function replayOne(
  config: ReplayConfig,
  badName: string,
): Promise<{ replayed: number; stillBad: number; alreadyReplayed: number; written: string | undefined }> {
  const { layout, logger, clock } = config;
  const inputName = badName.slice(0, -QUARANTINE_SUFFIX.length);
  const badPath = path.join(layout.quarantine, badName);
  const original = fs.readFileSync(badPath);
  const replayed = replayedRows(layout, inputName);

  // 1. Judge every entry.
  const fixed: QuarantineEntry[] = [];
  const stillBad: QuarantineEntry[] = [];
  let alreadyReplayed = 0;
  for (const entry of parseQuarantineEntries(original, badPath)) {
    const verdict = judgeRow(entry.row);
    const done = replayed.get(entry.line);
    if (done !== undefined) {
      alreadyReplayed++;
      if (verdict.kind === 'good' && rowDigest(entry.row) !== done.sha256) {
        logger.warn(`replay-quarantine: ${badPath}: line ${entry.line} was already replayed (in ${done.file}); this different fix is not replayed`);
      }
    } else if (verdict.kind === 'good') fixed.push(entry);
    else if (verdict.kind === 'bad') stillBad.push({ ...entry, reason: verdict.reason });
  }

  let written: string | undefined;
  if (fixed.length > 0) {
    const ledgerPath = replayLedgerPath(layout, inputName);
    const name = replayFileName(layout, inputName, clock.now(), ledgerPath);
    // 2. The intent, durable before the file exists.
    appendReplayLedger(
      ledgerPath,
      fixed.map((entry) => ({ line: entry.line, sha256: rowDigest(entry.row), file: name })),
    );
    // 3. The commit: the rename makes the ledger lines count.
    await publishNewFile(layout.streamInput, name, replayFileText(fixed.map((entry) => entry.row)));
    logger.info(`replay-quarantine: ${badName}: ${fixed.length} fixed rows → ${path.join(layout.streamInput, name)}`);
    written = name;
  }
  // 4. Only the rows still bad stay.
  const remaining = formatQuarantineEntries(stillBad);
  if (!remaining.equals(original)) await writeFileAtomically(badPath, remaining);
  return { replayed: fixed.length, stillBad: stillBad.length, alreadyReplayed, written };
}

/** `replay-<input without .csv>-<ms>.csv`, at the first ms whose name neither exists nor appears in the ledger (a void line may name a file never written). */
function replayFileName(layout: DataLayout, inputName: string, nowMs: number, ledgerPath: string): string {
  const input = Array.from(path.basename(inputName).replace(/\.csv$/, ''));
  while (Buffer.byteLength(input.join('')) > MAX_STEM_BYTES) input.pop();
  const stem = `${REPLAY_PREFIX}${input.join('')}-`;
  const named = new Set(readReplayLedger(ledgerPath).entries.map((entry) => entry.file));
  for (let ms = nowMs; ; ms++) {
    const name = `${stem}${ms}.csv`;
    if (!named.has(name) && fs.lstatSync(path.join(layout.streamInput, name), { throwIfNoEntry: false }) === undefined) return name;
  }
}
