// Every command's options in one place: the defaults (one frozen DEFAULTS), the flags with their help generated from
// those defaults, and the resolvers that check raw CLI strings once into frozen, fully resolved objects passed inward.
// A bad value is E_OPTIONS naming its flag.

import os from 'node:os';
import { Option } from 'commander';
import { BAD_ROW_MODES, type BadRowMode } from '../core/event-parser.js';
import {
  bucketOption,
  fractionOption,
  timeOption,
  type RawOptions,
  choiceOption,
  durationOption,
  formatDurationMs,
  formatSizeBytes,
  integerOption,
  optionError,
  sizeOption,
  stringOf,
  windowOption,
} from '../core/option-values.js';
import { HISTORY_SPAN_SECONDS, HISTORY_START_SECONDS, type StreamStamps } from '../core/event-generator.js';
import { LOG_LEVELS, type LogLevel } from '../core/log-levels.js';
import { WINDOW_TIMES, type WindowTime, eventWindowSpec } from '../core/event-window.js';
import { count } from '../core/summary-format.js';
import type { BenchConfig } from '../bench/run-bench.js';
import type { GenBatchConfig } from '../generate/gen-batch.js';
import type { GenStreamConfig } from '../generate/gen-stream.js';
import type { GlobalConfig } from '../pipeline/context.js';
import type { BatchOptions, MergeOptions, NatsOptions, SourceOptions, SpeedOptions } from '../pipeline/layer-config.js';
import { type NatsAddress, checkPartitionedSubject, parseNatsUrls, subjectProblem } from '../core/nats-names.js';
import type { AllOptions } from '../pipeline/run-all.js';
import type { CompactOptions } from '../pipeline/compaction.js';
import type { ServeOptions } from '../pipeline/serving.js';
import type { ReplayOptions } from '../quarantine/replay-quarantine.js';
import type { HttpConfig } from '../serving/http.js';
import { MERGE_VIEWS, type MergeViewKind } from '../serving/view-kind.js';
import type { SoakOptions } from '../soak/soak.js';

/** Thread counts `bench` times: 1, 2 and the available parallelism when it is larger. */
function benchThreadCounts(): number[] {
  const available = os.availableParallelism();
  return available > 2 ? [1, 2, available] : [1, 2];
}

/** The speed layer's defaults: `speed` and `all` use them; soak feeds the same window faster. */
interface SpeedDefaults {
  readonly batchIntervalMs: number;
  readonly windowMs: number;
  readonly slideMs: number;
  readonly keepViews: number;
  readonly allowedLatenessMs: number;
  readonly time: WindowTime;
}

const SPEED: SpeedDefaults = Object.freeze({
  batchIntervalMs: 10_000,
  windowMs: 60_000,
  slideMs: 10_000,
  keepViews: 5,
  allowedLatenessMs: 10_000,
  time: 'processing',
});

/** Every default of every command; `undefined` means the option is off unless given (its help says what that means). */
export const DEFAULTS = Object.freeze({
  global: Object.freeze({ data: './data', threads: os.availableParallelism(), logLevel: 'info' satisfies LogLevel, mode: 'permissive' satisfies BadRowMode }),
  genBatch: Object.freeze({ rows: 1_000_000, files: 8, users: 10_000, seed: 42, startSeconds: HISTORY_START_SECONDS, spanSeconds: HISTORY_SPAN_SECONDS }),
  batch: Object.freeze({ partitions: 8, keepViews: 3 }),
  genStream: Object.freeze({
    intervalMs: 5_000,
    rowsPerChunk: 1_000,
    chunks: undefined as number | undefined,
    users: 10_000,
    seed: undefined as number | undefined,
    stamps: Object.freeze<StreamStamps>({ outOfOrderSeconds: 0, lateFraction: 0, lateBySeconds: 60 }),
  }),
  speed: SPEED,
  /**
   * `--source` (speed, all) and `--sink` (gen-stream): stream_input/ files unless `nats://HOST:PORT` (or a list of
   * them) is given. Without --nats-replicas the stream is created with one replica and an existing one used as it is.
   */
  nats: Object.freeze({ source: 'files', stream: 'lambdaflow', subject: 'events.>', consumer: 'speed', partitions: 1 }),
  merge: Object.freeze({ intervalMs: 5_000, view: 'exact' satisfies MergeViewKind }),
  /** `serve` and `all` answer HTTP here; `serve` also takes the merge options (its --interval writes merged_view.csv). */
  http: Object.freeze({ host: '127.0.0.1', port: 8080 }),
  /** Compacted files grow to targetBytes; only stream files older than the speed layer's window and slide move. */
  compact: Object.freeze({ targetBytes: 128 << 20, minAgeMs: SPEED.windowMs + SPEED.slideMs }),
  /** `all` also takes the gen-stream, speed, merge and batch options, with their defaults. */
  all: Object.freeze({
    durationMs: undefined as number | undefined,
    batchEveryMs: undefined as number | undefined,
    compactEveryMs: undefined as number | undefined,
    /** Its stream shows every event-time rule: rows a few seconds out of order, one in a thousand a minute late. */
    stamps: Object.freeze<StreamStamps>({ outOfOrderSeconds: 5, lateFraction: 0.001, lateBySeconds: 60 }),
  }),
  soak: Object.freeze({
    durationMs: 600_000,
    rate: 50_000,
    /** A stream file every 250 ms; the events of a second are spread over its files. */
    filesPerSecond: 4,
    killEveryMs: undefined as number | undefined,
    /** Undefined (`never`): one batch, at start. */
    batchEveryMs: 60_000,
    compactEveryMs: undefined as number | undefined,
    mergeIntervalMs: 250,
    /** The speed layer's 60 s / 10 s window, fed by 250 ms micro-batches so that freshness is measured in ms. */
    speed: Object.freeze<SpeedDefaults>({ ...SPEED, batchIntervalMs: 250 }),
  }),
  bench: Object.freeze({ rows: 10_000_000, users: Object.freeze([100_000]), threads: Object.freeze(benchThreadCounts()), repeat: 3 }),
  replayQuarantine: Object.freeze({ file: undefined as string | undefined }),
});

