// Realtime deltas: per-ingest-seq totals per (user, event-time bucket) on disk (`delta-A-B.csv` for seqs A..B: the
// header DELTAS_HEADER, then lines `seq,user_id,bucket_start,count,amount`), so any reader can add what the realtime
// view gained, or subtract exactly what a batch view absorbed. A file without the header is from before buckets:
// `seq,user_id,count,amount`, totals over all time.
//
// A file with the header proves itself: its last line is its trailer, `#trailer {"lines":L,"crc32":C,…}`, the number of
// lines (the header's included) and the CRC-32 of every byte before the trailer, written with it before the atomic rename
// (with, when known, each seq's largest event second and late rows, so a restart knows the event clock without
// reading the files again). A reader refuses a file whose trailer is missing, cut or does not match (E_STATE naming
// the file): a delta cut at a line boundary still parses, and would be counted short without a word. Bucketed files
// written before trailers had lines and counts (an `#event-time` trailer or none) cannot prove themselves either, so
// they are refused the same way and the speed layer rewrites them from the logged files at its next start. Files
// from before buckets are read as they were written (nothing to check them with), but an empty file or one cut
// inside the header is damage: every writer since buckets starts with the header.

import fs from 'node:fs';
import path from 'node:path';
import { type AggBlock, UserAggTable } from '../../core/agg-table.js';
import { type DeltaRange } from '../../core/exact-merge.js';
import { type BucketField, NO_BUCKET_FIELD, bucketField, forEachViewLine, formatBlock } from '../../core/view-format.js';
import { type UnitEventTime, maxEventSecondFromJson, watermarkJson } from '../../core/event-time.js';
import { LambdaflowError } from '../../core/errors.js';
import { writeFileAtomically } from '../files/atomic.js';
import { readRegularFile } from '../files/read-range.js';
import { contentCheckFrom, contentCheckOf, contentMismatch } from '../files/content-check.js';
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

const TRAILER_PREFIX = '#trailer ';

/**
 * The trailer of a file whose bytes before it are `body` (header and lines): their check, and with `units` each seq's
 * event time from seq first: `#trailer {"lines":L,"crc32":C,"first":F,"seqs":[[max or null, late], …]}`.
 */
function formatTrailer(body: Buffer, first: number, units: readonly UnitEventTime[]): Buffer {
  const eventTime = units.length > 0 ? { first, seqs: units.map((unit) => [watermarkJson(unit.maxEventSecond), unit.lateRows]) } : {};
  return Buffer.from(`${TRAILER_PREFIX}${JSON.stringify({ ...contentCheckOf(body), ...eventTime })}\n`);
}

/** A delta file, checked: where its lines are, how they give buckets, and each seq's event time its trailer gives. */
interface CheckedDeltaFile {
  readonly linesStart: number;
  readonly linesEnd: number;
  readonly buckets: BucketField;
  readonly eventTimes: ReadonlyMap<number, UnitEventTime>;
}

/** Checks a delta file's bytes against its trailer (see the top of this module); damage is one E_STATE naming the file. */
function checkDeltaFile(bytes: Uint8Array, file: string, bucketSeconds: number): CheckedDeltaFile {
  const damaged = (problem: string): LambdaflowError => new LambdaflowError('E_STATE', `damaged delta file ${file}: ${problem}`, { file });
  if (bytes.length < HEADER_BYTES.length && HEADER_BYTES.subarray(0, bytes.length).equals(bytes)) {
    throw damaged(bytes.length === 0 ? 'it is empty (expected at least its header and trailer)' : `it ends inside its header (${bytes.length} bytes)`);
  }
  const lastLine = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  const hasTrailer = bytes[lastLine] === 0x23;
  if (!HEADER_BYTES.equals(bytes.subarray(0, HEADER_BYTES.length))) {
    if (hasTrailer) throw damaged('it has a trailer but not the header');
    return { linesStart: 0, linesEnd: bytes.length, buckets: NO_BUCKET_FIELD, eventTimes: new Map() };
  }
  if (!hasTrailer) throw damaged('its last line is not a #trailer with its line count and CRC-32 (the file is cut, or from before checks)');
  const text = Buffer.from(bytes.subarray(lastLine)).toString('utf8');
  let trailer: { lines?: unknown; crc32?: unknown; first?: unknown; seqs?: unknown } | undefined;
  try {
    if (text.startsWith(TRAILER_PREFIX) && text.endsWith('\n')) trailer = JSON.parse(text.slice(TRAILER_PREFIX.length)) as typeof trailer;
  } catch {
    // refused below
  }
  const expected = contentCheckFrom(trailer);
  if (!trailer || !expected) throw damaged('its last line is not a complete #trailer');
  const mismatch = contentMismatch(bytes.subarray(0, lastLine), expected);
  if (mismatch !== undefined) throw damaged(`${mismatch} before its trailer`);
  return { linesStart: HEADER_BYTES.length, linesEnd: lastLine, buckets: bucketField(bucketSeconds), eventTimes: eventTimesOf(trailer, damaged) };
}

