// Every command: its flags (contract for outside checks) and a thin run function calling the layers.

import { Option } from 'commander';
import { runBatch } from '../batch/batch-job.js';
import { generateBatchFiles } from '../generate/gen-batch.js';
import { mergeLoop } from '../serving/merge-loop.js';
import { mergeOnce } from '../serving/merge.js';
import { type CommandSpec } from './cli.js';
import { count, perSecond, seconds } from './format.js';
import { resolveBatch, resolveGenBatch, resolveMerge } from './options.js';

const genBatch: CommandSpec = {
  name: 'gen-batch',
  description: 'write deterministic historical CSV files into <data>/batch_input/',
  options: [
    new Option('--rows <n>', 'rows in all (default: 1,000,000)'),
    new Option('--files <n>', 'files to split them into (default: 8)'),
    new Option('--users <n>', 'distinct users, skewed (default: 10,000)'),
    new Option('--seed <s>', 'PRNG seed; same seed, same bytes (default: 42)'),
    new Option('--force', 'replace the .csv files of a non-empty batch_input/'),
  ],
  async run({ layout, print }, raw) {
    const started = performance.now();
    const result = generateBatchFiles(layout.batchInput, resolveGenBatch(raw));
    const ms = performance.now() - started;
    print(`gen-batch: ${count(result.rows)} rows (${count(result.purchases)} purchases) in ${result.files.length} files, ${count(result.bytes)} bytes, ${seconds(ms)} → ${layout.batchInput}`);
  },
};

const batch: CommandSpec = {
  name: 'batch',
  description: 'recompute per-user purchase totals from batch_input/ and ingested stream files; publish serving/batch/batch-<ms>/',
  options: [
    new Option('--partitions <n>', 'reduce partitions, one part- file each (default: 8)'),
    new Option('--keep-views <n>', 'complete batch views to keep (default: 3)'),
  ],
  async run({ global, layout, logger, print }, raw) {
    const options = resolveBatch(raw);
    const { dir, manifest } = await runBatch({ layout, threads: global.threads, mode: global.mode, logger, ...options });
    print(
      `batch: ${count(manifest.rowsRead)} rows (${count(manifest.purchases)} purchases, ${count(manifest.badRowsTotal)} bad) from ${manifest.inputs.length} files → ` +
        `${count(manifest.users)} users in ${seconds(manifest.elapsedMs)} (${perSecond(manifest.rowsRead, manifest.elapsedMs)} rows, ${global.threads} threads) → ${dir}`,
    );
  },
};

const merge: CommandSpec = {
  name: 'merge',
  description: 'merge the latest batch view with the speed layer into serving/view/merged_view.csv',
  options: [
    new Option('--once', 'merge once and exit'),
    new Option('--interval <duration>', 'time between merges (default: 5s)'),
    new Option('--view <kind>', 'exact (batch + realtime since its watermark) or window (batch + current window, as the original demo) (default: exact)'),
  ],
  async run({ layout, logger, signal, print }, raw) {
    const options = resolveMerge(raw);
    if (options.once) {
      const result = await mergeOnce(layout, options.view);
      print(`merge: ${count(result.users)} users (batch watermark ${result.batchWatermark}, through ingest seq ${result.throughSeq}) → ${layout.mergedView}`);
      return;
    }
    await mergeLoop({ layout, logger, signal, ...options });
  },
};

export const COMMANDS: readonly CommandSpec[] = [genBatch, batch, merge];
