// The core event parser: row rules, bad reasons and line numbers, header/BOM/line endings, quoting, failfast, and
// independence from where the input is cut into chunks.

import { describe, expect, it } from 'vitest';
import { ALL_TIME, UserAggTable } from '../../src/core/agg-table.js';
import { BAD_REASONS, EventParser, HEADER_LINE, parseWhole } from '../../src/core/event-parser.js';
import { type ParseSnapshot, bytesOf, parseInChunksOf, parseInPieces, snapshotOf } from '../helpers/parse-pieces.js';
import { seeded } from '../helpers/prng.js';

const KIB = 1024;
const MAX_LINE = 64 * KIB;

function parse(input: string | Uint8Array, options: Parameters<typeof parseWhole>[2] = {}): ParseSnapshot {
  const table = new UserAggTable();
  const parser = parseWhole(typeof input === 'string' ? bytesOf(input) : input, table, options);
  return snapshotOf(parser, table);
}

function badOf(snapshot: ParseSnapshot): [number, string][] {
  return snapshot.badRows.map((row) => [row.line, row.reason]);
}

function badTotal(snapshot: ParseSnapshot): number {
  return Object.values(snapshot.counts.bad).reduce((n, v) => n + v, 0);
}

describe('rows and totals', () => {
  it('sums purchases per user in integer cents and counts views', () => {
    const s = parse('u1,purchase,1.50,1700000000\nu2,view,0.00,1700000001\nu1,purchase,2.25,1700000002\nu2,purchase,-0.75,1700000003\n');
    expect(s.totals).toEqual([
      { userId: 'u1', count: 2, cents: 375 },
      { userId: 'u2', count: 1, cents: -75 },
    ]);
    expect(s.counts.rows).toBe(4);
    expect(s.counts.purchases).toBe(3);
    expect(s.counts.views).toBe(1);
    expect(badTotal(s)).toBe(0);
    expect(s.lineCount).toBe(4);
  });

  it('a view never creates a user, whatever its amount', () => {
    const s = parse('u1,view,9.99,1\nu2,view,0,2\n');
    expect(s.totals).toEqual([]);
    expect(s.counts.views).toBe(2);
  });

  it('a refund that cancels the amount keeps the user (count is not zero)', () => {
    expect(parse('u1,purchase,5.00,1\nu1,purchase,-5.00,2\n').totals).toEqual([{ userId: 'u1', count: 2, cents: 0 }]);
  });

  it('user ids are case- and byte-exact, UTF-8 allowed', () => {
    const s = parse('U1,purchase,1,1\nu1,purchase,2,1\nü,purchase,3,1\n中文,purchase,4,1\n😀,purchase,5,1\n');
    expect(s.totals.map((t) => [t.userId, t.cents])).toEqual([
      ['U1', 100],
      ['u1', 200],
      ['ü', 300],
      ['中文', 400],
      ['😀', 500],
    ]);
  });

  it('exports every bad reason once', () => {
    expect([...BAD_REASONS].sort()).toEqual(
      ['bad_amount', 'bad_quoting', 'bad_timestamp', 'bad_user_id', 'empty_user_id', 'field_count', 'line_too_long', 'unknown_event_type'].sort(),
    );
  });
});

