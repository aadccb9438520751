// Every command: its flags (from options.ts, the contract for outside checks) and a thin run function calling the layers.
// Layers, the pipeline and the tools are imported when their command runs, so a short command does not pay for loading
// all of them.

import { type Option } from 'commander';
import { LambdaflowError } from '../core/errors.js';
import { formatNatsAddresses } from '../core/nats-names.js';
import { type RawOptions } from '../core/option-values.js';
import { count, eventWatermarkText, lagText, perSecond, seconds } from '../core/summary-format.js';
import { type CommandContext } from '../pipeline/context.js';
import { BYTES, type Progress, type ProgressDisplay, ROWS, RUNS, TIME } from './progress.js';
import {
  allFlags,
  batchFlags,
  benchFlags,
  genBatchFlags,
  genStreamFlags,
  compactFlags,
  type DataFolderUse,
  masterFilesFlags,
  mergeFlags,
  replayQuarantineFlags,
  serveFlags,
  resolveAll,
  resolveBatch,
  resolveBench,
  resolveGenBatch,
  resolveGenStream,
  resolveCompact,
  resolveMasterFiles,
  resolveMerge,
  resolveReplayQuarantine,
  resolveServe,
  resolveSoak,
  resolveSpeedCommand,
  soakFlags,
  speedCommandFlags,
} from './options.js';

/** What a command runs with from the CLI: the pipeline's context, and the terminal's progress line. */
export interface CliContext extends CommandContext {
  readonly progress: ProgressDisplay;
}

export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  readonly options: readonly Option[];
  /** How it takes --data: 'existing' refuses a folder that does not exist (unless --create), 'created' makes it. */
  readonly dataFolder: DataFolderUse;
  /** With these options the command writes nothing in the data folder (gen-stream publishing to NATS): not checked. */
  readonly leavesDataFolderAlone?: (raw: RawOptions) => boolean;
  /** Runs until stopped: SIGINT/SIGTERM ask it to flush, publish and return (others just end at once). */
  readonly longRunning?: boolean;
  /** The command has its own --threads (bench takes a list): the global one is left out and left alone. */
  readonly ownsThreadsOption?: boolean;
  readonly run: (context: CliContext, raw: RawOptions) => Promise<void>;
}

/** Runs `work` with a progress line for it (on a TTY), cleared when the work ends or fails. */
async function withProgress<T>(progress: Progress, work: (update: Progress['update']) => T | Promise<T>): Promise<T> {
  try {
    return await work((done, total) => progress.update(done, total));
  } finally {
    progress.end();
  }
}

const genBatch: CommandSpec = {
  name: 'gen-batch',
  description: 'write deterministic historical CSV files into <data>/batch_input/',
  options: genBatchFlags(),
  dataFolder: 'created',
  async run({ layout, print, progress }, raw) {
    const options = resolveGenBatch(raw);
    const { generateBatchFiles } = await import('../generate/gen-batch.js');
    const started = performance.now();
    const result = await withProgress(progress.track('gen-batch', ROWS), (update) => generateBatchFiles(layout.batchInput, options, update));
    const ms = performance.now() - started;
    print(
      `gen-batch: ${count(result.rows)} rows (${count(result.purchases)} purchases) in ${result.files.length} files, ${count(result.bytes)} bytes, ${seconds(ms)} → ${layout.batchInput}`,
    );
  },
};

const batch: CommandSpec = {
  name: 'batch',
  description: 'recompute per-user purchase totals from batch_input/ and ingested stream files; publish serving/batch/batch-<ms>/',
  options: batchFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const options = resolveBatch(raw);
    const { runBatch } = await import('../batch/batch-job.js');
    const { layerEnvironment } = await import('../pipeline/layer-config.js');
    const environment = await layerEnvironment(context);
    const { dir, manifest } = await withProgress(context.progress.track('batch', BYTES), (onMapProgress) =>
      runBatch({ ...environment, ...options, onMapProgress }),
    );
    if (manifest.inputs.length === 0) {
      context.logger.warn(
        `batch: the master dataset is empty (no .csv files in ${context.layout.batchInput}, no ingested stream files): the view has no users (gen-batch writes sample history)`,
      );
    }
    context.print(
      `batch: ${count(manifest.rowsRead)} rows (${count(manifest.purchases)} purchases, ${count(manifest.badRowsTotal)} bad) from ${manifest.inputs.length} files → ` +
        `${count(manifest.users)} users in ${seconds(manifest.elapsedMs)} (${perSecond(manifest.rowsRead, manifest.elapsedMs)} rows, ${context.global.threads} threads) → ${dir}`,
    );
  },
};