/** `all`'s sample history: gen-batch's defaults, over the span before now (runAll places it). */
const SAMPLE_HISTORY = Object.freeze({
  rows: DEFAULTS.genBatch.rows,
  files: DEFAULTS.genBatch.files,
  users: DEFAULTS.genBatch.users,
  seed: DEFAULTS.genBatch.seed,
  spanSeconds: DEFAULTS.genBatch.spanSeconds,
});

const MAX_THREADS = 256;
/** A file a millisecond: past it the stream interval would round to zero. */
const MAX_FILES_PER_SECOND = 1000;
const MAX_KEPT = 1000;

// ---------------------------------------------------------------------------------------------------------------------
// Flags and their help: the default shown is formatted from DEFAULTS.

/** A flag whose help ends with its default, `(default: …)`, when it has one. */
function flag(flags: string, description: string, shownDefault?: string): Option {
  return new Option(flags, shownDefault === undefined ? description : `${description} (default: ${shownDefault})`);
}

/** A default for --help: formatted when set, else what leaving the option out means. */
function shown<T>(value: T | undefined, format: (value: T) => string, whenAbsent: string): string {
  return value === undefined ? whenAbsent : format(value);
}

const duration = formatDurationMs;

/**
 * How a command takes --data, which its --help says: 'existing', a folder that must exist (a typo must not start an
 * empty one and look like success; --create starts one), or 'created', made when missing (gen-batch, all).
 */
export type DataFolderUse = 'existing' | 'created';

const DATA_FOLDER_HELP: Readonly<Record<DataFolderUse, string>> = Object.freeze({
  existing: 'data folder, which must exist (--create starts a new one)',
  created: 'data folder, created when missing',
});

/** The options every command takes; with its `use` of --data, its --data help says it (and 'existing' adds --create). */
export function globalFlags(use?: DataFolderUse): Option[] {
  const d = DEFAULTS.global;
  return [
    flag('--data <dir>', use === undefined ? 'data folder' : DATA_FOLDER_HELP[use], d.data),
    ...(use === 'existing' ? [flag('--create', 'start a new, empty data folder at --data when there is none')] : []),
    flag('--threads <n>', 'worker threads', `the available parallelism, ${count(d.threads)} here`),
    flag('--log-level <level>', LOG_LEVELS.join(', '), d.logLevel),
    flag('--mode <mode>', 'bad rows: permissive (quarantine), drop (count only), failfast (exit 2)', d.mode),
    flag('--bucket <size>', 'event-time bucket size, a divisor of one day from 1m (recorded once per data folder)', "the folder's recorded size, else 1h"),
  ];
}

export function genBatchFlags(): Option[] {
  const d = DEFAULTS.genBatch;
  return [
    flag('--rows <n>', 'rows in all', count(d.rows)),
    flag('--files <n>', 'files to split them into', count(d.files)),
    flag('--users <n>', 'distinct users, skewed', count(d.users)),
    flag('--seed <s>', 'PRNG seed; same seed, same bytes', String(d.seed)),
    flag('--start <time>', 'event time of the first row: Unix seconds or ISO 8601 UTC (2026-11-01T00:00:00Z)', String(d.startSeconds)),
    flag('--span <duration>', 'rows are spread evenly over this much event time', duration(d.spanSeconds * 1000)),
    flag('--force', 'replace the .csv files of a non-empty batch_input/'),
  ];
}

export function batchFlags(): Option[] {
  const d = DEFAULTS.batch;
  return [
    flag('--partitions <n>', 'reduce partitions, one part- file each', count(d.partitions)),
    flag('--keep-views <n>', 'complete batch views to keep', count(d.keepViews)),
  ];
}

