// The benchmark scripts' options (bench/*.ts): their defaults in one frozen SCRIPT_DEFAULTS, and one resolver per
// script turning its argument list into a frozen, checked config at its start. A bad value is E_OPTIONS naming its flag;
// an unknown flag or a stray argument is E_OPTIONS listing the flags; `--help` lists them. Every flag takes a value (`--rows 1000`).

import { DEFAULT_ALLOWED_LATENESS_SECONDS } from '../core/event-time.js';
import { parseArgs } from 'node:util';
import { LambdaflowError } from '../core/errors.js';
import { type RawOptions, choiceOption, durationOption, integerOption, optionError, stringOf, windowOption } from '../core/option-values.js';
import { type SpeedOptions } from '../pipeline/layer-config.js';

/** bench:serving renames a chunk into stream_input/ this often (rate × this / 1000 rows each: 1,000 at 100,000 events/s). */
export const SERVING_CHUNK_INTERVAL_MS = 10;

/** What bench:speed measures: both unless --only names one. */
export const SPEED_MEASUREMENTS = ['throughput', 'freshness'] as const;
export type SpeedMeasurement = (typeof SPEED_MEASUREMENTS)[number];

/** The window bench:speed runs with: the speed layer's default 60 s window sliding every 10 s (5 kept); not flags. */
const SPEED_BENCH_WINDOW = Object.freeze({ windowMs: 60_000, slideMs: 10_000, keepViews: 5 });

/** Every default of every benchmark script; `undefined` means off unless given. */
export const SCRIPT_DEFAULTS = Object.freeze({
  micro: Object.freeze({ rows: 200_000, users: 100_000, timeMs: 1_000 }),
  speed: Object.freeze({
    events: 5_000_000,
    chunkRows: 50_000,
    users: 100_000,
    threads: 2,
    /** Throughput's micro-batch interval (freshness always runs at 100 ms). */
    batchIntervalMs: 100,
    rate: 100_000,
    seconds: 20,
    only: undefined as SpeedMeasurement | undefined,
    json: undefined as string | undefined,
  }),
  serving: Object.freeze({
    users: 1_000_000,
    rows: 10_000_000,
    durationMs: 30_000,
    lookupDurationMs: 5_000,
    rounds: 3,
    connections: 10,
    rate: 100_000,
    json: undefined as string | undefined,
  }),
  nats: Object.freeze({ rows: 2_000_000, rowsPerMessage: 10_000, users: 100_000, probes: 200, backgroundRate: 20_000, batchIntervalMs: 250, threads: 2 }),
  restart: Object.freeze({ files: 100_000, perBatch: 100, users: 100_000 }),
  duckdbQuery: Object.freeze({ threads: 2 }),
});

const MAX_THREADS = 256;

/** `--help` was given: the script prints this usage and exits 0 (runScript does). */
export class ScriptHelp extends Error {
  constructor(readonly usage: string) {
    super(usage);
    this.name = 'ScriptHelp';
  }
}

/**
 * A script's arguments as raw options keyed by flag name. `--help` is a ScriptHelp listing the flags; an unknown flag
 * or a stray argument is E_OPTIONS listing them too.
 */
function scriptArguments(args: readonly string[], flags: readonly string[]): RawOptions {
  const usage = `options (each takes a value, defaults in src/bench/script-options.ts): ${flags.map((flag) => `--${flag}`).join(' ')}`;
  if (args.includes('--help') || args.includes('-h')) throw new ScriptHelp(usage);
  try {
    return parseArgs({ args: [...args], options: Object.fromEntries(flags.map((flag) => [flag, { type: 'string' as const }])) }).values;
  } catch (error) {
    throw new LambdaflowError('E_OPTIONS', `${(error as Error).message.split('.')[0]}; ${usage}`, {}, { cause: error });
  }
}

export interface MicroBenchOptions {
  readonly rows: number;
  readonly users: number;
  /** tinybench's time per variant. */
  readonly timeMs: number;
}

