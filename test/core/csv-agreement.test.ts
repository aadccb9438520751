// The parser's byte fast path (and its quoted path) must agree with csv-parse plus the contract's row rules on every
// line: a reference built here on csv-parse/sync and rules written in the test, compared on generated and
// hand-written lines, one line at a time and as whole files.

import { parse as csvParse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { parseWhole } from '../../src/core/event-parser.js';
import { seeded, type Random } from '../helpers/prng.js';
import { type RowOutcome, classifyFields, recountFile, sortedReferenceTotals } from '../helpers/reference.js';

/** csv-parse's reading of one line: its fields, or 'bad_quoting' when it rejects the line. */
function referenceFields(line: string): string[] | string {
  let records: string[][];
  try {
    records = csvParse(line, { relax_column_count: true });
  } catch {
    return 'bad_quoting';
  }
  if (records.length !== 1) throw new Error(`test bug: ${JSON.stringify(line)} is ${records.length} records`);
  return records[0]!;
}

function referenceOutcome(line: string): RowOutcome {
  const fields = referenceFields(line);
  return typeof fields === 'string' ? { kind: 'bad', reason: fields } : classifyFields(fields);
}

/** What the parser under test makes of one line given alone (not at a file start, so no header rule applies). */
function parserOutcome(line: string): RowOutcome {
  const table = new UserAggTable();
  const parser = parseWhole(Buffer.from(line, 'utf8'), table, { atFileStart: false });
  const outcomes = parser.badRows.length + parser.counts.purchases + parser.counts.views;
  if (parser.counts.rows !== 1 || outcomes !== 1) throw new Error(`${JSON.stringify(line)}: ${JSON.stringify(parser.counts)}`);
  if (parser.badRows.length === 1) return { kind: 'bad', reason: parser.badRows[0]!.reason };
  if (parser.counts.views === 1) return { kind: 'view' };
  const [total] = table.toSortedTotals();
  // One row: the smallest event second seen is its second.
  return { kind: 'purchase', userId: total!.userId, cents: BigInt(total!.cents), second: parser.counts.minEventSecond };
}

const USER_CHARS = [...'abcxyzABC0189', ...'abcxyz', ',', ',', '"', '"', ' ', '-', '_', '.', 'é', 'ß', '中', '😀', '\t', '\u0001', '\u007f'];
const EVENT_TYPES = ['purchase', 'purchase', 'purchase', 'view', 'view', 'view', 'Purchase', 'VIEW', 'click', '', 'view ', ' purchase', 'purchase,'];

function userId(random: Random): string {
  const length = random.chance(0.04) ? 0 : random.between(1, 8);
  let id = '';
  for (let i = 0; i < length; i++) {
    const c = random.pick(USER_CHARS);
    // control characters are rare, so most rows get past the user-id check
    id += (c === '\t' || c === '\u0001' || c === '\u007f') && random.chance(0.85) ? 'k' : c;
  }
  return id;
}

function amount(random: Random): string {
  const roll = random.next();
  if (roll < 0.12) return random.pick(['1.234', '1e3', '', '.5', '5.', 'abc', '1,000', ' 1', '1 ', '--1', '0x1', 'NaN', '1.2.3', '+', '-']);
  const sign = random.pick(['', '', '', '', '-', '+']);
  const digits = random.chance(0.05) ? random.between(10, 13) : random.between(1, 4);
  let whole = String(random.between(1, 9));
  for (let i = 1; i < digits; i++) whole += String(random.int(10));
  if (random.chance(0.05)) whole = '0' + whole;
  const fractionDigits = random.pick([0, 1, 2, 2, 2]);
  let fraction = '';
  for (let i = 0; i < fractionDigits; i++) fraction += String(random.int(10));
  if (random.chance(0.02)) return `${sign}999999999.99`;
  if (random.chance(0.02)) return `${sign}1000000000.00`;
  return fractionDigits > 0 ? `${sign}${whole}.${fraction}` : `${sign}${whole}`;
}

function timestamp(random: Random): string {
  const roll = random.next();
  if (roll < 0.1) return random.pick(['-1', 'abc', '', '1.', '.5', '1e9', '253402300800', '99999999999999999999', '+5', ' 5', '17x']);
  if (roll < 0.13) return '253402300799';
  if (roll < 0.2) return `${random.int(2e9)}.${random.between(0, 999)}`;
  if (roll < 0.22) return `000${random.int(1e6)}`;
  return String(random.int(2e9));
}

/** RFC 4180 encoding of one field; quoted when it must be, and sometimes when it need not be. */
function encodeField(value: string, random: Random): string {
  const mustQuote = /[",]/.test(value);
  return mustQuote || random.chance(0.12) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Breaks the quoting of a line (unterminated, stray quote, text after a closing quote). */
function malformQuoting(line: string, random: Random): string {
  switch (random.int(4)) {
    case 0:
      return `"${line}`;
    case 1: {
      const at = random.int(line.length + 1);
      return `${line.slice(0, at)}"${line.slice(at)}`;
    }
    case 2:
      return line.replace(/^"([^"]*)"/, '"$1"x').replace(/^([^"])/, '"$1');
    default:
      return line.endsWith('"') ? line.slice(0, -1) : `${line}"`;
  }
}

