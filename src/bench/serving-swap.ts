// bench:serving's batch swap: what swapping a new batch view in does to lookups (the longest the client saw) and to
// serve's event loop (its longest stall, from its /metrics), against the same figures without a batch.

import os from 'node:os';
import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';
import { type DataLayout } from '../io/files/layout.js';
import { silentLogger } from '../io/runtime/logger.js';
import { listBatchViews } from '../io/views/views.js';
import { runBatchProcess } from './batch-runs.js';
import { type BenchChild } from './child-processes.js';
import { type BenchDataset } from './dataset.js';
import { type LoadRequest, type LoadResult, type LoadStop, epochMs } from './http-load.js';
import { type Distribution, distribution } from './report.js';
import { getText } from './serve-api.js';
import { DRAIN_TIMEOUT_MS, agent } from './serving-service.js';
import { type ChunkLog, type ChunkStream, type Observation } from './stream-freshness.js';
import { type Watchdog } from './watchdog.js';

/** The swap phase: sequential lookups at this rate, this long before the batch starts, and this long after the swap. */
export const SWAP_LOOKUP_RATE = 200;
export const SWAP_QUIET_MS = 5_000;
export const SWAP_WINDOW_MS = 2_000;
/**
 * serve's /metrics is read this often during the swap phase, for the longest gap between two turns of its event loop
 * since the last read (prom-client's `nodejs_eventloop_lag_max_seconds`: monitorEventLoopDelay at its default 10 ms
 * resolution records each gap whole, so it is at least the longest stall, at most 10 ms more).
 */
const STALL_SAMPLE_MS = 500;
const EVENT_LOOP_LAG_MAX = /^lambdaflow_nodejs_eventloop_lag_max_seconds (\S+)$/m;

export interface SwapResult {
  readonly lookupRate: number;
  readonly batchSeconds: number;
  readonly batchView: string;
  readonly batchWatermark: number;
  readonly quiet: Distribution;
  readonly aroundSwap: Distribution;
  readonly duringBatch: Distribution;
  /** serve's longest event-loop stall (a bound: see STALL_SAMPLE_MS) without a batch, and around the swap. */
  readonly quietStallMs: number;
  readonly aroundSwapStallMs: number;
}

/** Latencies of the lookups sent between `fromMs` and `toMs`. */
function sentBetween(result: LoadResult, fromMs: number, toMs: number): Distribution {
  const latencies = Array.from(result.latenciesMs).filter((_latency, i) => result.sentAtMs[i]! >= fromMs && result.sentAtMs[i]! <= toMs);
  if (latencies.length === 0) throw new LambdaflowError('E_STATE', 'no lookup was sent in a measured window');
  return distribution(latencies);
}

/**
 * With the stream on and sequential lookups at SWAP_LOOKUP_RATE: SWAP_QUIET_MS without a batch (the baseline),
 * then `batch` as its own process, until SWAP_WINDOW_MS after serve's event for the new view.
 */
