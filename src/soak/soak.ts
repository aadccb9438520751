// soak: runs the whole pipeline for a long time at a fixed event rate (optionally killing it with SIGKILL at random
// moments and restarting it), samples it every second, and checks that nothing was lost, counted twice, or leaked.

import { HISTORY_SPAN_SECONDS, historyEndingAt } from '../core/event-generator.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { generateBatchFiles } from '../generate/gen-batch.js';
import { readCompactions } from '../io/logs/compactions.js';
import { readIngestLog } from '../io/logs/ingest-log.js';
import { type DataLayout, dataLayout } from '../io/files/layout.js';
import { silentLogger } from '../io/runtime/logger.js';
import { type GlobalConfig } from '../pipeline/context.js';
import { type BatchOptions, type SpeedOptions, layerEnvironment } from '../pipeline/layer-config.js';
import { type CompactOptions } from '../pipeline/compaction.js';
import { type AllOptions, runAll } from '../pipeline/run-all.js';
import { differences, readMergedViewTable, recountMasterDataset } from './recount.js';
import { FreshnessTracker } from './freshness.js';
import { entriesIn, growth, growthFrom, meanPerMinute, percentile, rssOfPid } from './measure.js';

export interface SoakOptions {
  readonly durationMs: number;
  /** Stream events per second. */
  readonly rate: number;
  /** Stream files written per second, rate / filesPerSecond events each. */
  readonly filesPerSecond: number;
  readonly killEveryMs: number | undefined;
  /** Undefined: one batch, at start. */
  readonly batchEveryMs: number | undefined;
  /** Undefined: no compaction. */
  readonly compactEveryMs: number | undefined;
  readonly compact: CompactOptions;
  readonly jsonFile: string | undefined;
  /** Data folder; a fresh temp folder when undefined. */
  readonly data: string | undefined;
  readonly speed: SpeedOptions;
  readonly mergeIntervalMs: number;
  readonly batch: BatchOptions;
  /** Distinct users of the generated history and stream. */
  readonly users: number;
}

/** How one soak runs: the pipeline's threads, bad-row mode and log level, its stop signal, and where it reports. */
export interface SoakRun extends Pick<GlobalConfig, 'threads' | 'mode' | 'logLevel'> {
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly print: (line: string) => void;
  /** Once a second: the time the soak has run, and the time it runs in all (--duration). */
  readonly onProgress?: (elapsedMs: number, durationMs: number) => void;
}

interface Sample {
  readonly atMs: number;
  readonly rssBytes: number;
  readonly heapBytes: number | undefined;
  readonly loopLagP99Ms: number | undefined;
  /** Entries in serving/speed/ (the other folders are counted at the end: listing stream_input/ every second would cost what it holds). */
  readonly speedEntries: number;
}

/** RSS from minute 10 to the end: the issue's criterion for a stream that runs for days. */
export interface RssAfterWarmUp {
  /** Mean RSS over the minute from minute 10, and over the last minute, in MB. */
  readonly fromMB: number;
  readonly endMB: number;
  readonly growthPercent: number;
}

export interface SoakReport {
  readonly durationMs: number;
  readonly rate: number;
  readonly filesPerSecond: number;
  /** Stream files logged during the soak, per second of it. */
  readonly filesPerSecondLogged: number;
  readonly batchEveryMs: number | null;
  readonly compactEveryMs: number | null;
  readonly killEveryMs: number | null;
  readonly kills: number;
  readonly streamEventsGenerated: number | null;
  readonly purchasesInMergedView: number;
  readonly purchasesInMasterDataset: number;
  readonly exact: boolean;
  readonly differences: readonly string[];
  readonly badRows: number;
  readonly rssGrowthPercent: number;
  readonly rssGrowthMB: number;
  /** Null when the soak ran less than 12 minutes (no minute after minute 11 to compare with). */
  readonly rssAfter10Min: RssAfterWarmUp | null;
  /** Mean RSS of each minute, in MB: of this process, or of the pipeline's child process with --kill-every. */
  readonly rssByMinuteMB: readonly number[];
  readonly heapGrowthPercent: number | null;
  readonly loopLagP99Ms: number | null;
  readonly freshnessP50Ms: number | null;
  readonly freshnessP99Ms: number | null;
  readonly freshnessSamples: number;
  readonly filesAtEnd: Record<string, number>;
  /** Once a second: seconds since start, RSS and heap in MB, event-loop lag p99 in ms (null when not measured). */
  readonly samples: readonly { readonly s: number; readonly rssMB: number; readonly heapMB: number | null; readonly lagP99Ms: number | null }[];
  readonly checks: readonly { name: string; pass: boolean; detail: string }[];
  readonly pass: boolean;
}

