// The core event parser used by every layer: lines of `user_id,event_type,amount,unix_timestamp` into totals per
// (user, event-time bucket), with the range of event seconds its good rows had.
//
// Bytes are scanned in chunks; a line ends at LF, CRLF or a lone CR. Quoted lines go through csv-parse (the
// reference); everything else through a byte fast path that must agree with it. Bad rows are data: counted,
// and kept (with their 1-based line number relative to the first chunk) when the caller wants a quarantine.

import { COMMA, QUOTE, parseQuotedLine } from './csv-fields.js';
import { FNV_OFFSET, FNV_PRIME, fnv1a } from './hash.js';
import { ALL_TIME, type AggSink } from './agg-table.js';
import { parseCents } from './money.js';

export const HEADER_LINE = 'user_id,event_type,amount,unix_timestamp';
/** Longer lines are bad rows; the parser never holds more than this of one line. */
export const MAX_LINE_BYTES = 64 * 1024;
/** How much of an overlong line a quarantine entry keeps. */
export const QUARANTINED_PREFIX_BYTES = 1024;
/** Latest accepted timestamp: 9999-12-31T23:59:59Z. */
export const MAX_TIMESTAMP_SECONDS = 253_402_300_799;

export const BAD_REASONS = [
  'field_count',
  'empty_user_id',
  'bad_user_id',
  'unknown_event_type',
  'bad_amount',
  'bad_timestamp',
  'bad_quoting',
  'line_too_long',
] as const;
export type BadReason = (typeof BAD_REASONS)[number];

export interface BadRow {
  readonly line: number;
  readonly reason: BadReason;
  /** The original line's bytes (only the first QUARANTINED_PREFIX_BYTES of an overlong one). */
  readonly raw: Uint8Array;
}

export interface ParseCounts {
  /** Lines that are rows: not blank, not the leading header. */
  rows: number;
  purchases: number;
  views: number;
  bad: Record<BadReason, number>;
  /** The smallest and largest event second of a good row (a purchase or a view): Infinity and −Infinity without one. */
  minEventSecond: number;
  maxEventSecond: number;
}

/** What parsing a byte range of a file gives (io/read-range.ts parseFileRange, on a parse thread). */
export interface RangeParse {
  /** Lines in the range, so a caller can number the next range's lines. */
  readonly lineCount: number;
  readonly counts: ParseCounts;
  /** Bad rows numbered from 1 within the range. */
  readonly badRows: readonly BadRow[];
  /** True when the file ended before the range did (it shrank while read). */
  readonly truncated: boolean;
}

export function emptyCounts(): ParseCounts {
  return {
    rows: 0,
    purchases: 0,
    views: 0,
    bad: Object.fromEntries(BAD_REASONS.map((r) => [r, 0])) as Record<BadReason, number>,
    minEventSecond: Infinity,
    maxEventSecond: -Infinity,
  };
}

export function addCounts(into: ParseCounts, from: ParseCounts): void {
  into.rows += from.rows;
  into.purchases += from.purchases;
  into.views += from.views;
  for (const reason of BAD_REASONS) into.bad[reason] += from.bad[reason];
  into.minEventSecond = Math.min(into.minEventSecond, from.minEventSecond);
  into.maxEventSecond = Math.max(into.maxEventSecond, from.maxEventSecond);
}

export function totalBad(counts: ParseCounts): number {
  return BAD_REASONS.reduce((n, reason) => n + counts.bad[reason], 0);
}

/** What happens to bad rows: quarantined and counted, only counted, or the run stops at the first. */
export const BAD_ROW_MODES = ['permissive', 'drop', 'failfast'] as const;
export type BadRowMode = (typeof BAD_ROW_MODES)[number];