describe('header line', () => {
  it('is skipped on line 1 at file start, and still counts as a line', () => {
    const s = parse(`${HEADER_LINE}\nu1,purchase,1.00,1\nbad\n`);
    expect(HEADER_LINE).toBe('user_id,event_type,amount,unix_timestamp');
    expect(s.counts.rows).toBe(2);
    expect(s.totals).toEqual([{ userId: 'u1', count: 1, cents: 100 }]);
    expect(badOf(s)).toEqual([[3, 'field_count']]);
  });

  it('a file that is only the header (with or without newline) has no rows', () => {
    for (const text of [HEADER_LINE, `${HEADER_LINE}\n`, `${HEADER_LINE}\r\n`, `${HEADER_LINE}\r`]) {
      const s = parse(text);
      expect(s.counts.rows, JSON.stringify(text)).toBe(0);
      expect(badTotal(s)).toBe(0);
    }
  });

  it('is a bad row on any later line', () => {
    const s = parse(`u1,purchase,1.00,1\n${HEADER_LINE}\n`);
    expect(badOf(s)).toEqual([[2, 'unknown_event_type']]);
    expect(s.counts.rows).toBe(2);
  });

  it('is a bad row after a leading blank line (it is then line 2)', () => {
    expect(badOf(parse(`\n${HEADER_LINE}\nu1,purchase,1.00,1\n`))).toEqual([[2, 'unknown_event_type']]);
  });

  it('is a bad row when the bytes do not start the file (a mid-file byte range)', () => {
    const s = parse(`${HEADER_LINE}\nu1,purchase,1.00,1\n`, { atFileStart: false });
    expect(badOf(s)).toEqual([[1, 'unknown_event_type']]);
    expect(s.totals).toEqual([{ userId: 'u1', count: 1, cents: 100 }]);
  });

  it('must match exactly: a header with different spelling is a bad row', () => {
    expect(badOf(parse('user_id,event_type,amount,unix_timestamp \n'))).toEqual([[1, 'unknown_event_type']]);
    expect(badOf(parse('USER_ID,EVENT_TYPE,AMOUNT,UNIX_TIMESTAMP\n'))).toEqual([[1, 'unknown_event_type']]);
  });

  it('is recognised with CRLF and lone CR endings', () => {
    for (const eol of ['\r\n', '\r']) {
      const s = parse(`${HEADER_LINE}${eol}u1,purchase,1.00,1${eol}`);
      expect(s.counts.rows).toBe(1);
      expect(badTotal(s)).toBe(0);
    }
  });
});

describe('line endings, BOM, last line', () => {
  const rows = ['u1,purchase,1.00,1', 'u2,purchase,2.00,2', 'x,bad', 'u1,purchase,0.50,3'];

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['lone CR (old Mac)', '\r'],
  ])('%s gives the same totals and line numbers', (_name, eol) => {
    const s = parse(rows.join(eol) + eol);
    expect(s.totals).toEqual([
      { userId: 'u1', count: 2, cents: 150 },
      { userId: 'u2', count: 1, cents: 200 },
    ]);
    expect(badOf(s)).toEqual([[3, 'field_count']]);
    expect(s.lineCount).toBe(4);
    expect(s.badRows[0]!.raw).toBe('x,bad'); // no terminator bytes in the quarantined line
  });

  it('mixed endings in one file', () => {
    const s = parse('u1,purchase,1.00,1\r\nu1,purchase,1.00,2\ru1,purchase,1.00,3\nbad\r\n');
    expect(s.totals).toEqual([{ userId: 'u1', count: 3, cents: 300 }]);
    expect(badOf(s)).toEqual([[4, 'field_count']]);
  });

  it('CR CR LF is a lone CR, then a CRLF: one blank line between', () => {
    const s = parse('u1,purchase,1.00,1\r\r\nbad\n');
    expect(badOf(s)).toEqual([[3, 'field_count']]);
  });

  it('a UTF-8 BOM at file start is skipped, before a header too', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const plain = parse(Buffer.concat([bom, bytesOf('u1,purchase,1.00,1\n')]));
    expect(plain.totals).toEqual([{ userId: 'u1', count: 1, cents: 100 }]);
    const withHeader = parse(Buffer.concat([bom, bytesOf(`${HEADER_LINE}\r\nu1,purchase,1.00,1\r\nbad\r\n`)]));
    expect(withHeader.counts.rows).toBe(2);
    expect(badOf(withHeader)).toEqual([[3, 'field_count']]);
    expect(withHeader.totals).toEqual([{ userId: 'u1', count: 1, cents: 100 }]);
  });

  it('a file that is only a BOM has no rows', () => {
    const s = parse(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(s.counts.rows).toBe(0);
    expect(badTotal(s)).toBe(0);
  });

  it('the last line without a newline is still a row', () => {
    const s = parse('u1,purchase,1.00,1\nu2,purchase,2.00,2');
    expect(s.totals).toEqual([
      { userId: 'u1', count: 1, cents: 100 },
      { userId: 'u2', count: 1, cents: 200 },
    ]);
    expect(parse('u1,purchase,1.00,1\nbad').badRows).toEqual([{ line: 2, reason: 'field_count', raw: 'bad' }]);
  });

  it('empty input and newline-only input have no rows', () => {
    for (const text of ['', '\n', '\r\n', '\r', '\n\n\n']) {
      const s = parse(text);
      expect(s.counts.rows, JSON.stringify(text)).toBe(0);
      expect(badTotal(s)).toBe(0);
    }
  });
});

