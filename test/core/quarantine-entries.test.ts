// Quarantine entries read back after a user's edit, and the parser's verdict on a fixed row: table-driven cases.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { parseWhole } from '../../src/core/event-parser.js';
import { formatQuarantineEntries, judgeRow, parseQuarantineEntries, replayFileText } from '../../src/core/quarantine-entries.js';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');
const entriesOf = (text: string): { line: number; reason: string; row: string }[] =>
  parseQuarantineEntries(bytes(text), 'x.csv.bad').map((e) => ({ line: e.line, reason: e.reason, row: Buffer.from(e.row).toString('utf8') }));

describe('parseQuarantineEntries', () => {
  it.each([
    ['LF', '3\tbad_amount\tu,purchase,x,1\n7\tfield_count\ta,b\n'],
    ['CRLF (an editor saved it so)', '3\tbad_amount\tu,purchase,x,1\r\n7\tfield_count\ta,b\r\n'],
    ['lone CR', '3\tbad_amount\tu,purchase,x,1\r7\tfield_count\ta,b'],
    ['blank lines and no final newline', '\n3\tbad_amount\tu,purchase,x,1\n\n7\tfield_count\ta,b'],
  ])('reads %s', (_name, text) => {
    expect(entriesOf(text)).toEqual([
      { line: 3, reason: 'bad_amount', row: 'u,purchase,x,1' },
      { line: 7, reason: 'field_count', row: 'a,b' },
    ]);
  });

  it('keeps tabs and an empty row in the third field', () => {
    expect(entriesOf('2\tbad_user_id\tu\tv,view,0,1\n4\tfield_count\t\n')).toEqual([
      { line: 2, reason: 'bad_user_id', row: 'u\tv,view,0,1' },
      { line: 4, reason: 'field_count', row: '' },
    ]);
  });

  it.each([
    ['no tab', '3 bad_amount u,purchase,x,1\n', 1],
    ['one tab', '3\tu,purchase,x,1\n', 1],
    ['an empty reason', '3\t\tu,purchase,x,1\n', 1],
    ['a line number that is not one', '1\tbad_amount\tok\nthree\tbad_amount\tu\n', 2],
    ['line number zero', '0\tbad_amount\tu\n', 1],
    ['a line number listed twice', '3\tbad_amount\ta\n3\tbad_amount\tb\n', 2],
  ])('refuses %s as E_INPUT naming the file line', (_name, text, fileLine) => {
    let thrown: unknown;
    try {
      parseQuarantineEntries(bytes(text), 'q/x.csv.bad');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LambdaflowError);
    expect((thrown as LambdaflowError).code).toBe('E_INPUT');
    expect((thrown as LambdaflowError).message).toContain(`q/x.csv.bad line ${fileLine}`);
  });

  it('formats what it reads back, byte for byte', () => {
    const text = '3\tbad_amount\tu,purchase,\xff,1\n9\tline_too_long\tabc\tdef\n';
    const raw = Buffer.from(text, 'latin1');
    expect(formatQuarantineEntries(parseQuarantineEntries(raw, 'x')).equals(raw)).toBe(true);
  });
});

describe('judgeRow', () => {
  it.each([
    ['a purchase', 'u1,purchase,12.30,1700000000', { kind: 'good' }],
    ['a view', 'u1,view,0.00,1700000000', { kind: 'good' }],
    ['a quoted row', '"u,1",purchase,1.00,1', { kind: 'good' }],
    ['a bad amount', 'u1,purchase,1.005,1', { kind: 'bad', reason: 'bad_amount' }],
    ['a bad timestamp', 'u1,purchase,1.00,soon', { kind: 'bad', reason: 'bad_timestamp' }],
    ['an unknown event type', 'u1,buy,1.00,1', { kind: 'bad', reason: 'unknown_event_type' }],
    ['too few fields', 'u1,purchase,1.00', { kind: 'bad', reason: 'field_count' }],
    ['the header (a row here, not a file start)', 'user_id,event_type,amount,unix_timestamp', { kind: 'bad', reason: 'unknown_event_type' }],
    ['spaces only', '   ', { kind: 'bad', reason: 'field_count' }],
    ['nothing', '', { kind: 'blank' }],
  ])('%s', (_name, row, verdict) => {
    expect(judgeRow(bytes(row))).toEqual(verdict);
  });

  it('a BOM-led row is judged as the replay file reads it: not as a file start', () => {
    const row = bytes('\ufeffu1,purchase,1.00,1');
    expect(judgeRow(row)).toEqual({ kind: 'good' });
    const table = new UserAggTable();
    parseWhole(replayFileText([row]), table);
    // The user id keeps its BOM bytes (compared as bytes: a TextDecoder would drop a leading BOM).
    expect(Buffer.from(table.toBlock().keys).equals(Buffer.from('\ufeffu1'))).toBe(true);
  });
});

describe('replayFileText', () => {
  it('is the header and one row per line, and parses to exactly the good rows judged', () => {
    const rows = ['a,purchase,1.00,1', 'b,view,0.00,2', 'a,purchase,2.50,3'].map(bytes);
    const text = replayFileText(rows);
    expect(Buffer.from(text).toString('utf8')).toBe('user_id,event_type,amount,unix_timestamp\na,purchase,1.00,1\nb,view,0.00,2\na,purchase,2.50,3\n');
    const table = new UserAggTable();
    const parser = parseWhole(text, table);
    expect(parser.counts).toMatchObject({ rows: 3, purchases: 2, views: 1 });
    expect(parser.badRows).toEqual([]);
    expect(table.toSortedTotals()).toEqual([{ userId: 'a', count: 2, cents: 350 }]);
  });
});