export interface EventParserOptions {
  /** The first chunk starts the file: a UTF-8 BOM and a header line there are skipped. */
  readonly atFileStart: boolean;
  /** Keep bad rows' bytes for a quarantine (permissive mode). */
  readonly keepBadRows: boolean;
  /** Stop at the first bad row (failfast mode): consume() then consumes nothing more. */
  readonly stopAtFirstBadRow: boolean;
  /**
   * The event-time bucket size in seconds: a purchase is added to the bucket of its second. 0 adds every purchase
   * over all time (ALL_TIME), for readers that only count.
   */
  readonly bucketSeconds: number;
  /**
   * Called with each good row's bytes (a purchase or a view), without its line ending, its event second and its line
   * number: compaction copies them, the speed layer finds its late rows.
   */
  readonly onGoodRow?: (bytes: Uint8Array, start: number, end: number, second: number, line: number) => void;
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const PURCHASE = Buffer.from('purchase');
const VIEW = Buffer.from('view');
const HEADER_BYTES = Buffer.from(HEADER_LINE);
const BOM = [0xef, 0xbb, 0xbf];
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

function equalsAt(bytes: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (bytes[start + i] !== word[i]) return false;
  return true;
}

function isValidUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  try {
    strictDecoder.decode(bytes.subarray(start, end));
    return true;
  } catch {
    return false;
  }
}

/** A user id is any non-empty UTF-8 text without control characters (C0, DEL, C1). */
function userIdProblem(bytes: Uint8Array, start: number, end: number): BadReason | undefined {
  if (start === end) return 'empty_user_id';
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c === 0x7f) return 'bad_user_id';
    if (c >= 0x80) ascii = false;
  }
  return ascii || (isValidUtf8(bytes, start, end) && !hasC1Control(bytes, start, end)) ? undefined : 'bad_user_id';
}

/** C1 control characters (U+0080–U+009F) are encoded as C2 80 … C2 9F in UTF-8. */
function hasC1Control(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i + 1 < end; i++) if (bytes[i] === 0xc2 && bytes[i + 1]! >= 0x80 && bytes[i + 1]! <= 0x9f) return true;
  return false;
}

/** Unix seconds: digits with an optional fraction, from 0 to MAX_TIMESTAMP_SECONDS; the whole second (fraction dropped), or NaN. */
export function timestampSeconds(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let seconds = 0;
  while (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) {
    seconds = seconds * 10 + (bytes[i]! - 0x30);
    if (seconds > MAX_TIMESTAMP_SECONDS) return Number.NaN;
    i++;
  }
  if (i === start) return Number.NaN;
  if (i === end) return seconds;
  if (bytes[i] !== DOT || i + 1 === end) return Number.NaN;
  let fractionIsZero = true;
  for (i++; i < end; i++) {
    if (bytes[i]! < 0x30 || bytes[i]! > 0x39) return Number.NaN;
    if (bytes[i] !== 0x30) fractionIsZero = false;
  }
  return seconds < MAX_TIMESTAMP_SECONDS || fractionIsZero ? seconds : Number.NaN;
}

