// The data folder's layout: every path a layer reads or writes, derived from the one --data root.

import fs from 'node:fs';
import path from 'node:path';

export interface DataLayout {
  readonly root: string;
  /**
   * Which stream's ingest log and speed outputs the per-stream paths below are: `default` (the one stream of a data
   * folder without partitions: today's paths) or `p<i>`, NATS partition i (its own sub-layout under streams/p<i>/).
   */
  readonly stream: string;
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
  /** `merge --once --buckets`: the merged view per (user, bucket). */
  readonly mergedBuckets: string;
  readonly quarantine: string;
  /** pid of the running replay-quarantine: one at a time, so no fixed row is replayed by two. */
  readonly replayLock: string;
  readonly ingestLog: string;
  readonly speedLock: string;
  /** The master dataset's compacted stream files, and the record of which seqs each holds. */
  readonly masterStream: string;
  readonly compactions: string;
  readonly compactLock: string;
  /** Where this stream's NATS messages land as immutable master files (master/nats/, or master/nats/p<i>/). */
  readonly natsMaster: string;
  /** The data folder's event-time bucket size, recorded once (src/io/files/event-time-settings.ts). */
  readonly eventTimeSettings: string;
  /** This stream's late rows, one `<input-name>.late` per stream file that had some (src/io/logs/late-rows.ts). */
  readonly lateRows: string;
}

/** The default stream's id: the stream of a data folder fed by stream_input/ (and NATS without partitions). */
export const DEFAULT_STREAM = 'default';
const PARTITION_STREAM = /^p(\d+)$/;

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
    mergedBuckets: path.join(serving, 'view', 'merged_buckets.csv'),
    quarantine: path.join(absolute, 'quarantine'),
    replayLock: path.join(absolute, 'quarantine', '.replay.lock'),
    ingestLog: path.join(absolute, 'ingest', 'ingest.log'),
    speedLock: path.join(absolute, 'ingest', 'speed.lock'),
    masterStream: path.join(absolute, 'master', 'stream'),
    compactions: path.join(absolute, 'master', 'stream', 'compactions.jsonl'),
    compactLock: path.join(absolute, 'master', 'compact.lock'),
    stream: DEFAULT_STREAM,
    natsMaster: path.join(absolute, 'master', 'nats'),
    eventTimeSettings: path.join(absolute, 'event-time.json'),
    lateRows: path.join(absolute, 'late'),
  });
}

/**
 * The layout of NATS partition `partition`'s stream: its own ingest log, lock and speed outputs (realtime head,
 * checkpoints, deltas, windows) under streams/p<i>/, its NATS files under master/nats/p<i>/; batch views, quarantine
 * and the rest of the data folder are shared. Its compaction paths point into its own folder, where no compaction
 * ever writes (compaction moves the default stream's stream_input/ files only).
 */
export function streamLayout(layout: DataLayout, partition: number): DataLayout {
  const stream = `p${partition}`;
  const dir = path.join(layout.root, 'streams', stream);
  const serving = path.join(dir, 'serving');
  return Object.freeze({
    ...layout,
    stream,
    streamInput: path.join(dir, 'stream_input'),
    servingSpeed: path.join(serving, 'speed'),
    servingRealtime: path.join(serving, 'realtime'),
    realtimeDeltas: path.join(serving, 'realtime', 'deltas'),
    realtimeHead: path.join(serving, 'realtime', 'head.json'),
    ingestLog: path.join(dir, 'ingest', 'ingest.log'),
    speedLock: path.join(dir, 'ingest', 'speed.lock'),
    masterStream: path.join(dir, 'master', 'stream'),
    compactions: path.join(dir, 'master', 'stream', 'compactions.jsonl'),
    compactLock: path.join(dir, 'master', 'compact.lock'),
    natsMaster: path.join(layout.natsMaster, stream),
    lateRows: path.join(dir, 'late'),
  });
}

/** The partition numbers of the NATS partition streams a data folder has (folders streams/p<i>/), ascending. */
export function partitionStreams(layout: DataLayout): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(layout.root, 'streams'));
  } catch {
    return [];
  }
  return names
    .map((name) => PARTITION_STREAM.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
}

/** The default stream's layout and every partition stream's, default first. */
export function allStreamLayouts(layout: DataLayout): DataLayout[] {
  return [layout, ...partitionStreams(layout).map((partition) => streamLayout(layout, partition))];
}

/** Ingest-log names starting with this are files their source wrote into the master dataset (NATS batches), relative to the data folder. */
export const MASTER_ENTRY_PREFIX = 'master/';

/** Where a logged entry's file is: relative to the data folder for master files, else in the stream's landing folder. */
export function loggedFilePath(layout: DataLayout, name: string): string {
  return name.startsWith(MASTER_ENTRY_PREFIX) ? path.join(layout.root, name) : path.join(layout.streamInput, name);
}

/** Input files are `*.csv` names that are not hidden or temporary (producers write `.name.tmp` then rename). */
export function isInputFileName(name: string): boolean {
  return name.endsWith('.csv') && !name.startsWith('.') && !name.startsWith('_');
}

/** Quarantine file for an input file: the name alone, so no input name can lead outside the quarantine folder. */
/** Quarantine file names: `<input-name>.bad`. */
export const QUARANTINE_FILE = /\.bad$/;

export function quarantinePath(layout: DataLayout, inputName: string): string {
  return path.join(layout.quarantine, `${path.basename(inputName)}.bad`);
}

/** Replay ledger of an input's quarantine: which of its rows replay-quarantine put back into the master dataset. */
export function replayLedgerPath(layout: DataLayout, inputName: string): string {
  return path.join(layout.quarantine, `${path.basename(inputName)}.replayed`);
}