/** gen-stream's chunk options; `all` takes them too (its interval is --stream-interval, its stamps its own defaults). */
function streamChunkFlags(stamps: StreamStamps = DEFAULTS.genStream.stamps): Option[] {
  const d = DEFAULTS.genStream;
  return [
    flag('--rows-per-chunk <n>', 'rows per chunk', count(d.rowsPerChunk)),
    flag('--users <n>', 'distinct users, skewed', count(d.users)),
    flag('--seed <s>', 'PRNG seed', shown(d.seed, String, 'from the clock')),
    flag('--out-of-order <duration>', 'stamp each row up to this long before it is written', duration(stamps.outOfOrderSeconds * 1000)),
    flag('--late-fraction <f>', 'stamp this fraction of rows --late-by further back', String(stamps.lateFraction)),
    flag('--late-by <duration>', 'how much further back late rows are stamped', duration(stamps.lateBySeconds * 1000)),
  ];
}

/** The NATS stream's options: its name and subjects (`speed`, `all` and `gen-stream`). */
function natsStreamFlags(): Option[] {
  const d = DEFAULTS.nats;
  return [
    flag('--nats-stream <name>', 'JetStream stream (created with file storage if missing)', d.stream),
    flag('--nats-subject <subject>', "the stream's subjects; partition i is the subject with i in place of its final >", d.subject),
    flag(
      '--nats-replicas <n>',
      `the stream's replicas in a NATS cluster: created with n, an existing stream checked to have n (1 to ${MAX_NATS_REPLICAS})`,
      'created with 1, an existing one used as it is',
    ),
  ];
}

/** Where the speed layer reads (`speed`, `all`). */
function sourceFlags(): Option[] {
  const d = DEFAULTS.nats;
  return [
    flag(
      '--source <source>',
      'files (stream_input/) or nats://HOST:PORT (a NATS JetStream stream; a comma-separated list: servers of a cluster, failed over between)',
      d.source,
    ),
    ...natsStreamFlags(),
    flag('--nats-consumer <name>', "durable pull consumer's name (a partition's: <name>-p<i>)", d.consumer),
  ];
}

/** How many subjects publishers hash users to (`speed`, `gen-stream`). */
function natsPartitionsFlag(): Option {
  return flag('--nats-partitions <n>', 'NATS subject partitions users are hashed to', String(DEFAULTS.nats.partitions));
}

export function genStreamFlags(): Option[] {
  const d = DEFAULTS.genStream;
  return [
    flag('--interval <duration>', 'time between chunks', duration(d.intervalMs)),
    flag('--chunks <n>', 'stop after this many chunks', shown(d.chunks, count, 'forever')),
    ...streamChunkFlags(),
    flag(
      '--sink <sink>',
      'files (stream_input/) or nats://HOST:PORT[,…] (publish each chunk to the partitions of its users, with message ids)',
      DEFAULTS.nats.source,
    ),
    ...natsStreamFlags(),
    natsPartitionsFlag(),
  ];
}

/** Which flag counts the speed windows kept: `--keep-views` on `speed`; `--keep-windows` where --keep-views means batch views. */
export type KeepWindowsFlag = 'keep-views' | 'keep-windows';

/** The speed layer's options, on `speed`, `all` and `soak`. */
function speedFlags(defaults: SpeedDefaults = DEFAULTS.speed, keepFlag: KeepWindowsFlag = 'keep-views'): Option[] {
  return [
    flag('--batch-interval <duration>', 'micro-batch interval', duration(defaults.batchIntervalMs)),
    flag('--window <duration>', 'window length, a multiple of --slide', duration(defaults.windowMs)),
    flag('--slide <duration>', 'slide, a multiple of --batch-interval', duration(defaults.slideMs)),
    flag(`--${keepFlag} <n>`, 'speed window directories (speed-<ms>.txt/) to keep', count(defaults.keepViews)),
    flag(
      '--allowed-lateness <duration>',
      'a row older than the largest event second so far less this is late (whole seconds)',
      duration(defaults.allowedLatenessMs),
    ),
    flag(
      '--time <kind>',
      "the window on processing time (ingest time) or event time (the rows' seconds, published once the watermark passes its end)",
      defaults.time,
    ),
  ];
}

/** `--keep`, the old name of the kept-windows flag on `speed` and `all`: still read, no longer shown. */
function oldKeepFlag(keepFlag: KeepWindowsFlag): Option {
  return new Option('--keep <n>', `old name of --${keepFlag}`).hideHelp();
}

