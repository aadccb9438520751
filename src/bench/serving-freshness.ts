// bench:serving's freshness: speed as its own process on serve's data folder and a steady stream of chunks, each
// chunk's rename timed to its visibility in /users/:id, merged_view.csv and the speed layer's own head.json; drained
// and checked, then the stream again while a batch view is swapped in (./serving-swap.ts).

import { IN_ORDER } from '../core/event-generator.js';
import { LambdaflowError } from '../core/errors.js';
import { formatDurationMs } from '../core/option-values.js';
import { count } from '../core/summary-format.js';
import { StreamWriter } from '../generate/gen-stream.js';
import { readIngestLog } from '../io/logs/ingest-log.js';
import { type DataLayout } from '../io/files/layout.js';
import { systemClock } from '../io/runtime/system-clock.js';
import { readRealtimeHead } from '../io/views/views.js';
import { type BenchChild, type ChildProcesses } from './child-processes.js';
import { type BenchDataset } from './dataset.js';
import { epochMs } from './http-load.js';
import { mainScriptPath } from './measure.js';
import { type Distribution, distribution } from './report.js';
import { SERVING_CHUNK_INTERVAL_MS, type ServingBenchOptions } from './script-options.js';
import { type StatusBody, getJson } from './serve-api.js';
import { CSV_INTERVAL, DRAIN_TIMEOUT_MS, START_TIMEOUT_MS, agent } from './serving-service.js';
import { type RssByPhase } from './serving-memory.js';
import { SWAP_LOOKUP_RATE, SWAP_QUIET_MS, type SwapResult, measureSwap } from './serving-swap.js';
import { ChunkLog, ChunkStream, MARKER_USER, OBSERVERS, type Observer, Observation } from './stream-freshness.js';
import { type Watchdog } from './watchdog.js';

/** The speed layer as the issue runs it: 100 ms micro-batches, a 10 s window sliding every second. */
export const SPEED_ARGS = ['--batch-interval', '100ms', '--slide', '1s', '--window', '10s'];
/** The stream's generator seed (the batch dataset's is BENCH_SEED): other events than history's, same user space. */
const STREAM_SEED = 7;

/** Waits until every observer covers every chunk, then checks what serve says against what was written. */
async function drainAndCheck(
  log: ChunkLog,
  observation: Observation,
  origin: string,
  layout: DataLayout,
  batchPurchases: number,
  watchdog: Watchdog,
): Promise<StatusBody> {
  await watchdog.until(
    () => log.allCovered(),
    DRAIN_TIMEOUT_MS,
    () => `not every observer covered all ${log.chunks.size} chunks (${OBSERVERS.map((o) => `${o} ${log.covered[o]}`).join(', ')})`,
  );
  const logged = readIngestLog(layout.ingestLog).entries;
  if (logged.length !== log.chunks.size || logged.some((entry) => !log.chunks.has(entry.name))) {
    throw new LambdaflowError('E_STATE', `the ingest log lists ${logged.length} files; ${log.chunks.size} chunks were renamed into stream_input/`);
  }
  for (const { version, count: markers } of observation.markerAnswers) {
    const throughSeq = observation.throughSeqOf.get(version);
    if (throughSeq !== undefined && throughSeq !== markers) {
      throw new LambdaflowError('E_STATE', `version ${version} is through seq ${throughSeq}, but /users/${MARKER_USER} showed ${markers} chunks in it`);
    }
  }
  const status = await getJson<StatusBody>(`${origin}/status`, agent);
  const expected = batchPurchases + log.totals().purchases;
  if (status.through_seq !== log.chunks.size || status.purchase_count_total !== expected) {
    throw new LambdaflowError(
      'E_STATE',
      `serve is through seq ${status.through_seq} with ${status.purchase_count_total} purchases; expected seq ${log.chunks.size} and ${expected} purchases (the batch view's plus every chunk's)`,
    );
  }
  return status;
}

export interface FreshnessResult {
  readonly rate: number;
  readonly achievedEventsPerSecond: number;
  readonly chunkIntervalMs: number;
  readonly rowsPerChunk: number;
  readonly chunks: number;
  readonly seconds: number;
  /** The latest a chunk was renamed against its schedule: the producer's own lag. */
  readonly maxRenameLateMs: number;
  /** Renamed during the steady stream: the figures. */
  readonly steady: Record<Observer, Distribution>;
  /** Renamed while the batch ran and its view was swapped in. */
  readonly duringSwap: Record<Observer, Distribution>;
  readonly samplesMs: ChunkLog['samples'];
}

