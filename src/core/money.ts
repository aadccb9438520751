// Exact money: amounts parsed from bytes straight into integer cents, and printed back with two decimals.

/** Largest absolute amount accepted in one row, in cents ($999,999,999.99): keeps sums of many rows exact in a double. */
export const MAX_ROW_CENTS = 99_999_999_999;

/**
 * Largest total a view line may hold, in cents: what a double keeps exact. A total is a sum of many rows, so it may
 * exceed one row's limit; the batch and speed layers add in integers and never produce more than this.
 */
export const MAX_TOTAL_CENTS = Number.MAX_SAFE_INTEGER;

/** Returned by parseCents for anything that is not a plain decimal with at most two fraction digits. */
export const INVALID_CENTS = Number.NaN;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;

/**
 * Parses `[-+]?digits[.d{1,2}]` from bytes [start, end) into integer cents, at most `max` in absolute value (one
 * row's limit unless told). Rejects exponents, hex, NaN, thousands separators, more than two fraction digits and
 * empty input: an amount is never rounded.
 */
export function parseCents(bytes: Uint8Array, start: number, end: number, max = MAX_ROW_CENTS): number {
  let i = start;
  let negative = false;
  if (i < end && (bytes[i] === MINUS || bytes[i] === PLUS)) {
    negative = bytes[i] === MINUS;
    i++;
  }
  const integerStart = i;
  let value = 0;
  const maxValue = max / 100;
  while (i < end) {
    const c = bytes[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    value = value * 10 + (c - DIGIT_0);
    if (value > maxValue) return INVALID_CENTS;
    i++;
  }
  if (i === integerStart) return INVALID_CENTS;
  let fraction = 0;
  if (i < end) {
    if (bytes[i] !== DOT) return INVALID_CENTS;
    i++;
    const fractionDigits = end - i;
    if (fractionDigits < 1 || fractionDigits > 2) return INVALID_CENTS;
    for (let k = 0; k < fractionDigits; k++) {
      const c = bytes[i + k]!;
      if (c < DIGIT_0 || c > DIGIT_9) return INVALID_CENTS;
      fraction = fraction * 10 + (c - DIGIT_0);
    }
    if (fractionDigits === 1) fraction *= 10;
  }
  const cents = value * 100 + fraction;
  if (cents > max) return INVALID_CENTS;
  // `0 - 0` keeps "-0.00" from becoming the double -0, which would print as "-0.00".
  return negative ? 0 - cents : cents;
}

/** Parses a decimal amount given as a string (views read back from disk, tests). */
export function parseCentsString(text: string, max = MAX_ROW_CENTS): number {
  const bytes = encoder.encode(text);
  return parseCents(bytes, 0, bytes.length, max);
}

const encoder = new TextEncoder();

/** Formats integer cents with exactly two decimals: 12345 → "123.45", -5 → "-0.05". */
export function formatCents(cents: number): string {
  const negative = cents < 0;
  const abs = negative ? -cents : cents;
  const whole = Math.floor(abs / 100);
  const fraction = abs - whole * 100;
  return `${negative ? '-' : ''}${whole}.${fraction < 10 ? '0' : ''}${fraction}`;
}
