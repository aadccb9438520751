// Realtime deltas: per-ingest-seq totals per (user, event-time bucket) on disk (`delta-A-B.csv` for seqs A..B: the
// header DELTAS_HEADER, then lines `seq,user_id,bucket_start,count,amount`), so any reader can add what the realtime
// view gained, or subtract exactly what a batch view absorbed. A file without the header is from before buckets:
// `seq,user_id,count,amount`, totals over all time. A file's last line may be its trailer, `#event-time {…}`: each
// seq's largest event second and late rows, so a restart knows the event clock without reading the files again.

import fs from 'node:fs';
import path from 'node:path';
import { type AggBlock, UserAggTable } from '../../core/agg-table.js';
import { type DeltaRange } from '../../core/exact-merge.js';
import { type BucketField, NO_BUCKET_FIELD, bucketField, forEachViewLine, formatBlock } from '../../core/view-format.js';
import { type UnitEventTime, maxEventSecondFromJson, watermarkJson } from '../../core/event-time.js';
import { LambdaflowError } from '../../core/errors.js';
import { writeFileAtomically } from '../files/atomic.js';
import { runToEnd } from '../runtime/steps.js';

export const DELTA_PATTERN = /^delta-(\d+)-(\d+)\.csv$/;
const pad = (seq: number): string => String(seq).padStart(12, '0');

export interface SeqTotals {
  readonly seq: number;
  readonly block: AggBlock;
}

/** One delta line, as read: the seq, the user id bytes[start, end), its bucket (ALL_TIME in a file from before buckets) and totals. */
export type DeltaLine = (seq: number, key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number) => void;

export const DELTAS_HEADER = 'seq,user_id,bucket_start,purchase_count,purchase_amount_total';
const HEADER_BYTES = Buffer.from(`${DELTAS_HEADER}\n`);

/** A seq's delta lines (without the file's header: DeltaFiles.write adds it). */
export function formatDeltaLines(seq: number, block: AggBlock, bucketSeconds: number): Buffer {
  return formatBlock(block, `${seq},`, bucketField(bucketSeconds));
}

const TRAILER_PREFIX = '#event-time ';

/** Each seq's event time, the trailer of seqs first..: `#event-time {"first":F,"seqs":[[max or null, late], …]}`. */
function formatTrailer(first: number, units: readonly UnitEventTime[]): Buffer {
  const seqs = units.map((unit) => [watermarkJson(unit.maxEventSecond), unit.lateRows]);
  return Buffer.from(`${TRAILER_PREFIX}${JSON.stringify({ first, seqs })}\n`);
}

/** Where a delta file's trailer starts (its length when it has none). */
function trailerStart(bytes: Uint8Array): number {
  const lastLine = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  return bytes[lastLine] === 0x23 ? lastLine : bytes.length;
}

/** A trailer's event time per seq; a trailer that does not parse is damage, named with the file. */
function parseTrailer(bytes: Uint8Array, file: string): Map<number, UnitEventTime> {
  const at = trailerStart(bytes);
  const found = new Map<number, UnitEventTime>();
  if (at === bytes.length) return found;
  const text = Buffer.from(bytes.subarray(at)).toString('utf8').trimEnd();
  const damaged = (): LambdaflowError => new LambdaflowError('E_STATE', `damaged view file ${file}: its last line is not an #event-time trailer`, { file });
  if (!text.startsWith(TRAILER_PREFIX)) throw damaged();
  let parsed: { first?: unknown; seqs?: unknown };
  try {
    parsed = JSON.parse(text.slice(TRAILER_PREFIX.length)) as typeof parsed;
  } catch {
    throw damaged();
  }
  if (!Number.isSafeInteger(parsed.first) || !Array.isArray(parsed.seqs)) throw damaged();
  parsed.seqs.forEach((unit: unknown, i) => {
    const [max, late] = Array.isArray(unit) ? (unit as unknown[]) : [];
    const maxEventSecond = maxEventSecondFromJson(max);
    if (maxEventSecond === undefined || !Number.isSafeInteger(late) || (late as number) < 0) throw damaged();
    found.set((parsed.first as number) + i, { maxEventSecond, lateRows: late as number });
  });
  return found;
}

