// An independent recount of the master dataset for end-of-run checks: the core parser, one file at a time, no
// workers, no views, no deltas — a different path from the pipeline it checks.

import fs from 'node:fs';
import { UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { MERGED_VIEW_HEADER, mergeViewText } from '../core/view-format.js';
import { collectBatchInputs } from '../batch/inputs.js';
import { type DataLayout } from '../io/files/layout.js';
import { silentLogger } from '../io/runtime/logger.js';
import { parseFileRange } from '../io/files/read-range.js';

/** batch_input/ plus every logged stream file (compacted or not), each parsed on its own in this thread. */
export function recountMasterDataset(layout: DataLayout): UserAggTable {
  const table = new UserAggTable();
  for (const file of collectBatchInputs(layout, silentLogger).inputs) parseFileRange(file.path, 0, file.size, table, 'drop', 0);
  return table;
}

export function readMergedViewTable(layout: DataLayout): UserAggTable {
  const table = new UserAggTable();
  const text = fs.readFileSync(layout.mergedView);
  const headerEnd = text.indexOf(0x0a);
  if (text.subarray(0, headerEnd).toString() !== MERGED_VIEW_HEADER)
    throw new LambdaflowError('E_STATE', `${layout.mergedView} has no header`, { file: layout.mergedView });
  mergeViewText(text.subarray(headerEnd + 1), layout.mergedView, table);
  return table;
}

/** Users whose totals differ between two tables (up to `limit` of them), empty when equal. */
export function differences(a: UserAggTable, b: UserAggTable, limit = 5): string[] {
  const diff = new UserAggTable();
  diff.mergeTable(a);
  diff.mergeTable(b, -1);
  return diff
    .toSortedTotals()
    .slice(0, limit)
    .map((t) => `${t.userId}: count ${t.count >= 0 ? '+' : ''}${t.count}, cents ${t.cents >= 0 ? '+' : ''}${t.cents}`);
}