/** History written when the data folder has none: enough for the batch layer to matter, quick to recompute. */
/** The soak's stream is out of order and has late rows, so lateness is counted through every restart. */
const SOAK_STAMPS = Object.freeze({ outOfOrderSeconds: 5, lateFraction: 0.001, lateBySeconds: 60 });
const HISTORY = { rows: 100_000, files: 4, seed: 42, spanSeconds: HISTORY_SPAN_SECONDS };
/** Below this, RSS growth is noise from warm-up (JIT, pools), not a leak. */
const RSS_NOISE_BYTES = 64 << 20;
const MAX_RSS_GROWTH_PERCENT = 25;
/** The issue's bound: from minute 10 to the end, RSS grows less than this. */
const RSS_SETTLED_AT_MS = 10 * 60_000;
const MAX_RSS_GROWTH_AFTER_10_MIN_PERCENT = 10;

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

function folderCounts(layout: DataLayout): Record<string, number> {
  return {
    stream_input: entriesIn(layout.streamInput),
    'serving/batch': entriesIn(layout.servingBatch),
    'serving/speed': entriesIn(layout.servingSpeed),
    'serving/realtime': entriesIn(layout.servingRealtime) - 1,
    'serving/realtime/deltas': entriesIn(layout.realtimeDeltas),
    'master/stream': entriesIn(layout.masterStream),
  };
}

function allOptions(options: SoakOptions, remainingMs: number): AllOptions {
  return {
    durationMs: remainingMs,
    batchEveryMs: options.batchEveryMs,
    compactEveryMs: options.compactEveryMs,
    compact: options.compact,
    stream: {
      intervalMs: 1000 / options.filesPerSecond,
      rowsPerChunk: options.rate / options.filesPerSecond,
      chunks: undefined,
      users: options.users,
      seed: 7,
      stamps: SOAK_STAMPS,
    },
    speed: options.speed,
    serve: { intervalMs: options.mergeIntervalMs, view: 'exact', http: undefined },
    batch: options.batch,
    sampleHistory: { ...HISTORY, users: options.users },
  };
}

/** The same run as allOptions, as `all` flags for a child process. */
function allArgs(layout: DataLayout, threads: number, options: SoakOptions, remainingMs: number, seed: number): string[] {
  const o = allOptions(options, remainingMs);
  const { window } = o.speed;
  return [
    'all',
    '--data',
    layout.root,
    '--threads',
    String(threads),
    '--log-level',
    'warn',
    '--duration',
    `${o.durationMs}ms`,
    ...(o.batchEveryMs === undefined ? [] : ['--batch-every', `${o.batchEveryMs}ms`]),
    '--partitions',
    String(o.batch.partitions),
    '--keep-views',
    String(o.batch.keepViews),
    '--stream-interval',
    `${o.stream.intervalMs}ms`,
    '--rows-per-chunk',
    String(o.stream.rowsPerChunk),
    '--users',
    String(o.stream.users),
    '--seed',
    String(seed),
    '--out-of-order',
    `${o.stream.stamps.outOfOrderSeconds}s`,
    '--late-fraction',
    String(o.stream.stamps.lateFraction),
    '--late-by',
    `${o.stream.stamps.lateBySeconds}s`,
    '--batch-interval',
    `${window.batchIntervalMs}ms`,
    '--window',
    `${window.windowMs}ms`,
    '--slide',
    `${window.slideMs}ms`,
    '--keep-windows',
    String(o.speed.keepViews),
    '--allowed-lateness',
    `${o.speed.allowedLatenessSeconds}s`,
    '--time',
    o.speed.eventWindow ? 'event' : 'processing',
    '--merge-interval',
    `${o.serve.intervalMs}ms`,
    '--no-http',
    ...(o.compactEveryMs === undefined ? [] : ['--compact-every', `${o.compactEveryMs}ms`, '--target-size', String(o.compact.targetBytes)]),
  ];
}

