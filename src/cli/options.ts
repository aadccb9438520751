// Options: raw CLI strings validated once into frozen, fully resolved config objects passed inward.

import os from 'node:os';
import { LambdaflowError } from '../core/errors.js';
import { BAD_ROW_MODES, type BadRowMode } from '../core/event-parser.js';
import { LOG_LEVELS, type LogLevel } from '../io/logger.js';
import { type GenBatchConfig } from '../generate/gen-batch.js';
import { type GenStreamConfig } from '../generate/gen-stream.js';
import { MERGE_VIEWS, type MergeViewKind } from '../serving/merge.js';

export type { GenBatchConfig, GenStreamConfig };

export const DEFAULTS = Object.freeze({
  data: './data',
  logLevel: 'info' as LogLevel,
  mode: 'permissive' as BadRowMode,
  genBatch: Object.freeze({ rows: 1_000_000, files: 8, users: 10_000, seed: 42 }),
  batch: Object.freeze({ partitions: 8, keepViews: 3 }),
  genStream: Object.freeze({ intervalMs: 5_000, rowsPerChunk: 1_000, users: 10_000 }),
  speed: Object.freeze({ batchIntervalMs: 10_000, windowMs: 60_000, slideMs: 10_000, keepViews: 5 }),
  merge: Object.freeze({ intervalMs: 5_000, view: 'exact' as MergeViewKind }),
});

/** Raw option values as commander hands them over: strings, booleans, or absent. */
export type RawOptions = Readonly<Record<string, string | boolean | undefined>>;

export function optionError(flag: string, message: string): LambdaflowError {
  return new LambdaflowError('E_OPTIONS', `--${flag}: ${message}`, { flag });
}

export function stringOf(raw: RawOptions, key: string, flag: string): string | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw optionError(flag, 'needs a value');
  return value;
}

/** A whole number within [min, max]. */
export function integerOption(raw: RawOptions, key: string, flag: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  const compact = text.replace(/_/g, '');
  if (!/^\d+$/.test(compact)) throw optionError(flag, `expected a whole number, got "${text}"`);
  const value = Number(compact);
  if (value < min || value > max) throw optionError(flag, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Parses `500ms`, `10s`, `1m`, `2h` or plain seconds (`5`, `0.25`) into milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const scale = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  const ms = Number(match[1]) * scale;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export function durationOption(raw: RawOptions, key: string, flag: string, fallbackMs: number, minMs = 1): number {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallbackMs;
  const ms = parseDurationMs(text);
  if (ms === undefined) throw optionError(flag, `expected a duration like 500ms, 10s, 1m or plain seconds, got "${text}"`);
  if (ms < minMs) throw optionError(flag, `must be at least ${minMs} ms, got ${ms} ms`);
  return ms;
}

function choiceOption<T extends string>(raw: RawOptions, key: string, flag: string, choices: readonly T[], fallback: T): T {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw optionError(flag, `expected one of ${choices.join(', ')}, got "${text}"`);
  return text as T;
}

export interface GlobalConfig {
  readonly data: string;
  readonly threads: number;
  readonly logLevel: LogLevel;
  readonly mode: BadRowMode;
}

export function resolveGlobal(raw: RawOptions): GlobalConfig {
  return Object.freeze({
    data: stringOf(raw, 'data', 'data') ?? DEFAULTS.data,
    threads: integerOption(raw, 'threads', 'threads', os.availableParallelism(), 1, 256),
    logLevel: choiceOption(raw, 'logLevel', 'log-level', LOG_LEVELS, DEFAULTS.logLevel),
    mode: choiceOption(raw, 'mode', 'mode', BAD_ROW_MODES, DEFAULTS.mode),
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
  });
}

export interface BatchOptions {
  readonly partitions: number;
  readonly keepViews: number;
}

export function resolveBatch(raw: RawOptions): BatchOptions {
  return Object.freeze({
    partitions: integerOption(raw, 'partitions', 'partitions', DEFAULTS.batch.partitions, 1, 4096),
    keepViews: integerOption(raw, 'keepViews', 'keep-views', DEFAULTS.batch.keepViews, 1, 1000),
  });
}


export function resolveGenStream(raw: RawOptions, intervalKey = 'interval', intervalFlag = 'interval'): GenStreamConfig {
  const d = DEFAULTS.genStream;
  return Object.freeze({
    intervalMs: durationOption(raw, intervalKey, intervalFlag, d.intervalMs),
    rowsPerChunk: integerOption(raw, 'rowsPerChunk', 'rows-per-chunk', d.rowsPerChunk, 0),
    chunks: raw.chunks === undefined ? undefined : integerOption(raw, 'chunks', 'chunks', 1, 0),
    users: integerOption(raw, 'users', 'users', d.users),
    seed: integerOption(raw, 'seed', 'seed', Date.now() % 0xffffffff, 0, 0xffffffff),
  });
}

export interface SpeedOptions {
  readonly batchIntervalMs: number;
  readonly windowMs: number;
  readonly slideMs: number;
  /** Speed window directories kept. */
  readonly keepViews: number;
}

export function resolveSpeed(raw: RawOptions): SpeedOptions {
  const d = DEFAULTS.speed;
  const batchIntervalMs = durationOption(raw, 'batchInterval', 'batch-interval', d.batchIntervalMs);
  const windowMs = durationOption(raw, 'window', 'window', d.windowMs);
  const slideMs = durationOption(raw, 'slide', 'slide', d.slideMs);
  if (slideMs % batchIntervalMs !== 0) throw optionError('slide', `${slideMs} ms is not a multiple of --batch-interval (${batchIntervalMs} ms)`);
  if (windowMs % slideMs !== 0) throw optionError('window', `${windowMs} ms is not a multiple of --slide (${slideMs} ms)`);
  return Object.freeze({ batchIntervalMs, windowMs, slideMs, keepViews: integerOption(raw, 'keep', 'keep', d.keepViews, 1, 1000) });
}

export interface MergeOptions {
  readonly intervalMs: number;
  readonly once: boolean;
  readonly view: MergeViewKind;
}

export function resolveMerge(raw: RawOptions, intervalKey = 'interval', intervalFlag = 'interval'): MergeOptions {
  return Object.freeze({
    intervalMs: durationOption(raw, intervalKey, intervalFlag, DEFAULTS.merge.intervalMs),
    once: raw.once === true,
    view: choiceOption(raw, 'view', 'view', MERGE_VIEWS, DEFAULTS.merge.view),
  });
}
