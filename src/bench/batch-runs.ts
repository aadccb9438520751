// The whole batch job run as a separate process (`main.js batch`), measured, with the view it published read back.

import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';
import { dataLayout } from '../io/files/layout.js';
import { silentLogger } from '../io/runtime/logger.js';
import { MANIFEST_FILE, readBatchManifest } from '../io/views/manifest.js';
import { listBatchViews } from '../io/views/views.js';
import { type ExpectedCounts } from './dataset.js';
import { mainScriptPath, runMeasured } from './measure.js';

/** The results every run over the same input must agree on, whatever its thread count. */
export interface BatchTotals {
  readonly rowsRead: number;
  readonly purchases: number;
  readonly users: number;
  readonly purchaseCentsTotal: number;
  readonly badRowsTotal: number;
}

export interface BatchRun {
  readonly threads: number;
  readonly wallMs: number;
  readonly peakRssBytes: number | undefined;
  /** The batch view this run published. */
  readonly viewDir: string;
  readonly totals: BatchTotals;
  /** Bytes of input the run read. */
  readonly inputBytes: number;
}

const TOTAL_FIELDS = ['rowsRead', 'purchases', 'users', 'purchaseCentsTotal', 'badRowsTotal'] as const;

/** The totals a view's manifest records, and the bytes of input it read. */
function readTotals(viewDir: string): { totals: BatchTotals; inputBytes: number } {
  const manifest = readBatchManifest(viewDir);
  const { inputs } = manifest;
  if (TOTAL_FIELDS.some((field) => manifest[field] === undefined) || inputs === undefined) {
    const file = path.join(viewDir, MANIFEST_FILE);
    throw new LambdaflowError('E_STATE', `${file} lacks the totals a benchmark checks`, { file });
  }
  const totals = Object.fromEntries(TOTAL_FIELDS.map((field) => [field, manifest[field]])) as unknown as BatchTotals;
  return { totals, inputBytes: inputs.reduce((n, input) => n + input.size, 0) };
}

/** Runs `node main.js batch --data DIR --threads T --log-level warn` and returns its time, RSS and totals. */
export async function runBatchProcess(dataDir: string, threads: number): Promise<BatchRun> {
  const servingBatch = dataLayout(dataDir).servingBatch;
  const before = new Set(listBatchViews(servingBatch, silentLogger).map((v) => v.dir));
  const args = [mainScriptPath(), 'batch', '--data', dataDir, '--threads', String(threads), '--log-level', 'warn'];
  const measured = await runMeasured(process.execPath, args, `batch --threads ${threads}`);
  const published = listBatchViews(servingBatch, silentLogger).filter((v) => !before.has(v.dir));
  if (published.length !== 1) {
    throw new LambdaflowError('E_STATE', `batch --threads ${threads} published ${published.length} views in ${servingBatch}, expected 1`, {
      file: servingBatch,
    });
  }
  const viewDir = published[0]!.dir;
  const { totals, inputBytes } = readTotals(viewDir);
  return {
    threads,
    wallMs: measured.wallMs,
    peakRssBytes: measured.peakRssBytes,
    viewDir,
    totals,
    inputBytes,
  };
}

/** Throws E_STATE unless a run's totals equal the reference run's (and the generated counts, when known). */
export function checkTotals(run: BatchRun, reference: BatchTotals, expected: ExpectedCounts | undefined): void {
  const differing = TOTAL_FIELDS.filter((field) => run.totals[field] !== reference[field]);
  if (expected !== undefined) {
    if (run.totals.rowsRead !== expected.rows) differing.push('rowsRead');
    if (run.totals.purchases !== expected.purchases) differing.push('purchases');
    if (run.totals.badRowsTotal !== 0) differing.push('badRowsTotal');
  }
  if (differing.length > 0) {
    const detail = [...new Set(differing)].map((f) => `${f} ${run.totals[f]} vs ${reference[f]}`).join(', ');
    const generated = expected === undefined ? '' : ` (generated: ${expected.rows} rows, ${expected.purchases} purchases, 0 bad)`;
    throw new LambdaflowError('E_STATE', `batch --threads ${run.threads} disagrees with the reference run: ${detail}${generated}; see ${run.viewDir}`);
  }
}