/** The event time per seq a checked trailer gives (none when it gives none). */
function eventTimesOf(trailer: { first?: unknown; seqs?: unknown }, damaged: (problem: string) => LambdaflowError): Map<number, UnitEventTime> {
  const found = new Map<number, UnitEventTime>();
  if (trailer.first === undefined && trailer.seqs === undefined) return found;
  const first = trailer.first;
  if (!Number.isSafeInteger(first) || !Array.isArray(trailer.seqs)) throw damaged("its trailer's event time does not parse");
  trailer.seqs.forEach((unit: unknown, i) => {
    const [max, late] = Array.isArray(unit) ? (unit as unknown[]) : [];
    const maxEventSecond = maxEventSecondFromJson(max);
    if (maxEventSecond === undefined || !Number.isSafeInteger(late) || (late as number) < 0)
      throw damaged(`its trailer's event time of seq ${(first as number) + i} does not parse`);
    found.set((first as number) + i, { maxEventSecond, lateRows: late as number });
  });
  return found;
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
      bytes = readRegularFile(file, 'E_STATE');
    } catch {
      continue; // removed since listed: its sequence numbers are reported missing
    }
    const { linesStart, linesEnd, buckets } = checkDeltaFile(bytes, file, bucketSeconds);
    let lines = linesStart > 0 ? 1 : 0;
    for (let from = linesStart; from < linesEnd;) {
      if (from > linesStart) yield;
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
   * Writes the delta lines of seqs first..last (already formatted) as one file with its header and its trailer (with
   * `units`, each seq's event time in seq order, in it), atomically.
   */
  async write(first: number, last: number, lines: Uint8Array, units: readonly UnitEventTime[] = []): Promise<void> {
    if (units.length > 0 && units.length !== last - first + 1)
      throw new RangeError(`the delta file of seqs ${first}..${last} needs ${last - first + 1} seqs' event time, got ${units.length}`);
    const body = Buffer.concat([HEADER_BYTES, lines]);
    await writeFileAtomically(path.join(this.dir, `delta-${pad(first)}-${pad(last)}.csv`), Buffer.concat([body, formatTrailer(body, first, units)]));
  }

  /** The event time of each seq of (afterSeq, throughSeq] that a delta file's trailer gives. */
  eventTimes(afterSeq: number, throughSeq: number): Map<number, UnitEventTime> {
    const found = new Map<number, UnitEventTime>();
    for (const { file, first, last } of listDeltaFiles(this.dir)) {
      if (last <= afterSeq || first > throughSeq) continue;
      let bytes: Buffer;
      try {
        bytes = readRegularFile(file, 'E_STATE');
      } catch {
        continue; // removed since listed: those seqs' event time is found by reading their files
      }
      for (const [seq, unit] of checkDeltaFile(bytes, file, this.bucketSeconds).eventTimes) if (seq > afterSeq && seq <= throughSeq) found.set(seq, unit);
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

  /**
   * Removes every delta file that does not prove itself and says why each was refused: deltas are derived from the
   * ingest log, so the speed layer's recovery rebuilds the seqs they no longer cover from the logged files.
   */
  removeDamaged(): string[] {
    return this.damaged().map((error) => {
      fs.rmSync(error.context.file!, { force: true });
      return error.message;
    });
  }

  /** Why each delta file that does not prove itself is refused (E_STATE naming the file), in seq order; nothing is removed. */
  damaged(): LambdaflowError[] {
    const refused: LambdaflowError[] = [];
    for (const { file } of listDeltaFiles(this.dir)) {
      try {
        checkDeltaFile(readRegularFile(file, 'E_STATE'), file, this.bucketSeconds);
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
        refused.push(error);
      }
    }
    return refused;
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