describe('blank lines and line numbers', () => {
  it('blank lines are not rows but count in line numbers (1-based, header included)', () => {
    const text = `${HEADER_LINE}\n\nu1,purchase,1.00,1\n\n\nbad one\r\n\r\nu2,purchase,x,1\n`;
    const s = parse(text);
    expect(s.counts.rows).toBe(3);
    expect(badOf(s)).toEqual([
      [6, 'field_count'],
      [8, 'bad_amount'],
    ]);
    expect(s.lineCount).toBe(8);
  });

  it('a line of spaces is not blank: it is a bad row', () => {
    expect(badOf(parse('   \n'))).toEqual([[1, 'field_count']]);
  });
});

describe('RFC 4180 quoted fields', () => {
  it('a quoted user id may contain commas; quoted amounts are amounts', () => {
    const s = parse('"u,1",purchase,"1.50",17\n');
    expect(s.totals).toEqual([{ userId: 'u,1', count: 1, cents: 150 }]);
    expect(s.counts.purchases).toBe(1);
  });

  it('doubled quotes are one quote', () => {
    expect(parse('"say ""hi""",purchase,2.00,1\n').totals).toEqual([{ userId: 'say "hi"', count: 1, cents: 200 }]);
    expect(parse('"""",purchase,2.00,1\n').totals).toEqual([{ userId: '"', count: 1, cents: 200 }]);
  });

  it('every field may be quoted; quoted and unquoted spellings are the same user', () => {
    const s = parse('"u1","purchase","1.00","5"\nu1,purchase,2.00,6\n"u1",view,0,7\n');
    expect(s.totals).toEqual([{ userId: 'u1', count: 2, cents: 300 }]);
    expect(s.counts.views).toBe(1);
  });

  it('quoted non-ASCII user ids', () => {
    expect(parse('"Müller, Jörg",purchase,3.00,1\n"中,文",purchase,4.00,1\n').totals).toEqual([
      { userId: 'Müller, Jörg', count: 1, cents: 300 },
      { userId: '中,文', count: 1, cents: 400 },
    ]);
  });

  it.each([
    ['unterminated quote', '"u1,purchase,1.00,5'],
    ['unterminated quote in a later field', 'u1,purchase,"1.00,5'],
    ['a quote inside an unquoted field', 'u"1,purchase,1.00,5'],
    ['text after a closing quote', '"u1"x,purchase,1.00,5'],
    ['space after a closing quote', '"u1" ,purchase,1.00,5'],
    ['space before an opening quote', ' "u1",purchase,1.00,5'],
  ])('%s → bad_quoting', (_name, line) => {
    const s = parse(`u0,purchase,1.00,1\n${line}\nu2,purchase,2.00,2\n`);
    expect(s.badRows).toEqual([{ line: 2, reason: 'bad_quoting', raw: line }]);
    expect(s.totals.map((t) => t.userId)).toEqual(['u0', 'u2']);
  });

  it.each([
    ['"a",b', 'field_count'],
    ['"a",purchase,1.00,5,"x"', 'field_count'],
    ['"",purchase,1.00,5', 'empty_user_id'],
    ['"u\t1",purchase,1.00,5', 'bad_user_id'],
    ['"u1","Purchase",1.00,5', 'unknown_event_type'],
    ['"u1",purchase,"1.005",5', 'bad_amount'],
    ['"u1",purchase,1.00,"-5"', 'bad_timestamp'],
  ])('quoted row %j → %s', (line, reason) => {
    expect(badOf(parse(`${line}\n`))).toEqual([[1, reason]]);
  });
});

