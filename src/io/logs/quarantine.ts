// Quarantine files: one `<input-name>.bad` per input file with bad rows, `line<TAB>reason<TAB>original line`.

import { type BadRow } from '../../core/event-parser.js';
import { formatQuarantineEntries } from '../../core/quarantine-entries.js';
import { writeFileAtomically } from '../files/atomic.js';
import { type DataLayout, quarantinePath } from '../files/layout.js';
import { replayedRows } from './replay-ledger.js';

/**
 * Writes (replaces) the quarantine file of one input (rows numbered within the whole file). Replacing, not appending,
 * keeps reruns idempotent: the batch layer re-reads stream files the speed layer already quarantined and writes the
 * same entries. Rows replay-quarantine already put back into the master dataset (its ledger says so) are left out:
 * a recompute must not bring a fixed row back for a user to fix, and count, again.
 */
export async function writeQuarantine(layout: DataLayout, inputName: string, rows: readonly BadRow[]): Promise<string> {
  const target = quarantinePath(layout, inputName);
  const replayed = replayedRows(layout, inputName);
  const entries = rows.filter((row) => !replayed.has(row.line)).map((row) => ({ line: row.line, reason: row.reason, row: row.raw }));
  await writeFileAtomically(target, formatQuarantineEntries(entries));
  return target;
}
