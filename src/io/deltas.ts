// Realtime deltas: per-ingest-seq user totals on disk (`delta-A-B.csv`, lines `seq,user_id,count,amount` for seqs
// A..B), so any reader can add what the realtime view gained, or subtract exactly what a batch view absorbed.

import fs from 'node:fs';
import path from 'node:path';
import { type AggBlock, UserAggTable } from '../core/agg-table.js';
import { type DeltaRange } from '../core/exact-merge.js';
import { forEachViewLine, formatBlock } from '../core/view-format.js';
import { writeFileAtomically } from './atomic.js';
import { runToEnd } from './steps.js';

const DELTA_PATTERN = /^delta-(\d+)-(\d+)\.csv$/;
const pad = (seq: number): string => String(seq).padStart(12, '0');

export interface SeqTotals {
  readonly seq: number;
  readonly block: AggBlock;
}

/** One delta line, as read: the seq, the user id bytes[start, end), and its totals. */
export type DeltaLine = (seq: number, key: Uint8Array, start: number, end: number, count: number, cents: number) => void;

/** A seq's delta lines. */
export function formatDeltaLines(seq: number, block: AggBlock): Buffer {
  return formatBlock(block, `${seq},`);
}

interface DeltaFileName {
  readonly file: string;
  readonly first: number;
  readonly last: number;
}

function listDeltaFiles(deltasDir: string): DeltaFileName[] {
  let names: string[];
  try {
    names = fs.readdirSync(deltasDir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, match: DELTA_PATTERN.exec(name) }))
    .filter((x): x is { name: string; match: RegExpExecArray } => x.match !== null)
    .map(({ name, match }) => ({ file: path.join(deltasDir, name), first: Number(match[1]), last: Number(match[2]) }))
    .sort((a, b) => a.first - b.first || a.last - b.last);
}

/** A reader in steps parses about this many bytes of a delta file per step (~2 ms). */
const READ_STEP_BYTES = 1 << 17;

/**
 * Reads the delta lines of seqs in (afterSeq, throughSeq] from the given files, pausing (a yield) after each
 * `stepBytes` or so, at the end of a line. A seq found in two files (rewritten during recovery) counts once; a seq is
 * found when a file's range covers it, even with no lines (a file without purchases). Returns the seqs found.
 */
function* readDeltaLines(files: readonly DeltaFileName[], afterSeq: number, throughSeq: number, accept: DeltaLine, stepBytes: number): Generator<void, Set<number>> {
  const done = new Set<number>();
  const acceptNew = (prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number): void => {
    const seq = prefix[0]!;
    if (seq > afterSeq && seq <= throughSeq && !done.has(seq)) accept(seq, key, start, end, count, cents);
  };
  for (const { file, first, last } of files) {
    if (last <= afterSeq || first > throughSeq) continue;
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      continue; // removed since listed: its sequence numbers are reported missing
    }
    let lines = 0;
    for (let from = 0; from < bytes.length; ) {
      if (from > 0) yield;
      const newline = from + stepBytes >= bytes.length ? -1 : bytes.indexOf(0x0a, from + stepBytes);
      const to = newline === -1 ? bytes.length : newline + 1;
      lines += forEachViewLine(bytes.subarray(from, to), file, 1, acceptNew, { linesBefore: lines });
      from = to;
    }
    for (let seq = Math.max(first, afterSeq + 1); seq <= Math.min(last, throughSeq); seq++) done.add(seq);
  }
  return done;
}

/** The deltas folder as the speed layer, its workers and the serving layer use it. */
export class DeltaFiles {
  constructor(readonly dir: string) {}

  /** Writes the delta lines of seqs first..last (already formatted) as one file, atomically. */
  async write(first: number, last: number, lines: Uint8Array): Promise<void> {
    await writeFileAtomically(path.join(this.dir, `delta-${pad(first)}-${pad(last)}.csv`), lines);
  }

  /**
   * The files that may hold seqs (afterSeq, throughSeq]. One micro-batch writes one file named after its range, so
   * a reader following the stream usually finds exactly `delta-(afterSeq+1)-(throughSeq)` without listing the folder.
   */
  private filesFor(afterSeq: number, throughSeq: number): DeltaFileName[] {
    const exact = path.join(this.dir, `delta-${pad(afterSeq + 1)}-${pad(throughSeq)}.csv`);
    if (throughSeq > afterSeq && fs.existsSync(exact)) return [{ file: exact, first: afterSeq + 1, last: throughSeq }];
    return listDeltaFiles(this.dir);
  }

  /** Every delta line of seqs (afterSeq, throughSeq]; returns the seqs found. */
  forEachLine(afterSeq: number, throughSeq: number, accept: DeltaLine): Set<number> {
    return runToEnd(readDeltaLines(this.filesFor(afterSeq, throughSeq), afterSeq, throughSeq, accept, Infinity));
  }

  /** Adds a range's deltas into the table (signed) and returns the seqs found. */
  merge(range: DeltaRange, table: UserAggTable): Set<number> {
    return this.forEachLine(range.afterSeq, range.throughSeq, (_seq, key, start, end, count, cents) => table.add(key, start, end, range.sign * count, range.sign * cents));
  }

  /** Each seq of (afterSeq, throughSeq] found, with its totals (empty for a file without purchases), in seq order. */
  read(afterSeq: number, throughSeq: number): SeqTotals[] {
    return runToEnd(this.readInSteps(afterSeq, throughSeq));
  }

  /**
   * What read returns, in steps of ~2 ms (a yield between), so a thread answering requests can answer them between:
   * a speed layer that fell behind publishes one file for everything it caught up with.
   */
  *readInSteps(afterSeq: number, throughSeq: number): Generator<void, SeqTotals[]> {
    const tables = new Map<number, UserAggTable>();
    const found = yield* readDeltaLines(this.filesFor(afterSeq, throughSeq), afterSeq, throughSeq, (seq, key, start, end, count, cents) => {
      let table = tables.get(seq);
      if (!table) tables.set(seq, (table = new UserAggTable(64)));
      table.add(key, start, end, count, cents);
    }, READ_STEP_BYTES);
    return [...found].sort((a, b) => a - b).map((seq) => ({ seq, block: (tables.get(seq) ?? new UserAggTable(0)).toBlock() }));
  }

  /** Removes delta files every one of whose seqs is at or below throughSeq. */
  prune(throughSeq: number): void {
    for (const { file, last } of listDeltaFiles(this.dir)) if (last <= throughSeq) fs.rmSync(file, { force: true });
  }

  /** Seqs some delta file covers. */
  covered(): Set<number> {
    const covered = new Set<number>();
    for (const { first, last } of listDeltaFiles(this.dir)) for (let seq = first; seq <= last; seq++) covered.add(seq);
    return covered;
  }
}
