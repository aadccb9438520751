// An independent statement of the row rules for tests: validation, integer cents, formatting, partitioning, a
// whole-file recount and a recount of a data folder's master dataset, written from the contract (issue 2, README)
// without calling anything in src/.

import fs from 'node:fs';
import path from 'node:path';
import { MERGED_HEADER, type Totals, compactedMasterFiles, loggedFilePath, loggedStreamFiles, partitionStreamIds } from './outputs.js';

export const REFERENCE_HEADER = 'user_id,event_type,amount,unix_timestamp';
export const REFERENCE_MAX_LINE_BYTES = 64 * 1024;
export const REFERENCE_MAX_ROW_CENTS = 99_999_999_999n;
export const REFERENCE_MAX_TIMESTAMP = 253_402_300_799;

export type RowOutcome =
  | { readonly kind: 'purchase'; readonly userId: string; readonly cents: bigint; readonly second: number }
  | { readonly kind: 'view' }
  | { readonly kind: 'bad'; readonly reason: string };

/** `[-+]?digits[.d{1,2}]` into cents, or undefined; |cents| ≤ 99,999,999,999. */
export function referenceCents(amount: string): bigint | undefined {
  const match = /^([-+]?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
  if (!match) return undefined;
  const cents = BigInt(match[2]!) * 100n + BigInt((match[3] ?? '').padEnd(2, '0'));
  if (cents > REFERENCE_MAX_ROW_CENTS) return undefined;
  return match[1] === '-' ? -cents : cents;
}

export function referenceTimestampOk(timestamp: string): boolean {
  return /^\d+(\.\d+)?$/.test(timestamp) && Number(timestamp) <= REFERENCE_MAX_TIMESTAMP;
}

/** Classifies the fields of one row in the contract's order of checks. */
export function classifyFields(fields: readonly string[]): RowOutcome {
  const bad = (reason: string): RowOutcome => ({ kind: 'bad', reason });
  if (fields.length !== 4) return bad('field_count');
  const [userId, eventType, amount, timestamp] = fields as [string, string, string, string];
  if (userId === '') return bad('empty_user_id');
  if (/[\x00-\x1f\x7f]/.test(userId)) return bad('bad_user_id');
  if (eventType !== 'view' && eventType !== 'purchase') return bad('unknown_event_type');
  const cents = referenceCents(amount);
  if (cents === undefined) return bad('bad_amount');
  if (!referenceTimestampOk(timestamp)) return bad('bad_timestamp');
  // The event second: the timestamp's whole part (its fraction dropped), by the digits.
  return eventType === 'purchase' ? { kind: 'purchase', userId, cents, second: Number(timestamp.split('.')[0]) } : { kind: 'view' };
}

export interface ReferenceTotal {
  count: number;
  cents: bigint;
}

export interface Recount {
  readonly totals: Map<string, ReferenceTotal>;
  /** Per user, per bucket start (Unix seconds, floor(second / bucketSeconds) · bucketSeconds): the event-time totals. */
  readonly buckets: Map<string, Map<number, ReferenceTotal>>;
  readonly bucketSeconds: number;
  rows: number;
  purchases: number;
  views: number;
  readonly bad: { line: number; reason: string; text: string }[];
}

/** The bucket size a data folder has unless a test asks for another: one hour. */
export const REFERENCE_BUCKET_SECONDS = 3_600;

export function emptyRecount(bucketSeconds = REFERENCE_BUCKET_SECONDS): Recount {
  return { totals: new Map(), buckets: new Map(), bucketSeconds, rows: 0, purchases: 0, views: 0, bad: [] };
}

export function addPurchase(recount: Recount, userId: string, cents: bigint, second: number): void {
  const total = recount.totals.get(userId) ?? { count: 0, cents: 0n };
  total.count++;
  total.cents += cents;
  recount.totals.set(userId, total);
  const start = second - (second % recount.bucketSeconds);
  const buckets = recount.buckets.get(userId) ?? new Map<number, ReferenceTotal>();
  const inBucket = buckets.get(start) ?? { count: 0, cents: 0n };
  inBucket.count++;
  inBucket.cents += cents;
  buckets.set(start, inBucket);
  recount.buckets.set(userId, buckets);
}

/** Bucket lines `user,bucket_start,count,amount`, sorted by user id (JS string order) then bucket start. */
export function expectedBucketLines(buckets: ReadonlyMap<string, ReadonlyMap<number, ReferenceTotal>>): string[] {
  return [...buckets.keys()]
    .sort()
    .flatMap((userId) =>
      [...buckets.get(userId)!].sort(([a], [b]) => a - b).map(([start, t]) => `${quoteField(userId)},${start},${t.count},${formatReferenceCents(t.cents)}`),
    );
}

/** Splits a file's text into lines the way the contract says: LF, CRLF or lone CR; no line after a final terminator. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * Recounts one file's text. `splitFields` turns a line into fields, or returns a bad reason (e.g. bad_quoting).
 * Default: a plain split on commas (enough for unquoted test data).
 */
export function recountFile(
  text: string,
  into: Recount = emptyRecount(),
  splitFields: (line: string) => string[] | string = (line) => line.split(','),
): Recount {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  splitLines(body).forEach((line, index) => {
    const lineNumber = index + 1;
    if (line === '') return;
    if (lineNumber === 1 && line === REFERENCE_HEADER) return;
    into.rows++;
    if (Buffer.byteLength(line) > REFERENCE_MAX_LINE_BYTES) {
      into.bad.push({ line: lineNumber, reason: 'line_too_long', text: line });
      return;
    }
    const fields = splitFields(line);
    const outcome: RowOutcome = typeof fields === 'string' ? { kind: 'bad', reason: fields } : classifyFields(fields);
    if (outcome.kind === 'bad') into.bad.push({ line: lineNumber, reason: outcome.reason, text: line });
    else if (outcome.kind === 'view') into.views++;
    else {
      into.purchases++;
      addPurchase(into, outcome.userId, outcome.cents, outcome.second);
    }
  });
  return into;
}

/** Cents printed with exactly two decimals. */
export function formatReferenceCents(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** RFC 4180 quoting of an output field. */
export function quoteField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** View lines `user,count,amount`, sorted by user id with JS string comparison (UTF-16 code units). */
export function expectedViewLines(totals: ReadonlyMap<string, ReferenceTotal>): string[] {
  return [...totals.keys()].sort().map((userId) => {
    const total = totals.get(userId)!;
    return `${quoteField(userId)},${total.count},${formatReferenceCents(total.cents)}`;
  });
}

/** Totals as plain sorted tuples, comparable with toEqual. */
export function sortedReferenceTotals(totals: ReadonlyMap<string, ReferenceTotal>): { userId: string; count: number; cents: number }[] {
  return [...totals.keys()].sort().map((userId) => ({ userId, count: totals.get(userId)!.count, cents: Number(totals.get(userId)!.cents) }));
}

/** Standard 32-bit FNV-1a of the UTF-8 bytes: the README's partition hash (a user sits in part hash mod partitions). */
export function fnv1aOf(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Which part of a data folder's master dataset to recount: batch_input/ or not, and logged stream seqs (afterSeq, throughSeq]. */
export interface MasterDatasetPart {
  readonly history: boolean;
  readonly afterSeq: number;
  readonly throughSeq: number;
}

/**
 * Part of a data folder's master dataset recounted from scratch (README "How the merged view stays exact"): every
 * regular file `batch_input/*.csv` (links not followed; names starting with `.` or `_` are not inputs) when `history`, plus the stream
 * files named in the ingest log with seqs in the range, each read up to its logged size (or, once compacted, its
 * segment of a compacted master file; a name starting with `master/` is a NATS batch file, relative to the data
 * folder), and, with `history`, every file logged by a NATS partition stream (streams/p<i>/). Rows are split on commas:
 * enough for the unquoted data the pipeline tests generate.
 */
export function recountDataFolder(dataDir: string, part: MasterDatasetPart): Recount {
  const recount = emptyRecount();
  const batchDir = path.join(dataDir, 'batch_input');
  const names = part.history && fs.existsSync(batchDir) ? fs.readdirSync(batchDir).sort() : [];
  for (const name of names.filter((n) => n.endsWith('.csv') && !/^[._]/.test(n))) {
    const file = path.join(batchDir, name);
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) recountFile(fs.readFileSync(file, 'utf8'), recount);
  }
  // Compacted master files hold the good rows of seqs 1..C, seq after seq; the log's entries past C name files
  // still in stream_input/.
  const compacted = compactedMasterFiles(dataDir);
  for (const file of compacted) {
    const bytes = fs.readFileSync(file.path);
    for (let seq = Math.max(file.first, part.afterSeq + 1); seq <= Math.min(file.last, part.throughSeq); seq++) {
      const i = seq - file.first;
      recountFile(bytes.subarray(i === 0 ? 0 : file.seqEnds[i - 1]!, file.seqEnds[i]).toString('utf8'), recount);
    }
  }
  const compactedThrough = compacted.at(-1)?.last ?? 0;
  for (const entry of loggedStreamFiles(dataDir).filter((e) => e.seq > Math.max(part.afterSeq, compactedThrough) && e.seq <= part.throughSeq)) {
    recountLogged(dataDir, entry, recount);
  }
  // NATS partition streams (streams/p<i>/ingest/ingest.log): every logged file, when the history is asked for.
  if (part.history)
    for (const stream of partitionStreamIds(dataDir)) for (const entry of loggedStreamFiles(dataDir, stream)) recountLogged(dataDir, entry, recount);
  return recount;
}

/** A logged file's logged prefix: in stream_input/, or (a name starting with master/, a NATS batch) in the data folder. */
function recountLogged(dataDir: string, entry: { name: string; size: number }, recount: Recount): void {
  const logged = fs.readFileSync(loggedFilePath(dataDir, entry.name)).subarray(0, entry.size);
  if (logged.length !== entry.size) throw new Error(`${entry.name}: ${logged.length} bytes on disk, ${entry.size} logged`);
  recountFile(logged.toString('utf8'), recount);
}

/** The whole master dataset's users, less those whose total is 0 purchases and 0 cents (views leave them out). */
function masterDatasetUsers(dataDir: string): Map<string, ReferenceTotal> {
  const totals = recountDataFolder(dataDir, { history: true, afterSeq: 0, throughSeq: Infinity }).totals;
  for (const [user, t] of totals) if (t.count === 0 && t.cents === 0n) totals.delete(user);
  return totals;
}

/** The whole master dataset of a data folder recounted from scratch: batch_input/ plus every logged stream file. */
export function recountMasterDataset(dataDir: string): Totals {
  return new Map([...masterDatasetUsers(dataDir)].map(([user, t]) => [user, { count: t.count, cents: Number(t.cents) }]));
}

/** merged_view.csv as the README says it must be for a data folder: header, then every user of the master dataset. */
export function expectedMergedViewText(dataDir: string): string {
  return [MERGED_HEADER, ...expectedViewLines(masterDatasetUsers(dataDir))].map((line) => `${line}\n`).join('');
}
