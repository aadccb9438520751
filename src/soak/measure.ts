// Measurement helpers for long runs: percentiles, growth between the first and last fifth or from a given minute,
// per-minute means, folder file counts.

import fs from 'node:fs';

export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/** Mean of the last 20 % of samples against the first 20 %, in percent (and the absolute difference). */
export function growth(values: readonly number[]): { percent: number; absolute: number } {
  const fifth = Math.max(1, Math.floor(values.length / 5));
  const first = mean(values.slice(0, fifth));
  const last = mean(values.slice(-fifth));
  return { percent: first > 0 ? ((last - first) / first) * 100 : 0, absolute: last - first };
}

/** A measurement taken atMs into a run. */
export interface TimedValue {
  readonly atMs: number;
  readonly value: number;
}

const MINUTE_MS = 60_000;

/**
 * Growth from the minute that starts at fromMs to the run's last minute: the means of both, and the change in
 * percent. Undefined until the run has a whole minute after that first one, so the two never overlap.
 */
export function growthFrom(values: readonly TimedValue[], fromMs: number): { from: number; end: number; percent: number } | undefined {
  const lastMs = values.at(-1)?.atMs;
  if (lastMs === undefined || lastMs < fromMs + 2 * MINUTE_MS) return undefined;
  const from = mean(values.filter((v) => v.atMs >= fromMs && v.atMs < fromMs + MINUTE_MS).map((v) => v.value));
  const end = mean(values.filter((v) => v.atMs > lastMs - MINUTE_MS).map((v) => v.value));
  return { from, end, percent: from > 0 ? ((end - from) / from) * 100 : 0 };
}

/** The mean of each minute of the run (minute i holds atMs in [i, i + 1) minutes); a minute without values is 0. */
export function meanPerMinute(values: readonly TimedValue[]): number[] {
  const minutes: number[][] = [];
  for (const v of values) (minutes[Math.floor(v.atMs / MINUTE_MS)] ??= []).push(v.value);
  return Array.from(minutes, (m) => mean(m ?? []));
}

/** Entries in a folder (0 when it does not exist). */
export function entriesIn(dir: string): number {
  try {
    return fs.readdirSync(dir).length;
  } catch {
    return 0;
  }
}

/** A memory figure of another process from /proc (Linux), in bytes: VmRSS its resident set now, VmHWM its peak. */
export function memoryOfPid(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of another process, in bytes. */
export function rssOfPid(pid: number): number | undefined {
  return memoryOfPid(pid, 'VmRSS');
}
