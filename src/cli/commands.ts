// Every command: its flags (contract for outside checks) and a thin run function calling the layers.
// Layers are imported when their command runs, so a short command does not pay for loading all of them.

import { Option } from 'commander';
import { benchCommand } from '../bench/bench-command.js';
import { systemClock } from '../io/system-clock.js';
import { LambdaflowError } from '../core/errors.js';
import { writeFileAtomically } from '../io/atomic.js';
import { type CommandSpec } from './cli.js';
import { count, perSecond, seconds } from './format.js';
import { durationOption, integerOption, resolveBatch, resolveGenBatch, resolveGenStream, resolveMerge, resolveSpeed } from './options.js';

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
    const { generateBatchFiles } = await import('../generate/gen-batch.js');
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
    const { runBatch } = await import('../batch/batch-job.js');
    const options = resolveBatch(raw);
    const { dir, manifest } = await runBatch({ layout, threads: global.threads, mode: global.mode, logger, clock: systemClock, ...options });
    print(
      `batch: ${count(manifest.rowsRead)} rows (${count(manifest.purchases)} purchases, ${count(manifest.badRowsTotal)} bad) from ${manifest.inputs.length} files → ` +
        `${count(manifest.users)} users in ${seconds(manifest.elapsedMs)} (${perSecond(manifest.rowsRead, manifest.elapsedMs)} rows, ${global.threads} threads) → ${dir}`,
    );
  },
};

const merge: CommandSpec = {
  name: 'merge',
  longRunning: true,
  description: 'merge the latest batch view with the speed layer into serving/view/merged_view.csv',
  options: [
    new Option('--once', 'merge once and exit'),
    new Option('--interval <duration>', 'time between merges (default: 5s)'),
    new Option('--view <kind>', 'exact (batch + realtime since its watermark) or window (batch + current window, as the original demo) (default: exact)'),
  ],
  async run({ layout, logger, signal, print }, raw) {
    const { mergeLoop } = await import('../serving/merge-loop.js');
    const { mergeOnce } = await import('../serving/merge.js');
    const options = resolveMerge(raw);
    if (options.once) {
      const result = await mergeOnce(layout, options.view, logger);
      print(`merge: ${count(result.users)} users (batch watermark ${result.batchWatermark}, through ingest seq ${result.throughSeq}) → ${layout.mergedView}`);
      return;
    }
    await mergeLoop({ layout, logger, clock: systemClock, signal, ...options });
  },
};

const streamOptions = (): Option[] => [
  new Option('--rows-per-chunk <n>', 'rows per chunk (default: 1,000)'),
  new Option('--users <n>', 'distinct users, skewed (default: 10,000)'),
  new Option('--seed <s>', 'PRNG seed (default: from the clock)'),
];

const speedOptions = (): Option[] => [
  new Option('--batch-interval <duration>', 'micro-batch interval (default: 10s)'),
  new Option('--window <duration>', 'window length, a multiple of --slide (default: 60s)'),
  new Option('--slide <duration>', 'slide, a multiple of --batch-interval (default: 10s)'),
  new Option('--keep <n>', 'speed-<ms>.txt directories kept (default: 5)'),
];

const genStream: CommandSpec = {
  name: 'gen-stream',
  longRunning: true,
  description: 'write a CSV chunk into <data>/stream_input/ every interval (atomically: temp name, then rename)',
  options: [
    new Option('--interval <duration>', 'time between chunks (default: 5s)'),
    new Option('--chunks <n>', 'stop after this many chunks (default: forever)'),
    ...streamOptions(),
  ],
  async run({ layout, signal, print }, raw) {
    const { runStreamGenerator } = await import('../generate/gen-stream.js');
    const config = resolveGenStream(raw);
    const totals = await runStreamGenerator(layout.streamInput, config, systemClock, signal, (chunk) =>
      print(`gen-stream: ${chunk.name}: ${count(chunk.rows)} rows (${count(chunk.purchases)} purchases)`),
    );
    print(`gen-stream: ${count(totals.rows)} rows (${count(totals.purchases)} purchases) written to ${layout.streamInput}`);
  },
};

