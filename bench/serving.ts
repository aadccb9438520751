// The serving layer's figures, each against a baseline measured in the same run and checked before it is reported:
// point lookups against a bare node:http server, API and merged_view.csv freshness against the speed layer's own
// publish, serve's peak RSS, and what a batch view swap does to lookups: the longest one the client saw, and the
// longest stall of serve's event loop (from its /metrics). Every layer runs as its own process.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UserAggTable, type UserTotal } from '../src/core/agg-table.js';
import { LambdaflowError } from '../src/core/errors.js';
import { formatCents } from '../src/core/money.js';
import { durationOption, formatDurationMs, integerOption } from '../src/core/option-values.js';
import { count } from '../src/core/summary-format.js';
import { StreamWriter } from '../src/generate/gen-stream.js';
import { writeFileAtomically } from '../src/io/atomic.js';
import { readIngestLog } from '../src/io/ingest-log.js';
import { type DataLayout, dataLayout, isInputFileName } from '../src/io/layout.js';
import { silentLogger } from '../src/io/logger.js';
import { systemClock } from '../src/io/system-clock.js';
import { listBatchViews, mergeViewDirectory, readRealtimeHead } from '../src/io/views.js';
import { memoryOfPid } from '../src/soak/measure.js';
import { checkTotals, runBatchProcess } from '../src/bench/batch-runs.js';
import { type BenchChild, ChildProcesses } from '../src/bench/child-processes.js';
import { type BenchDataset, prepareDataset } from '../src/bench/dataset.js';
import {
  type BareServerListening,
  type BareServerRequest,
  type LatencySummary,
  type LoadRequest,
  type LoadResult,
  type LoadStop,
  epochMs,
  summarizeLatencies,
} from '../src/bench/http-load.js';
import { mainScriptPath } from '../src/bench/measure.js';
import { type Distribution, distribution, formatTable, machineDescription, ratio } from '../src/bench/report.js';
import { runScript } from '../src/bench/script.js';
import { type HttpAnswer, type StatusBody, type UserBody, getJson, getText, userPath } from '../src/bench/serve-api.js';
import { ChunkLog, ChunkStream, MARKER_USER, OBSERVERS, OBSERVER_NAMES, type Observer, Observation } from '../src/bench/stream-freshness.js';
import { Watchdog } from '../src/bench/watchdog.js';

/** The issue's targets for the serving layer on 2 cores. */
const TARGET = {
  apiFreshnessP99Ms: 250,
  csvFreshnessP99Ms: 1_000,
  lookupP99Ratio: 1.5,
  lookupsPerSecond: 20_000,
  peakRssBytes: 300e6,
  swapBlockMs: 50,
} as const;
/** The speed layer as the issue runs it: 100 ms micro-batches, a 10 s window sliding every second. */
const SPEED_ARGS = ['--batch-interval', '100ms', '--slide', '1s', '--window', '10s'];
const CSV_INTERVAL = '250ms';
/** A chunk is renamed into stream_input/ this often (rate × this / 1000 rows each: 1,000 at 100,000 events/s). */
const CHUNK_INTERVAL_MS = 10;
/** The stream's generator seed (the batch dataset's is BENCH_SEED): other events than history's, same user space. */
const STREAM_SEED = 7;
/** Lookup rounds record after this much unrecorded load (JIT, connections). */
const WARMUP_MS = 1_000;
/** Random users whose /users/:id answers are checked against the batch view before anything is timed. */
const CHECKED_LOOKUPS = 1_000;
/** The swap phase: sequential lookups at this rate, this long before the batch starts, and this long after the swap. */
const SWAP_LOOKUP_RATE = 200;
const SWAP_QUIET_MS = 5_000;
const SWAP_WINDOW_MS = 2_000;
/**
 * serve's /metrics is read this often during the swap phase, for the longest gap between two turns of its event loop
 * since the last read (prom-client's `nodejs_eventloop_lag_max_seconds`: monitorEventLoopDelay at its default 10 ms
 * resolution records each gap whole, so it is at least the longest stall, at most 10 ms more).
 */