export async function measureSwap(
  layout: DataLayout,
  client: BenchChild,
  origin: string,
  paths: readonly string[],
  stream: ChunkStream,
  log: ChunkLog,
  observation: Observation,
  expectedBatch: BenchDataset['expected'],
  watchdog: Watchdog,
): Promise<SwapResult> {
  const answered = client.nextMessage<LoadResult>();
  client.send({ type: 'run', origin, paths, run: { kind: 'fixed-rate', ratePerSecond: SWAP_LOOKUP_RATE } } satisfies LoadRequest);
  const stalls = new EventLoopStalls(origin);
  const lookupsFromMs = epochMs();
  stream.start('swap', watchdog);
  await watchdog.sleep(SWAP_QUIET_MS);
  const batchStartMs = epochMs();
  const batch = await watchdog.guard(runBatchProcess(layout.root, os.availableParallelism()));
  const view = path.basename(batch.viewDir);
  await watchdog.until(
    () => observation.batchSwaps.some((s) => s.view === view),
    DRAIN_TIMEOUT_MS,
    () => `serve did not swap in ${view}`,
  );
  const swapAtMs = observation.batchSwaps.find((s) => s.view === view)!.receivedAtMs;
  await watchdog.sleep(swapAtMs + SWAP_WINDOW_MS - epochMs());
  client.send({ type: 'stop' } satisfies LoadStop);
  const result = await watchdog.guard(answered);
  await watchdog.guard(stalls.stop());
  if (result.errors > 0) throw new LambdaflowError('E_STATE', `lookups during the swap: ${result.errors} requests failed (first: ${result.firstError})`);
  await stream.stop();

  // The new view holds the dataset and exactly the chunks up to its watermark.
  const watermark = listBatchViews(layout.servingBatch, silentLogger).find((v) => v.dir === batch.viewDir)!.watermark;
  const streamed = log.totals(watermark);
  if (
    expectedBatch &&
    (batch.totals.rowsRead !== expectedBatch.rows + streamed.rows || batch.totals.purchases !== expectedBatch.purchases + streamed.purchases)
  ) {
    throw new LambdaflowError(
      'E_STATE',
      `${view} counts ${batch.totals.rowsRead} rows and ${batch.totals.purchases} purchases; the dataset and the ${watermark} chunks it absorbed hold ` +
        `${expectedBatch.rows + streamed.rows} and ${expectedBatch.purchases + streamed.purchases}`,
    );
  }
  return {
    lookupRate: SWAP_LOOKUP_RATE,
    batchSeconds: batch.wallMs / 1000,
    batchView: view,
    batchWatermark: watermark,
    quiet: sentBetween(result, lookupsFromMs, batchStartMs),
    aroundSwap: sentBetween(result, swapAtMs - SWAP_WINDOW_MS, swapAtMs + SWAP_WINDOW_MS),
    duringBatch: sentBetween(result, batchStartMs, swapAtMs + SWAP_WINDOW_MS),
    quietStallMs: stalls.longestMs(lookupsFromMs, batchStartMs),
    aroundSwapStallMs: stalls.longestMs(swapAtMs - SWAP_WINDOW_MS, swapAtMs + SWAP_WINDOW_MS),
  };
}

/**
 * serve's event-loop stalls as its /metrics reports them, read every STALL_SAMPLE_MS: each read gives the longest
 * gap since the read before (the reads themselves are a few requests more for serve to answer).
 */
class EventLoopStalls {
  /** [read at (epochMs), longest gap since the read before (ms)]; the first read only starts the first span. */
  private readonly reads: [number, number][] = [];
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();
  /** What a read threw first, boxed: anything may be thrown, `undefined` included. */
  private failure: { readonly error: unknown } | undefined;

  constructor(private readonly origin: string) {
    this.read();
    this.timer = setInterval(() => this.read(), STALL_SAMPLE_MS);
  }

  private read(): void {
    this.pending = this.pending.then(async () => {
      try {
        const answer = await getText(`${this.origin}/metrics`, agent);
        const match = EVENT_LOOP_LAG_MAX.exec(answer.body);
        if (answer.status !== 200 || !match) throw new LambdaflowError('E_STATE', `GET /metrics: status ${answer.status}, no event-loop lag figure`);
        this.reads.push([answer.receivedAtMs, Number(match[1]) * 1000]);
      } catch (error) {
        this.failure ??= { error };
      }
    });
  }

  /** Stops reading; the reads it took. */
  async stop(): Promise<EventLoopStalls> {
    clearInterval(this.timer);
    await this.pending;
    if (this.failure !== undefined) throw this.failure.error;
    return this;
  }

  /** The longest gap in any span between two reads that overlaps [fromMs, toMs]: a bound on the stalls in it. */
  longestMs(fromMs: number, toMs: number): number {
    let longest = 0;
    for (let i = 1; i < this.reads.length; i++) {
      if (this.reads[i]![0] >= fromMs && this.reads[i - 1]![0] <= toMs) longest = Math.max(longest, this.reads[i]![1]);
    }
    if (longest === 0) throw new LambdaflowError('E_STATE', 'no /metrics read spans a measured window');
    return longest;
  }
}
