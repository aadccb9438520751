// The progress line (src/cli/progress.ts) on a fake TTY stream with a manual clock: what it draws, how often, how it
// clears itself and lets other lines through; off a TTY it writes nothing.

import { describe, expect, it } from 'vitest';
import { BYTES, type ProgressStream, type ProgressUnit, ROWS, RUNS, TIME, durationText, progressDisplay, progressText } from '../../src/cli/progress.js';
import { ManualClock } from '../helpers/manual-clock.js';

const CLEAR = '\r\x1b[K';

class FakeStream implements ProgressStream {
  readonly writes: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
  /** What the terminal shows on the line now: the text after the last carriage return. */
  get line(): string {
    return this.writes.join('').split('\r').at(-1)!.replace('\x1b[K', '');
  }
}

describe('progressText', () => {
  it.each<[string, ProgressUnit, number, number, number, string]>([
    ['bytes, with a rate and the time left', BYTES, 1.5 * 2 ** 30, 6 * 2 ** 30, 3000, 'w: 1.5 GB of 6.0 GB (25%), 512.0 MB/s, 9s left'],
    ['rows', ROWS, 250_000, 1_000_000, 2000, 'w: 250,000 of 1,000,000 rows (25%), 125,000 rows/s, 6s left'],
    ['runs: no rate', RUNS, 3, 9, 60_000, 'w: 3 of 9 runs (33%), 2m00s left'],
    ['time: no rate', TIME, 130_000, 600_000, 130_000, 'w: 2m10s of 10m00s (21%), 7m50s left'],
    ['the first second: no rate, no estimate', BYTES, 512, 4096, 999, 'w: 512 B of 4.0 kB (12%)'],
    ['done: no time left', ROWS, 10, 10, 5000, 'w: 10 of 10 rows (100%), 2 rows/s'],
    ['nothing done yet: no estimate', RUNS, 0, 4, 5000, 'w: 0 of 4 runs (0%)'],
    ['no work at all', BYTES, 0, 0, 5000, 'w: 0 B of 0 B (100%), 0 B/s'],
  ])('%s', (_name, unit, done, total, elapsedMs, text) => {
    expect(progressText('w', unit, done, total, elapsedMs)).toBe(text);
  });

  it.each([
    [0, '0s'],
    [1, '1s'],
    [59_000, '59s'],
    [60_000, '1m00s'],
    [185_000, '3m05s'],
    [3_600_000, '1h00m'],
    [3_723_000, '1h02m'],
  ])('durationText(%i) is %s', (ms, text) => {
    expect(durationText(ms)).toBe(text);
  });

  it('rounds a time left up and, for TIME amounts, a time taken down', () => {
    expect(durationText(1001)).toBe('2s');
    expect(durationText(1999, Math.floor)).toBe('1s');
    expect(TIME.amount(59_999)).toBe('59s');
  });
});

describe('progressDisplay', () => {
  it('off a TTY writes nothing, and lets other text through untouched', () => {
    const stream = new FakeStream(false);
    const display = progressDisplay(stream, new ManualClock());
    const progress = display.track('batch', BYTES);
    progress.update(1, 2);
    progress.update(2, 2);
    const other: string[] = [];
    display.above(() => other.push('result\n'));
    progress.end();
    expect(stream.writes).toEqual([]);
    expect(other).toEqual(['result\n']);
  });

  it('on a TTY draws in place, at most once per redraw interval, always when done; the end clears the line', async () => {
    const stream = new FakeStream(true);
    const clock = new ManualClock(1_000_000);
    const progress = progressDisplay(stream, clock, 250).track('gen-batch', ROWS);
    progress.update(0, 100);
    expect(stream.writes).toEqual([`${CLEAR}gen-batch: 0 of 100 rows (0%)`]);
    await clock.advanceTo(1_000_100);
    progress.update(10, 100); // within 250 ms of the last drawing: skipped
    expect(stream.writes).toHaveLength(1);
    await clock.advanceTo(1_002_000);
    progress.update(40, 100);
    expect(stream.line).toBe('gen-batch: 40 of 100 rows (40%), 20 rows/s, 3s left');
    await clock.advanceTo(1_002_010);
    progress.update(100, 100); // done: drawn though the interval has not passed
    expect(stream.line).toBe('gen-batch: 100 of 100 rows (100%), 50 rows/s');
    progress.end();
    expect(stream.writes.at(-1)).toBe(CLEAR);
    expect(stream.line).toBe('');
  });

  it('clears the line for other text and draws it again after; after the end, other text is left alone', () => {
    const stream = new FakeStream(true);
    const display = progressDisplay(stream, new ManualClock());
    const progress = display.track('compact', BYTES);
    progress.update(1024, 4096);
    display.above(() => stream.write('a log line\n'));
    expect(stream.writes.slice(1)).toEqual([CLEAR, 'a log line\n', `${CLEAR}compact: 1.0 kB of 4.0 kB (25%)`]);
    progress.end();
    const before = stream.writes.length;
    display.above(() => stream.write('the result\n'));
    expect(stream.writes.slice(before)).toEqual(['the result\n']);
  });

  it('cuts the line to the terminal width, since a wrapped line cannot be redrawn in place', () => {
    const stream = new FakeStream(true, 20);
    progressDisplay(stream, new ManualClock()).track('bench', RUNS).update(1, 30);
    expect(stream.line).toBe('bench: 1 of 30 runs');
    expect(stream.line.length).toBeLessThan(20);
  });

  it('a terminal of unknown width (0 columns) gets the whole line', () => {
    const stream = new FakeStream(true, 0);
    progressDisplay(stream, new ManualClock()).track('soak', TIME).update(0, 60_000);
    expect(stream.line).toBe('soak: 0s of 1m00s (0%)');
  });

  it('counts the rate from when the work was tracked, not from when the display was made', async () => {
    const stream = new FakeStream(true);
    const clock = new ManualClock();
    const display = progressDisplay(stream, clock);
    await clock.advanceTo(60_000);
    const progress = display.track('batch', BYTES);
    await clock.advanceTo(62_000);
    progress.update(2 * 2 ** 20, 4 * 2 ** 20);
    expect(stream.line).toBe('batch: 2.0 MB of 4.0 MB (50%), 1.0 MB/s, 2s left');
  });
});
