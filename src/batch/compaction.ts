// Compaction: ingested stream files move out of stream_input/ into large immutable master files, so the landing
// folder, the ingest log and every restart stay bounded as months of stream files accumulate.
//
// Order of effects, each durable before the next, so that a crash anywhere leaves every event counted once:
//   1. the good rows of consecutive seqs' files are written to master/stream/ under a temp name, fsynced, renamed
//      (a compacted file nobody recorded is an orphan: removed by the next compaction);
//   2. a record says which seqs the file holds (master/stream/compactions.jsonl, fsync): from here on every reader
//      takes those seqs from the compacted file, whatever is still in stream_input/;
//   3. the originals are removed, then a record says so (a crash in between: the next compaction removes the rest);
//   4. the ingest log's entries for removed seqs are folded into one line (by whoever holds the speed layer's lock:
//      this command when no speed layer runs, else the speed layer at its next slide).
// Only files old enough to have left the speed layer's window are compacted, and only seqs whose realtime deltas are
// on disk (or that a batch view absorbed), so no restart ever needs to re-read a compacted seq's rows.

import fs from 'node:fs';
import path from 'node:path';
import { type AggSink } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { FileInProgress, removeStaleTemps } from '../io/files/atomic.js';
import { type CompactedFile, type Compactions, appendCompactionRecord, readCompactions } from '../io/logs/compactions.js';
import { seqsCovered } from '../io/views/deltas.js';
import { type IngestEntry, IngestLogWriter, readIngestLog } from '../io/logs/ingest-log.js';
import { type DataLayout, MASTER_ENTRY_PREFIX, quarantinePath } from '../io/files/layout.js';
import { type Lock, acquireLock } from '../io/files/lock.js';
import { type Logger } from '../io/runtime/logger.js';
import { writeQuarantine } from '../io/logs/quarantine.js';
import { parseFileRange } from '../io/files/read-range.js';
import { latestBatchView } from '../io/views/views.js';

/** A step boundary, for crash tests (a kill -9 there must leave everything exact). */
export type CompactionStep = 'written' | 'synced' | 'renamed' | 'recorded' | `removing-${number}` | 'removed' | 'folded';

export interface CompactionConfig {
  readonly layout: DataLayout;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Compacted files grow to about this many bytes (the last one is extended by the next compaction). */
  readonly targetBytes: number;
  /** Only stream files ingested at least this long ago (longer than the speed layer's window and slide). */
  readonly minAgeMs: number;
  readonly onStep?: (step: CompactionStep) => void;
  /** Before and after each compacted file: the bytes of the stream files moved so far, and of all that will move. */
  readonly onProgress?: (bytesMoved: number, bytesTotal: number) => void;
}

export interface CompactionResult {
  /** Stream files moved into compacted files by this run. */
  readonly seqs: number;
  readonly bytes: number;
  /** Compacted files written (an extended last file counts). */
  readonly files: number;
  /** Every seq up to this is in a compacted file. */
  readonly compactedThrough: number;
  /** The ingest log is folded through this seq (undefined: a running speed layer folds it at its next slide). */
  readonly foldedThrough: number | undefined;
}

const COMPACTED_NAME = /^seqs-(\d+)-(\d+)\.csv$/;
const pad = (seq: number): string => String(seq).padStart(12, '0');
const ignoreTotals: AggSink = { add() {} };
const WRITE_CHUNK_BYTES = 4 << 20;

/** Appends bytes to a file in big chunks. */
class ChunkedWriter {
  private buffer = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
  private used = 0;
  written = 0;

  constructor(private readonly fd: number) {}

  write(bytes: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (this.used + length + 1 > this.buffer.length) this.flush();
    if (length + 1 > this.buffer.length) this.buffer = Buffer.allocUnsafe(length + 1);
    this.buffer.set(bytes.subarray(start, end), this.used);
    this.used += length;
    this.buffer[this.used++] = 0x0a;
    this.written += length + 1;
  }

  flush(): void {
    if (this.used > 0) fs.writeFileSync(this.fd, this.buffer.subarray(0, this.used));
    this.used = 0;
  }
}