/** `npm run bench` (bench/micro.ts). */
export function resolveMicroBench(args: readonly string[]): MicroBenchOptions {
  const raw = scriptArguments(args, ['rows', 'users', 'time-ms']);
  const d = SCRIPT_DEFAULTS.micro;
  return Object.freeze({
    rows: integerOption(raw, 'rows', 'rows', d.rows),
    users: integerOption(raw, 'users', 'users', d.users),
    timeMs: integerOption(raw, 'time-ms', 'time-ms', d.timeMs, 10),
  });
}

export interface SpeedBenchOptions {
  /** Throughput: events staged, in files of chunkRows rows, over users. */
  readonly events: number;
  readonly chunkRows: number;
  readonly users: number;
  readonly threads: number;
  /** Throughput's window, fed every --batch-interval. */
  readonly speed: SpeedOptions;
  /** Freshness: events/s for `seconds`. */
  readonly rate: number;
  readonly seconds: number;
  readonly only: SpeedMeasurement | undefined;
  readonly json: string | undefined;
}

/** bench:speed's fixed window fed every `batchIntervalMs`; a slide it does not divide is E_OPTIONS naming --slide. */
export function speedBenchWindow(batchIntervalMs: number): SpeedOptions {
  const { windowMs, slideMs, keepViews } = SPEED_BENCH_WINDOW;
  return Object.freeze({ window: windowOption({ batchIntervalMs, windowMs, slideMs }), keepViews, allowedLatenessSeconds: DEFAULT_ALLOWED_LATENESS_SECONDS });
}

/** `npm run bench:speed` (bench/speed.ts). */
export function resolveSpeedBench(args: readonly string[]): SpeedBenchOptions {
  const raw = scriptArguments(args, ['events', 'chunk-rows', 'users', 'threads', 'batch-interval', 'rate', 'seconds', 'only', 'json']);
  const d = SCRIPT_DEFAULTS.speed;
  const only = stringOf(raw, 'only', 'only') ?? d.only;
  if (only !== undefined && !(SPEED_MEASUREMENTS as readonly string[]).includes(only))
    throw optionError('only', `expected ${SPEED_MEASUREMENTS.join(' or ')}, got "${only}"`);
  return Object.freeze({
    events: integerOption(raw, 'events', 'events', d.events),
    chunkRows: integerOption(raw, 'chunk-rows', 'chunk-rows', d.chunkRows),
    users: integerOption(raw, 'users', 'users', d.users),
    threads: integerOption(raw, 'threads', 'threads', d.threads, 1, MAX_THREADS),
    speed: speedBenchWindow(durationOption(raw, 'batch-interval', 'batch-interval', d.batchIntervalMs)),
    rate: integerOption(raw, 'rate', 'rate', d.rate),
    seconds: integerOption(raw, 'seconds', 'seconds', d.seconds, 1, 3_600),
    only: only as SpeedMeasurement | undefined,
    json: stringOf(raw, 'json', 'json') ?? d.json,
  });
}

export interface ServingBenchOptions {
  /** The batch dataset: rows over a space of users. */
  readonly users: number;
  readonly rows: number;
  /** The steady stream's length (freshness). */
  readonly durationMs: number;
  /** One lookup round per server, `rounds` times, over `connections`. */
  readonly lookupDurationMs: number;
  readonly rounds: number;
  readonly connections: number;
  /** Stream events per second. */
  readonly rate: number;
  readonly json: string | undefined;
}

/** `npm run bench:serving` (bench/serving.ts). */
export function resolveServingBench(args: readonly string[]): ServingBenchOptions {
  const raw = scriptArguments(args, ['users', 'rows', 'duration', 'lookup-duration', 'rounds', 'connections', 'rate', 'json']);
  const d = SCRIPT_DEFAULTS.serving;
  return Object.freeze({
    users: integerOption(raw, 'users', 'users', d.users),
    rows: integerOption(raw, 'rows', 'rows', d.rows),
    durationMs: durationOption(raw, 'duration', 'duration', d.durationMs, 1_000),
    lookupDurationMs: durationOption(raw, 'lookup-duration', 'lookup-duration', d.lookupDurationMs, 500),
    rounds: integerOption(raw, 'rounds', 'rounds', d.rounds, 1, 100),
    connections: integerOption(raw, 'connections', 'connections', d.connections, 1, 1_000),
    // At least one row in every chunk.
    rate: integerOption(raw, 'rate', 'rate', d.rate, 1_000 / SERVING_CHUNK_INTERVAL_MS),
    json: stringOf(raw, 'json', 'json') ?? d.json,
  });
}

