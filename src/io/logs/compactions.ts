// The record of compacted master files (master/stream/compactions.jsonl): which ingest seqs each compacted file holds,
// appended (fsync) after the file is in place and before any original stream file is removed.
//
//   {"compacted":{"first":1,"last":840,"file":"seqs-…1-…840.csv","bytes":…,"seqEnds":[…],"replaces":"…"}}
//   {"removed":{"through":840}}          every original of seqs ≤ 840 is gone from stream_input/
//
// Each line ends with `"crc32":C`, the CRC-32 of its text before it (json-lines.ts): a record damaged so that it
// still parses would send a seq's reader to the wrong bytes.
//
// A compacted file holds the good rows of its seqs' files, in seq order, one per line (bad rows stay in quarantine);
// seqEnds[i] is the byte length of its prefix through seq first + i, so any watermark inside it is a prefix.

import fs from 'node:fs';
import path from 'node:path';
import { type DataLayout, loggedFilePath } from '../files/layout.js';
import { appendJsonLines, readJsonLines } from './json-lines.js';

export interface CompactedFile {
  readonly first: number;
  readonly last: number;
  /** Its name in master/stream/. */
  readonly file: string;
  readonly bytes: number;
  /** Byte length of the prefix through seq first + i. */
  readonly seqEnds: readonly number[];
  /** The earlier (smaller) compacted file of the same first seq that this one replaces, if any. */
  readonly replaces?: string;
}

export interface Compactions {
  /** Live compacted files (none replaced), in seq order, covering 1..compactedThrough without gaps. */
  readonly files: readonly CompactedFile[];
  readonly compactedThrough: number;
  /** Every original stream file of seqs ≤ removedThrough is removed. */
  readonly removedThrough: number;
  /** Bytes of the record file that are whole lines (a crash may leave a partial last line). */
  readonly validBytes: number;
}

type CompactionRecord = { compacted: CompactedFile } | { removed: { through: number } };

function isCompactedFile(value: unknown): value is CompactedFile {
  const v = value as Partial<CompactedFile> | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(v.first) &&
    Number.isSafeInteger(v.last) &&
    typeof v.file === 'string' &&
    Number.isSafeInteger(v.bytes) &&
    Array.isArray(v.seqEnds) &&
    v.seqEnds.length === v.last! - v.first! + 1
  );
}

export function readCompactions(recordPath: string): Compactions {
  const files: CompactedFile[] = [];
  let removedThrough = 0;
  const validBytes = readJsonLines(recordPath, recordPath, (value) => {
    const record = value as CompactionRecord | undefined;
    if (record && 'removed' in record && Number.isSafeInteger(record.removed?.through)) {
      removedThrough = Math.max(removedThrough, record.removed.through);
      return true;
    }
    if (!record || !('compacted' in record) || !isCompactedFile(record.compacted)) return false;
    const file = record.compacted;
    // A file either extends the newest one (replacing it) or follows it.
    const previous = files.at(-1);
    if (file.replaces !== undefined) {
      if (previous?.file !== file.replaces || previous.first !== file.first) return false;
      files.pop();
    } else if (file.first !== (previous?.last ?? 0) + 1) return false;
    files.push(file);
    return true;
  });
  return { files, compactedThrough: files.at(-1)?.last ?? 0, removedThrough, validBytes };
}

/** Appends one record durably; a partial line a crash left behind is cut off first. */
export function appendCompactionRecord(recordPath: string, record: CompactionRecord): void {
  fs.mkdirSync(path.dirname(recordPath), { recursive: true });
  appendJsonLines(recordPath, recordPath, readCompactions(recordPath).validBytes, [record]);
}

/** Where a logged seq's rows are: its stream file's logged prefix, or its segment of a compacted file. */
export interface LoggedLocation {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Finds logged seqs' rows: in stream_input/, or in the master file their source wrote (names starting with
 * `master/`, relative to the data folder: NATS batches), or, once compacted, in master/stream/ (call refresh after a
 * compaction).
 */
export class LoggedFiles {
  private compactions: Compactions;

  constructor(private readonly layout: DataLayout) {
    this.compactions = readCompactions(layout.compactions);
  }

  refresh(): Compactions {
    this.compactions = readCompactions(this.layout.compactions);
    return this.compactions;
  }

  /** Entries standing for compacted seqs in (afterSeq, throughSeq], for readers that only need their rows. */
  compactedEntries(afterSeq: number, throughSeq: number): { seq: number; name: string; size: number; ingestedAtMs: number }[] {
    const entries: { seq: number; name: string; size: number; ingestedAtMs: number }[] = [];
    for (let seq = afterSeq + 1; seq <= Math.min(throughSeq, this.compactions.compactedThrough); seq++) {
      const location = this.locate({ seq, name: '', size: 0 });
      entries.push({ seq, name: path.basename(location.path), size: location.end - location.start, ingestedAtMs: 0 });
    }
    return entries;
  }

  locate(entry: { seq: number; name: string; size: number }): LoggedLocation {
    if (entry.seq > this.compactions.compactedThrough) return { path: loggedFilePath(this.layout, entry.name), start: 0, end: entry.size };
    const file = this.compactions.files.find((f) => f.first <= entry.seq && entry.seq <= f.last)!;
    const i = entry.seq - file.first;
    return { path: path.join(this.layout.masterStream, file.file), start: i === 0 ? 0 : file.seqEnds[i - 1]!, end: file.seqEnds[i]! };
  }
}