/** How a delta file's lines give buckets: from its header (with the data folder's bucket size), or none without one. */
function deltaFormat(bytes: Uint8Array, bucketSeconds: number): { readonly headerBytes: number; readonly buckets: BucketField } {
  const hasHeader = bytes.length >= HEADER_BYTES.length && HEADER_BYTES.every((b, i) => bytes[i] === b);
  return hasHeader ? { headerBytes: HEADER_BYTES.length, buckets: bucketField(bucketSeconds) } : { headerBytes: 0, buckets: NO_BUCKET_FIELD };
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
function* readDeltaLines(
  files: readonly DeltaFileName[],
  afterSeq: number,
  throughSeq: number,
  bucketSeconds: number,
  accept: DeltaLine,
  stepBytes: number,
): Generator<void, Set<number>> {
  const done = new Set<number>();
  const acceptNew = (prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number): void => {
    const seq = prefix[0]!;
    if (seq > afterSeq && seq <= throughSeq && !done.has(seq)) accept(seq, key, start, end, count, cents, bucket);
  };
  for (const { file, first, last } of files) {
    if (last <= afterSeq || first > throughSeq) continue;
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      continue; // removed since listed: its sequence numbers are reported missing
    }
    const { headerBytes, buckets } = deltaFormat(bytes, bucketSeconds);
    const linesEnd = trailerStart(bytes);
    let lines = headerBytes > 0 ? 1 : 0;
    for (let from = headerBytes; from < linesEnd; ) {
      if (from > headerBytes) yield;
      const newline = from + stepBytes >= linesEnd ? -1 : bytes.indexOf(0x0a, from + stepBytes);
      const to = newline === -1 ? linesEnd : newline + 1;
      lines += forEachViewLine(bytes.subarray(from, to), file, 1, acceptNew, { linesBefore: lines, buckets });
      from = to;
    }
    for (let seq = Math.max(first, afterSeq + 1); seq <= Math.min(last, throughSeq); seq++) done.add(seq);
  }
  return done;
}

/** The deltas folder as the speed layer, its workers and the serving layer use it (with the data folder's bucket size). */
export class DeltaFiles {
  constructor(
    readonly dir: string,
    readonly bucketSeconds: number,
  ) {}

  /**
   * Writes the delta lines of seqs first..last (already formatted) as one file with its header and, with `units`
   * (each seq's event time, in seq order), its trailer, atomically.
   */
  async write(first: number, last: number, lines: Uint8Array, units: readonly UnitEventTime[] = []): Promise<void> {
    const parts = [HEADER_BYTES, lines];
    if (units.length > 0) {
      if (units.length !== last - first + 1) throw new RangeError(`the delta file of seqs ${first}..${last} needs ${last - first + 1} seqs' event time, got ${units.length}`);
      parts.push(formatTrailer(first, units));
    }
    await writeFileAtomically(path.join(this.dir, `delta-${pad(first)}-${pad(last)}.csv`), Buffer.concat(parts));
  }

  /** The event time of each seq of (afterSeq, throughSeq] that a delta file's trailer gives. */
  eventTimes(afterSeq: number, throughSeq: number): Map<number, UnitEventTime> {
    const found = new Map<number, UnitEventTime>();
    for (const { file, first, last } of listDeltaFiles(this.dir)) {
      if (last <= afterSeq || first > throughSeq) continue;
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch {
        continue; // removed since listed: those seqs' event time is found by reading their files
      }
      for (const [seq, unit] of parseTrailer(bytes, file)) if (seq > afterSeq && seq <= throughSeq) found.set(seq, unit);
    }
    return found;
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
    return runToEnd(readDeltaLines(this.filesFor(afterSeq, throughSeq), afterSeq, throughSeq, this.bucketSeconds, accept, Infinity));
  }

  /** Adds a range's deltas into the table (signed, per (user, bucket)) and returns the seqs found. */
  merge(range: DeltaRange, table: UserAggTable): Set<number> {
    return this.forEachLine(range.afterSeq, range.throughSeq, (_seq, key, start, end, count, cents, bucket) =>
      table.add(key, start, end, range.sign * count, range.sign * cents, undefined, bucket),
    );
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
    const found = yield* readDeltaLines(
      this.filesFor(afterSeq, throughSeq),
      afterSeq,
      throughSeq,
      this.bucketSeconds,
      (seq, key, start, end, count, cents, bucket) => {
        let table = tables.get(seq);
        if (!table) tables.set(seq, (table = new UserAggTable(64)));
        table.add(key, start, end, count, cents, undefined, bucket);
      },
      READ_STEP_BYTES,
    );
    return [...found].sort((a, b) => a - b).map((seq) => ({ seq, block: (tables.get(seq) ?? new UserAggTable(0)).toBlock() }));
  }

  /** Removes delta files every one of whose seqs is at or below throughSeq. */
  prune(throughSeq: number): void {
    for (const { file, last } of listDeltaFiles(this.dir)) if (last <= throughSeq) fs.rmSync(file, { force: true });
  }

  /** Seqs some delta file covers. */
  covered(): Set<number> {
    return seqsCovered(this.dir);
  }
}

/** Seqs some delta file of a deltas folder covers (by the files' names). */
export function seqsCovered(deltasDir: string): Set<number> {
  const covered = new Set<number>();
  for (const { first, last } of listDeltaFiles(deltasDir)) for (let seq = first; seq <= last; seq++) covered.add(seq);
  return covered;
}
