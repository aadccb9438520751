// Late rows, the side output beside the quarantine: one `<input-name>.late` per stream file with rows older than the
// watermark when the file was logged, `line<TAB>event second<TAB>watermark<TAB>original line` per row.

import path from 'node:path';
import { publishNewFile } from '../files/atomic.js';
import { type DataLayout } from '../files/layout.js';

export interface LateRow {
  /** The row's line number in its stream file. */
  readonly line: number;
  readonly second: number;
  /** The original line's bytes. */
  readonly raw: Uint8Array;
}

export function lateRowsPath(layout: DataLayout, inputName: string): string {
  return path.join(layout.lateRows, `${path.basename(inputName)}.late`);
}

/**
 * Writes (replaces) the late rows of one stream file, under a temp name its owner (the speed layer) removes at start
 * when a crash left it (removeStaleTemps). Lateness is a function of the ingest log, so a file read again after a
 * restart gets the same rows: replacing keeps each written once.
 */
export async function writeLateRows(layout: DataLayout, inputName: string, watermark: number, rows: readonly LateRow[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const row of rows) parts.push(Buffer.from(`${row.line}\t${row.second}\t${watermark}\t`), row.raw, NEWLINE);
  return publishNewFile(layout.lateRows, path.basename(lateRowsPath(layout, inputName)), Buffer.concat(parts));
}

const NEWLINE = new Uint8Array([0x0a]);