export function speedCommandFlags(): Option[] {
  return [
    flag('--once', 'ingest every complete file in stream_input/ (or every message in the NATS stream), publish the realtime view and the window, and exit'),
    ...speedFlags(DEFAULTS.speed, 'keep-views'),
    oldKeepFlag('keep-views'),
    ...sourceFlags(),
    natsPartitionsFlag(),
    flag(
      '--partition <i>',
      'read only NATS partition i (0 to --nats-partitions - 1), with its own ingest log and realtime view under streams/p<i>/',
      'every partition, as the default stream',
    ),
  ];
}

export function mergeFlags(): Option[] {
  const d = DEFAULTS.merge;
  return [
    flag('--once', 'merge once and exit'),
    flag('--buckets', 'with --once: also write merged_buckets.csv, the merged view per (user, event-time bucket)'),
    flag('--interval <duration>', 'time between merges', duration(d.intervalMs)),
    flag('--view <kind>', 'exact (batch + realtime since its watermark) or window (batch + current window, as the original demo)', d.view),
  ];
}

/** The HTTP address, on `serve` and `all`. */
function httpFlags(): Option[] {
  const d = DEFAULTS.http;
  return [flag('--port <n>', 'HTTP port (0: any free port)', String(d.port)), flag('--host <host>', 'HTTP address to listen on', d.host)];
}

export function serveFlags(): Option[] {
  const d = DEFAULTS.merge;
  return [
    ...httpFlags(),
    flag('--interval <duration>', 'time between writes of merged_view.csv', duration(d.intervalMs)),
    flag('--view <kind>', 'exact (batch + realtime since its watermark) or window (batch + current window, as the original demo)', d.view),
  ];
}

/** The size compacted files grow to (`compact`, `all`, `soak`). */
function targetSizeFlag(): Option {
  return flag('--target-size <size>', 'compacted master files grow to about this size', formatSizeBytes(DEFAULTS.compact.targetBytes));
}

/** How compaction runs from `all` and `soak`. */
function compactEveryFlags(compactEveryMs: number | undefined): Option[] {
  return [
    flag('--compact-every <duration>', 'move ingested stream files into compacted master files this often', shown(compactEveryMs, duration, 'never')),
    targetSizeFlag(),
  ];
}

export function compactFlags(): Option[] {
  const d = DEFAULTS.compact;
  return [
    targetSizeFlag(),
    flag('--min-age <duration>', "only stream files ingested this long ago (at least the speed layer's window plus its slide)", duration(d.minAgeMs)),
    // Crash tests: the process kills itself (SIGKILL) at this step boundary of the compaction.
    new Option('--failpoint <step>', 'kill -9 this process at a compaction step (tests)').hideHelp(),
  ];
}

export function masterFilesFlags(): Option[] {
  return [flag('--watermark <seq>', 'the last ingest seq to include', "the ingest log's last seq")];
}

export function allFlags(): Option[] {
  const d = DEFAULTS.all;
  return [
    ...compactEveryFlags(d.compactEveryMs),
    ...httpFlags(),
    flag('--no-http', 'do not serve HTTP'),
    flag('--duration <duration>', 'stop cleanly after this long', shown(d.durationMs, duration, 'run until Ctrl-C')),
    flag('--batch-every <duration>', 'recompute the batch view this often', shown(d.batchEveryMs, duration, 'only at start')),
    flag('--stream-interval <duration>', 'time between generated stream chunks', duration(DEFAULTS.genStream.intervalMs)),
    flag('--merge-interval <duration>', 'time between merges', duration(DEFAULTS.merge.intervalMs)),
    flag('--view <kind>', 'merged view: exact or window', DEFAULTS.merge.view),
    ...batchFlags(),
    ...speedFlags(DEFAULTS.speed, 'keep-windows'),
    oldKeepFlag('keep-windows'),
    ...streamChunkFlags(DEFAULTS.all.stamps),
    ...sourceFlags(),
  ];
}

/** soak's own --data (a new temp folder when absent) replaces the global one. */
export function soakFlags(): Option[] {
  const d = DEFAULTS.soak;
  return [
    flag('--duration <duration>', 'how long', duration(d.durationMs)),
    flag('--rate <n>', 'stream events per second', count(d.rate)),
    flag('--files-per-second <n>', `stream files written per second, each with its share of --rate (1 to ${MAX_FILES_PER_SECOND})`, count(d.filesPerSecond)),
    flag(
      '--kill-every <duration>',
      'run the pipeline as a child process and SIGKILL it at a random moment of every such period',
      shown(d.killEveryMs, duration, 'never'),
    ),
    flag('--batch-every <duration|never>', 'batch recompute period; never: one batch, at start', shown(d.batchEveryMs, duration, 'never')),
    ...compactEveryFlags(d.compactEveryMs),
    flag('--merge-interval <duration>', 'time between merges', duration(d.mergeIntervalMs)),
    flag('--json <file>', 'also write the report as JSON'),
    flag('--data <dir>', DATA_FOLDER_HELP.created, 'a new folder in the system temp folder'),
    ...speedFlags(d.speed, 'keep-windows'),
  ];
}