const merge: CommandSpec = {
  name: 'merge',
  longRunning: true,
  description: 'merge the latest batch view with the speed layer into serving/view/merged_view.csv (once, or every interval)',
  options: mergeFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const { layout, signal, print } = context;
    const options = resolveMerge(raw);
    const { layerEnvironment } = await import('../pipeline/layer-config.js');
    const { mergeOnce, openServing } = await import('../pipeline/serving.js');
    if (options.once) {
      const status = await mergeOnce(await layerEnvironment(context), options.view, options.buckets);
      const { describeWindow } = await import('../serving/window-view.js');
      print(
        `merge: ${count(status.users)} users (batch watermark ${status.batchWatermark}, through ingest seq ${status.throughSeq}` +
          `${status.window ? `; ${describeWindow(status.window)}` : ''}) → ${layout.mergedView}${options.buckets ? ` and ${layout.mergedBuckets}` : ''}`,
      );
      return;
    }
    await openServing(await layerEnvironment(context), { view: options.view, intervalMs: options.intervalMs, http: undefined }).serve(signal);
  },
};

const serve: CommandSpec = {
  name: 'serve',
  longRunning: true,
  description:
    'the serving layer as a service: the merged view kept current from the data folder, answered over HTTP, and written to merged_view.csv every interval; ' +
    '/readyz is 200 once a consistent view is loaded, with or without a batch view (without one, /status says "no batch view yet")',
  options: serveFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const options = resolveServe(raw);
    const { serveOnThread } = await import('../pipeline/serve-thread.js');
    await serveOnThread(context, options, (url) => context.print(`serve: listening on ${url}`));
  },
};

const genStream: CommandSpec = {
  name: 'gen-stream',
  longRunning: true,
  description: 'write a CSV chunk into <data>/stream_input/ every interval (atomically: temp name, then rename), or publish it to NATS (--sink)',
  options: genStreamFlags(),
  dataFolder: 'existing',
  leavesDataFolderAlone: (raw) => raw.sink !== undefined && raw.sink !== 'files',
  async run({ layout, signal, print, logger }, raw) {
    const config = resolveGenStream(raw);
    const { runStreamGenerator } = await import('../generate/gen-stream.js');
    const { systemClock } = await import('../io/runtime/system-clock.js');
    const totals = await runStreamGenerator(
      layout.streamInput,
      config,
      systemClock,
      signal,
      (chunk) => print(`gen-stream: ${chunk.name}: ${count(chunk.rows)} rows (${count(chunk.purchases)} purchases)`),
      logger,
    );
    const where = config.sink ? `published to stream ${config.sink.stream} at ${formatNatsAddresses(config.sink.servers)}` : `written to ${layout.streamInput}`;
    print(`gen-stream: ${count(totals.rows)} rows (${count(totals.purchases)} purchases) ${where}`);
  },
};

const speed: CommandSpec = {
  name: 'speed',
  longRunning: true,
  description:
    'watch stream_input/ (or read a NATS stream: --source), keep the sliding window and the realtime view, publish serving/speed/ and serving/realtime/ (--once: ingest what is there and exit)',
  options: speedCommandFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const options = resolveSpeedCommand(raw);
    const { runSpeedLayer } = await import('../pipeline/speed.js');
    const { layerEnvironment } = await import('../pipeline/layer-config.js');
    await runSpeedLayer(await layerEnvironment(context), options, {
      signal: context.signal,
      once: options.once,
      onSlide: (s) =>
        context.print(
          `speed: window to ${new Date(s.windowEndMs).toISOString()}: ${count(s.eventsPerSecond)} events/s, ${count(s.windowUsers)} users in window, ` +
            `${count(s.realtimeUsers)} in realtime view (seq ${s.batchWatermark + 1}..${s.throughSeq}), ${lagText(s.maxLagMs, options.window.batchIntervalMs)}, ` +
            `event time ${eventWatermarkText(s.eventWatermark)}, ${count(s.lateRows)} late rows` +
            (s.sourceUnreadableMs === null ? '' : `, source unreadable for ${seconds(s.sourceUnreadableMs)}`),
        ),
    });
  },
};

