// Integer-cent amounts: what parseCents accepts and rejects, formatCents, and exact summation.

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { MAX_ROW_CENTS, formatCents, parseCents, parseCentsString } from '../../src/core/money.js';

describe('parseCentsString: valid amounts', () => {
  it.each([
    ['12', 1200],
    ['12.3', 1230],
    ['12.34', 1234],
    ['0', 0],
    ['0.00', 0],
    ['0.01', 1],
    ['0.1', 10],
    ['-0.05', -5],
    ['+1.00', 100],
    ['+0.5', 50],
    ['-12.34', -1234],
    ['007.50', 750],
    ['999999999.99', 99_999_999_999],
    ['-999999999.99', -99_999_999_999],
  ])('%s → %d cents', (text, cents) => {
    expect(parseCentsString(text)).toBe(cents);
  });

  it('-0 and -0.00 are the integer 0, never the double -0', () => {
    for (const text of ['-0', '-0.0', '-0.00', '+0']) {
      const cents = parseCentsString(text);
      expect(Object.is(cents, 0)).toBe(true);
      expect(formatCents(cents)).toBe('0.00');
    }
  });

  it('MAX_ROW_CENTS is $999,999,999.99', () => {
    expect(MAX_ROW_CENTS).toBe(99_999_999_999);
  });
});

describe('parseCentsString: rejects (never rounds)', () => {
  it.each([
    '12.345',
    '0.001',
    '1e309',
    '1e3',
    '1E2',
    'NaN',
    'Infinity',
    '-Infinity',
    '0x10',
    '0b1',
    '1,000.00',
    '1_000',
    '',
    '.5',
    '-.5',
    '5.',
    '-',
    '+',
    '--1',
    '+-1',
    '-+1',
    ' 1',
    '1 ',
    '1. 5',
    '1.2.3',
    '1..2',
    '12a',
    'a12',
    '١٢',
    '１２',
    '1000000000',
    '1000000000.00',
    '-1000000000',
    '999999999.999',
    '99999999999999999999',
    '123456789012345678901234567890.00',
  ])('%j is not an amount', (text) => {
    expect(Number.isNaN(parseCentsString(text))).toBe(true);
  });

  it('the largest accepted amount is exactly MAX_ROW_CENTS; one cent more is rejected', () => {
    expect(parseCentsString('999999999.99')).toBe(MAX_ROW_CENTS);
    expect(Number.isNaN(parseCentsString('1000000000.00'))).toBe(true);
    expect(Number.isNaN(parseCentsString('-1000000000.00'))).toBe(true);
  });

  it('regression: characters outside latin1 whose low byte is a digit were read as digits (U+0131 U+0132 . U+0133 U+0134)', () => {
    // Encoding with Buffer.from(text, 'latin1') kept only the low byte of each UTF-16 unit, so 'ı' (U+0131) read as
    // '1'. The string below contains no ASCII digit at all.
    expect(Number.isNaN(parseCentsString('\u0131\u0132.\u0133\u0134'))).toBe(true);
  });
});

describe('parseCents on byte ranges', () => {
  it('reads only bytes [start, end) of a larger buffer', () => {
    const bytes = Buffer.from('xx12.34yy-0.05zz');
    expect(parseCents(bytes, 2, 7)).toBe(1234);
    expect(parseCents(bytes, 9, 14)).toBe(-5);
    expect(parseCents(bytes, 2, 6)).toBe(1230); // "12.3"
    expect(parseCents(bytes, 2, 4)).toBe(1200); // "12"
  });

  it('rejects an empty range and a range that includes a neighbour byte', () => {
    const bytes = Buffer.from('xx12.34yy');
    expect(Number.isNaN(parseCents(bytes, 2, 2))).toBe(true);
    expect(Number.isNaN(parseCents(bytes, 2, 8))).toBe(true);
    expect(Number.isNaN(parseCents(bytes, 1, 7))).toBe(true);
  });

  it('agrees with an independent decimal reading on every amount from -20.00 to 20.00 in all written forms', () => {
    for (let cents = -2000; cents <= 2000; cents++) {
      const abs = Math.abs(cents);
      const sign = cents < 0 ? '-' : '';
      const whole = Math.floor(abs / 100);
      const fraction = abs % 100;
      const forms = [`${sign}${whole}.${String(fraction).padStart(2, '0')}`];
      if (fraction % 10 === 0) forms.push(`${sign}${whole}.${fraction / 10}`);
      if (fraction === 0) forms.push(`${sign}${whole}`);
      if (cents >= 0) forms.push(`+${forms[0]}`);
      for (const form of forms) expect(parseCentsString(form), form).toBe(cents === 0 ? 0 : cents);
    }
  });
});

describe('formatCents', () => {
  it.each([
    [0, '0.00'],
    [1, '0.01'],
    [10, '0.10'],
    [99, '0.99'],
    [100, '1.00'],
    [1234, '12.34'],
    [-5, '-0.05'],
    [-100, '-1.00'],
    [-1234, '-12.34'],
    [99_999_999_999, '999999999.99'],
    [123_456_789_012_345, '1234567890123.45'],
    [-123_456_789_012_345, '-1234567890123.45'],
    [Number.MAX_SAFE_INTEGER, '90071992547409.91'],
  ])('%d cents → %s', (cents, text) => {
    expect(formatCents(cents)).toBe(text);
  });

  it('-0 prints as 0.00', () => {
    expect(formatCents(-0)).toBe('0.00');
  });

  it('round-trips with parseCentsString', () => {
    for (const cents of [0, 1, -1, 9, -10, 12345, -99_999_999_999, 99_999_999_999, 50, -50]) {
      expect(parseCentsString(formatCents(cents))).toBe(cents);
    }
  });
});

describe('exact summation', () => {
  it('0.10 added a million times is exactly 100000.00 (floats would drift)', () => {
    const dime = parseCentsString('0.10');
    let total = 0;
    let floatTotal = 0;
    for (let i = 0; i < 1_000_000; i++) {
      total += dime;
      floatTotal += 0.1;
    }
    expect(total).toBe(10_000_000);
    expect(formatCents(total)).toBe('100000.00');
    expect(floatTotal).not.toBe(100000); // why cents: the float sum is off
  });

  it('a UserAggTable sums 0.10 a million times to exactly 100000.00', () => {
    const table = new UserAggTable();
    const key = Buffer.from('u1');
    const dime = parseCentsString('0.10');
    for (let i = 0; i < 1_000_000; i++) table.add(key, 0, key.length, 1, dime);
    expect(table.toSortedTotals()).toEqual([{ userId: 'u1', count: 1_000_000, cents: 10_000_000 }]);
    expect(formatCents(table.toSortedTotals()[0]!.cents)).toBe('100000.00');
  });

  it('0.01 + 0.02 is 0.03 and refunds cancel exactly', () => {
    expect(formatCents(parseCentsString('0.01') + parseCentsString('0.02'))).toBe('0.03');
    let total = 0;
    for (const amount of ['19.99', '0.01', '-19.99', '-0.01', '5.55', '-5.55']) total += parseCentsString(amount);
    expect(total).toBe(0);
    expect(formatCents(total)).toBe('0.00');
  });

  it('sums of maximal amounts stay exact far beyond one row', () => {
    let total = 0;
    for (let i = 0; i < 90_000; i++) total += MAX_ROW_CENTS; // ≈ 9.0e15 ≤ MAX_SAFE_INTEGER
    expect(total).toBe(99_999_999_999 * 90_000);
    expect(formatCents(total)).toBe('89999999999100.00');
  });
});