/** bench's own --threads (a list) and --data (a cached dataset when absent) replace the global ones. */
export function benchFlags(): Option[] {
  const d = DEFAULTS.bench;
  return [
    flag('--threads <list>', 'thread counts to time, a list like 1,2,4', `1, 2 and the available parallelism when larger: ${d.threads.join(',')} here`),
    flag('--rows <n>', 'rows to generate', count(d.rows)),
    flag('--users <list>', 'distinct users to generate: one count, or a ladder like 10000,100000,1000000', d.users.join(',')),
    flag('--repeat <k>', 'timed runs per thread count; the median is reported', count(d.repeat)),
    flag('--speed', 'time the speed layer (speed --once on 200 staged files) instead of the batch layer'),
    flag(
      '--data <dir>',
      'data folder whose batch_input/ is timed (generated there when empty; created when missing)',
      'a generated dataset cached in the system temp folder',
    ),
    flag('--json <file>', 'also write the results as JSON to this file'),
  ];
}

export function replayQuarantineFlags(): Option[] {
  const d = DEFAULTS.replayQuarantine;
  return [flag('--file <name>', 'only this quarantine file of <data>/quarantine/ (x.csv.bad, or x.csv)', shown(d.file, String, 'every quarantine file'))];
}

// ---------------------------------------------------------------------------------------------------------------------
// Resolvers: raw strings → frozen, checked values.

/** `--data` as given: the data folder of every command (./data when absent; soak and bench then use a temp folder). */
function dataOption(raw: RawOptions): string | undefined {
  return stringOf(raw, 'data', 'data');
}

export function resolveGlobal(raw: RawOptions): GlobalConfig {
  const d = DEFAULTS.global;
  return Object.freeze({
    data: dataOption(raw) ?? d.data,
    threads: integerOption(raw, 'threads', 'threads', d.threads, 1, MAX_THREADS),
    logLevel: choiceOption(raw, 'logLevel', 'log-level', LOG_LEVELS, d.logLevel),
    mode: choiceOption(raw, 'mode', 'mode', BAD_ROW_MODES, d.mode),
    bucketSeconds: bucketOption(raw, 'bucket', 'bucket'),
  });
}

export function resolveGenBatch(raw: RawOptions): GenBatchConfig {
  const d = DEFAULTS.genBatch;
  return Object.freeze({
    rows: integerOption(raw, 'rows', 'rows', d.rows, 0),
    files: integerOption(raw, 'files', 'files', d.files, 1, 100_000),
    users: integerOption(raw, 'users', 'users', d.users),
    seed: integerOption(raw, 'seed', 'seed', d.seed, 0, 0xffffffff),
    force: raw.force === true,
    startSeconds: timeOption(raw, 'start', 'start', d.startSeconds),
    spanSeconds: Math.ceil(durationOption(raw, 'span', 'span', d.spanSeconds * 1000, 1000) / 1000),
  });
}

export function resolveBatch(raw: RawOptions): BatchOptions {
  const d = DEFAULTS.batch;
  return Object.freeze({
    partitions: integerOption(raw, 'partitions', 'partitions', d.partitions, 1, 4096),
    keepViews: integerOption(raw, 'keepViews', 'keep-views', d.keepViews, 1, MAX_KEPT),
  });
}

const NATS_NAME = /^[A-Za-z0-9_-]+$/;
/** JetStream keeps at most 5 replicas of a stream. */
const MAX_NATS_REPLICAS = 5;

/** The NATS servers of `--<flag> nats://HOST:PORT[,nats://HOST:PORT…]`, undefined for `files` (or when absent). */
function natsServersOption(raw: RawOptions, key: string, flag: string): readonly NatsAddress[] | undefined {
  const text = stringOf(raw, key, flag) ?? DEFAULTS.nats.source;
  if (text === 'files') return undefined;
  const servers = parseNatsUrls(text);
  if (!servers) throw optionError(flag, `expected files or nats://HOST:PORT (several separated by commas), got "${text}"`);
  return Object.freeze(servers.map((server) => Object.freeze(server)));
}

function natsNameOption(raw: RawOptions, key: string, flag: string, fallback: string): string {
  const name = stringOf(raw, key, flag) ?? fallback;
  if (!NATS_NAME.test(name)) throw optionError(flag, `expected letters, digits, - and _ only, got "${name}"`);
  return name;
}