/**
 * speed as its own process on serve's data folder, and the stream: --duration of steady chunks (freshness), drained
 * and checked; then the stream again while a batch view is swapped in, drained and checked again.
 */
export async function measureStream(
  options: ServingBenchOptions,
  children: ChildProcesses,
  layout: DataLayout,
  client: BenchChild,
  origin: string,
  paths: readonly string[],
  batch: { readonly purchases: number; readonly expected: BenchDataset['expected'] },
  watchdog: Watchdog,
  rssByPhase: RssByPhase,
  print: (line: string) => void,
): Promise<{ freshness: FreshnessResult; swap: SwapResult }> {
  if (readIngestLog(layout.ingestLog).entries.length !== 0) throw new LambdaflowError('E_STATE', `${layout.ingestLog} is not empty`);
  const speed = children.spawn('speed', process.execPath, [mainScriptPath(), 'speed', '--data', layout.root, ...SPEED_ARGS, '--log-level', 'warn']);
  watchdog.watch(speed.failed);
  await watchdog.until(
    () => readRealtimeHead(layout.realtimeHead) !== undefined,
    START_TIMEOUT_MS,
    () => 'the speed layer published no realtime head',
  );
  const rowsPerChunk = Math.max(1, Math.round((options.rate * SERVING_CHUNK_INTERVAL_MS) / 1000));
  const log = new ChunkLog(layout);
  const observation = await Observation.start(layout, origin, log, watchdog, agent);
  try {
    const writer = new StreamWriter(
      layout.streamInput,
      { intervalMs: SERVING_CHUNK_INTERVAL_MS, rowsPerChunk, chunks: undefined, users: options.users, seed: STREAM_SEED, stamps: IN_ORDER },
      systemClock,
    );
    const stream = new ChunkStream(writer, rowsPerChunk, SERVING_CHUNK_INTERVAL_MS, log);
    print(
      `freshness: ${count(options.rate)} events/s for ${formatDurationMs(options.durationMs)} (a chunk of ${count(rowsPerChunk)} rows + 1 marker every ` +
        `${SERVING_CHUNK_INTERVAL_MS} ms), speed ${SPEED_ARGS.join(' ')}, serve --interval ${CSV_INTERVAL} ...`,
    );
    rssByPhase.phase = 'stream';
    const startMs = epochMs();
    stream.start('steady', watchdog);
    await watchdog.sleep(options.durationMs);
    await stream.stop();
    const steadyMs = epochMs() - startMs;
    const chunks = log.chunks.size;
    const maxRenameLateMs = stream.maxLateMs;
    await drainAndCheck(log, observation, origin, layout, batch.purchases, watchdog);
    print(
      `verified: the ingest log holds the ${count(chunks)} chunks; serve's purchases = the batch view's + every chunk's; /users/${MARKER_USER} agrees with each version's seq`,
    );

    print(`swap: sequential lookups at ${SWAP_LOOKUP_RATE}/s, stream on, ${formatDurationMs(SWAP_QUIET_MS)} quiet, then batch ...`);
    rssByPhase.phase = 'batch swap';
    const swap = await measureSwap(layout, client, origin, paths, stream, log, observation, batch.expected, watchdog);
    const status = await drainAndCheck(log, observation, origin, layout, batch.purchases, watchdog);
    if (status.batch_view !== swap.batchView) throw new LambdaflowError('E_STATE', `serve shows ${status.batch_view}, not ${swap.batchView}`);
    print(
      `verified: ${swap.batchView} holds the dataset plus the ${swap.batchWatermark} chunks up to its watermark; after the swap serve still counts every purchase once`,
    );

    const byObserver = (samples: Record<Observer, number[]>): Record<Observer, Distribution> =>
      Object.fromEntries(OBSERVERS.map((o) => [o, distribution(samples[o])])) as Record<Observer, Distribution>;
    const freshness: FreshnessResult = {
      rate: options.rate,
      achievedEventsPerSecond: (log.totals(chunks).rows * 1000) / steadyMs,
      chunkIntervalMs: SERVING_CHUNK_INTERVAL_MS,
      rowsPerChunk,
      chunks,
      seconds: steadyMs / 1000,
      maxRenameLateMs,
      steady: byObserver(log.samples.steady),
      duringSwap: byObserver(log.samples.swap),
      samplesMs: log.samples,
    };
    return { freshness, swap };
  } finally {
    observation.close();
  }
}