export async function runSoak(run: SoakRun, options: SoakOptions): Promise<SoakReport> {
  const { clock } = run;
  const root = options.data ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lambdaflow-soak-'));
  const layout = dataLayout(root);
  run.print(
    `soak: ${options.durationMs / 1000} s at ${options.rate} events/s in ${options.filesPerSecond} files/s${options.killEveryMs ? `, SIGKILL every ~${options.killEveryMs / 1000} s` : ''} in ${layout.root}`,
  );
  if (entriesIn(layout.batchInput) === 0 || !fs.readdirSync(layout.batchInput).some((n) => n.endsWith('.csv'))) {
    generateBatchFiles(layout.batchInput, { ...HISTORY, users: options.users, startSeconds: historyEndingAt(clock.now(), HISTORY.spanSeconds), force: false });
  }
  const loggedAtStart = readIngestLog(layout.ingestLog).lastSeq;
  const samples: Sample[] = [];
  const freshness = new FreshnessTracker(layout.ingestLog);
  let streamEvents = 0;
  let kills = 0;
  let childPid: number | undefined;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const started = clock.now();
  const stopSampling = new AbortController();
  const sampling = (async () => {
    while (!stopSampling.signal.aborted) {
      await clock.sleep(1000, stopSampling.signal);
      if (stopSampling.signal.aborted) break;
      run.onProgress?.(Math.min(clock.now() - started, options.durationMs), options.durationMs);
      const rssBytes = childPid === undefined ? process.memoryUsage().rss : rssOfPid(childPid);
      if (rssBytes === undefined) continue;
      samples.push({
        atMs: clock.now() - started,
        rssBytes,
        heapBytes: childPid === undefined ? process.memoryUsage().heapUsed : undefined,
        loopLagP99Ms: childPid === undefined ? lag.percentile(99) / 1e6 : undefined,
        speedEntries: entriesIn(layout.servingSpeed),
      });
      lag.reset();
    }
  })();

  try {
    if (options.killEveryMs === undefined) {
      const environment = await layerEnvironment({ layout, global: { ...run, bucketSeconds: undefined }, logger: silentLogger });
      const summary = await runAll(
        { ...environment, clock },
        allOptions(options, options.durationMs),
        { signal: run.signal, print: () => {}, logLevel: run.logLevel },
        {
          onChunk: (chunk) => freshness.renamed(chunk.name, chunk.renamedAtMs),
          onCsvWritten: (status, writtenAtMs) => freshness.merged(status.throughSeq, writtenAtMs),
        },
      );
      streamEvents = summary.streamRows;
    } else {
      const killEveryMs = options.killEveryMs;
      const main = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../main.js');
      for (;;) {
        const remainingMs = options.durationMs - (clock.now() - started);
        const last = remainingMs <= killEveryMs;
        const args = allArgs(layout, run.threads, options, Math.max(1000, remainingMs), clock.now() % 100_000);
        const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        childPid = child.pid;
        const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        if (last) {
          const code = await exit;
          if (code !== 0) throw new LambdaflowError('E_PROCESS', `the pipeline exited with code ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`);
          break;
        }
        await clock.sleep(killEveryMs * (0.25 + 0.75 * Math.random()), run.signal);
        child.kill('SIGKILL');
        await exit;
        kills++;
        if (run.signal.aborted) break;
      }
      childPid = undefined;
    }
  } finally {
    stopSampling.abort();
    await sampling;
    lag.disable();
  }
  const measured = {
    samples,
    freshness,
    streamEvents: options.killEveryMs === undefined ? streamEvents : undefined,
    kills,
    loggedAtStart,
    elapsedMs: clock.now() - started,
  };
  return report(layout, options, measured);
}

