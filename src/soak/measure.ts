// Measurement helpers for long runs: percentiles, growth between the first and last fifth, folder file counts.

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
