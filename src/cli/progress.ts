// Progress of long work on a terminal: one line on stderr, redrawn in place (done, rate, time left), cleared when the
// work ends; off a TTY nothing at all, so logs and redirected output stay parseable.

import { type Clock } from '../core/clock.js';
import { count } from '../core/summary-format.js';

/** Where the line goes: a TTY stream (process.stderr), or a fake one in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  /** The terminal's width: the line is cut to fit, since a wrapped line cannot be redrawn in place. */
  readonly columns?: number;
  write(text: string): unknown;
}

/** How amounts of one kind of work read (`3 of 9 runs`), and their rate (none where a rate means nothing, as for time). */
export interface ProgressUnit {
  readonly amount: (n: number) => string;
  /** After the total: `rows` in `50,000 of 4,000,000 rows`. */
  readonly noun?: string;
  readonly rate?: (perSecond: number) => string;
}

const BINARY_SIZES = [
  ['GB', 2 ** 30],
  ['MB', 2 ** 20],
  ['kB', 2 ** 10],
] as const;

function sizeText(bytes: number): string {
  const unit = BINARY_SIZES.find(([, size]) => bytes >= size);
  return unit ? `${(bytes / unit[1]).toFixed(1)} ${unit[0]}` : `${Math.round(bytes)} B`;
}

/** `42s`, `3m05s`, `1h02m`, where more precision would be noise; a time left is rounded up, a time taken down. */
export function durationText(ms: number, round: (seconds: number) => number = Math.ceil): string {
  const total = round(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (total < 60) return `${total}s`;
  if (total < 3600) return `${Math.floor(total / 60)}m${pad(total % 60)}s`;
  return `${Math.floor(total / 3600)}h${pad(Math.floor((total % 3600) / 60))}m`;
}

export const BYTES: ProgressUnit = { amount: sizeText, rate: (perSecond) => `${sizeText(perSecond)}/s` };
export const ROWS: ProgressUnit = { amount: count, noun: 'rows', rate: (perSecond) => `${count(perSecond)} rows/s` };
export const RUNS: ProgressUnit = { amount: count, noun: 'runs' };
export const TIME: ProgressUnit = { amount: (ms) => durationText(ms, Math.floor) };

/** No rate and no time left before the work has run this long: the first moments' rate says little. */
const MIN_ELAPSED_FOR_RATE_MS = 1000;

/** `label: 1.2 GB of 4.0 GB (30%), 310.0 MB/s, 9s left`. */
export function progressText(label: string, unit: ProgressUnit, done: number, total: number, elapsedMs: number): string {
  const parts = [
    `${unit.amount(done)} of ${unit.amount(total)}${unit.noun === undefined ? '' : ` ${unit.noun}`} (${total > 0 ? Math.floor((100 * done) / total) : 100}%)`,
  ];
  if (elapsedMs >= MIN_ELAPSED_FOR_RATE_MS) {
    const perSecond = (done * 1000) / elapsedMs;
    if (unit.rate) parts.push(unit.rate(perSecond));
    if (perSecond > 0 && done < total) parts.push(`${durationText(((total - done) * 1000) / perSecond)} left`);
  }
  return `${label}: ${parts.join(', ')}`;
}

/** One piece of work's progress. */
export interface Progress {
  /** `done` of `total` so far (drawn at most once per redraw interval, and always when done reaches total). */
  update(done: number, total: number): void;
  /** The work ended, or failed: the line is cleared, so the result line that follows starts clean. */
  end(): void;
}

/** A terminal's progress line, and the other text written to the same terminal meanwhile. */
export interface ProgressDisplay {
  /** A line for one piece of work, started now (its rate counts from here); off a TTY it draws nothing. */
  track(label: string, unit: ProgressUnit): Progress;
  /** Writes other text (a log line, a result line) with the progress line cleared first and drawn again after it. */
  above(write: () => void): void;
}

const CLEAR_LINE = '\r\x1b[K';

export function progressDisplay(stream: ProgressStream, clock: Clock, redrawMs = 250): ProgressDisplay {
  let shown: string | undefined;
  const draw = (line: string): void => {
    // A terminal of unknown size (columns 0 or absent) gets the whole line.
    shown = stream.columns ? line.slice(0, stream.columns - 1) : line;
    stream.write(`${CLEAR_LINE}${shown}`);
  };
  const clear = (): void => {
    if (shown !== undefined) stream.write(CLEAR_LINE);
  };
  return {
    track(label, unit) {
      if (stream.isTTY !== true) return { update() {}, end() {} };
      const startedMs = clock.now();
      let drawnAtMs = -Infinity;
      return {
        update(done, total) {
          const nowMs = clock.now();
          if (nowMs - drawnAtMs < redrawMs && done < total) return;
          drawnAtMs = nowMs;
          draw(progressText(label, unit, done, total, nowMs - startedMs));
        },
        end() {
          clear();
          shown = undefined;
        },
      };
    },
    above(write) {
      clear();
      write();
      if (shown !== undefined) draw(shown);
    },
  };
}