/** What the soak measured while it ran, for its report. */
interface Measured {
  readonly samples: readonly Sample[];
  readonly freshness: FreshnessTracker;
  /** Undefined with --kill-every: the children generated them. */
  readonly streamEvents: number | undefined;
  readonly kills: number;
  /** The ingest log's last seq before the soak started. */
  readonly loggedAtStart: number;
  readonly elapsedMs: number;
}

function report(layout: DataLayout, options: SoakOptions, measured: Measured): SoakReport {
  const { samples, freshness, streamEvents, kills } = measured;
  const master = recountMasterDataset(layout);
  const merged = readMergedViewTable(layout);
  const diffs = differences(merged, master);
  const purchases = (t: typeof master): number => t.toSortedTotals().reduce((n, u) => n + u.count, 0);
  // Bad rows are the lines of the `.bad` files (the folder also holds replay ledgers).
  const badFiles = fs.existsSync(layout.quarantine) ? fs.readdirSync(layout.quarantine).filter((f) => f.endsWith('.bad')) : [];
  const quarantined = badFiles.reduce((n, f) => n + fs.readFileSync(path.join(layout.quarantine, f), 'utf8').split('\n').length - 1, 0);
  const rss = growth(samples.map((s) => s.rssBytes));
  // The check leaves out the first fifth: RSS climbs there while pools, worker isolates and the JIT warm up, which is
  // not a leak. The reported figure stays first fifth vs last.
  const rssAfterWarmUp = growth(samples.slice(Math.floor(samples.length / 5)).map((s) => s.rssBytes));
  const rssSeries = samples.map((s) => ({ atMs: s.atMs, value: s.rssBytes }));
  const settled = growthFrom(rssSeries, RSS_SETTLED_AT_MS);
  const heaps = samples.flatMap((s) => (s.heapBytes === undefined ? [] : [s.heapBytes]));
  const lags = samples.flatMap((s) => (s.loopLagP99Ms === undefined ? [] : [s.loopLagP99Ms]));
  const filesAtEnd = folderCounts(layout);
  const maxSpeedDirs = Math.max(0, ...samples.map((s) => s.speedEntries), filesAtEnd['serving/speed']!);
  const log = readIngestLog(layout.ingestLog);
  const compacted = readCompactions(layout.compactions);
  const logged = new Set(log.entries.filter((e) => e.seq > compacted.compactedThrough).map((e) => e.name));
  const streamFiles = fs.readdirSync(layout.streamInput).filter((n) => n.endsWith('.csv') && !n.startsWith('.'));
  const unlogged = streamFiles.filter((name) => !logged.has(name));
  const checks = [
    { name: 'exact', pass: diffs.length === 0, detail: diffs.length === 0 ? 'merged view equals a recount of the master dataset' : diffs.join('; ') },
    {
      name: 'every stream file ingested',
      pass: unlogged.length === 0,
      detail: `${log.lastSeq} logged (${compacted.compactedThrough} compacted into master/stream/), ${streamFiles.length} still in stream_input/${unlogged.length > 0 ? `, not logged: ${unlogged.slice(0, 3).join(', ')}` : ''}`,
    },
    ...(options.compactEveryMs === undefined
      ? []
      : [
          {
            name: 'landing folder bounded',
            pass: streamFiles.length === logged.size && compacted.removedThrough === compacted.compactedThrough && compacted.compactedThrough > 0,
            detail: `stream_input/ holds only the ${streamFiles.length} files not yet compacted; seqs 1..${compacted.compactedThrough} compacted`,
          },
        ]),
    // With --kill-every the samples span restarted processes, each warming up again: growth is reported, not judged.
    ...(options.killEveryMs !== undefined
      ? []
      : [
          {
            name: 'memory bounded',
            pass: rssAfterWarmUp.percent <= MAX_RSS_GROWTH_PERCENT || rssAfterWarmUp.absolute <= RSS_NOISE_BYTES,
            detail:
              `RSS ${rssAfterWarmUp.percent.toFixed(1)} % (${mb(rssAfterWarmUp.absolute)} MB) after warm-up ` +
              `(${rss.percent.toFixed(1)} %, ${mb(rss.absolute)} MB including the first fifth)`,
          },
        ]),
    ...(options.killEveryMs !== undefined || settled === undefined
      ? []
      : [
          {
            name: 'memory bounded after 10 min',
            pass: settled.percent < MAX_RSS_GROWTH_AFTER_10_MIN_PERCENT,
            detail: `RSS ${mb(settled.from)} MB over minute 10, ${mb(settled.end)} MB over the last minute: ${settled.percent.toFixed(1)} % (bound ${MAX_RSS_GROWTH_AFTER_10_MIN_PERCENT} %)`,
          },
        ]),
    { name: 'speed outputs bounded', pass: maxSpeedDirs <= options.speed.keepViews + 2, detail: `at most ${maxSpeedDirs} entries in serving/speed/` },
    { name: 'sampled', pass: samples.length > 0, detail: `${samples.length} samples` },
  ];
  return {
    durationMs: options.durationMs,
    rate: options.rate,
    filesPerSecond: options.filesPerSecond,
    filesPerSecondLogged: Number(((log.lastSeq - measured.loggedAtStart) / (measured.elapsedMs / 1000)).toFixed(2)),
    batchEveryMs: options.batchEveryMs ?? null,
    compactEveryMs: options.compactEveryMs ?? null,
    killEveryMs: options.killEveryMs ?? null,
    kills,
    streamEventsGenerated: streamEvents ?? null,
    purchasesInMergedView: purchases(merged),
    purchasesInMasterDataset: purchases(master),
    exact: diffs.length === 0,
    differences: diffs,
    badRows: quarantined,
    rssGrowthPercent: Number(rss.percent.toFixed(2)),
    rssGrowthMB: Number((rss.absolute / 2 ** 20).toFixed(2)),
    rssAfter10Min:
      settled === undefined ? null : { fromMB: Number(mb(settled.from)), endMB: Number(mb(settled.end)), growthPercent: Number(settled.percent.toFixed(2)) },
    rssByMinuteMB: meanPerMinute(rssSeries).map((bytes) => Number(mb(bytes))),
    heapGrowthPercent: heaps.length > 0 ? Number(growth(heaps).percent.toFixed(2)) : null,
    loopLagP99Ms: lags.length > 0 ? Number((percentile(lags, 99) ?? 0).toFixed(1)) : null,
    freshnessP50Ms: freshness.percentileMs(50) ?? null,
    freshnessP99Ms: freshness.percentileMs(99) ?? null,
    freshnessSamples: freshness.files,
    filesAtEnd,
    samples: samples.map((x) => ({
      s: Math.round(x.atMs / 1000),
      rssMB: Number((x.rssBytes / 2 ** 20).toFixed(1)),
      heapMB: x.heapBytes === undefined ? null : Number((x.heapBytes / 2 ** 20).toFixed(1)),
      lagP99Ms: x.loopLagP99Ms === undefined ? null : Number(x.loopLagP99Ms.toFixed(1)),
    })),
    checks,
    pass: checks.every((c) => c.pass),
  };
}