describe('bad rows: one reason each', () => {
  it.each([
    ['u1,purchase,1.00', 'field_count'],
    ['u1,purchase,1.00,5,extra', 'field_count'],
    ['u1', 'field_count'],
    [',purchase,1.00,5', 'empty_user_id'],
    ['u\u00011,purchase,1.00,5', 'bad_user_id'],
    ['u\t1,purchase,1.00,5', 'bad_user_id'],
    ['u\u007f1,purchase,1.00,5', 'bad_user_id'],
    ['u\u001f,purchase,1.00,5', 'bad_user_id'],
    ['u1,Purchase,1.00,5', 'unknown_event_type'],
    ['u1,click,1.00,5', 'unknown_event_type'],
    ['u1,,1.00,5', 'unknown_event_type'],
    ['u1, view,1.00,5', 'unknown_event_type'],
    ['u1,purchases,1.00,5', 'unknown_event_type'],
    ['u1,purchase,12.345,5', 'bad_amount'],
    ['u1,purchase,,5', 'bad_amount'],
    ['u1,purchase,abc,5', 'bad_amount'],
    ['u1,purchase,1e3,5', 'bad_amount'],
    ['u1,purchase,.5,5', 'bad_amount'],
    ['u1,purchase,5.,5', 'bad_amount'],
    ['u1,purchase,1000000000.00,5', 'bad_amount'],
    ['u1,view,NaN,5', 'bad_amount'],
    ['u1,purchase,1.00,-1', 'bad_timestamp'],
    ['u1,purchase,1.00,253402300800', 'bad_timestamp'],
    ['u1,purchase,1.00,99999999999999999999', 'bad_timestamp'],
    ['u1,purchase,1.00,17000abc', 'bad_timestamp'],
    ['u1,purchase,1.00,abc', 'bad_timestamp'],
    ['u1,purchase,1.00,', 'bad_timestamp'],
    ['u1,purchase,1.00,1.', 'bad_timestamp'],
    ['u1,purchase,1.00,.5', 'bad_timestamp'],
    ['u1,purchase,1.00,1e9', 'bad_timestamp'],
    ['u1,purchase,1.00,+5', 'bad_timestamp'],
    ['u1,purchase,1.00, 5', 'bad_timestamp'],
  ])('%j → %s, counted, quarantined verbatim, neighbours kept', (line, reason) => {
    const s = parse(`u0,purchase,1.00,1\n${line}\nu2,purchase,2.00,2\n`);
    expect(s.badRows).toEqual([{ line: 2, reason, raw: Buffer.from(line).toString('latin1') }]);
    expect(s.counts.bad[reason as keyof typeof s.counts.bad]).toBe(1);
    expect(badTotal(s)).toBe(1);
    expect(s.counts.rows).toBe(3);
    expect(s.totals.map((t) => t.userId)).toEqual(['u0', 'u2']);
  });

  it('checks run in order: field count, user id, event type, amount, timestamp', () => {
    expect(badOf(parse(',click,x,y,z\n'))).toEqual([[1, 'field_count']]);
    expect(badOf(parse(',click,x,y\n'))).toEqual([[1, 'empty_user_id']]);
    expect(badOf(parse('u\u0001,click,x,y\n'))).toEqual([[1, 'bad_user_id']]);
    expect(badOf(parse('u1,click,x,y\n'))).toEqual([[1, 'unknown_event_type']]);
    expect(badOf(parse('u1,view,x,y\n'))).toEqual([[1, 'bad_amount']]);
    expect(badOf(parse('u1,view,1,y\n'))).toEqual([[1, 'bad_timestamp']]);
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['0xff', [0xff]],
    ['a truncated 2-byte sequence', [0xc3]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('invalid UTF-8 in a user id (%s) → bad_user_id', (_name, invalid) => {
    const line = Buffer.concat([bytesOf('u'), Buffer.from(invalid), bytesOf('1,purchase,1.00,5')]);
    const s = parse(Buffer.concat([bytesOf('u0,purchase,1.00,1\n'), line, bytesOf('\nu2,purchase,2.00,2\n')]));
    expect(badOf(s)).toEqual([[2, 'bad_user_id']]);
    expect(s.badRows[0]!.raw).toBe(line.toString('latin1'));
    expect(s.totals.map((t) => t.userId)).toEqual(['u0', 'u2']);
  });

  it('invalid UTF-8 in a quoted row is a bad row, not a crash', () => {
    const line = Buffer.concat([bytesOf('"u'), Buffer.from([0xff]), bytesOf('",purchase,1.00,5')]);
    const s = parse(Buffer.concat([line, bytesOf('\nu2,purchase,2.00,2\n')]));
    expect(badOf(s)).toEqual([[1, 'bad_user_id']]);
    expect(s.totals.map((t) => t.userId)).toEqual(['u2']);
  });

  it.each([
    ['event type', ['u1,vi', 'ew,1.00,1'], 'unknown_event_type'],
    ['amount', ['u1,purchase,1.0', ',1'], 'bad_amount'],
    ['timestamp', ['u1,purchase,1.00,1', ''], 'bad_timestamp'],
  ])('regression: invalid UTF-8 in the %s of a quoted row gets the reason the same row gets unquoted', (_field, [before, after], reason) => {
    // The quoted path decodes the whole line strictly first and reports any invalid byte as bad_user_id, even when
    // the user id is fine; the fast path reports the field that holds the byte. Same row, two different reasons.
    const invalid = Buffer.from([0xff]);
    const unquoted = Buffer.concat([bytesOf(before!), invalid, bytesOf(`${after!}\n`)]);
    const quoted = Buffer.concat([bytesOf(`"${before!.slice(0, 2)}"${before!.slice(2)}`), invalid, bytesOf(`${after!}\n`)]);
    expect(quoted.toString('latin1').startsWith('"u1",')).toBe(true);
    expect(badOf(parse(unquoted))).toEqual([[1, reason]]);
    expect(badOf(parse(quoted))).toEqual([[1, reason]]);
  });

  it.each(['0', '1', '1700000000', '1700000000.123', '253402300799', '0253402300799', '253402300799.0'])('timestamp %s is accepted', (ts) => {
    const s = parse(`u1,purchase,1.00,${ts}\n`);
    expect(badTotal(s)).toBe(0);
    expect(s.counts.purchases).toBe(1);
  });

  it('keepBadRows: false counts bad rows without keeping their bytes', () => {
    const s = parse('bad\nu1,purchase,x,1\nu1,purchase,1.00,1\n', { keepBadRows: false });
    expect(s.badRows).toEqual([]);
    expect(s.counts.bad.field_count).toBe(1);
    expect(s.counts.bad.bad_amount).toBe(1);
    expect(s.totals).toEqual([{ userId: 'u1', count: 1, cents: 100 }]);
  });
});

describe('line_too_long', () => {
  const rowOfBytes = (bytes: number, user = 'u'): string => {
    const suffix = ',purchase,1.00,1';
    return user.padEnd(bytes - suffix.length, 'x') + suffix;
  };

  it('a line of exactly 64 KiB is a row; one byte more is line_too_long', () => {
    const exact = rowOfBytes(MAX_LINE);
    expect(Buffer.byteLength(exact)).toBe(MAX_LINE);
    const ok = parse(`${exact}\n`);
    expect(ok.counts.purchases).toBe(1);
    expect(badTotal(ok)).toBe(0);
    const over = rowOfBytes(MAX_LINE + 1);
    const bad = parse(`u0,purchase,1.00,1\n${over}\nu2,purchase,2.00,2\n`);
    expect(badOf(bad)).toEqual([[2, 'line_too_long']]);
    expect(bad.counts.rows).toBe(3);
    expect(bad.totals.map((t) => t.userId)).toEqual(['u0', 'u2']);
  });

  it('quarantines only the first KiB of an overlong line', () => {
    const over = 'y'.repeat(200 * KIB);
    const s = parse(`${over}\n`);
    expect(s.badRows).toHaveLength(1);
    expect(s.badRows[0]!.raw).toBe('y'.repeat(KIB));
  });

  it.each([
    ['LF', '\n', 1],
    ['LF', '\n', 997],
    ['LF', '\n', 4 * KIB],
    ['CRLF', '\r\n', 1000],
    ['CRLF', '\r\n', 64 * KIB],
    ['LF', '\n', 100 * KIB],
  ])('is found when fed in small chunks (%s, chunks of %i bytes)', (_name, eol, chunk) => {
    const over = 'z'.repeat(150 * KIB);
    const text = ['u0,purchase,1.00,1', over, 'u2,purchase,2.00,2', '', rowOfBytes(70 * KIB, 'u3'), 'bad'].join(eol) + eol;
    const bytes = bytesOf(text);
    // `chunk` 1 stands for uneven pieces: tiny ones over the first lines, big ones later (1-byte pieces all the way
    // would copy the pending 64 KiB tail on every call).
    const whole = parse(bytes);
    expect(badOf(whole)).toEqual([
      [2, 'line_too_long'],
      [5, 'line_too_long'],
      [6, 'field_count'],
    ]);
    const pieces =
      chunk === 1 ? parseInPieces(bytes, [1, 2, 3, 5, 8, 13, 21, 40, 1000, 2000, 100_000, 200_000, 229_000, 230_000]) : parseInChunksOf(bytes, chunk);
    expect(pieces).toEqual(whole);
    expect(pieces.badRows[0]!.raw).toBe('z'.repeat(KIB));
  });

  it('two overlong lines in a row, and one at the end without newline', () => {
    const a = 'a'.repeat(70 * KIB);
    const b = 'b'.repeat(90 * KIB);
    const text = `${a}\n${b}\nu1,purchase,1.00,1\n${a}`;
    const whole = parse(text);
    expect(badOf(whole)).toEqual([
      [1, 'line_too_long'],
      [2, 'line_too_long'],
      [4, 'line_too_long'],
    ]);
    expect(whole.totals).toEqual([{ userId: 'u1', count: 1, cents: 100 }]);
    for (const chunk of [512, 3000, 65 * KIB]) expect(parseInChunksOf(bytesOf(text), chunk), `chunks of ${chunk}`).toEqual(whole);
  });

  it('regression: a good row after an overlong line ended by a lone CR was lost when a chunk ended right after that CR', () => {
    const over = 'x'.repeat(70_000);
    const text = `u0,purchase,1.00,1\r${over}\ru1,purchase,2.00,5\ru2,purchase,3.00,6\r`;
    const bytes = bytesOf(text);
    const whole = parse(bytes);
    expect(whole.totals.map((t) => t.userId)).toEqual(['u0', 'u1', 'u2']);
    const cut = text.indexOf('\ru1') + 1; // the chunk ends with the CR that ends the overlong line
    // consume() saw the CR last, could not tell CR from CRLF yet, yet consumed it because the pending span was
    // > 64 KiB; the next line was then taken for the rest of the overlong line and silently dropped.
    expect(parseInPieces(bytes, [cut])).toEqual(whole);
  });

  it('regression: a valid line of exactly 64 KiB ended by CRLF was line_too_long when a chunk ended between CR and LF', () => {
    const exact = rowOfBytes(MAX_LINE, 'big');
    const text = `${exact}\r\nu2,purchase,3.00,6\r\n`;
    const bytes = bytesOf(text);
    const whole = parse(bytes);
    expect(badTotal(whole)).toBe(0);
    expect(whole.counts.purchases).toBe(2);
    // The pending span was the line plus its CR (64 KiB + 1), which the MAX_LINE_BYTES check counted as the line.
    expect(parseInPieces(bytes, [MAX_LINE + 1])).toEqual(whole);
  });
});

describe('failfast (stopAtFirstBadRow)', () => {
  const text = 'u1,purchase,1.00,1\nu2,purchase,2.00,2\n\nu3,purchase,bad,3\nu4,purchase,4.00,4\nalso bad\n';

  it('stops at the first bad row and records it with its line', () => {
    const s = parse(text, { stopAtFirstBadRow: true, keepBadRows: false });
    expect(s.stopped).toBe(true);
    expect(s.badRows).toEqual([{ line: 4, reason: 'bad_amount', raw: 'u3,purchase,bad,3' }]);
    expect(s.totals.map((t) => t.userId)).toEqual(['u1', 'u2']);
    expect(s.counts.bad.field_count).toBe(0);
  });

  it('consumes nothing more once stopped', () => {
    const table = new UserAggTable();
    const parser = new EventParser(table, { atFileStart: true, keepBadRows: false, stopAtFirstBadRow: true, bucketSeconds: 3_600 });
    const first = bytesOf('bad\nu1,purchase,1.00,1\n');
    expect(parser.consume(first, 0, first.length, false)).toBe(first.length);
    expect(parser.hasStopped).toBe(true);
    const more = bytesOf('u2,purchase,2.00,2\n');
    parser.consume(more, 0, more.length, true);
    expect(table.toSortedTotals()).toEqual([]);
    expect(parser.badRows).toHaveLength(1);
    expect(parser.counts.purchases).toBe(0);
  });

  it('stops at the same row whatever the chunking', () => {
    const whole = parse(text, { stopAtFirstBadRow: true });
    const bytes = bytesOf(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(parseInPieces(bytes, [cut], { stopAtFirstBadRow: true }), `cut at ${cut}`).toEqual(whole);
    }
  });

  it('without bad rows it reads everything and never stops', () => {
    const s = parse('u1,purchase,1.00,1\nu1,purchase,1.00,1', { stopAtFirstBadRow: true });
    expect(s.stopped).toBe(false);
    expect(s.totals).toEqual([{ userId: 'u1', count: 2, cents: 200 }]);
  });
});

describe('chunk-boundary independence', () => {
  // Everything a chunk boundary can fall inside: header, CRLF, lone CR, blank lines, quotes, multi-byte UTF-8,
  // every kind of bad row, and a last line without newline.
  const sample =
    `${HEADER_LINE}\r\n` +
    'u1,purchase,1.50,1700000000\r\n' +
    'ü2,view,0.00,1700000001\r' +
    '\r\n' +
    '"u,3",purchase,"2.25",1700000002\n' +
    '"say ""hi""",purchase,-0.75,1700000003\r' +
    'u4,purchase,12.345,1\n' +
    '\n' +
    'u5,click,1.00,1\r\n' +
    '"unterminated,purchase,1.00,1\n' +
    '中文,purchase,0.01,1700000004\r' +
    ',purchase,1.00,1\r\n' +
    'u1,purchase,1.00,-1\n' +
    'a,b,c\r' +
    'u1,purchase,+3,1700000005';

  it('the sample exercises what it claims', () => {
    const s = parse(sample);
    expect(s.totals).toEqual([
      { userId: 'say "hi"', count: 1, cents: -75 },
      { userId: 'u,3', count: 1, cents: 225 },
      { userId: 'u1', count: 2, cents: 450 },
      { userId: '中文', count: 1, cents: 1 },
    ]);
    expect(badOf(s)).toEqual([
      [7, 'bad_amount'],
      [9, 'unknown_event_type'],
      [10, 'bad_quoting'],
      [12, 'empty_user_id'],
      [13, 'bad_timestamp'],
      [14, 'field_count'],
    ]);
    expect(s.counts.views).toBe(1);
    expect(s.lineCount).toBe(15);
  });

  it.each([
    ['permissive', {}],
    ['drop', { keepBadRows: false }],
    ['failfast', { stopAtFirstBadRow: true }],
    ['mid-file range', { atFileStart: false }],
  ])('one cut at every byte offset gives the same result as one feed (%s)', (_name, options) => {
    const bytes = bytesOf(sample);
    const whole = parse(bytes, options);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(parseInPieces(bytes, [cut], options), `cut at ${cut}`).toEqual(whole);
    }
  });

  it('one cut at every byte offset of the sample behind a UTF-8 BOM gives the same result as one feed', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytesOf(sample)]);
    const whole = parse(bytes);
    expect(whole.counts.rows).toBe(parse(sample).counts.rows); // the BOM hides neither the header nor a row
    for (let cut = 0; cut <= bytes.length; cut++) expect(parseInPieces(bytes, [cut]), `cut at ${cut}`).toEqual(whole);
  });

  it('one-byte chunks give the same result as one feed', () => {
    expect(parseInChunksOf(bytesOf(sample), 1)).toEqual(parse(sample));
  });

  it('every pair of cuts gives the same result as one feed', () => {
    const bytes = bytesOf(sample);
    const whole = parse(bytes);
    for (let a = 0; a <= bytes.length; a += 1) {
      for (let b = a; b <= bytes.length; b += 3) {
        const got = parseInPieces(bytes, [a, b]);
        if (JSON.stringify(got) !== JSON.stringify(whole)) expect(got, `cuts at ${a}, ${b}`).toEqual(whole);
      }
    }
  });

  it('random cuts of random generated files give the same result as one feed', () => {
    const random = seeded(20240601);
    const eols = ['\n', '\r\n', '\r'];
    for (let file = 0; file < 60; file++) {
      const lines: string[] = random.chance(0.5) ? [HEADER_LINE] : [];
      const count = random.between(0, 80);
      for (let i = 0; i < count; i++) {
        const roll = random.next();
        if (roll < 0.05) lines.push('');
        else if (roll < 0.1) lines.push(`"q,${random.int(5)}",purchase,"${random.int(100)}.${random.int(10)}",${random.int(1e9)}`);
        else if (roll < 0.15) lines.push(`u${random.int(9)},purchase,${random.int(10)}.${random.int(1000)},1`);
        else if (roll < 0.18) lines.push(`"broken,${random.int(9)},purchase,1,1`);
        else
          lines.push(
            `u${random.int(20)},${random.chance(0.3) ? 'purchase' : 'view'},${random.chance(0.1) ? '-' : ''}${random.int(1000)}.${String(random.int(100)).padStart(2, '0')},${random.int(2e9)}`,
          );
      }
      const eol = random.chance(0.5) ? random.pick(eols) : undefined; // undefined: mixed endings
      let text = lines.map((line) => line + (eol ?? random.pick(eols))).join('');
      if (random.chance(0.3)) text = text.replace(/(\r\n|\r|\n)$/, '');
      const bytes = random.chance(0.3) ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytesOf(text)]) : bytesOf(text);
      const whole = parse(bytes);
      for (let trial = 0; trial < 25; trial++) {
        const cuts = Array.from({ length: random.between(1, 12) }, () => random.int(bytes.length + 1)).sort((x, y) => x - y);
        expect(parseInPieces(bytes, cuts), `file ${file}, cuts ${cuts.join(',')}`).toEqual(whole);
      }
    }
  });

  it('CRLF split between \\r and \\n is one line ending, not two', () => {
    const text = 'u1,purchase,1.00,1\r\nbad\r\n';
    const cut = text.indexOf('\r') + 1;
    const s = parseInPieces(bytesOf(text), [cut]);
    expect(badOf(s)).toEqual([[2, 'field_count']]);
    expect(s.lineCount).toBe(2);
  });

  it('a final chunk ending in CR treats it as a line ending', () => {
    const s = parseInPieces(bytesOf('u1,purchase,1.00,1\rbad\r'), [23]);
    expect(badOf(s)).toEqual([[2, 'field_count']]);
    expect(s.lineCount).toBe(2);
  });

  it('regression: a UTF-8 BOM split across the first chunks was not skipped', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytesOf(`${HEADER_LINE}\nu1,purchase,1.00,1\n`)]);
    const whole = parse(bytes);
    expect(whole.counts.rows).toBe(1);
    // consume() looked for the BOM on its very first call only, and only when that call had ≥ 3 bytes; a first chunk
    // of 0, 1 or 2 bytes left the BOM in the header line, which then became an unknown_event_type bad row.
    for (const cut of [0, 1, 2, 3, 4]) expect(parseInPieces(bytes, [cut]), `cut at ${cut}`).toEqual(whole);
  });
});