/** Runs one compaction; another one running on the same data folder is E_LOCKED. */
export async function compactMasterDataset(config: CompactionConfig): Promise<CompactionResult> {
  const { layout } = config;
  fs.mkdirSync(layout.masterStream, { recursive: true });
  const lock = acquireLock(layout.compactLock, 'compaction');
  try {
    return await compactLocked(config);
  } finally {
    lock.release();
  }
}

async function compactLocked(config: CompactionConfig): Promise<CompactionResult> {
  const { layout, clock, logger } = config;
  const step = config.onStep ?? (() => {});
  await removeStaleTemps(layout.masterStream);
  let records = readCompactions(layout.compactions);
  removeOrphans(layout.masterStream, records);
  const log = readIngestLog(layout.ingestLog);
  if (records.removedThrough < records.compactedThrough) {
    records = removeOriginals(config, log.entries, records.removedThrough, records.compactedThrough, step);
  }
  const eligible = eligibleEntries(layout, log.entries, records.compactedThrough, clock.now() - config.minAgeMs);
  let seqs = 0;
  let bytes = 0;
  let files = 0;
  let remaining = eligible;
  const sizeOf = (entries: readonly IngestEntry[]): number => entries.reduce((n, entry) => n + entry.size, 0);
  const bytesTotal = sizeOf(eligible);
  let bytesMoved = 0;
  config.onProgress?.(bytesMoved, bytesTotal);
  while (remaining.length > 0) {
    const last = records.files.at(-1);
    const extend = last && last.bytes < config.targetBytes ? last : undefined;
    const written = await writeCompactedFile(config, extend, remaining, step);
    appendCompactionRecord(layout.compactions, { compacted: written.record });
    step('recorded');
    if (extend) fs.rmSync(path.join(layout.masterStream, extend.file), { force: true });
    records = readCompactions(layout.compactions);
    records = removeOriginals(config, written.entries, records.removedThrough, written.record.last, step);
    seqs += written.entries.length;
    bytes += written.record.bytes - (extend?.bytes ?? 0);
    files++;
    remaining = remaining.slice(written.entries.length);
    bytesMoved += sizeOf(written.entries);
    config.onProgress?.(bytesMoved, bytesTotal);
  }
  const foldedThrough = foldIfIdle(layout, records.removedThrough, logger);
  if (foldedThrough !== undefined) step('folded');
  return { seqs, bytes, files, compactedThrough: records.compactedThrough, foldedThrough };
}

/** Compacted files no record points to: left by a crash before their record, or replaced by an extended file. */
function removeOrphans(masterStream: string, records: Compactions): void {
  const live = new Set(records.files.map((f) => f.file));
  for (const name of fs.readdirSync(masterStream)) {
    if (COMPACTED_NAME.test(name) && !live.has(name)) fs.rmSync(path.join(masterStream, name), { force: true });
  }
}

/**
 * The prefix of not-yet-compacted entries that may be compacted: ingested before `olderThanMs`, and each either
 * absorbed by the newest batch view or with its realtime delta on disk. A prefix, because compacted seqs are always
 * 1..C without gaps. It stops at the first file its source wrote into master/ itself (a NATS batch): such a file is
 * already an immutable master file, and its log entry must stay, since the source resumes from its newest logged
 * file's name (folding it away would lose where the NATS stream was read up to).
 */
function eligibleEntries(layout: DataLayout, entries: readonly IngestEntry[], compactedThrough: number, olderThanMs: number): IngestEntry[] {
  const batchWatermark = latestBatchView(layout.servingBatch, { error() {}, warn() {}, info() {}, debug() {} })?.watermark ?? 0;
  const covered = seqsCovered(layout.realtimeDeltas);
  const eligible: IngestEntry[] = [];
  for (const entry of entries) {
    if (entry.seq <= compactedThrough) continue;
    if (entry.name.startsWith(MASTER_ENTRY_PREFIX)) break;
    if (entry.ingestedAtMs > olderThanMs || (entry.seq > batchWatermark && !covered.has(entry.seq))) break;
    eligible.push(entry);
  }
  return eligible;
}

/**
 * Writes one compacted file: the rows of `extend` (the newest compacted file, when it is below the target size) and
 * the good rows of as many entries as fit the target size (at least one), each seq's rows after the previous seq's.
 */
