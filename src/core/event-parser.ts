// The core event parser used by every layer: lines of `user_id,event_type,amount,unix_timestamp` into a UserAggTable.
//
// Bytes are scanned in chunks; a line ends at LF, CRLF or a lone CR. Quoted lines go through csv-parse (the
// reference); everything else through a byte fast path that must agree with it. Bad rows are data: counted,
// and kept (with their 1-based line number relative to the first chunk) when the caller wants a quarantine.

import { hasQuote, parseQuotedLine, splitUnquoted } from './csv-fields.js';
import { type UserAggTable } from './agg-table.js';
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
}

export function emptyCounts(): ParseCounts {
  return { rows: 0, purchases: 0, views: 0, bad: Object.fromEntries(BAD_REASONS.map((r) => [r, 0])) as Record<BadReason, number> };
}

export function addCounts(into: ParseCounts, from: ParseCounts): void {
  into.rows += from.rows;
  into.purchases += from.purchases;
  into.views += from.views;
  for (const reason of BAD_REASONS) into.bad[reason] += from.bad[reason];
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
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const PURCHASE = Buffer.from('purchase');
const VIEW = Buffer.from('view');
const HEADER_BYTES = Buffer.from(HEADER_LINE);
const BOM = [0xef, 0xbb, 0xbf];
const encoder = new TextEncoder();
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

/** A user id is any non-empty UTF-8 text without control characters. */
function userIdProblem(bytes: Uint8Array, start: number, end: number): BadReason | undefined {
  if (start === end) return 'empty_user_id';
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c === 0x7f) return 'bad_user_id';
    if (c >= 0x80) ascii = false;
  }
  return ascii || isValidUtf8(bytes, start, end) ? undefined : 'bad_user_id';
}

/** Unix seconds: digits with an optional fraction, from 0 to MAX_TIMESTAMP_SECONDS. */
export function isValidTimestamp(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  let seconds = 0;
  while (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) {
    seconds = seconds * 10 + (bytes[i]! - 0x30);
    if (seconds > MAX_TIMESTAMP_SECONDS) return false;
    i++;
  }
  if (i === start) return false;
  if (i === end) return true;
  if (bytes[i] !== DOT || i + 1 === end) return false;
  for (i++; i < end; i++) if (bytes[i]! < 0x30 || bytes[i]! > 0x39) return false;
  return true;
}

export class EventParser {
  readonly counts: ParseCounts = emptyCounts();
  readonly badRows: BadRow[] = [];
  /** Lines seen so far, blank ones included: the line number of the last line consumed. */
  lineCount = 0;
  private readonly fieldEnds = new Uint32Array(4);
  private skippingLongLine = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly table: UserAggTable,
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
    if (!this.started) {
      this.started = true;
      if (this.options.atFileStart && end - start >= 3 && bytes[start] === BOM[0] && bytes[start + 1] === BOM[1] && bytes[start + 2] === BOM[2]) {
        lineStart += 3;
      }
    }
    let i = lineStart;
    while (i < end && !this.stopped) {
      const c = bytes[i]!;
      if (c !== LF && c !== CR) {
        i++;
        continue;
      }
      let next = i + 1;
      if (c === CR) {
        if (next === end && !final) break; // a CR at the chunk's end may be the first half of CRLF
        if (next < end && bytes[next] === LF) next++;
      }
      this.line(bytes, lineStart, i);
      lineStart = next;
      i = next;
    }
    if (this.stopped) return end;
    if (final) {
      if (lineStart < end || this.skippingLongLine) this.line(bytes, lineStart, end);
      return end;
    }
    if (end - lineStart > MAX_LINE_BYTES) {
      if (!this.skippingLongLine) this.overlong(bytes, lineStart);
      return end;
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
    if (hasQuote(bytes, start, end)) this.quotedRow(bytes, start, end);
    else this.plainRow(bytes, start, end);
  }

  private plainRow(bytes: Uint8Array, start: number, end: number): void {
    const ends = this.fieldEnds;
    if (splitUnquoted(bytes, start, end, ends) !== 4) {
      this.bad('field_count', bytes, start, end);
      return;
    }
    this.fields(bytes, start, ends[0]!, ends[0]! + 1, ends[1]!, ends[1]! + 1, ends[2]!, ends[2]! + 1, ends[3]!, bytes, start, end);
  }

  private quotedRow(bytes: Uint8Array, start: number, end: number): void {
    let text: string;
    try {
      text = strictDecoder.decode(bytes.subarray(start, end));
    } catch {
      this.bad('bad_user_id', bytes, start, end);
      return;
    }
    const fields = parseQuotedLine(text);
    if (fields === undefined) {
      this.bad('bad_quoting', bytes, start, end);
      return;
    }
    if (fields.length !== 4) {
      this.bad('field_count', bytes, start, end);
      return;
    }
    const encoded = fields.map((f) => encoder.encode(f));
    const joined = new Uint8Array(encoded.reduce((n, f) => n + f.length, 0));
    const offsets: number[] = [];
    let at = 0;
    for (const field of encoded) {
      joined.set(field, at);
      offsets.push(at, at + field.length);
      at += field.length;
    }
    const [u0, u1, e0, e1, a0, a1, t0, t1] = offsets as [number, number, number, number, number, number, number, number];
    this.fields(joined, u0, u1, e0, e1, a0, a1, t0, t1, bytes, start, end);
  }

  /** Validates the four fields (given as byte ranges of `f`) and aggregates a purchase. */
  private fields(
    f: Uint8Array,
    userStart: number,
    userEnd: number,
    typeStart: number,
    typeEnd: number,
    amountStart: number,
    amountEnd: number,
    timeStart: number,
    timeEnd: number,
    line: Uint8Array,
    lineStart: number,
    lineEnd: number,
  ): void {
    const userProblem = userIdProblem(f, userStart, userEnd);
    if (userProblem !== undefined) {
      this.bad(userProblem, line, lineStart, lineEnd);
      return;
    }
    const isPurchase = equalsAt(f, typeStart, typeEnd, PURCHASE);
    if (!isPurchase && !equalsAt(f, typeStart, typeEnd, VIEW)) {
      this.bad('unknown_event_type', line, lineStart, lineEnd);
      return;
    }
    const cents = parseCents(f, amountStart, amountEnd);
    if (Number.isNaN(cents)) {
      this.bad('bad_amount', line, lineStart, lineEnd);
      return;
    }
    if (!isValidTimestamp(f, timeStart, timeEnd)) {
      this.bad('bad_timestamp', line, lineStart, lineEnd);
      return;
    }
    if (isPurchase) {
      this.counts.purchases++;
      this.table.add(f, userStart, userEnd, 1, cents);
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

export function parserOptionsFor(mode: BadRowMode, atFileStart: boolean): EventParserOptions {
  return { atFileStart, keepBadRows: mode === 'permissive', stopAtFirstBadRow: mode === 'failfast' };
}

/** Parses a whole in-memory file: the convenience form for tests and small inputs. */
export function parseWhole(bytes: Uint8Array, table: UserAggTable, options: Partial<EventParserOptions> = {}): EventParser {
  const parser = new EventParser(table, { atFileStart: true, keepBadRows: true, stopAtFirstBadRow: false, ...options });
  parser.consume(bytes, 0, bytes.length, true);
  return parser;
}