/** The NATS stream options, when `servers` are given; each of them without them is an error naming it (it would do nothing). */
function natsOptions(
  raw: RawOptions,
  servers: readonly NatsAddress[] | undefined,
  serverFlag: string,
  keys: readonly (readonly [string, string])[],
): NatsOptions | undefined {
  if (!servers) {
    const given = keys.find(([key]) => raw[key] !== undefined);
    if (given) throw optionError(given[1], `only applies with --${serverFlag} nats://HOST:PORT`);
    return undefined;
  }
  const d = DEFAULTS.nats;
  const subject = stringOf(raw, 'natsSubject', 'nats-subject') ?? d.subject;
  const problem = subjectProblem(subject);
  if (problem !== undefined) throw optionError('nats-subject', `"${subject}" ${problem}`);
  const partitions = integerOption(raw, 'natsPartitions', 'nats-partitions', d.partitions, 1, 1024);
  if (partitions > 1) checkPartitionedSubject(subject);
  const replicas = integerOption(raw, 'natsReplicas', 'nats-replicas', undefined, 1, MAX_NATS_REPLICAS);
  return Object.freeze({ servers, stream: natsNameOption(raw, 'natsStream', 'nats-stream', d.stream), subject, partitions, replicas });
}

const STREAM_KEYS = [
  ['natsStream', 'nats-stream'],
  ['natsSubject', 'nats-subject'],
  ['natsPartitions', 'nats-partitions'],
  ['natsReplicas', 'nats-replicas'],
] as const;

/** Where the speed layer reads: undefined for stream_input/ files, else the NATS stream, consumer and partition. */
function resolveSource(raw: RawOptions): SourceOptions | undefined {
  const servers = natsServersOption(raw, 'source', 'source');
  const nats = natsOptions(raw, servers, 'source', [...STREAM_KEYS, ['natsConsumer', 'nats-consumer'], ['partition', 'partition']]);
  if (!nats) return undefined;
  const partition = integerOption(raw, 'partition', 'partition', undefined, 0, nats.partitions - 1);
  if (partition !== undefined) checkPartitionedSubject(nats.subject);
  return Object.freeze({ kind: 'nats' as const, ...nats, consumer: natsNameOption(raw, 'natsConsumer', 'nats-consumer', DEFAULTS.nats.consumer), partition });
}

/** How rows are stamped: --out-of-order, --late-fraction, --late-by. */
function resolveStamps(raw: RawOptions, defaults: StreamStamps): StreamStamps {
  return Object.freeze({
    outOfOrderSeconds: Math.floor(durationOption(raw, 'outOfOrder', 'out-of-order', defaults.outOfOrderSeconds * 1000, 0) / 1000),
    lateFraction: fractionOption(raw, 'lateFraction', 'late-fraction', defaults.lateFraction),
    lateBySeconds: Math.floor(durationOption(raw, 'lateBy', 'late-by', defaults.lateBySeconds * 1000, 1000) / 1000),
  });
}

/** gen-stream's options; `all` names the interval --stream-interval (and stamps rows by its own defaults). */
export function resolveGenStream(
  raw: RawOptions,
  intervalKey = 'interval',
  intervalFlag = 'interval',
  stamps: StreamStamps = DEFAULTS.genStream.stamps,
): GenStreamConfig {
  const d = DEFAULTS.genStream;
  const servers = natsServersOption(raw, 'sink', 'sink');
  const sink = natsOptions(raw, servers, 'sink', STREAM_KEYS);
  return Object.freeze({
    ...(sink ? { sink } : {}),
    intervalMs: durationOption(raw, intervalKey, intervalFlag, d.intervalMs),
    rowsPerChunk: integerOption(raw, 'rowsPerChunk', 'rows-per-chunk', d.rowsPerChunk, 0),
    chunks: integerOption(raw, 'chunks', 'chunks', d.chunks, 0),
    users: integerOption(raw, 'users', 'users', d.users),
    // A seed from the clock: two generators started apart write different events.
    seed: integerOption(raw, 'seed', 'seed', d.seed, 0, 0xffffffff) ?? Date.now() % 0xffffffff,
    stamps: resolveStamps(raw, stamps),
  });
}

/** The kept-windows count under its flag or its old name --keep (not both). */
function keptWindows(raw: RawOptions, keepFlag: KeepWindowsFlag, fallback: number): number {
  const key = keepFlag === 'keep-views' ? 'keepViews' : 'keepWindows';
  if (raw.keep !== undefined && raw[key] !== undefined) throw optionError('keep', `is the old name of --${keepFlag}: give only one of them`);
  return raw.keep !== undefined ? integerOption(raw, 'keep', 'keep', fallback, 1, MAX_KEPT) : integerOption(raw, key, keepFlag, fallback, 1, MAX_KEPT);
}

/** The speed layer's options; the window must divide evenly (checked once, by windowSpec). */
/** `speed`: the speed layer's options, and whether to run once. */
export function resolveSpeedCommand(raw: RawOptions): SpeedOptions & { readonly once: boolean } {
  return Object.freeze({ ...resolveSpeed(raw), once: raw.once === true });
}