function generatedLine(random: Random): string {
  const fields = [userId(random), random.pick(EVENT_TYPES), amount(random), timestamp(random)];
  if (random.chance(0.04)) fields.pop();
  if (random.chance(0.04)) fields.push(random.chance(0.5) ? '' : 'extra');
  let line = fields.map((f) => encodeField(f, random)).join(',');
  if (random.chance(0.05)) line = malformQuoting(line, random);
  // A line of nothing is a blank line, not a row: keep generated lines rows.
  return line === '' ? '""' : line;
}

function generatedLines(seed: number, count: number): string[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => generatedLine(random));
}

const HAND_WRITTEN: readonly string[] = [
  'u1,purchase,1.00,5',
  '"u1",purchase,1.00,5',
  '"u,1",purchase,"1.50",17',
  '"a""b",view,0,1',
  '"""",purchase,1,1',
  '"",purchase,1,1',
  '"u1","purchase","1","1"',
  'u1,"purchase",1,1',
  'u1,purchase,"1,00",1',
  'u1,purchase,1.00,"17"',
  'u1,purchase,1.00,5,',
  'u1,purchase,1.00',
  ',,,',
  '"",,,',
  ',,',
  'u1,purchase,-0,0',
  'u1,purchase,+0.5,0.5',
  'u1,purchase,-0.05,1',
  'u1,purchase,00.10,0001',
  'u1,purchase,999999999.99,253402300799',
  'u1,purchase,-999999999.99,253402300799',
  'u1,purchase,1000000000.00,1',
  'u1,purchase,12.345,1',
  'u1,purchase,1e309,1',
  'u1,purchase,NaN,1',
  'u1,purchase,0x10,1',
  'u1,purchase,"1,000.00",1',
  'u1,purchase,.5,1',
  'u1,purchase,5.,1',
  'u1,purchase,,1',
  'u1,purchase,1.00,253402300800',
  'u1,purchase,1.00,-1',
  'u1,purchase,1.00,abc',
  'u1,purchase,1.00,1.',
  '"u1,purchase,1,1',
  'u1",purchase,1,1',
  '"u1"",purchase,1,1',
  '"u1"x,purchase,1,1',
  'u1,purchase,1,"1',
  'u1,pur"chase,1,1',
  'u\t1,purchase,1,1',
  '"u\u00011",purchase,1,1',
  'u\u007f,purchase,1,1',
  ' u1,purchase,1,1',
  'u1 ,purchase,1,1',
  'u1,purchase ,1,1',
  'u1,Purchase,1,1',
  'u1,view,1.5,1',
  'u1,view,abc,1',
  '😀,purchase,0.01,1',
  '"😀,中",purchase,0.01,1',
  'é,purchase,3,1',
  '"x""y""z",purchase,3,3',
  '""""""",purchase,3,3',
  '"""""",purchase,3,3',
  'user_id,event_type,amount,unix_timestamp',
];