describe('regression: C1 control characters in user ids', () => {
  it('rejects U+0085 (NEL) in a user id as bad_user_id', () => {
    const table = new UserAggTable();
    const parser = parseWhole(Buffer.from('u\u00851,purchase,1.00,1\nok,purchase,2.00,1\n'), table);
    expect(parser.badRows.map((r) => r.reason)).toEqual(['bad_user_id']);
    expect(table.toSortedTotals()).toEqual([{ userId: 'ok', count: 1, cents: 200 }]);
  });
});

describe('event time', () => {
  function bucketsOf(text: string, bucketSeconds: number): { userId: string; bucket: number; count: number; cents: number }[] {
    const table = new UserAggTable();
    parseWhole(bytesOf(text), table, { bucketSeconds });
    return table.toSortedBucketTotals();
  }

  it('adds each purchase to the bucket floor(ts / B) of its second, the fraction dropped, on every path', () => {
    const text = ['u1,purchase,1.00,3599.999', 'u1,purchase,2.00,3600', '"u1",purchase,4.00,7199', 'u1,"purchase","8.00","7200.5"', 'u2,view,,3600'].join('\n');
    expect(bucketsOf(text, 3_600)).toEqual([
      { userId: 'u1', bucket: 0, count: 1, cents: 100 },
      { userId: 'u1', bucket: 1, count: 2, cents: 600 },
      { userId: 'u1', bucket: 2, count: 1, cents: 800 },
    ]);
    expect(bucketsOf(text, 86_400)).toEqual([{ userId: 'u1', bucket: 0, count: 4, cents: 1_500 }]);
  });

  it('adds every purchase over all time with bucketSeconds 0', () => {
    expect(bucketsOf('a,purchase,1,10\na,purchase,1,99999', 0)).toEqual([{ userId: 'a', bucket: ALL_TIME, count: 2, cents: 200 }]);
  });

  it('reports the smallest and largest second of the good rows (views too), not of bad ones', () => {
    const { counts } = parse('a,view,0,500\na,purchase,1,300.9\nb,purchase,x,1\nc,purchase,1,999999999999\na,purchase,1,700');
    expect([counts.minEventSecond, counts.maxEventSecond]).toEqual([300, 700]);
    expect([parse('').counts.minEventSecond, parse('').counts.maxEventSecond]).toEqual([Infinity, -Infinity]);
  });

  it('gives onGoodRow each good row with its second and its line number', () => {
    const seen: [number, number, string][] = [];
    const parser = new EventParser(new UserAggTable(), {
      atFileStart: true,
      keepBadRows: false,
      stopAtFirstBadRow: false,
      bucketSeconds: 60,
      onGoodRow: (bytes, start, end, second, line) => seen.push([line, second, Buffer.from(bytes.subarray(start, end)).toString()]),
    });
    const input = bytesOf(`${HEADER_LINE}\na,view,1,10\n\nbad\n"b",purchase,1,20.5\r\n`);
    parser.consume(input, 0, input.length, true);
    expect(seen).toEqual([
      [2, 10, 'a,view,1,10'],
      [5, 20, '"b",purchase,1,20.5'],
    ]);
  });
});
