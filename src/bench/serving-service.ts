// bench:serving's serve: a run folder holding the cached dataset, serve started on it as its own process, and the
// benchmark's own HTTP connections to it.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { UserAggTable, type UserTotal } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { type DataLayout, dataLayout, isInputFileName } from '../io/files/layout.js';
import { mergeViewDirectory } from '../io/views/views.js';
import { type BenchChild, type ChildProcesses } from './child-processes.js';
import { type BenchDataset } from './dataset.js';
import { epochMs } from './http-load.js';
import { mainScriptPath } from './measure.js';
import { getText } from './serve-api.js';

/** serve writes merged_view.csv this often. */
export const CSV_INTERVAL = '250ms';
/** The longest wait for a process to be ready (serve's view loaded, speed's first head), and for a stream to drain. */
export const START_TIMEOUT_MS = 120_000;
export const DRAIN_TIMEOUT_MS = 60_000;
/** The benchmark's own requests to serve (checks, /status, the marker user): a few keep-alive connections. */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** A fresh data folder whose batch_input/ holds the cached dataset's files (hard links, or copies across devices). */
export function runFolder(dataset: BenchDataset): DataLayout {
  const layout = dataLayout(fs.mkdtempSync(path.join(os.tmpdir(), 'lambdaflow-bench-serving-run-')));
  const from = dataLayout(dataset.dataDir).batchInput;
  fs.mkdirSync(layout.batchInput, { recursive: true });
  for (const name of fs.readdirSync(from).filter(isInputFileName)) {
    try {
      fs.linkSync(path.join(from, name), path.join(layout.batchInput, name));
    } catch {
      fs.copyFileSync(path.join(from, name), path.join(layout.batchInput, name));
    }
  }
  return layout;
}

export function viewTotals(dir: string): UserTotal[] {
  const table = new UserAggTable();
  mergeViewDirectory(dir, table);
  return table.toSortedTotals();
}

export async function startServe(children: ChildProcesses, layout: DataLayout): Promise<{ serve: BenchChild; origin: string }> {
  const serve = children.spawn('serve', process.execPath, [
    mainScriptPath(),
    'serve',
    '--data',
    layout.root,
    '--port',
    '0',
    '--interval',
    CSV_INTERVAL,
    '--log-level',
    'warn',
  ]);
  const [, origin] = await serve.waitForLine(/^serve: listening on (http:\/\/\S+)$/, START_TIMEOUT_MS);
  const started = epochMs();
  for (;;) {
    const ready = await Promise.race([getText(`${origin}/readyz`, agent), serve.failed]);
    if (ready.status === 200) return { serve, origin: origin! };
    if (epochMs() - started > START_TIMEOUT_MS) throw new LambdaflowError('E_STATE', `serve loaded no view within ${START_TIMEOUT_MS / 1000} s`);
    await Promise.race([delay(50), serve.failed]);
  }
}