export function resolveSpeed(raw: RawOptions, defaults: SpeedDefaults = DEFAULTS.speed, keepFlag: KeepWindowsFlag = 'keep-views'): SpeedOptions {
  const window = windowOption({
    batchIntervalMs: durationOption(raw, 'batchInterval', 'batch-interval', defaults.batchIntervalMs),
    windowMs: durationOption(raw, 'window', 'window', defaults.windowMs),
    slideMs: durationOption(raw, 'slide', 'slide', defaults.slideMs),
  });
  const source = resolveSource(raw);
  const allowedLatenessMs = durationOption(raw, 'allowedLateness', 'allowed-lateness', defaults.allowedLatenessMs, 0);
  if (allowedLatenessMs % 1000 !== 0) throw optionError('allowed-lateness', `must be whole seconds, got ${allowedLatenessMs} ms`);
  const time = choiceOption(raw, 'time', 'time', WINDOW_TIMES, defaults.time);
  if (time === 'event' && window.slideMs % 1000 !== 0)
    throw optionError('slide', `must be whole seconds with --time event (event seconds are whole), got ${window.slideMs} ms`);
  return Object.freeze({
    window,
    ...(time === 'event' ? { eventWindow: eventWindowSpec(window.windowMs, window.slideMs, allowedLatenessMs / 1000) } : {}),
    keepViews: keptWindows(raw, keepFlag, defaults.keepViews),
    allowedLatenessSeconds: allowedLatenessMs / 1000,
    ...(source ? { source } : {}),
  });
}

function resolveHttp(raw: RawOptions): HttpConfig | undefined {
  if (raw.http === false) return undefined;
  const d = DEFAULTS.http;
  const host = stringOf(raw, 'host', 'host') ?? d.host;
  if (/[\s/]/.test(host)) throw optionError('host', `expected a host name or address, got "${host}"`);
  return Object.freeze({ host, port: integerOption(raw, 'port', 'port', d.port, 0, 65_535) });
}

/** `serve`: the HTTP address and the merge options (merged_view.csv's cadence, the view). */
export function resolveServe(raw: RawOptions): ServeOptions {
  return servingOf(resolveMerge(raw), resolveHttp(raw));
}

function servingOf(merge: MergeOptions, http: HttpConfig | undefined): ServeOptions {
  return Object.freeze({ view: merge.view, intervalMs: merge.intervalMs, http });
}

/** --buckets writes one file of the merged view per (user, bucket): a one-off export, so only with --once. */
function bucketsOption(raw: RawOptions): boolean {
  if (raw.buckets === true && raw.once !== true) throw optionError('buckets', 'merged_buckets.csv is written by merge --once --buckets only');
  return raw.buckets === true;
}

/** merge's options; `all` names the interval --merge-interval. */
export function resolveMerge(raw: RawOptions, intervalKey = 'interval', intervalFlag = 'interval'): MergeOptions {
  const d = DEFAULTS.merge;
  return Object.freeze({
    intervalMs: durationOption(raw, intervalKey, intervalFlag, d.intervalMs),
    once: raw.once === true,
    buckets: bucketsOption(raw),
    view: choiceOption(raw, 'view', 'view', MERGE_VIEWS, d.view),
  });
}

/** --target-size, on `compact`, `all` and `soak`. */
function resolveTargetBytes(raw: RawOptions): number {
  return sizeOption(raw, 'targetSize', 'target-size', DEFAULTS.compact.targetBytes, 1024);
}

/** compact's options (and its hidden failpoint). */
export function resolveCompact(raw: RawOptions): CompactOptions & { readonly failpoint: string | undefined } {
  const d = DEFAULTS.compact;
  return Object.freeze({
    targetBytes: resolveTargetBytes(raw),
    minAgeMs: durationOption(raw, 'minAge', 'min-age', d.minAgeMs, 0),
    failpoint: stringOf(raw, 'failpoint', 'failpoint'),
  });
}

export function resolveMasterFiles(raw: RawOptions): { readonly watermark: number | undefined } {
  return Object.freeze({ watermark: integerOption(raw, 'watermark', 'watermark', undefined, 0) });
}

/** Compaction inside a running pipeline: the files it may move are those older than its speed layer's window and slide. */
function compactEvery(raw: RawOptions, speed: SpeedOptions, fallbackMs: number | undefined): { compactEveryMs: number | undefined; compact: CompactOptions } {
  return {
    compactEveryMs: durationOption(raw, 'compactEvery', 'compact-every', fallbackMs, 100),
    compact: Object.freeze({
      targetBytes: resolveTargetBytes(raw),
      minAgeMs: speed.window.windowMs + speed.window.slideMs,
    }),
  };
}

/** `all`'s generator publishes where its speed layer reads: to the NATS stream (one partition) with --source nats://…. */
function withSinkOf(stream: GenStreamConfig, source: SourceOptions | undefined): GenStreamConfig {
  if (source?.kind !== 'nats') return stream;
  const { servers, stream: name, subject, partitions, replicas } = source;
  return Object.freeze({ ...stream, sink: Object.freeze({ servers, stream: name, subject, partitions, replicas }) });
}

