// One raw option value checked into a number, a duration or a choice; a bad value is an E_OPTIONS error naming its flag.
// Shared by the CLI's resolvers (src/cli/options.ts) and the benchmark scripts' own flags.

import { LambdaflowError } from './errors.js';
import { bucketSecondsProblem, parseTimeSeconds } from './event-time.js';
import { type WindowSpec, windowSpec } from './window.js';

/** Raw option values as a flag parser hands them over: strings, booleans, or absent. */
export type RawOptions = Readonly<Record<string, string | boolean | undefined>>;

export function optionError(flag: string, message: string, cause?: unknown): LambdaflowError {
  return new LambdaflowError('E_OPTIONS', `--${flag}: ${message}`, { flag }, cause === undefined ? undefined : { cause });
}

export function stringOf(raw: RawOptions, key: string, flag: string): string | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw optionError(flag, 'needs a value');
  return value;
}

/** A whole number within [min, max] (`1_000` allowed); `fallback` when the flag is absent. */
export function integerOption<F extends number | undefined>(
  raw: RawOptions,
  key: string,
  flag: string,
  fallback: F,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number | F {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  const compact = text.replace(/_/g, '');
  if (!/^\d+$/.test(compact)) throw optionError(flag, `expected a whole number, got "${text}"`);
  const value = Number(compact);
  if (value < min || value > max) throw optionError(flag, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `500ms`, `10s`, `1m`, `2h`, `30d` or plain seconds (`5`, `0.25`) into milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 's') as keyof typeof DURATION_UNITS_MS];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** The shortest text parseDurationMs reads back as `ms` in the largest whole unit: `250ms`, `10s`, `1m`, `2h`, `30d`. */
export function formatDurationMs(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= DURATION_UNITS_MS[unit] && ms % DURATION_UNITS_MS[unit] === 0) return `${ms / DURATION_UNITS_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** A point in time as Unix seconds (`1700000000`) or ISO 8601 UTC (`2026-12-07`, `2026-12-07T10:00:00Z`); `fallback` when absent. */
export function timeOption<F extends number | undefined>(raw: RawOptions, key: string, flag: string, fallback: F): number | F {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  const seconds = parseTimeSeconds(text);
  if (seconds === undefined) throw optionError(flag, `expected Unix seconds or an ISO 8601 UTC time like 2026-12-07T10:00:00Z, got "${text}"`);
  return seconds;
}

/** A fraction in [0, 1]; `fallback` when absent. */
export function fractionOption(raw: RawOptions, key: string, flag: string, fallback: number): number {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(text)) throw optionError(flag, `expected a fraction from 0 to 1 like 0.01, got "${text}"`);
  return Number(text);
}

/** A duration of at least `minMs`; `fallbackMs` when the flag is absent. */
export function durationOption<F extends number | undefined>(raw: RawOptions, key: string, flag: string, fallbackMs: F, minMs = 1): number | F {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallbackMs;
  const ms = parseDurationMs(text);
  if (ms === undefined) throw optionError(flag, `expected a duration like 500ms, 10s, 1m or plain seconds, got "${text}"`);
  if (ms < minMs) throw optionError(flag, `must be at least ${minMs} ms, got ${ms} ms`);
  return ms;
}

const SIZE_UNITS = { b: 1, kb: 1 << 10, mb: 1 << 20, gb: 1 << 30 } as const;

/** Parses `128MB`, `512kB`, `1GB` or plain bytes (binary units, case-insensitive) into bytes. */
export function parseSizeBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * SIZE_UNITS[(match[2]?.toLowerCase() ?? 'b') as keyof typeof SIZE_UNITS];
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

/** The shortest text parseSizeBytes reads back as `bytes`: `128MB`, `64kB`, `1000`. */
export function formatSizeBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GB', SIZE_UNITS.gb],
    ['MB', SIZE_UNITS.mb],
    ['kB', SIZE_UNITS.kb],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** A size of at least `minBytes`; `fallback` when the flag is absent. */
export function sizeOption(raw: RawOptions, key: string, flag: string, fallback: number, minBytes = 1): number {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  const bytes = parseSizeBytes(text);
  if (bytes === undefined) throw optionError(flag, `expected a size like 128MB, 512kB or plain bytes, got "${text}"`);
  if (bytes < minBytes) throw optionError(flag, `must be at least ${minBytes} bytes, got ${bytes}`);
  return bytes;
}

export function choiceOption<T extends string>(raw: RawOptions, key: string, flag: string, choices: readonly T[], fallback: T): T {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw optionError(flag, `expected one of ${choices.join(', ')}, got "${text}"`);
  return text as T;
}

export interface WindowDurations {
  readonly batchIntervalMs: number;
  readonly windowMs: number;
  readonly slideMs: number;
}

export type WindowFlags = { readonly [K in keyof WindowDurations]: string };

const WINDOW_FLAGS: WindowFlags = Object.freeze({ batchIntervalMs: 'batch-interval', windowMs: 'window', slideMs: 'slide' });

/** windowSpec names the value at fault first in its RangeError: by these words. */
const WINDOW_SUBJECTS = [
  ['window', 'windowMs'],
  ['slide', 'slideMs'],
  ['batch interval', 'batchIntervalMs'],
] as const;
/** The value each one must be a multiple of. */
const MULTIPLE_OF = { windowMs: 'slideMs', slideMs: 'batchIntervalMs' } as const;

/**
 * windowSpec, which checks that the window is a multiple of the slide and the slide a multiple of the batch interval,
 * with its RangeError turned into E_OPTIONS naming the flag of the value at fault.
 */
export function windowOption(durations: WindowDurations, flags: WindowFlags = WINDOW_FLAGS): WindowSpec {
  try {
    return windowSpec(durations.batchIntervalMs, durations.windowMs, durations.slideMs);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const key = WINDOW_SUBJECTS.find(([subject]) => error.message.startsWith(subject))?.[1] ?? 'batchIntervalMs';
    if (key !== 'batchIntervalMs' && error.message.includes(' must be a multiple of ')) {
      const unit = MULTIPLE_OF[key];
      throw optionError(flags[key], `${durations[key]} ms is not a multiple of --${flags[unit]} (${durations[unit]} ms)`, error);
    }
    throw optionError(flags[key], error.message, error);
  }
}

/** An event-time bucket size (`1m`, `15m`, `1h`, `1d`, or whole seconds) in seconds, a divisor of one day; undefined when absent. */
export function bucketOption(raw: RawOptions, key: string, flag: string): number | undefined {
  const text = stringOf(raw, key, flag);
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms % 1000 !== 0) throw optionError(flag, `expected a bucket size like 1m, 15m, 1h or 1d, got "${text}"`);
  const seconds = ms / 1000;
  const problem = bucketSecondsProblem(seconds);
  if (problem !== undefined) throw optionError(flag, problem);
  return seconds;
}
