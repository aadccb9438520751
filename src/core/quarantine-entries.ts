// Quarantine entries, `line_number<TAB>reason<TAB>row` per bad row of an input: written by the layers, read back by
// replay-quarantine after a user fixed rows in place, and the core parser's verdict on a (fixed) row.

import { type AggSink } from './agg-table.js';
import { LambdaflowError } from './errors.js';
import { type BadReason, HEADER_LINE, parseWhole } from './event-parser.js';

export interface QuarantineEntry {
  /** The row's line number in its input file: with the input's name, the row's identity. */
  readonly line: number;
  readonly reason: string;
  /** The row's bytes: the original line (its first 1 KiB when overlong), or a user's fix of it. */
  readonly row: Uint8Array;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const NEWLINE = new Uint8Array([LF]);

export function formatQuarantineEntries(entries: readonly QuarantineEntry[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const entry of entries) parts.push(Buffer.from(`${entry.line}\t${entry.reason}\t`), entry.row, NEWLINE);
  return Buffer.concat(parts);
}

/**
 * The entries of a quarantine file. Lines end at LF, CRLF or a lone CR (an editor may save CRLF; a row never holds
 * either, the parser splits lines there); blank lines are skipped. A line that is not `<line number><TAB><reason>
 * <TAB><row>`, or a line number given twice, is an E_INPUT error naming the file and line: an edit broke the file,
 * and nothing of it may be replayed on a guess.
 */
export function parseQuarantineEntries(bytes: Uint8Array, file: string): QuarantineEntry[] {
  const entries: QuarantineEntry[] = [];
  const seen = new Set<number>();
  let fileLine = 0;
  for (let start = 0; start < bytes.length;) {
    let end = start;
    while (end < bytes.length && bytes[end] !== LF && bytes[end] !== CR) end++;
    const next = bytes[end] === CR && bytes[end + 1] === LF ? end + 2 : end + 1;
    fileLine++;
    if (end > start) {
      const entry = parseEntry(bytes.subarray(start, end));
      if (entry === undefined) {
        throw new LambdaflowError('E_INPUT', `${file} line ${fileLine} is not line_number<TAB>reason<TAB>row`, { file, line: fileLine });
      }
      if (seen.has(entry.line)) {
        throw new LambdaflowError('E_INPUT', `${file} line ${fileLine}: line number ${entry.line} is listed twice`, { file, line: fileLine });
      }
      seen.add(entry.line);
      entries.push(entry);
    }
    start = next;
  }
  return entries;
}

function parseEntry(line: Uint8Array): QuarantineEntry | undefined {
  const firstTab = line.indexOf(TAB);
  const secondTab = firstTab < 0 ? -1 : line.indexOf(TAB, firstTab + 1);
  if (secondTab < 0 || secondTab === firstTab + 1) return undefined;
  const number = Buffer.from(line.subarray(0, firstTab)).toString('latin1');
  if (!/^[1-9]\d{0,14}$/.test(number)) return undefined;
  return { line: Number(number), reason: Buffer.from(line.subarray(firstTab + 1, secondTab)).toString('utf8'), row: line.subarray(secondTab + 1) };
}

export type RowVerdict = { readonly kind: 'good' } | { readonly kind: 'bad'; readonly reason: BadReason } | { readonly kind: 'blank' };

const DISCARD: AggSink = { add() {} };

/**
 * What the core parser makes of one row's bytes (no CR or LF in them), judged as a line after a file's first, as it
 * will be read from a replay file: a good row (purchase or view), a bad row with its reason, or blank (no row).
 */
export function judgeRow(row: Uint8Array): RowVerdict {
  const parser = parseWhole(row, DISCARD, { atFileStart: false });
  const bad = parser.badRows[0];
  if (bad !== undefined) return { kind: 'bad', reason: bad.reason };
  return parser.counts.rows === 0 ? { kind: 'blank' } : { kind: 'good' };
}

/**
 * A replay file: the header line, then one good row per line. Behind the header every row is read exactly as
 * judgeRow judged it: no row is the file's first line, where a BOM or a header would be skipped.
 */
export function replayFileText(rows: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [Buffer.from(`${HEADER_LINE}\n`)];
  for (const row of rows) parts.push(row, NEWLINE);
  return Buffer.concat(parts);
}
