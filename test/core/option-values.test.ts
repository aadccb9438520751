// Raw option values: whole numbers, durations (both ways), choices, and the window check naming the flag at fault.
import { describe, expect, it } from 'vitest';
import { choiceOption, durationOption, formatDurationMs, integerOption, parseDurationMs, stringOf, windowOption } from '../../src/core/option-values.js';
import { expectOptionsError } from '../helpers/option-errors.js';

describe('integerOption', () => {
  it.each([
    ['absent', {}, 7],
    ['digits', { n: '12' }, 12],
    ['underscores', { n: '1_000' }, 1000],
    ['at the minimum', { n: '1' }, 1],
  ])('%s', (_name, raw, expected) => expect(integerOption(raw, 'n', 'n', 7, 1, 2000)).toBe(expected));

  it('keeps an undefined fallback: the option is off unless given', () => {
    expect(integerOption({}, 'n', 'n', undefined)).toBeUndefined();
  });

  it.each(['x', '-1', '1.5', '1e3', '0', '2001', ''])('refuses "%s", naming the flag', (value) => {
    expectOptionsError(() => integerOption({ n: value }, 'n', 'count', 7, 1, 2000), 'count');
  });

  it('refuses a flag given without a value', () => {
    expectOptionsError(() => stringOf({ data: true }, 'data', 'data'), 'data');
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['5', 5_000],
    ['0.25', 250],
    ['30d', 2_592_000_000],
  ])('parses %s', (text, ms) => expect(parseDurationMs(text)).toBe(ms));

  it.each(['', 'ten', '10 minutes', '-1s', '1w'])('refuses "%s"', (text) => expect(parseDurationMs(text)).toBeUndefined());

  it.each([
    [250, '250ms'],
    [1_500, '1500ms'],
    [10_000, '10s'],
    [90_000, '90s'],
    [60_000, '1m'],
    [600_000, '10m'],
    [3_600_000, '1h'],
    [86_400_000, '1d'],
  ])('formats %i ms as %s, which parses back', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('a duration below the minimum names the flag', () => {
    expect(expectOptionsError(() => durationOption({ d: '10ms' }, 'd', 'duration', 0, 1000), 'duration').message).toContain('at least 1000 ms');
  });
});

describe('choiceOption', () => {
  it('takes a listed value, refuses others naming the flag', () => {
    expect(choiceOption({ view: 'window' }, 'view', 'view', ['exact', 'window'], 'exact')).toBe('window');
    expect(expectOptionsError(() => choiceOption({ view: 'both' }, 'view', 'view', ['exact', 'window'], 'exact'), 'view').message).toContain('exact, window');
  });
});

describe('windowOption', () => {
  it('builds the window spec when the durations divide evenly', () => {
    expect(windowOption({ batchIntervalMs: 250, windowMs: 60_000, slideMs: 10_000 })).toMatchObject({ slidesPerWindow: 6, batchesPerSlide: 40 });
  });

  it('a window that is not a multiple of the slide names --window and --slide', () => {
    const error = expectOptionsError(() => windowOption({ batchIntervalMs: 10_000, windowMs: 25_000, slideMs: 10_000 }), 'window');
    expect(error.message).toBe('--window: 25000 ms is not a multiple of --slide (10000 ms)');
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it('a slide that is not a multiple of the batch interval names --slide and --batch-interval', () => {
    const error = expectOptionsError(() => windowOption({ batchIntervalMs: 3_000, windowMs: 60_000, slideMs: 10_000 }), 'slide');
    expect(error.message).toBe('--slide: 10000 ms is not a multiple of --batch-interval (3000 ms)');
  });

  it('a duration that is not a positive whole number of ms names its flag', () => {
    expectOptionsError(() => windowOption({ batchIntervalMs: 0.5, windowMs: 60_000, slideMs: 10_000 }), 'batch-interval');
  });

  it('names the flags a caller gives', () => {
    const flags = { batchIntervalMs: 'tick', windowMs: 'span', slideMs: 'step' };
    expect(expectOptionsError(() => windowOption({ batchIntervalMs: 1_000, windowMs: 2_500, slideMs: 1_000 }, flags), 'span').message).toBe(
      '--span: 2500 ms is not a multiple of --step (1000 ms)',
    );
  });
});