describe('agreement with csv-parse + the row rules', () => {
  it('the reference itself reads the hand-written cases as intended', () => {
    expect(referenceOutcome('"u,1",purchase,"1.50",17')).toEqual({ kind: 'purchase', userId: 'u,1', cents: 150n, second: 17 });
    expect(referenceOutcome('"a""b",view,0,1')).toEqual({ kind: 'view' });
    expect(referenceOutcome('"u1,purchase,1,1')).toEqual({ kind: 'bad', reason: 'bad_quoting' });
    expect(referenceOutcome('u1,purchase,"1,00",1')).toEqual({ kind: 'bad', reason: 'bad_amount' });
    expect(referenceOutcome('""""""",purchase,3,3')).toEqual({ kind: 'bad', reason: 'bad_quoting' });
    expect(referenceOutcome('"""""",purchase,3,3')).toEqual({ kind: 'purchase', userId: '""', cents: 300n, second: 3 });
  });

  it.each(HAND_WRITTEN.map((line) => [line]))('hand-written %j', (line) => {
    expect(parserOutcome(line)).toEqual(referenceOutcome(line));
  });

  it('regression: a fractional timestamp past the latest second (253402300799.5) was accepted', () => {
    // The maximum was compared with the integer part only, so any fraction after 253402300799 passed.
    const line = 'u1,purchase,1.00,253402300799.5';
    expect(referenceOutcome(line)).toEqual({ kind: 'bad', reason: 'bad_timestamp' });
    expect(parserOutcome(line)).toEqual(referenceOutcome(line));
  });

  it('8,000 generated lines agree one by one, and cover every outcome', () => {
    const lines = generatedLines(7, 8_000);
    const seen = new Map<string, number>();
    for (const line of lines) {
      const expected = referenceOutcome(line);
      const got = parserOutcome(line);
      if (
        JSON.stringify(got, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) !==
        JSON.stringify(expected, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
      ) {
        expect(got, JSON.stringify(line)).toEqual(expected);
      }
      const key = expected.kind === 'bad' ? expected.reason : expected.kind;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    // The generator must reach every outcome the row rules can give a short line, or agreement proves little.
    for (const outcome of [
      'purchase',
      'view',
      'field_count',
      'empty_user_id',
      'bad_user_id',
      'unknown_event_type',
      'bad_amount',
      'bad_timestamp',
      'bad_quoting',
    ]) {
      expect(seen.get(outcome) ?? 0, outcome).toBeGreaterThan(20);
    }
    // and both paths of the parser: lines with and without quotes
    expect(lines.filter((l) => l.includes('"')).length).toBeGreaterThan(1_000);
    expect(lines.filter((l) => !l.includes('"')).length).toBeGreaterThan(1_000);
  });

  it('generated whole files agree on totals, counts and bad-row line numbers', () => {
    const random = seeded(99);
    for (let file = 0; file < 10; file++) {
      const lines = generatedLines(1000 + file, 1_500);
      // a small user population, so users collect many rows
      const small = lines.map((line) => (random.chance(0.5) ? `u${random.int(30)},purchase,${random.int(100)}.${random.int(10)},${random.int(1e9)}` : line));
      const text = small.join(file % 2 === 0 ? '\n' : '\r\n') + (file % 3 === 0 ? '' : '\n');
      const expected = recountFile(text, undefined, referenceFields);
      const table = new UserAggTable();
      const parser = parseWhole(Buffer.from(text, 'utf8'), table);
      expect(table.toSortedTotals()).toEqual(sortedReferenceTotals(expected.totals));
      expect(parser.badRows.map((r) => [r.line, r.reason])).toEqual(expected.bad.map((b) => [b.line, b.reason]));
      expect(parser.badRows.map((r) => Buffer.from(r.raw).toString('utf8'))).toEqual(expected.bad.map((b) => b.text));
      expect(parser.counts.rows).toBe(expected.rows);
      expect(parser.counts.purchases).toBe(expected.purchases);
      expect(parser.counts.views).toBe(expected.views);
    }
  });
});
