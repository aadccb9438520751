// The data folder's layout: every path a layer reads or writes, derived from the one --data root.

import path from 'node:path';

export interface DataLayout {
  readonly root: string;
  readonly batchInput: string;
  readonly streamInput: string;
  readonly servingBatch: string;
  readonly servingSpeed: string;
  readonly servingRealtime: string;
  readonly realtimeDeltas: string;
  /** Where the realtime view is: its range and the newest checkpoint, rewritten after every micro-batch. */
  readonly realtimeHead: string;
  readonly servingView: string;
  readonly mergedView: string;
  readonly quarantine: string;
  /** pid of the running replay-quarantine: one at a time, so no fixed row is replayed by two. */
  readonly replayLock: string;
  readonly ingestLog: string;
  readonly speedLock: string;
  /** The master dataset's compacted stream files, and the record of which seqs each holds. */
  readonly masterStream: string;
  readonly compactions: string;
  readonly compactLock: string;
}

export function dataLayout(root: string): DataLayout {
  const absolute = path.resolve(root);
  const serving = path.join(absolute, 'serving');
  return Object.freeze({
    root: absolute,
    batchInput: path.join(absolute, 'batch_input'),
    streamInput: path.join(absolute, 'stream_input'),
    servingBatch: path.join(serving, 'batch'),
    servingSpeed: path.join(serving, 'speed'),
    servingRealtime: path.join(serving, 'realtime'),
    realtimeDeltas: path.join(serving, 'realtime', 'deltas'),
    realtimeHead: path.join(serving, 'realtime', 'head.json'),
    servingView: path.join(serving, 'view'),
    mergedView: path.join(serving, 'view', 'merged_view.csv'),
    quarantine: path.join(absolute, 'quarantine'),
    replayLock: path.join(absolute, 'quarantine', '.replay.lock'),
    ingestLog: path.join(absolute, 'ingest', 'ingest.log'),
    speedLock: path.join(absolute, 'ingest', 'speed.lock'),
    masterStream: path.join(absolute, 'master', 'stream'),
    compactions: path.join(absolute, 'master', 'stream', 'compactions.jsonl'),
    compactLock: path.join(absolute, 'master', 'compact.lock'),
  });
}

/** Input files are `*.csv` names that are not hidden or temporary (producers write `.name.tmp` then rename). */
export function isInputFileName(name: string): boolean {
  return name.endsWith('.csv') && !name.startsWith('.') && !name.startsWith('_');
}

/** Quarantine file for an input file: the name alone, so no input name can lead outside the quarantine folder. */
export function quarantinePath(layout: DataLayout, inputName: string): string {
  return path.join(layout.quarantine, `${path.basename(inputName)}.bad`);
}

/** Replay ledger of an input's quarantine: which of its rows replay-quarantine put back into the master dataset. */
export function replayLedgerPath(layout: DataLayout, inputName: string): string {
  return path.join(layout.quarantine, `${path.basename(inputName)}.replayed`);
}
