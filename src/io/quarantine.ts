// Quarantine files: one `<input-name>.bad` per input file with bad rows, `line<TAB>reason<TAB>original line`.

import { type BadRow } from '../core/event-parser.js';
import { writeFileAtomically } from './atomic.js';
import { type DataLayout, quarantinePath } from './layout.js';

/**
 * Writes (replaces) the quarantine file of one input (rows numbered within the whole file). Replacing, not appending, keeps reruns idempotent: the batch
 * layer re-reads stream files the speed layer already quarantined and writes the same entries.
 */
export async function writeQuarantine(layout: DataLayout, inputName: string, rows: readonly BadRow[]): Promise<string> {
  const target = quarantinePath(layout, inputName);
  const parts: Uint8Array[] = [];
  for (const row of rows) {
    parts.push(Buffer.from(`${row.line}\t${row.reason}\t`), row.raw, Buffer.from('\n'));
  }
  await writeFileAtomically(target, Buffer.concat(parts));
  return target;
}