const compact: CommandSpec = {
  name: 'compact',
  description: 'move ingested stream files out of stream_input/ into compacted master files under master/stream/ (crash-safe, exactly once)',
  options: compactFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const { failpoint, ...options } = resolveCompact(raw);
    const { layerEnvironment } = await import('../pipeline/layer-config.js');
    const { compactNow } = await import('../pipeline/compaction.js');
    // Crash tests: a real kill -9 at the named step boundary (`step`, or `step@N` for its N-th time).
    const [failStep, failAt = '1'] = failpoint?.split('@') ?? [];
    let seen = 0;
    const onStep =
      failpoint === undefined
        ? undefined
        : (step: string): void => void (step === failStep && ++seen === Number(failAt) && process.kill(process.pid, 'SIGKILL'));
    const environment = await layerEnvironment(context);
    const result = await withProgress(context.progress.track('compact', BYTES), (onProgress) => compactNow(environment, options, { onStep, onProgress }));
    const folded =
      result.foldedThrough === undefined
        ? 'the running speed layer folds the ingest log at its next slide'
        : `ingest log folded through seq ${result.foldedThrough}`;
    context.print(
      `compact: ${count(result.seqs)} stream files (${count(result.bytes)} bytes) moved into ${count(result.files)} compacted files; ` +
        `seqs 1..${result.compactedThrough} compacted; ${folded} → ${context.layout.masterStream}`,
    );
  },
};

const masterFiles: CommandSpec = {
  name: 'master-files',
  description: "print the master dataset's files through an ingest seq as JSON: what a batch job (ours or Spark's) reads",
  options: masterFilesFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const { watermark } = resolveMasterFiles(raw);
    const { collectBatchInputs } = await import('../batch/inputs.js');
    const master = collectBatchInputs(context.layout, context.logger, watermark);
    const files = master.inputs.map((input) => ({ path: input.path, bytes: input.size, source: input.source }));
    const watermarks = Object.keys(master.watermarks).length > 0 ? { watermarks: master.watermarks } : {};
    context.print(JSON.stringify({ watermark: master.watermark, ...watermarks, files }, null, 2));
  },
};

const all: CommandSpec = {
  name: 'all',
  longRunning: true,
  description: 'run everything in one process: gen-batch if empty, batch, stream generator, speed layer, merger',
  options: allFlags(),
  dataFolder: 'created',
  async run(context, raw) {
    const options = resolveAll(raw);
    const { runAll } = await import('../pipeline/run-all.js');
    const { layerEnvironment } = await import('../pipeline/layer-config.js');
    await runAll(await layerEnvironment(context), options, { signal: context.signal, print: context.print, logLevel: context.global.logLevel });
  },
};

const soak: CommandSpec = {
  name: 'soak',
  longRunning: true,
  description: 'run the whole pipeline at a fixed event rate for a long time (optionally with SIGKILLs) and check it',
  options: soakFlags(),
  dataFolder: 'created',
  async run(context, raw) {
    const options = resolveSoak(raw);
    const { runSoak } = await import('../soak/soak.js');
    const { printSoakReport } = await import('../soak/print-report.js');
    const { writeFileAtomically } = await import('../io/files/atomic.js');
    const { systemClock } = await import('../io/runtime/system-clock.js');
    const soakRun = { ...context.global, signal: context.signal, clock: systemClock, print: context.print };
    const report = await withProgress(context.progress.track('soak', TIME), (onProgress) => runSoak({ ...soakRun, onProgress }, options));
    printSoakReport(report, context.print);
    if (options.jsonFile !== undefined) await writeFileAtomically(options.jsonFile, JSON.stringify(report, null, 2) + '\n');
    if (!report.pass) {
      throw new LambdaflowError(
        'E_STATE',
        `soak failed: ${report.checks
          .filter((c) => !c.pass)
          .map((c) => `${c.name} (${c.detail})`)
          .join('; ')}`,
      );
    }
  },
};

