// What every benchmark report shares: the machine it ran on, medians, ratios and plain-text tables.

import os from 'node:os';
import { percentile } from '../soak/measure.js';

/** Node version, CPU model, cores and memory: the facts a measured figure needs beside it. */
export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memoryGiB = (os.totalmem() / 2 ** 30).toFixed(1);
  return `Node ${process.version}, ${cpu}, ${os.availableParallelism()} cores, ${os.platform()} ${os.arch()}, ${memoryGiB} GiB RAM`;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface Distribution {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentiles and the maximum of durations in ms (latencies, freshness). */
export function distribution(valuesMs: readonly number[]): Distribution {
  if (valuesMs.length === 0) throw new RangeError('distribution of no values');
  return {
    samples: valuesMs.length,
    p50Ms: percentile(valuesMs, 50)!,
    p90Ms: percentile(valuesMs, 90)!,
    p99Ms: percentile(valuesMs, 99)!,
    maxMs: valuesMs.reduce((a, b) => Math.max(a, b), -Infinity),
  };
}

/** `value / baseline` as `1.23×`: above 1 means faster than the baseline when both are rates. */
export function ratio(value: number, baseline: number): string {
  return `${(value / baseline).toFixed(2)}×`;
}

/** Lines of an aligned table: the first `textColumns` columns left-aligned (names), the others right-aligned (numbers). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column < textColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** Milliseconds to two, one or no decimals as they grow: 1.23, 12.3, 123. */
export const formatMs = (value: number): string => (value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));

/** Bytes as whole (decimal) megabytes. */
export const formatMegabytes = (bytes: number): string => (bytes / 1e6).toFixed(0);