export class EventParser {
  readonly counts: ParseCounts = emptyCounts();
  readonly badRows: BadRow[] = [];
  /** Lines seen so far, blank ones included: the line number of the last line consumed. */
  lineCount = 0;
  /** The event second of the last good row. */
  private lastSecond = 0;
  private skippingLongLine = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly table: AggSink,
    private readonly options: EventParserOptions,
  ) {}

  /** True once a bad row stopped a failfast parse. */
  get hasStopped(): boolean {
    return this.stopped;
  }

  /**
   * Parses the complete lines of bytes[start, end) and returns the offset where the unconsumed tail starts; the
   * caller passes that tail again, followed by more bytes. With `final`, the tail is the file's last line.
   * The tail is never longer than MAX_LINE_BYTES: an overlong line is recorded and skipped as it streams by.
   */
  consume(bytes: Uint8Array, start: number, end: number, final: boolean): number {
    let lineStart = start;
    if (!this.started && this.options.atFileStart) {
      const available = Math.min(3, end - start);
      let bomPrefix = true;
      for (let k = 0; k < available; k++) if (bytes[start + k] !== BOM[k]) bomPrefix = false;
      if (bomPrefix && available < 3 && !final) return start; // the BOM may be split across chunks: wait for more
      if (bomPrefix && available === 3) lineStart += 3;
    }
    this.started = true;
    // Native memchr-style searches find line ends; a CR search runs again only after passing the last CR found.
    const view = end === bytes.length ? bytes : bytes.subarray(0, end);
    let nextCr = view.indexOf(CR, lineStart);
    while (lineStart < end && !this.stopped) {
      const lf = view.indexOf(LF, lineStart);
      if (nextCr !== -1 && nextCr < lineStart) nextCr = view.indexOf(CR, lineStart);
      let lineEnd: number;
      let next: number;
      if (nextCr !== -1 && (lf === -1 || nextCr < lf)) {
        lineEnd = nextCr;
        next = nextCr + 1;
        if (next === end && !final) break; // a CR at the chunk's end may be the first half of CRLF
        if (next === lf) next++;
      } else if (lf !== -1) {
        lineEnd = lf;
        next = lf + 1;
      } else {
        break;
      }
      this.line(bytes, lineStart, lineEnd);
      lineStart = next;
    }
    if (this.stopped) return end;
    if (final) {
      if (lineStart < end || this.skippingLongLine) this.line(bytes, lineStart, end);
      return end;
    }
    // A trailing CR stays unconsumed: it may be the first half of a CRLF that ends this line.
    const pendingCr = bytes[end - 1] === CR ? 1 : 0;
    if (end - pendingCr - lineStart > MAX_LINE_BYTES) {
      if (!this.skippingLongLine) this.overlong(bytes, lineStart);
      return end - pendingCr;
    }
    return lineStart;
  }

  private overlong(bytes: Uint8Array, start: number): void {
    this.skippingLongLine = true;
    this.lineCount++;
    this.bad('line_too_long', bytes, start, start + QUARANTINED_PREFIX_BYTES);
  }

  private line(bytes: Uint8Array, start: number, end: number): void {
    if (this.skippingLongLine) {
      // The rest of a line already reported as too long.
      this.skippingLongLine = false;
      return;
    }
    this.lineCount++;
    if (end - start > MAX_LINE_BYTES) {
      this.bad('line_too_long', bytes, start, start + QUARANTINED_PREFIX_BYTES);
      return;
    }
    if (start === end) return; // blank lines are not rows
    if (this.lineCount === 1 && this.options.atFileStart && equalsAt(bytes, start, end, HEADER_BYTES)) return;
    this.counts.rows++;
    const onGoodRow = this.options.onGoodRow;
    const goodBefore = onGoodRow ? this.counts.purchases + this.counts.views : 0;
    if (!this.simpleRow(bytes, start, end)) this.plainRow(bytes, start, end);
    if (onGoodRow && this.counts.purchases + this.counts.views > goodBefore) onGoodRow(bytes, start, end, this.lastSecond, this.lineCount);
  }

  /** Counts a good row's event second in; returns its bucket. */
  private eventSecond(second: number): number {
    this.lastSecond = second;
    if (second < this.counts.minEventSecond) this.counts.minEventSecond = second;
    if (second > this.counts.maxEventSecond) this.counts.maxEventSecond = second;
    const bucketSeconds = this.options.bucketSeconds;
    return bucketSeconds > 0 ? Math.floor(second / bucketSeconds) : ALL_TIME;
  }

  /**
   * The common case in one pass, no re-scan: a printable-ASCII user id, `purchase` or `view`, a plain amount and an
   * integer-or-decimal timestamp. Anything else (quotes, UTF-8, bad fields, …) returns false untouched, and
   * plainRow decides it with the full rules; so this path accepts a subset of what plainRow accepts, identically.
   */
  private simpleRow(bytes: Uint8Array, start: number, end: number): boolean {
    let hash = FNV_OFFSET;
    let i = start;
    for (; i < end; i++) {
      const c = bytes[i]!;
      if (c === COMMA) break;
      if (c < 0x20 || c === QUOTE || c > 0x7e) return false;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    const userEnd = i;
    if (userEnd === start || end - userEnd < 8) return false;
    i++;
    let isPurchase: boolean;
    if (
      bytes[i] === 0x70 &&
      bytes[i + 1] === 0x75 &&
      bytes[i + 2] === 0x72 &&
      bytes[i + 3] === 0x63 &&
      bytes[i + 4] === 0x68 &&
      bytes[i + 5] === 0x61 &&
      bytes[i + 6] === 0x73 &&
      bytes[i + 7] === 0x65 &&
      bytes[i + 8] === COMMA
    ) {
      isPurchase = true;
      i += 9;
    } else if (bytes[i] === 0x76 && bytes[i + 1] === 0x69 && bytes[i + 2] === 0x65 && bytes[i + 3] === 0x77 && bytes[i + 4] === COMMA) {
      isPurchase = false;
      i += 5;
    } else {
      return false;
    }
    let negative = false;
    if (bytes[i] === 0x2d || bytes[i] === 0x2b) negative = bytes[i++] === 0x2d;
    const digitsStart = i;
    let cents = 0;
    for (; i < end; i++) {
      const d = bytes[i]! - 0x30;
      if (d < 0 || d > 9) break;
      cents = cents * 10 + d;
    }
    if (i === digitsStart || i - digitsStart > 9) return false; // longer amounts take the checked path
    cents *= 100;
    if (bytes[i] === 0x2e) {
      const d1 = bytes[i + 1]! - 0x30;
      if (!(d1 >= 0 && d1 <= 9)) return false;
      cents += d1 * 10;
      i += 2;
      const d2 = bytes[i]! - 0x30;
      if (d2 >= 0 && d2 <= 9) {
        cents += d2;
        i++;
      }
    }
    if (bytes[i] !== COMMA || i >= end) return false;
    i++;
    const timeStart = i;
    let second = 0;
    for (; i < end; i++) {
      const d = bytes[i]! - 0x30;
      if (d < 0 || d > 9) break;
      second = second * 10 + d;
    }
    // Up to 11 digits stays under MAX_TIMESTAMP_SECONDS only up to 10 digits: longer ones take the checked path.
    if (i === timeStart || i - timeStart > 10) return false;
    if (i < end) {
      if (bytes[i] !== 0x2e || i + 1 === end) return false;
      for (i++; i < end; i++) {
        const d = bytes[i]! - 0x30;
        if (d < 0 || d > 9) return false;
      }
    }
    const bucket = this.eventSecond(second);
    if (isPurchase) {
      this.counts.purchases++;
      this.table.add(bytes, start, userEnd, 1, negative ? 0 - cents : cents, hash >>> 0, bucket);
    } else {
      this.counts.views++;
    }
    return true;
  }

  /** The fast path: one pass finds the commas, spots quotes, and hashes and checks the user id. */
  private plainRow(bytes: Uint8Array, start: number, end: number): void {
    let hash = FNV_OFFSET;
    let control = false;
    let nonAscii = false;
    let i = start;
    for (; i < end; i++) {
      const c = bytes[i]!;
      if (c === COMMA) break;
      if (c === QUOTE) return this.quotedRow(bytes, start, end);
      if (c < 0x20 || c === 0x7f) control = true;
      else if (c >= 0x80) nonAscii = true;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    const userEnd = i;
    let typeEnd = -1;
    let amountEnd = -1;
    let extraComma = false;
    for (i = userEnd + 1; i < end; i++) {
      const c = bytes[i]!;
      if (c === COMMA) {
        if (typeEnd === -1) typeEnd = i;
        else if (amountEnd === -1) amountEnd = i;
        else extraComma = true;
      } else if (c === QUOTE) {
        return this.quotedRow(bytes, start, end);
      }
    }
    if (userEnd >= end || amountEnd === -1 || extraComma) {
      this.bad('field_count', bytes, start, end);
      return;
    }
    const userProblem = userEnd === start || control || nonAscii ? userIdProblem(bytes, start, userEnd) : undefined;
    this.fields(bytes, start, userEnd, hash >>> 0, userProblem, typeEnd, amountEnd, end, bytes, start, end);
  }

  private quotedRow(bytes: Uint8Array, start: number, end: number): void {
    // latin1 maps each byte to one character and back: csv-parse sees the structure (quotes and commas are ASCII)
    // and every field keeps its exact bytes, so invalid UTF-8 gets the same per-field reason as on the fast path.
    const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
    const fields = parseQuotedLine(text);
    if (fields === undefined) {
      this.bad('bad_quoting', bytes, start, end);
      return;
    }
    if (fields.length !== 4) {
      this.bad('field_count', bytes, start, end);
      return;
    }
    // Re-joined with one separator byte between fields: the same layout the fast path sees in the original line.
    const [user, type, amount, time] = fields.map((f) => Buffer.from(f, 'latin1')) as [Buffer, Buffer, Buffer, Buffer];
    const joined = new Uint8Array(user.length + type.length + amount.length + time.length + 3);
    const typeEnd = user.length + 1 + type.length;
    const amountEnd = typeEnd + 1 + amount.length;
    joined.set(user, 0);
    joined.set(type, user.length + 1);
    joined.set(amount, typeEnd + 1);
    joined.set(time, amountEnd + 1);
    const problem = userIdProblem(joined, 0, user.length);
    this.fields(joined, 0, user.length, fnv1a(joined, 0, user.length), problem, typeEnd, amountEnd, joined.length, bytes, start, end);
  }

  /**
   * Validates the fields of f: user [userStart, userEnd), type up to typeEnd, amount up to amountEnd, timestamp up
   * to fieldsEnd, each after a one-byte separator; then aggregates a purchase. `line` is the original, for quarantine.
   */
  private fields(
    f: Uint8Array,
    userStart: number,
    userEnd: number,
    userHash: number,
    userProblem: BadReason | undefined,
    typeEnd: number,
    amountEnd: number,
    fieldsEnd: number,
    line: Uint8Array,
    lineStart: number,
    lineEnd: number,
  ): void {
    if (userProblem !== undefined) {
      this.bad(userProblem, line, lineStart, lineEnd);
      return;
    }
    const typeLength = typeEnd - userEnd - 1;
    const isPurchase = typeLength === 8 && equalsAt(f, userEnd + 1, typeEnd, PURCHASE);
    if (!isPurchase && !(typeLength === 4 && equalsAt(f, userEnd + 1, typeEnd, VIEW))) {
      this.bad('unknown_event_type', line, lineStart, lineEnd);
      return;
    }
    const cents = parseCents(f, typeEnd + 1, amountEnd);
    if (Number.isNaN(cents)) {
      this.bad('bad_amount', line, lineStart, lineEnd);
      return;
    }
    const second = timestampSeconds(f, amountEnd + 1, fieldsEnd);
    if (Number.isNaN(second)) {
      this.bad('bad_timestamp', line, lineStart, lineEnd);
      return;
    }
    const bucket = this.eventSecond(second);
    if (isPurchase) {
      this.counts.purchases++;
      this.table.add(f, userStart, userEnd, 1, cents, userHash, bucket);
    } else {
      this.counts.views++;
    }
  }

  private bad(reason: BadReason, bytes: Uint8Array, start: number, end: number): void {
    if (reason === 'line_too_long') this.counts.rows++;
    this.counts.bad[reason]++;
    if (this.options.keepBadRows || this.options.stopAtFirstBadRow) {
      this.badRows.push({ line: this.lineCount, reason, raw: new Uint8Array(bytes.subarray(start, Math.min(end, bytes.length))) });
    }
    if (this.options.stopAtFirstBadRow) this.stopped = true;
  }
}

export function parserOptionsFor(mode: BadRowMode, atFileStart: boolean, bucketSeconds: number): EventParserOptions {
  return { atFileStart, keepBadRows: mode === 'permissive', stopAtFirstBadRow: mode === 'failfast', bucketSeconds };
}

/** Parses a whole in-memory file: the convenience form for tests and small inputs (over all time unless told). */
export function parseWhole(bytes: Uint8Array, table: AggSink, options: Partial<EventParserOptions> = {}): EventParser {
  const parser = new EventParser(table, { atFileStart: true, keepBadRows: true, stopAtFirstBadRow: false, bucketSeconds: 0, ...options });
  parser.consume(bytes, 0, bytes.length, true);
  return parser;
}