async function writeCompactedFile(
  config: CompactionConfig,
  extend: CompactedFile | undefined,
  entries: readonly IngestEntry[],
  step: (s: CompactionStep) => void,
): Promise<{ record: CompactedFile; entries: IngestEntry[] }> {
  const { layout } = config;
  const first = extend?.first ?? entries[0]!.seq;
  const compacted = FileInProgress.create(layout.masterStream, 'compacting');
  const taken: IngestEntry[] = [];
  const seqEnds: number[] = [...(extend?.seqEnds ?? [])];
  try {
    const out = new ChunkedWriter(compacted.fd);
    if (extend) {
      const old = fs.readFileSync(path.join(layout.masterStream, extend.file));
      out.flush();
      fs.writeFileSync(compacted.fd, old);
      out.written = old.length;
    }
    for (const entry of entries) {
      if (taken.length > 0 && out.written + entry.size > config.targetBytes) break;
      const file = path.join(layout.streamInput, entry.name);
      const parsed = parseFileRange(file, 0, entry.size, ignoreTotals, 'permissive', 0, (bytes, start, end) => out.write(bytes, start, end));
      if (parsed.truncated) throw new LambdaflowError('E_STATE', `ingested stream file ${file} (seq ${entry.seq}) shrank below its logged size`, { file });
      // Bad rows stay out of the master dataset, in quarantine: the speed layer wrote them there at ingestion; if
      // that failed, they are written now, before the original goes.
      if (parsed.badRows.length > 0 && !fs.existsSync(quarantinePath(layout, entry.name))) await writeQuarantine(layout, entry.name, parsed.badRows);
      out.flush();
      seqEnds.push(out.written);
      taken.push(entry);
    }
    out.flush();
    step('written');
    compacted.sync();
  } catch (error) {
    compacted.discard();
    if (error instanceof LambdaflowError) throw error;
    throw new LambdaflowError(
      'E_WRITE',
      `cannot write a compacted file in ${layout.masterStream}: ${(error as Error).message}`,
      { file: compacted.tempPath },
      { cause: error },
    );
  }
  step('synced');
  const last = taken.at(-1)!.seq;
  const name = `seqs-${pad(first)}-${pad(last)}.csv`;
  compacted.publish(name);
  step('renamed');
  const record: CompactedFile = { first, last, file: name, bytes: seqEnds.at(-1)!, seqEnds, ...(extend ? { replaces: extend.file } : {}) };
  return { record, entries: taken };
}

/** Removes the originals of seqs (afterSeq, throughSeq] from stream_input/, then records that they are gone. */
function removeOriginals(
  config: CompactionConfig,
  entries: readonly IngestEntry[],
  afterSeq: number,
  throughSeq: number,
  step: (s: CompactionStep) => void,
): Compactions {
  const { layout } = config;
  let removed = 0;
  for (const entry of entries) {
    if (entry.seq <= afterSeq || entry.seq > throughSeq) continue;
    fs.rmSync(path.join(layout.streamInput, entry.name), { force: true });
    step(`removing-${++removed}`);
  }
  appendCompactionRecord(layout.compactions, { removed: { through: throughSeq } });
  step('removed');
  return readCompactions(layout.compactions);
}

/** Folds the ingest log through `throughSeq` when no speed layer holds it; undefined when one does (it folds itself). */
function foldIfIdle(layout: DataLayout, throughSeq: number, logger: Logger): number | undefined {
  if (throughSeq === 0) return 0;
  let lock: Lock;
  try {
    lock = acquireLock(layout.speedLock, 'speed layer');
  } catch (error) {
    if (error instanceof LambdaflowError && error.code === 'E_LOCKED') {
      logger.info(`compact: a speed layer is running; it folds the ingest log through seq ${throughSeq} at its next slide`);
      return undefined;
    }
    throw error;
  }
  try {
    const { writer } = IngestLogWriter.open(layout.ingestLog);
    try {
      writer.fold(throughSeq);
      return writer.compactedThrough;
    } finally {
      writer.close();
    }
  } finally {
    lock.release();
  }
}