const STALL_SAMPLE_MS = 500;
const EVENT_LOOP_LAG_MAX = /^lambdaflow_nodejs_eventloop_lag_max_seconds (\S+)$/m;
/** serve's RSS is sampled this often, to tell which phase its peak (VmHWM) came from. */
const RSS_SAMPLE_MS = 100;
const START_TIMEOUT_MS = 120_000;
const DRAIN_TIMEOUT_MS = 60_000;
/** The benchmark's own requests to serve (checks, /status, the marker user): a few keep-alive connections. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const HTTP_LOAD_CLIENT = fileURLToPath(new URL('./http-load-client.js', import.meta.url));
const BARE_HTTP_SERVER = fileURLToPath(new URL('./bare-http-server.js', import.meta.url));

interface BenchOptions {
  readonly users: number;
  readonly rows: number;
  readonly durationMs: number;
  readonly lookupDurationMs: number;
  readonly rounds: number;
  readonly connections: number;
  readonly rate: number;
  readonly json: string | undefined;
}

function parseOptions(): BenchOptions {
  const flags = ['users', 'rows', 'duration', 'lookup-duration', 'rounds', 'connections', 'rate', 'json'] as const;
  const { values } = parseArgs({ options: Object.fromEntries(flags.map((flag) => [flag, { type: 'string' as const }])) });
  return {
    users: integerOption(values, 'users', 'users', 1_000_000),
    rows: integerOption(values, 'rows', 'rows', 10_000_000),
    durationMs: durationOption(values, 'duration', 'duration', 30_000, 1_000),
    lookupDurationMs: durationOption(values, 'lookup-duration', 'lookup-duration', 5_000, 500),
    rounds: integerOption(values, 'rounds', 'rounds', 3, 1, 100),
    connections: integerOption(values, 'connections', 'connections', 10, 1, 1_000),
    rate: integerOption(values, 'rate', 'rate', 100_000, 1_000 / CHUNK_INTERVAL_MS),
    json: values.json,
  };
}

const ms = (value: number): string => (value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));
const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(0);

/** A fresh data folder whose batch_input/ holds the cached dataset's files (hard links, or copies across devices). */
function runFolder(dataset: BenchDataset): DataLayout {
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

function viewTotals(dir: string): UserTotal[] {
  const table = new UserAggTable();
  mergeViewDirectory(dir, table);
  return table.toSortedTotals();
}

/** Random users' answers must equal the batch view's totals; returns one answer, the baseline server's body. */
async function checkLookups(origin: string, users: readonly UserTotal[]): Promise<HttpAnswer> {
  let sample: HttpAnswer | undefined;
  for (let i = 0; i < Math.min(CHECKED_LOOKUPS, users.length); i++) {
    const user = users[Math.floor(Math.random() * users.length)]!;
    const answer = await getText(origin + userPath(user.userId), agent);
    const body = answer.status === 200 ? (JSON.parse(answer.body) as UserBody) : undefined;
    if (body?.user_id !== user.userId || body.purchase_count_total !== user.count || body.purchase_amount_total !== formatCents(user.cents)) {
      throw new LambdaflowError('E_STATE', `GET ${userPath(user.userId)} answered ${answer.status} ${answer.body}; the batch view has ${user.count} purchases, ${formatCents(user.cents)}`);
    }
    sample ??= answer;
  }
  if (!sample) throw new LambdaflowError('E_STATE', 'the batch view has no users');
  return sample;
}

async function startServe(children: ChildProcesses, layout: DataLayout): Promise<{ serve: BenchChild; origin: string }> {
  const serve = children.spawn('serve', process.execPath, [mainScriptPath(), 'serve', '--data', layout.root, '--port', '0', '--interval', CSV_INTERVAL, '--log-level', 'warn']);
  const [, origin] = await serve.waitForLine(/^serve: listening on (http:\/\/\S+)$/, START_TIMEOUT_MS);
  const started = epochMs();
  for (;;) {
    const ready = await Promise.race([getText(`${origin}/readyz`, agent), serve.failed]);
    if (ready.status === 200) return { serve, origin: origin! };
    if (epochMs() - started > START_TIMEOUT_MS) throw new LambdaflowError('E_STATE', `serve loaded no view within ${START_TIMEOUT_MS / 1000} s`);
    await Promise.race([delay(50), serve.failed]);
  }
}

async function loadRun(client: BenchChild, request: LoadRequest, watchdog: Watchdog, what: string): Promise<LoadResult> {
  const answered = client.nextMessage<LoadResult>();
  client.send(request);
  const result = await watchdog.guard(answered);
  if (result.errors > 0) throw new LambdaflowError('E_STATE', `${what}: ${result.errors} requests failed (first: ${result.firstError})`);
  return result;
}

interface LookupResult {
  readonly connections: number;
  readonly rounds: number;
  readonly roundMs: number;
  readonly bodyBytes: number;
  readonly serve: LatencySummary;
  readonly bare: LatencySummary;
  readonly serveRoundP99Ms: readonly number[];
  readonly bareRoundP99Ms: readonly number[];
}

/** Rounds of the same closed-loop load on the bare server and on serve, alternating which goes first. */
async function measureLookups(
  options: BenchOptions,
  children: ChildProcesses,
  client: BenchChild,
  origin: string,
  paths: readonly string[],
  sample: HttpAnswer,
  watchdog: Watchdog,
  print: (line: string) => void,
): Promise<LookupResult> {
  const bare = children.fork('bare node:http server', BARE_HTTP_SERVER);
  const listening = bare.nextMessage<BareServerListening>();
  const headers = { 'content-type': String(sample.headers['content-type']), etag: String(sample.headers.etag) };
  bare.send({ type: 'serve', body: sample.body, headers } satisfies BareServerRequest);
  const bareOrigin = `http://127.0.0.1:${(await watchdog.guard(listening)).port}`;
  const bareAnswer = await getText(`${bareOrigin}${paths[0]}`, agent);
  if (bareAnswer.status !== 200 || bareAnswer.body !== sample.body) throw new LambdaflowError('E_STATE', `the bare server answered ${bareAnswer.status} ${bareAnswer.body}`);

  const run = { kind: 'closed-loop', connections: options.connections, warmupMs: WARMUP_MS, durationMs: options.lookupDurationMs } as const;
  const results = { serve: [] as LoadResult[], bare: [] as LoadResult[] };
  print(`lookups: ${options.rounds} round${options.rounds === 1 ? '' : 's'} of ${formatDurationMs(options.lookupDurationMs)} per server, ${options.connections} connections, ${Buffer.byteLength(sample.body)}-byte answers ...`);
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? (['bare', 'serve'] as const) : (['serve', 'bare'] as const);
    for (const server of order) {
      const target = server === 'serve' ? origin : bareOrigin;
      const result = await loadRun(client, { type: 'run', origin: target, paths, run }, watchdog, `lookups on ${server}`);
      results[server].push(result);
      const s = summarizeLatencies([result]);
      print(`  round ${round} ${server.padEnd(5)}: ${count(s.requestsPerSecond)} requests/s, p50 ${ms(s.p50Ms)} ms, p99 ${ms(s.p99Ms)} ms, max ${ms(s.maxMs)} ms`);
    }
  }
  await bare.stop();
  const p99s = (runs: readonly LoadResult[]): number[] => runs.map((r) => summarizeLatencies([r]).p99Ms);
  return {
    connections: options.connections,
    rounds: options.rounds,
    roundMs: options.lookupDurationMs,
    bodyBytes: Buffer.byteLength(sample.body),
    serve: summarizeLatencies(results.serve),
    bare: summarizeLatencies(results.bare),
    serveRoundP99Ms: p99s(results.serve),
    bareRoundP99Ms: p99s(results.bare),
  };
}

