// The append-only ingest log: which stream files joined the master dataset, in what order (seq), with what size.
// Once compaction has moved the files of seqs 1..C into the master dataset's compacted files, the log's entries for
// them are folded into one first line `{"compactedThrough":C}`, so reading the log costs what is not yet compacted.
// Every line carries the CRC-32 of its text (json-lines.ts): a size or seq damaged in a line that still parses is
// refused naming the line, where it would have read a different prefix of a stream file without a word.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../../core/errors.js';
import { FileInProgress } from '../files/atomic.js';
import { jsonLinesText, readJsonLines } from './json-lines.js';

export interface IngestEntry {
  readonly seq: number;
  readonly name: string;
  /** Bytes of the file that were ingested; every layer reads exactly this prefix, even if the file grew later. */
  readonly size: number;
  /** The micro-batch time the file was ingested in: decides its slide. */
  readonly ingestedAtMs: number;
}

function isEntry(value: unknown): value is IngestEntry {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  return Number.isInteger(e.seq) && typeof e.name === 'string' && Number.isInteger(e.size) && Number.isInteger(e.ingestedAtMs);
}

/**
 * Reads the log. A last line without its newline is a write cut short by a crash: it was never acknowledged, so it
 * is ignored (and the writer truncates it). Any other unreadable line means the log is damaged: an error.
 */
export interface IngestLog {
  /** Entries of seqs past compactedThrough, in seq order. */
  readonly entries: IngestEntry[];
  /** Seqs 1..compactedThrough were folded (their files are in compacted master files); 0 when none were. */
  readonly compactedThrough: number;
  /** The last seq logged (0 when none). */
  readonly lastSeq: number;
  readonly validBytes: number;
}

export function readIngestLog(logPath: string): IngestLog {
  const entries: IngestEntry[] = [];
  let compactedThrough = 0;
  const validBytes = readJsonLines(logPath, `the ingest log ${logPath}`, (value, i) => {
    const folded = (value as { compactedThrough?: unknown } | undefined)?.compactedThrough;
    if (i === 0 && Number.isSafeInteger(folded) && (folded as number) >= 0) {
      compactedThrough = folded as number;
      return true;
    }
    if (!isEntry(value) || value.seq !== (entries.at(-1)?.seq ?? compactedThrough) + 1) return false;
    entries.push(value);
    return true;
  });
  return { entries, compactedThrough, lastSeq: entries.at(-1)?.seq ?? compactedThrough, validBytes };
}

/** The writer side, owned by the one speed layer holding the lock. */
export class IngestLogWriter {
  private constructor(
    private readonly logPath: string,
    private fd: number,
    private lastSeq: number,
    private foldedThrough: number,
  ) {}

  static open(logPath: string): { writer: IngestLogWriter; log: IngestLog } {
    fs.mkdirSync(path.dirname(logPath), { recursive: true });
    const log = readIngestLog(logPath);
    const fd = fs.openSync(logPath, 'a+');
    if (fs.fstatSync(fd).size !== log.validBytes) fs.ftruncateSync(fd, log.validBytes);
    return { writer: new IngestLogWriter(logPath, fd, log.lastSeq, log.compactedThrough), log };
  }

  /** Seqs 1..compactedThrough are folded into the log's first line. */
  get compactedThrough(): number {
    return this.foldedThrough;
  }

  /**
   * Folds the entries of seqs 1..throughSeq (their files compacted, and removed from stream_input/) into one first
   * line: the log is rewritten under a temp name, fsynced and renamed over itself, so a crash leaves the old or the new.
   * Returns the folded files' names.
   */
  fold(throughSeq: number): string[] {
    if (throughSeq <= this.foldedThrough) return [];
    if (throughSeq > this.lastSeq) throw new RangeError(`cannot fold the ingest log through seq ${throughSeq}: it ends at ${this.lastSeq}`);
    const { entries } = readIngestLog(this.logPath);
    const kept = entries.filter((entry) => entry.seq > throughSeq);
    const text = jsonLinesText([{ compactedThrough: throughSeq }, ...kept]);
    let folded: FileInProgress | undefined;
    try {
      folded = FileInProgress.create(path.dirname(this.logPath), path.basename(this.logPath));
      fs.writeFileSync(folded.fd, text);
      folded.sync();
      folded.publish(path.basename(this.logPath));
    } catch (cause) {
      folded?.discard();
      throw new LambdaflowError('E_WRITE', `cannot fold the ingest log: ${(cause as Error).message}`, { file: this.logPath }, { cause });
    }
    fs.closeSync(this.fd);
    this.fd = fs.openSync(this.logPath, 'a+');
    this.foldedThrough = throughSeq;
    return entries.filter((entry) => entry.seq <= throughSeq).map((entry) => entry.name);
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** Durably appends entries for these files (fsync) and returns them with their sequence numbers. */
  append(files: readonly { name: string; size: number }[], ingestedAtMs: number): IngestEntry[] {
    const entries = files.map((f, i) => ({ seq: this.lastSeq + i + 1, name: f.name, size: f.size, ingestedAtMs }));
    if (entries.length === 0) return entries;
    const text = jsonLinesText(entries);
    const sizeBefore = fs.fstatSync(this.fd).size;
    try {
      fs.writeFileSync(this.fd, text); // loops until every byte is written, unlike one writeSync
      fs.fsyncSync(this.fd);
    } catch (cause) {
      // Nothing of a failed append may stay: a half line, or lines whose seqs would be appended again on retry.
      try {
        fs.ftruncateSync(this.fd, sizeBefore);
      } catch (truncateError) {
        throw new LambdaflowError('E_STATE', `the ingest log could not be restored after a failed append: ${(truncateError as Error).message}`, {}, { cause });
      }
      throw new LambdaflowError('E_WRITE', `cannot append to the ingest log: ${(cause as Error).message}`, {}, { cause });
    }
    this.lastSeq += entries.length;
    return entries;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