const bench: CommandSpec = {
  name: 'bench',
  ownsThreadsOption: true,
  description:
    'time the whole batch job as a separate process for each thread count in --threads, --repeat times each, and ' +
    "recommend a --threads value for this machine; the input is --data's batch_input/ (generated there when empty) " +
    'or, without --data, a generated dataset cached in the temp folder',
  options: benchFlags(),
  dataFolder: 'created',
  async run(context, raw) {
    const options = resolveBench(raw);
    const { runBench } = await import('../bench/run-bench.js');
    await withProgress(context.progress.track('bench', RUNS), (onProgress) => runBench({ ...context, onProgress }, options));
  },
};

/** `n word`, with an s unless n is 1. */
function counted(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** `(a, b, c and 2 more) ` for a summary line: a few names, never an unbounded list; nothing for none. */
function names(list: readonly string[], shown = 3): string {
  if (list.length === 0) return '';
  const more = list.length > shown ? ` and ${count(list.length - shown)} more` : '';
  return `(${list.slice(0, shown).join(', ')}${more}) `;
}

const replayQuarantine: CommandSpec = {
  name: 'replay-quarantine',
  description:
    'put rows fixed in place in <data>/quarantine/*.bad back into the master dataset, once: as a new stream file the speed ' +
    'layer ingests; rows still bad stay quarantined with their reason',
  options: replayQuarantineFlags(),
  dataFolder: 'existing',
  async run(context, raw) {
    const options = resolveReplayQuarantine(raw);
    const { replayQuarantine: replay } = await import('../quarantine/replay-quarantine.js');
    const { layerEnvironment } = await import('../pipeline/layer-config.js');
    const { layout, logger, clock } = await layerEnvironment(context);
    const summary = await replay({ layout, logger, clock, ...options });
    const skipped = summary.alreadyReplayed > 0 ? `; ${counted(summary.alreadyReplayed, 'row')} already replayed, dropped` : '';
    context.print(
      `replay-quarantine: ${counted(summary.replayed, 'row')} replayed, ${count(summary.stillBad)} still bad, ${counted(summary.filesWritten.length, 'file')} written ` +
        `${names(summary.filesWritten)}from ${counted(summary.quarantineFiles, 'quarantine file')}${skipped}`,
    );
  },
};

const verify: CommandSpec = {
  name: 'verify',
  description:
    'check every file of the data folder as the layers read them: one line per damaged, missing or orphaned file or link ' +
    '(`<kind>  <path>  <expected vs found>`), then a summary; exit 1 when any. Read-only and takes no lock, so a folder ' +
    'a running pipeline writes may be seen mid-change: what a race shows goes away on a second run',
  options: [],
  dataFolder: 'existing',
  async run({ layout, print }) {
    const { verifyDataFolder } = await import('../io/verify/verify-data-folder.js');
    const { findings, filesChecked } = verifyDataFolder(layout);
    for (const finding of findings) print(`${finding.kind}  ${finding.path}  ${finding.detail}`);
    const kinds = (['damaged', 'missing', 'orphaned', 'link'] as const).map((kind) => `${count(findings.filter((f) => f.kind === kind).length)} ${kind}`);
    print(`verify: ${findings.length === 0 ? 'clean' : kinds.join(', ')}; ${counted(filesChecked, 'file')} checked in ${layout.root}`);
    if (findings.length > 0) throw new LambdaflowError('E_STATE', `${counted(findings.length, 'problem')} found in ${layout.root}`, { file: layout.root });
  },
};

export const COMMANDS: readonly CommandSpec[] = [
  genBatch,
  batch,
  genStream,
  speed,
  merge,
  serve,
  compact,
  masterFiles,
  replayQuarantine,
  verify,
  all,
  soak,
  bench,
];