export interface NatsBenchOptions {
  /** Throughput: rows published in messages of rowsPerMessage, over users. */
  readonly rows: number;
  readonly rowsPerMessage: number;
  readonly users: number;
  /** Freshness: probe rows, under background events/s. */
  readonly probes: number;
  readonly backgroundRate: number;
  /** The speed process's micro-batch interval and threads. */
  readonly batchIntervalMs: number;
  readonly threads: number;
}

/** `npm run bench:nats` (bench/nats.ts). */
export function resolveNatsBench(args: readonly string[]): NatsBenchOptions {
  const raw = scriptArguments(args, ['rows', 'rows-per-message', 'users', 'probes', 'background-rate', 'batch-interval', 'threads']);
  const d = SCRIPT_DEFAULTS.nats;
  return Object.freeze({
    rows: integerOption(raw, 'rows', 'rows', d.rows),
    rowsPerMessage: integerOption(raw, 'rows-per-message', 'rows-per-message', d.rowsPerMessage, 1, 30_000),
    users: integerOption(raw, 'users', 'users', d.users),
    probes: integerOption(raw, 'probes', 'probes', d.probes),
    backgroundRate: integerOption(raw, 'background-rate', 'background-rate', d.backgroundRate, 0),
    batchIntervalMs: durationOption(raw, 'batch-interval', 'batch-interval', d.batchIntervalMs),
    threads: integerOption(raw, 'threads', 'threads', d.threads, 1, MAX_THREADS),
  });
}

export interface RestartBenchOptions {
  /** Stream files ingested, perBatch to a `speed --once`, over users. */
  readonly files: number;
  readonly perBatch: number;
  readonly users: number;
}

/** `npm run bench:restart` (bench/restart.ts). */
export function resolveRestartBench(args: readonly string[]): RestartBenchOptions {
  const raw = scriptArguments(args, ['files', 'per-batch', 'users']);
  const d = SCRIPT_DEFAULTS.restart;
  return Object.freeze({
    files: integerOption(raw, 'files', 'files', d.files),
    perBatch: integerOption(raw, 'per-batch', 'per-batch', d.perBatch),
    users: integerOption(raw, 'users', 'users', d.users),
  });
}

export interface DuckdbQueryOptions {
  /** A glob of the batch files. */
  readonly input: string;
  readonly threads: number;
  /** The result's view lines go here. */
  readonly output: string;
  /** Which query (bench/duckdb-query.ts DUCKDB_QUERIES). */
  readonly query: DuckdbQueryKind;
}

/**
 * `decimal`: the amount as DECIMAL(18,2) with header and sniffing (exact, what `bench` compares with); `fastest`: its
 * fastest honest configuration (explicit columns, no sniffing or quoting, the amount as DOUBLE printed to cents);
 * `hourly`: `fastest` grouped by (user_id, unix_timestamp // 3600), the event-time shape.
 */
export const DUCKDB_QUERY_KINDS = ['decimal', 'fastest', 'hourly'] as const;
export type DuckdbQueryKind = (typeof DUCKDB_QUERY_KINDS)[number];

/** bench/duckdb-query.ts, the child process `lambdaflow bench` starts: --input and --output are required. */
export function resolveDuckdbQuery(args: readonly string[]): DuckdbQueryOptions {
  const raw = scriptArguments(args, ['input', 'threads', 'output', 'query']);
  const { input, output } = raw;
  if (typeof input !== 'string' || typeof output !== 'string')
    throw new LambdaflowError('E_OPTIONS', 'usage: node dist/bench/duckdb-query.js --input GLOB --threads T --output FILE');
  return Object.freeze({
    input,
    threads: integerOption(raw, 'threads', 'threads', SCRIPT_DEFAULTS.duckdbQuery.threads, 1, MAX_THREADS),
    output,
    query: choiceOption(raw, 'query', 'query', DUCKDB_QUERY_KINDS, 'decimal'),
  });
}
