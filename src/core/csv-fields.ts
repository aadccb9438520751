// Splitting one CSV line into fields: a byte-scanning fast path, and csv-parse as the reference for quoted lines.

import { parse } from 'csv-parse/sync';

export const COMMA = 0x2c;
export const QUOTE = 0x22;

/** True when bytes[start, end) holds a double quote: only such lines need the RFC 4180 reference parser. */
export function hasQuote(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] === QUOTE) return true;
  return false;
}

/**
 * Writes the end offsets of the unquoted comma-separated fields of bytes[start, end) into `ends`
 * and returns the field count, or ends.length + 1 when there are more fields than `ends` can hold.
 */
export function splitUnquoted(bytes: Uint8Array, start: number, end: number, ends: Uint32Array): number {
  let fields = 0;
  for (let i = start; i < end; i++) {
    if (bytes[i] === COMMA) {
      if (fields === ends.length - 1) return ends.length + 1;
      ends[fields++] = i;
    }
  }
  ends[fields++] = end;
  return fields;
}

/** Parses one line with csv-parse; undefined when its quoting is invalid (unterminated or stray quotes). */
export function parseQuotedLine(line: string): string[] | undefined {
  try {
    const records = parse(line, { relax_column_count: true, skip_empty_lines: false });
    return records.length === 1 ? records[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Quotes a field for output when RFC 4180 requires it. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
