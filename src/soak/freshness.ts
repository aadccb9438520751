// Soak's freshness figure: for each stream file, the time from its rename into stream_input/ to the first
// merged_view.csv that holds its seq, kept only for files not yet seen there so a soak of days holds no per-file state.

import fs from 'node:fs';
import { type RecordableHistogram, createHistogram } from 'node:perf_hooks';
import { readIngestLog } from '../io/logs/ingest-log.js';

/**
 * The seqs of the ingest log's new lines, read from where the last read stopped: re-reading the whole log on every
 * merge would cost O(files logged) each time. Compaction folds the log by renaming a rewrite over it (a new inode),
 * and then it is read whole once more.
 */
class IngestLogTail {
  private inode = -1;
  private offset = 0;

  constructor(private readonly logPath: string) {}

  /** The (name, seq) of every line appended since the last call. */
  newEntries(): { name: string; seq: number }[] {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.logPath);
    } catch {
      return [];
    }
    if (stat.ino !== this.inode || stat.size < this.offset) {
      const log = readIngestLog(this.logPath);
      this.inode = stat.ino;
      this.offset = log.validBytes;
      return log.entries;
    }
    if (stat.size === this.offset) return [];
    const bytes = Buffer.alloc(stat.size - this.offset);
    const fd = fs.openSync(this.logPath, 'r');
    try {
      fs.readSync(fd, bytes, 0, bytes.length, this.offset);
    } finally {
      fs.closeSync(fd);
    }
    // A line still being appended has no newline yet: it is read next time.
    const whole = bytes.lastIndexOf(0x0a) + 1;
    this.offset += whole;
    return bytes
      .subarray(0, whole)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { name: string; seq: number });
  }
}

export class FreshnessTracker {
  /** Files renamed into stream_input/ whose seq no merged view has held yet, with the time of their rename. */
  private readonly pending = new Map<string, number>();
  /** Seqs of pending files, learnt from the ingest log. */
  private readonly seqOf = new Map<string, number>();
  private readonly tail: IngestLogTail;
  /** A histogram, not a list: its size does not grow with the files measured. */
  private readonly freshnessMs: RecordableHistogram = createHistogram();

  constructor(ingestLogPath: string) {
    this.tail = new IngestLogTail(ingestLogPath);
  }

  renamed(name: string, renamedAtMs: number): void {
    this.pending.set(name, renamedAtMs);
  }

  /** A merged view holding seqs up to throughSeq was written at writtenAtMs. */
  merged(throughSeq: number, writtenAtMs: number): void {
    for (const entry of this.tail.newEntries()) if (this.pending.has(entry.name)) this.seqOf.set(entry.name, entry.seq);
    for (const [name, seq] of this.seqOf) {
      if (seq > throughSeq) continue;
      // The histogram records whole numbers from 1.
      this.freshnessMs.record(Math.max(1, Math.round(writtenAtMs - this.pending.get(name)!)));
      this.pending.delete(name);
      this.seqOf.delete(name);
    }
  }

  /** Files (and seqs) waiting to be seen in a merged view: bounded by the files in flight, not by files written. */
  get heldEntries(): number {
    return this.pending.size + this.seqOf.size;
  }

  /** Files measured so far. */
  get files(): number {
    return this.freshnessMs.count;
  }

  /** The p-th percentile of the files' freshness, in ms (undefined before any). */
  percentileMs(p: number): number | undefined {
    return this.freshnessMs.count === 0 ? undefined : this.freshnessMs.percentile(p);
  }
}