/** Waits until every observer covers every chunk, then checks what serve says against what was written. */
async function drainAndCheck(log: ChunkLog, observation: Observation, origin: string, layout: DataLayout, batchPurchases: number, watchdog: Watchdog): Promise<StatusBody> {
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

interface SwapResult {
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
async function measureSwap(
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
  await watchdog.until(() => observation.batchSwaps.some((s) => s.view === view), DRAIN_TIMEOUT_MS, () => `serve did not swap in ${view}`);
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
  if (expectedBatch && (batch.totals.rowsRead !== expectedBatch.rows + streamed.rows || batch.totals.purchases !== expectedBatch.purchases + streamed.purchases)) {
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

const PHASES = ['answers checked', 'lookups', 'stream', 'batch swap'] as const;
type Phase = (typeof PHASES)[number];

/** serve's resident set sampled every RSS_SAMPLE_MS, the highest per phase. */
class RssByPhase {
  phase: Phase = PHASES[0];
  readonly highestBytes: Partial<Record<Phase, number>> = {};
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number) {
    this.timer = setInterval(() => {
      const rss = memoryOfPid(pid, 'VmRSS');
      if (rss !== undefined) this.highestBytes[this.phase] = Math.max(this.highestBytes[this.phase] ?? 0, rss);
    }, RSS_SAMPLE_MS);
  }

  close(): void {
    clearInterval(this.timer);
  }
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
  private failure: unknown;

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
        this.failure ??= error;
      }
    });
  }

  /** Stops reading; the reads it took. */
  async stop(): Promise<EventLoopStalls> {
    clearInterval(this.timer);
    await this.pending;
    if (this.failure !== undefined) throw this.failure;
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

interface FreshnessResult {
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
async function measureStream(
  options: BenchOptions,
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
  await watchdog.until(() => readRealtimeHead(layout.realtimeHead) !== undefined, START_TIMEOUT_MS, () => 'the speed layer published no realtime head');
  const rowsPerChunk = Math.max(1, Math.round((options.rate * CHUNK_INTERVAL_MS) / 1000));
  const log = new ChunkLog(layout);
  const observation = await Observation.start(layout, origin, log, watchdog, agent);
  try {
    const writer = new StreamWriter(layout.streamInput, { intervalMs: CHUNK_INTERVAL_MS, rowsPerChunk, chunks: undefined, users: options.users, seed: STREAM_SEED }, systemClock);
    const stream = new ChunkStream(writer, rowsPerChunk, CHUNK_INTERVAL_MS, log);
    print(
      `freshness: ${count(options.rate)} events/s for ${formatDurationMs(options.durationMs)} (a chunk of ${count(rowsPerChunk)} rows + 1 marker every ` +
        `${CHUNK_INTERVAL_MS} ms), speed ${SPEED_ARGS.join(' ')}, serve --interval ${CSV_INTERVAL} ...`,
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
    print(`verified: the ingest log holds the ${count(chunks)} chunks; serve's purchases = the batch view's + every chunk's; /users/${MARKER_USER} agrees with each version's seq`);

    print(`swap: sequential lookups at ${SWAP_LOOKUP_RATE}/s, stream on, ${formatDurationMs(SWAP_QUIET_MS)} quiet, then batch ...`);
    rssByPhase.phase = 'batch swap';
    const swap = await measureSwap(layout, client, origin, paths, stream, log, observation, batch.expected, watchdog);
    const status = await drainAndCheck(log, observation, origin, layout, batch.purchases, watchdog);
    if (status.batch_view !== swap.batchView) throw new LambdaflowError('E_STATE', `serve shows ${status.batch_view}, not ${swap.batchView}`);
    print(`verified: ${swap.batchView} holds the dataset plus the ${swap.batchWatermark} chunks up to its watermark; after the swap serve still counts every purchase once`);

    const byObserver = (samples: Record<Observer, number[]>): Record<Observer, Distribution> =>
      Object.fromEntries(OBSERVERS.map((o) => [o, distribution(samples[o])])) as Record<Observer, Distribution>;
    const freshness: FreshnessResult = {
      rate: options.rate,
      achievedEventsPerSecond: (log.totals(chunks).rows * 1000) / steadyMs,
      chunkIntervalMs: CHUNK_INTERVAL_MS,
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

interface ServingReport {
  readonly machine: string;
  readonly options: BenchOptions;
  readonly dataset: string;
  readonly batch: { readonly users: number; readonly purchases: number; readonly seconds: number };
  readonly lookups: LookupResult;
  readonly freshness: FreshnessResult;
  readonly rss: { readonly afterLoadBytes: number | null; readonly peakBytes: number | null; readonly highestSampleBytesByPhase: Partial<Record<Phase, number>> };
  readonly swap: SwapResult;
}

interface Verdict {
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly relative: string;
  readonly target: string;
  readonly pass: boolean;
}

/** The issue's figures, each with its baseline from the same run and its target. */
function verdictsOf({ batch, lookups, freshness, rss, swap }: ServingReport): Verdict[] {
  const { api, csv, head } = freshness.steady;
  const { afterLoadBytes, peakBytes } = rss;
  return [
    {
      figure: 'API freshness p99 (rename → /users/:id)',
      value: `${ms(api.p99Ms)} ms`,
      baseline: `${ms(head.p99Ms)} ms head.json`,
      relative: ratio(api.p99Ms, head.p99Ms),
      target: `≤ ${TARGET.apiFreshnessP99Ms} ms`,
      pass: api.p99Ms <= TARGET.apiFreshnessP99Ms,
    },
    {
      figure: `merged_view.csv freshness p99 (--interval ${CSV_INTERVAL})`,
      value: `${ms(csv.p99Ms)} ms`,
      baseline: `${ms(head.p99Ms)} ms head.json`,
      relative: ratio(csv.p99Ms, head.p99Ms),
      target: `≤ ${count(TARGET.csvFreshnessP99Ms)} ms`,
      pass: csv.p99Ms <= TARGET.csvFreshnessP99Ms,
    },
    {
      figure: 'lookup p99',
      value: `${ms(lookups.serve.p99Ms)} ms`,
      baseline: `${ms(lookups.bare.p99Ms)} ms bare`,
      relative: ratio(lookups.serve.p99Ms, lookups.bare.p99Ms),
      target: `≤ ${TARGET.lookupP99Ratio.toFixed(2)}× bare`,
      pass: lookups.serve.p99Ms <= TARGET.lookupP99Ratio * lookups.bare.p99Ms,
    },
    {
      figure: 'lookups/s',
      value: count(lookups.serve.requestsPerSecond),
      baseline: `${count(lookups.bare.requestsPerSecond)} bare`,
      relative: ratio(lookups.serve.requestsPerSecond, lookups.bare.requestsPerSecond),
      target: `≥ ${count(TARGET.lookupsPerSecond)}`,
      pass: lookups.serve.requestsPerSecond >= TARGET.lookupsPerSecond,
    },
    peakBytes !== null && afterLoadBytes !== null
      ? {
          figure: `serve peak RSS (${count(batch.users)} users)`,
          value: `${megabytes(peakBytes)} MB`,
          baseline: `${megabytes(afterLoadBytes)} MB after load`,
          relative: ratio(peakBytes, afterLoadBytes),
          target: `≤ ${megabytes(TARGET.peakRssBytes)} MB`,
          pass: peakBytes <= TARGET.peakRssBytes,
        }
      : { figure: 'serve peak RSS', value: 'unknown (no /proc)', baseline: '-', relative: '-', target: `≤ ${megabytes(TARGET.peakRssBytes)} MB`, pass: false },
    {
      figure: `serve's longest stall ±${formatDurationMs(SWAP_WINDOW_MS)} around a batch swap`,
      value: `≤ ${ms(swap.aroundSwapStallMs)} ms`,
      baseline: `≤ ${ms(swap.quietStallMs)} ms without batch`,
      relative: ratio(swap.aroundSwapStallMs, swap.quietStallMs),
      target: `≤ ${TARGET.swapBlockMs} ms`,
      pass: swap.aroundSwapStallMs <= TARGET.swapBlockMs,
    },
    {
      figure: `max lookup ±${formatDurationMs(SWAP_WINDOW_MS)} around a batch swap`,
      value: `${ms(swap.aroundSwap.maxMs)} ms`,
      baseline: `${ms(swap.quiet.maxMs)} ms without batch`,
      relative: ratio(swap.aroundSwap.maxMs, swap.quiet.maxMs),
      target: `≤ ${TARGET.swapBlockMs} ms`,
      pass: swap.aroundSwap.maxMs <= TARGET.swapBlockMs,
    },
  ];
}

function printReport(report: ServingReport, verdicts: readonly Verdict[], print: (line: string) => void): void {
  const { freshness, lookups, swap, rss } = report;
  const table = (header: readonly string[], rows: readonly (readonly string[])[]): void => formatTable(header, rows).forEach((line) => print(line));
  print('');
  print(
    `freshness, chunk renamed → visible, ${count(freshness.chunks)} chunks over ${freshness.seconds.toFixed(1)} s ` +
      `(${count(freshness.achievedEventsPerSecond)} events/s achieved, renames up to ${ms(freshness.maxRenameLateMs)} ms late):`,
  );
  const steady = freshness.steady;
  table(
    ['visible in', 'chunks', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    OBSERVERS.map((o) => [OBSERVER_NAMES[o], String(steady[o].samples), ms(steady[o].p50Ms), ms(steady[o].p90Ms), ms(steady[o].p99Ms), ms(steady[o].maxMs)]),
  );
  print('');
  print(`lookups, the same client (${lookups.connections} connections, keep-alive, its own process), ${lookups.rounds} alternating rounds of ${formatDurationMs(lookups.roundMs)} each:`);
  table(
    ['server', 'requests', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    (['bare', 'serve'] as const).map((server) => {
      const s = lookups[server];
      const name = server === 'bare' ? `bare node:http, fixed ${lookups.bodyBytes}-byte body (baseline)` : 'serve GET /users/:id, random users';
      return [name, count(s.samples), count(s.requestsPerSecond), ms(s.p50Ms), ms(s.p90Ms), ms(s.p99Ms), ms(s.maxMs)];
    }),
  );
  print('');
  print(`batch swap: ${swap.batchView} (batch ${swap.batchSeconds.toFixed(1)} s) swapped in while the stream ran; sequential lookups at ${swap.lookupRate}/s:`);
  table(
    ['lookups sent', 'requests', 'p99 ms', 'max ms', "serve's longest stall"],
    [
      [`${formatDurationMs(SWAP_QUIET_MS)} before the batch (baseline)`, String(swap.quiet.samples), ms(swap.quiet.p99Ms), ms(swap.quiet.maxMs), `≤ ${ms(swap.quietStallMs)} ms`],
      [`±${formatDurationMs(SWAP_WINDOW_MS)} around the swap`, String(swap.aroundSwap.samples), ms(swap.aroundSwap.p99Ms), ms(swap.aroundSwap.maxMs), `≤ ${ms(swap.aroundSwapStallMs)} ms`],
    ],
  );
  const during = freshness.duringSwap;
  print(`freshness meanwhile: /users/:id p99 ${ms(during.api.p99Ms)} ms (max ${ms(during.api.maxMs)}), merged_view.csv p99 ${ms(during.csv.p99Ms)} ms (max ${ms(during.csv.maxMs)})`);
  const highest = rss.highestSampleBytesByPhase;
  print(`serve RSS, highest of a sample every ${RSS_SAMPLE_MS} ms: ${PHASES.map((p) => `${p} ${megabytes(highest[p] ?? 0)} MB`).join(', ')}; peak (VmHWM) ${megabytes(rss.peakBytes ?? 0)} MB`);
  print('');
  print(`the issue's figures (${report.machine}):`);
  table(
    ['figure', 'measured', 'baseline, same run', 'relative', 'target', 'result'],
    verdicts.map((v) => [v.figure, v.value, v.baseline, v.relative, v.target, v.pass ? 'PASS' : 'MISS']),
  );
}

runScript('bench:serving', async () => {
  const options = parseOptions();
  const print = (line: string): void => console.log(line);
  const machine = machineDescription();
  print(`machine: ${machine}`);
  const children = new ChildProcesses();
  const watchdog = new Watchdog();
  const dataset = await prepareDataset({ rows: options.rows, users: options.users }, print);
  print(`dataset: ${dataset.description}`);
  const layout = runFolder(dataset);
  const removeRunFolder = (): void => fs.rmSync(layout.root, { recursive: true, force: true });
  process.once('exit', removeRunFolder); // also after Ctrl-C, which ends the process without unwinding
  let rssByPhase: RssByPhase | undefined;
  try {
    const batch = await runBatchProcess(layout.root, os.availableParallelism());
    checkTotals(batch, batch.totals, dataset.expected);
    const users = viewTotals(batch.viewDir);
    if (users.length !== batch.totals.users) throw new LambdaflowError('E_STATE', `${batch.viewDir} holds ${users.length} users, its manifest says ${batch.totals.users}`);
    print(`batch view: ${count(users.length)} users, ${count(batch.totals.purchases)} purchases (batch took ${(batch.wallMs / 1000).toFixed(1)} s) in ${layout.root}`);

    const { serve, origin } = await startServe(children, layout);
    watchdog.watch(serve.failed);
    const afterLoadBytes = memoryOfPid(serve.pid, 'VmRSS') ?? null;
    rssByPhase = new RssByPhase(serve.pid);
    const sample = await checkLookups(origin, users);
    print(`serve: ${origin}, ${count(Math.min(CHECKED_LOOKUPS, users.length))} random /users/:id answers equal the batch view; RSS ${megabytes(afterLoadBytes ?? 0)} MB`);

    const client = children.fork('http load client', HTTP_LOAD_CLIENT);
    watchdog.watch(client.failed);
    const paths = users.map((u) => userPath(u.userId));
    rssByPhase.phase = 'lookups';
    const lookups = await measureLookups(options, children, client, origin, paths, sample, watchdog, print);
    const batchFacts = { purchases: batch.totals.purchases, expected: dataset.expected };
    const { freshness, swap } = await measureStream(options, children, layout, client, origin, paths, batchFacts, watchdog, rssByPhase, print);
    const peakBytes = memoryOfPid(serve.pid, 'VmHWM') ?? null;
    rssByPhase.close();
    await children.stopAll();

    const report: ServingReport = {
      machine,
      options,
      dataset: dataset.description,
      batch: { users: users.length, purchases: batch.totals.purchases, seconds: batch.wallMs / 1000 },
      lookups,
      freshness,
      rss: { afterLoadBytes, peakBytes, highestSampleBytesByPhase: rssByPhase.highestBytes },
      swap,
    };
    const verdicts = verdictsOf(report);
    printReport(report, verdicts, print);
    if (options.json !== undefined) {
      await writeFileAtomically(options.json, JSON.stringify({ ...report, verdicts }, null, 2) + '\n');
      print(`wrote ${options.json}`);
    }
  } finally {
    rssByPhase?.close();
    agent.destroy();
    await children.stopAll();
    removeRunFolder();
  }
});