const speed: CommandSpec = {
  name: 'speed',
  longRunning: true,
  description: 'watch stream_input/, keep the sliding window and the realtime view, publish serving/speed/ and serving/realtime/',
  options: speedOptions(),
  async run({ global, layout, logger, signal, print }, raw) {
    const { runSpeedLayer } = await import('../speed/speed-layer.js');
    const { windowSpec } = await import('../core/window.js');
    const options = resolveSpeed(raw);
    await runSpeedLayer({
      layout,
      threads: global.threads,
      mode: global.mode,
      logger,
      window: windowSpec(options.batchIntervalMs, options.windowMs, options.slideMs),
      keepViews: options.keepViews,
      clock: systemClock,
      signal,
      onSlide: (s) =>
        print(`speed: window to ${new Date(s.windowEndMs).toISOString()}: ${count(s.eventsPerSecond)} events/s, ${count(s.windowUsers)} users in window, ${count(s.realtimeUsers)} in realtime view (seq ${s.batchWatermark + 1}..${s.throughSeq}), lag ${count(s.maxLagMs)} ms`),
    });
  },
};

const all: CommandSpec = {
  name: 'all',
  longRunning: true,
  description: 'run everything in one process: gen-batch if empty, batch, stream generator, speed layer, merger',
  options: [
    new Option('--duration <duration>', 'stop cleanly after this long (default: run until Ctrl-C)'),
    new Option('--batch-every <duration>', 'recompute the batch view this often (default: only at start)'),
    new Option('--stream-interval <duration>', 'time between generated stream chunks (default: 5s)'),
    new Option('--merge-interval <duration>', 'time between merges (default: 5s)'),
    new Option('--view <kind>', 'merged view: exact or window (default: exact)'),
    new Option('--partitions <n>', 'batch reduce partitions (default: 8)'),
    new Option('--keep-views <n>', 'complete batch views to keep (default: 3)'),
    ...speedOptions(),
    ...streamOptions(),
  ],
  async run(context, raw) {
    const { runAll } = await import('./run-all.js');
    await runAll(context, {
      durationMs: raw.duration === undefined ? undefined : durationOption(raw, 'duration', 'duration', 0),
      batchEveryMs: raw.batchEvery === undefined ? undefined : durationOption(raw, 'batchEvery', 'batch-every', 0),
      stream: resolveGenStream(raw, 'streamInterval', 'stream-interval'),
      speed: resolveSpeed(raw),
      merge: resolveMerge(raw, 'mergeInterval', 'merge-interval'),
      batch: resolveBatch(raw),
    });
  },
};

const soak: CommandSpec = {
  name: 'soak',
  longRunning: true,
  description: 'run the whole pipeline at a fixed event rate for a long time (optionally with SIGKILLs) and check it',
  options: [
    new Option('--duration <duration>', 'how long (default: 10m)'),
    new Option('--rate <n>', 'stream events per second (default: 50,000)'),
    new Option('--kill-every <duration>', 'run the pipeline as a child process and SIGKILL it at a random moment of every such period'),
    new Option('--batch-every <duration>', 'batch recompute period (default: 1m)'),
    new Option('--json <file>', 'also write the report as JSON'),
    new Option('--batch-interval <duration>', 'speed micro-batch interval, a divisor of the 10 s slide (default: 250ms)'),
    new Option('--merge-interval <duration>', 'time between merges (default: 250ms)'),
  ],
  async run(context, raw) {
    const { runSoak } = await import('../soak/soak.js');
    const { printSoakReport } = await import('../soak/print-report.js');
    const report = await runSoak(context, {
      durationMs: durationOption(raw, 'duration', 'duration', 600_000, 1000),
      rate: integerOption(raw, 'rate', 'rate', 50_000, 1, 10_000_000),
      killEveryMs: raw.killEvery === undefined ? undefined : durationOption(raw, 'killEvery', 'kill-every', 0, 500),
      batchEveryMs: durationOption(raw, 'batchEvery', 'batch-every', 60_000, 100),
      jsonFile: typeof raw.json === 'string' ? raw.json : undefined,
      data: typeof raw.data === 'string' ? raw.data : undefined,
      threads: context.global.threads,
      batchIntervalMs: resolveSpeed({ batchInterval: raw.batchInterval ?? '250ms' }).batchIntervalMs,
      mergeIntervalMs: durationOption(raw, 'mergeInterval', 'merge-interval', 250),
    });
    printSoakReport(report, context.print);
    if (typeof raw.json === 'string') await writeFileAtomically(raw.json, JSON.stringify(report, null, 2) + '\n');
    if (!report.pass) {
      throw new LambdaflowError('E_STATE', `soak failed: ${report.checks.filter((c) => !c.pass).map((c) => `${c.name} (${c.detail})`).join('; ')}`);
    }
  },
};

export const COMMANDS: readonly CommandSpec[] = [genBatch, batch, genStream, speed, merge, all, soak, benchCommand];
