// The text format of views (`user_id,purchase_count,purchase_amount_total` lines) written and read by every layer.

import { type AggBlock, type UserAggTable, type UserTotal } from './agg-table.js';
import { csvField, hasQuote, parseQuotedLine, splitUnquoted } from './csv-fields.js';
import { LambdaflowError } from './errors.js';
import { formatCents, parseCents, parseCentsString } from './money.js';

export const MERGED_VIEW_HEADER = 'user_id,purchase_count_total,purchase_amount_total';

export function formatTotals(totals: readonly UserTotal[]): string {
  let text = '';
  for (const t of totals) text += `${csvField(t.userId)},${t.count},${formatCents(t.cents)}\n`;
  return text;
}

const encoder = new TextEncoder();

function needsQuoting(keys: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = keys[i];
    if (c === 0x2c || c === 0x22 || c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

/**
 * View lines for a block in its own order (no sorting, no string per user id): for deltas and other files that
 * are read back into tables, where order does not matter. `prefix` (e.g. "17,") starts every line.
 */
export function formatBlock(block: AggBlock, prefix = ''): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.from(prefix);
  let start = 0;
  for (let i = 0; i < block.counts.length; i++) {
    const end = block.keyEnds[i]!;
    const key = block.keys.subarray(start, end);
    const quoted = needsQuoting(block.keys, start, end);
    parts.push(
      head,
      quoted ? Buffer.from(csvField(decoder.decode(key))) : Buffer.from(key.buffer, key.byteOffset, key.byteLength),
      Buffer.from(`,${block.counts[i]},${formatCents(block.cents[i]!)}\n`),
    );
    start = end;
  }
  return Buffer.concat(parts);
}
const decoder = new TextDecoder();

/**
 * Parses view lines (optionally prefixed by `prefixFields` extra fields, e.g. a sequence number) from `bytes` and
 * calls `accept(prefix, userBytes, start, end, count, cents)` for each. Views are our own output, so a malformed
 * line means the file is damaged: that is an error naming the file and line, never a silent skip.
 */
export function forEachViewLine(
  bytes: Uint8Array,
  file: string,
  prefixFields: number,
  accept: (prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number) => void,
): void {
  const fieldCount = 3 + prefixFields;
  const ends = new Uint32Array(fieldCount);
  let lineStart = 0;
  let line = 0;
  while (lineStart < bytes.length) {
    let lineEnd = bytes.indexOf(0x0a, lineStart);
    if (lineEnd === -1) lineEnd = bytes.length;
    line++;
    const damaged = (): LambdaflowError => new LambdaflowError('E_STATE', `damaged view file ${file} at line ${line}`, { file, line });
    if (hasQuote(bytes, lineStart, lineEnd)) {
      const fields = parseQuotedLine(decoder.decode(bytes.subarray(lineStart, lineEnd)));
      if (fields === undefined || fields.length !== fieldCount) throw damaged();
      const key = encoder.encode(fields[prefixFields]!);
      const count = Number(fields[prefixFields + 1]);
      const cents = parseCentsString(fields[prefixFields + 2]!);
      const prefix = fields.slice(0, prefixFields).map(Number);
      if (!Number.isInteger(count) || Number.isNaN(cents) || prefix.some((p) => !Number.isInteger(p))) throw damaged();
      accept(prefix, key, 0, key.length, count, cents);
    } else if (lineEnd > lineStart) {
      if (splitUnquoted(bytes, lineStart, lineEnd, ends) !== fieldCount) throw damaged();
      const prefix: number[] = [];
      let fieldStart = lineStart;
      for (let k = 0; k < prefixFields; k++) {
        prefix.push(Number(decoder.decode(bytes.subarray(fieldStart, ends[k]!))));
        fieldStart = ends[k]! + 1;
      }
      const userStart = fieldStart;
      const userEnd = ends[prefixFields]!;
      let count = 0;
      for (let i = userEnd + 1; i < ends[prefixFields + 1]!; i++) {
        const c = bytes[i]! - 0x30;
        if (c < 0 || c > 9) throw damaged();
        count = count * 10 + c;
      }
      const cents = parseCents(bytes, ends[prefixFields + 1]! + 1, lineEnd);
      if (Number.isNaN(cents) || userEnd === userStart || prefix.some((p) => !Number.isInteger(p))) throw damaged();
      accept(prefix, bytes, userStart, userEnd, count, cents);
    }
    lineStart = lineEnd + 1;
  }
}

/** Adds (sign 1) or subtracts (sign -1) a view file's totals into a table. */
export function mergeViewText(bytes: Uint8Array, file: string, table: UserAggTable, sign: 1 | -1 = 1): void {
  forEachViewLine(bytes, file, 0, (_prefix, key, start, end, count, cents) => table.add(key, start, end, sign * count, sign * cents));
}