export function resolveAll(raw: RawOptions): AllOptions {
  const d = DEFAULTS.all;
  const speed = resolveSpeed(raw, DEFAULTS.speed, 'keep-windows');
  return Object.freeze({
    ...compactEvery(raw, speed, d.compactEveryMs),
    durationMs: durationOption(raw, 'duration', 'duration', d.durationMs),
    batchEveryMs: durationOption(raw, 'batchEvery', 'batch-every', d.batchEveryMs),
    // The NATS options are the speed layer's source here; the generator takes them from it.
    stream: withSinkOf(
      resolveGenStream({ ...raw, natsStream: undefined, natsSubject: undefined, natsReplicas: undefined }, 'streamInterval', 'stream-interval', d.stamps),
      speed.source,
    ),
    speed,
    serve: servingOf(resolveMerge(raw, 'mergeInterval', 'merge-interval'), resolveHttp(raw)),
    batch: resolveBatch(raw),
    sampleHistory: SAMPLE_HISTORY,
  });
}

export function resolveSoak(raw: RawOptions): SoakOptions {
  const d = DEFAULTS.soak;
  const speed = resolveSpeed(raw, d.speed, 'keep-windows');
  const rate = integerOption(raw, 'rate', 'rate', d.rate, 1, 10_000_000);
  const filesPerSecond = integerOption(raw, 'filesPerSecond', 'files-per-second', d.filesPerSecond, 1, MAX_FILES_PER_SECOND);
  // Every file carries the same whole number of events, so --rate is the rate generated, not a rounding of it.
  if (rate % filesPerSecond !== 0)
    throw optionError('files-per-second', `must divide --rate ${rate} (each file holds rate / files-per-second events), got ${filesPerSecond}`);
  return Object.freeze({
    ...compactEvery(raw, speed, d.compactEveryMs),
    durationMs: durationOption(raw, 'duration', 'duration', d.durationMs, 1000),
    rate,
    filesPerSecond,
    killEveryMs: durationOption(raw, 'killEvery', 'kill-every', d.killEveryMs, 500),
    batchEveryMs: raw.batchEvery === 'never' ? undefined : durationOption(raw, 'batchEvery', 'batch-every', d.batchEveryMs, 100),
    jsonFile: stringOf(raw, 'json', 'json'),
    data: dataOption(raw),
    speed,
    mergeIntervalMs: durationOption(raw, 'mergeInterval', 'merge-interval', d.mergeIntervalMs),
    // Not flags: the batch layer and the generated users run at the `batch` and `gen-stream` defaults.
    batch: DEFAULTS.batch,
    users: DEFAULTS.genStream.users,
  });
}

/** A comma-separated list of whole numbers, e.g. `1,2,4`, each within [min, max]; sorted, repeats dropped. */
function numberList(raw: RawOptions, key: string, flag: string, fallback: readonly number[], min: number, max: number, example: string): readonly number[] {
  const value = stringOf(raw, key, flag);
  if (value === undefined) return fallback;
  const items = value.split(',').map((item) => item.trim().replace(/_/g, ''));
  if (items.some((item) => !/^\d+$/.test(item))) throw optionError(flag, `expected a list like ${example}, got "${value}"`);
  const counts = items.map(Number);
  const outOfRange = counts.find((n) => n < min || n > max);
  if (outOfRange !== undefined) throw optionError(flag, `each value must be between ${min} and ${max}, got ${outOfRange}`);
  return Object.freeze([...new Set(counts)].sort((a, b) => a - b));
}

export function resolveBench(raw: RawOptions): BenchConfig {
  const d = DEFAULTS.bench;
  return Object.freeze({
    rows: integerOption(raw, 'rows', 'rows', d.rows),
    users: numberList(raw, 'users', 'users', d.users, 1, Number.MAX_SAFE_INTEGER, '10000,100000,1000000'),
    threads: numberList(raw, 'threads', 'threads', d.threads, 1, MAX_THREADS, '1,2,4'),
    repeat: integerOption(raw, 'repeat', 'repeat', d.repeat, 1, 100),
    json: stringOf(raw, 'json', 'json'),
    data: dataOption(raw),
    speed: raw.speed === true,
  });
}

export function resolveReplayQuarantine(raw: RawOptions): ReplayOptions {
  const file = stringOf(raw, 'file', 'file') ?? DEFAULTS.replayQuarantine.file;
  // A name, not a path: nothing outside the quarantine folder can be named.
  if (file !== undefined && (/[/\\]/.test(file) || file === '.' || file === '..' || file.startsWith('.'))) {
    throw optionError('file', `expected the name of a file in <data>/quarantine/, got "${file}"`);
  }
  return Object.freeze({ file });
}
