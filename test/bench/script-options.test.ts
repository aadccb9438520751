// The benchmark scripts' options, one script at a time: defaults from SCRIPT_DEFAULTS, valid values, and each bad value
// refused as E_OPTIONS naming its flag (an unknown flag is parseArgs' own error), all before anything is measured.
import { describe, expect, it } from 'vitest';
import {
  SCRIPT_DEFAULTS,
  resolveDuckdbQuery,
  resolveMicroBench,
  resolveNatsBench,
  resolveRestartBench,
  resolveServingBench,
  resolveSpeedBench,
  speedBenchWindow,
  ScriptHelp,
} from '../../src/bench/script-options.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { expectOptionsError } from '../helpers/option-errors.js';

/** Each case: what is wrong, the script's arguments, and the flag the error must name. */
type BadCase = readonly [string, readonly string[], string];

describe('every script', () => {
  it.each([
    ['micro', resolveMicroBench],
    ['speed', resolveSpeedBench],
    ['serving', resolveServingBench],
    ['nats', resolveNatsBench],
    ['restart', resolveRestartBench],
  ] as const)('%s refuses an unknown flag and a stray argument listing its flags, and answers --help with them', (_name, resolve) => {
    for (const args of [['--rowz', '5'], ['10']]) {
      expect(() => resolve(args)).toThrow(
        expect.objectContaining({ code: 'E_OPTIONS', message: expect.stringMatching(/; options \(each takes a value.*\): --\w/) }),
      );
    }
    // It used to be "Unknown option '--help'".
    expect(() => resolve(['--help'])).toThrow(ScriptHelp);
  });

  it('SCRIPT_DEFAULTS is frozen all the way down', () => {
    const frozen = (value: unknown): boolean => value === null || typeof value !== 'object' || (Object.isFrozen(value) && Object.values(value).every(frozen));
    expect(frozen(SCRIPT_DEFAULTS)).toBe(true);
  });
});

describe('bench (micro)', () => {
  it('defaults', () => {
    expect(resolveMicroBench([])).toEqual({ rows: 200_000, users: 100_000, timeMs: 1_000 });
  });

  it('valid values', () => {
    expect(resolveMicroBench(['--rows', '1_000', '--users', '5', '--time-ms', '10'])).toEqual({ rows: 1_000, users: 5, timeMs: 10 });
  });

  it.each<BadCase>([
    ['zero rows', ['--rows', '0'], 'rows'],
    ['zero users', ['--users', '0'], 'users'],
    ['under 10 ms a variant', ['--time-ms', '9'], 'time-ms'],
  ])('refuses %s', (_name, args, flag) => {
    expectOptionsError(() => resolveMicroBench(args), flag);
  });
});

describe('bench:speed', () => {
  it("defaults: the speed layer's 60 s window sliding every 10 s, fed every 100 ms; both measurements", () => {
    expect(resolveSpeedBench([])).toEqual({
      events: 5_000_000,
      chunkRows: 50_000,
      users: 100_000,
      threads: 2,
      speed: {
        window: { batchIntervalMs: 100, windowMs: 60_000, slideMs: 10_000, slidesPerWindow: 6, batchesPerSlide: 100 },
        keepViews: 5,
        allowedLatenessSeconds: 10,
      },
      rate: 100_000,
      seconds: 20,
      only: undefined,
      json: undefined,
    });
  });

  it('valid values', () => {
    const args = [
      '--events',
      '10',
      '--chunk-rows',
      '3',
      '--users',
      '7',
      '--threads',
      '1',
      '--batch-interval',
      '250ms',
      '--rate',
      '500',
      '--seconds',
      '3600',
      '--only',
      'freshness',
      '--json',
      'r.json',
    ];
    expect(resolveSpeedBench(args)).toEqual({
      events: 10,
      chunkRows: 3,
      users: 7,
      threads: 1,
      speed: speedBenchWindow(250),
      rate: 500,
      seconds: 3_600,
      only: 'freshness',
      json: 'r.json',
    });
    expect(resolveSpeedBench(['--only', 'throughput']).only).toBe('throughput');
  });

  it.each<BadCase>([
    ['zero events', ['--events', '0'], 'events'],
    ['zero rows a chunk', ['--chunk-rows', '0'], 'chunk-rows'],
    ['zero users', ['--users', '0'], 'users'],
    ['too many threads', ['--threads', '257'], 'threads'],
    ['a bad batch interval', ['--batch-interval', 'often'], 'batch-interval'],
    ['a batch interval that does not divide the 10 s slide', ['--batch-interval', '3s'], 'slide'],
    ['a zero rate', ['--rate', '0'], 'rate'],
    ['over an hour', ['--seconds', '3601'], 'seconds'],
    ['an unknown measurement', ['--only', 'latency'], 'only'],
    ['an empty --json', ['--json', ''], 'json'],
  ])('refuses %s', (_name, args, flag) => {
    expectOptionsError(() => resolveSpeedBench(args), flag);
  });
});

describe('bench:serving', () => {
  it('defaults', () => {
    expect(resolveServingBench([])).toEqual({
      users: 1_000_000,
      rows: 10_000_000,
      durationMs: 30_000,
      lookupDurationMs: 5_000,
      rounds: 3,
      connections: 10,
      rate: 100_000,
      json: undefined,
    });
  });

  it('valid values', () => {
    const args = [
      '--users',
      '10',
      '--rows',
      '20',
      '--duration',
      '1s',
      '--lookup-duration',
      '500ms',
      '--rounds',
      '100',
      '--connections',
      '1000',
      '--rate',
      '100',
      '--json',
      's.json',
    ];
    expect(resolveServingBench(args)).toEqual({
      users: 10,
      rows: 20,
      durationMs: 1_000,
      lookupDurationMs: 500,
      rounds: 100,
      connections: 1_000,
      rate: 100,
      json: 's.json',
    });
  });

  it.each<BadCase>([
    ['zero users', ['--users', '0'], 'users'],
    ['zero rows', ['--rows', '0'], 'rows'],
    ['a stream under a second', ['--duration', '999ms'], 'duration'],
    ['a lookup round under 500 ms', ['--lookup-duration', '499ms'], 'lookup-duration'],
    ['over 100 rounds', ['--rounds', '101'], 'rounds'],
    ['zero connections', ['--connections', '0'], 'connections'],
    ['a rate under one row a chunk', ['--rate', '99'], 'rate'],
    ['an empty --json', ['--json', ''], 'json'],
  ])('refuses %s', (_name, args, flag) => {
    expectOptionsError(() => resolveServingBench(args), flag);
  });
});

describe('bench:nats', () => {
  it('defaults', () => {
    expect(resolveNatsBench([])).toEqual({
      rows: 2_000_000,
      rowsPerMessage: 10_000,
      users: 100_000,
      probes: 200,
      backgroundRate: 20_000,
      batchIntervalMs: 250,
      threads: 2,
    });
  });

  it('valid values: no background load', () => {
    const args = [
      '--rows',
      '5',
      '--rows-per-message',
      '30000',
      '--users',
      '2',
      '--probes',
      '1',
      '--background-rate',
      '0',
      '--batch-interval',
      '1s',
      '--threads',
      '256',
    ];
    expect(resolveNatsBench(args)).toEqual({ rows: 5, rowsPerMessage: 30_000, users: 2, probes: 1, backgroundRate: 0, batchIntervalMs: 1_000, threads: 256 });
  });

  it.each<BadCase>([
    ['zero rows', ['--rows', '0'], 'rows'],
    ['messages over 30,000 rows', ['--rows-per-message', '30001'], 'rows-per-message'],
    ['zero users', ['--users', '0'], 'users'],
    ['zero probes', ['--probes', '0'], 'probes'],
    ['a negative background rate', ['--background-rate=-1'], 'background-rate'],
    ['a bad batch interval', ['--batch-interval', 'soon'], 'batch-interval'],
    ['zero threads', ['--threads', '0'], 'threads'],
  ])('refuses %s', (_name, args, flag) => {
    expectOptionsError(() => resolveNatsBench(args), flag);
  });
});

describe('bench:restart', () => {
  it('defaults', () => {
    expect(resolveRestartBench([])).toEqual({ files: 100_000, perBatch: 100, users: 100_000 });
  });

  it('valid values', () => {
    expect(resolveRestartBench(['--files', '3', '--per-batch', '1', '--users', '9'])).toEqual({ files: 3, perBatch: 1, users: 9 });
  });

  it.each<BadCase>([
    ['zero files', ['--files', '0'], 'files'],
    ['zero files a batch', ['--per-batch', '0'], 'per-batch'],
    ['zero users', ['--users', 'none'], 'users'],
  ])('refuses %s', (_name, args, flag) => {
    expectOptionsError(() => resolveRestartBench(args), flag);
  });
});

describe("duckdb-query (bench's child process)", () => {
  it('defaults: 2 threads, the exact DECIMAL query', () => {
    expect(resolveDuckdbQuery(['--input', 'd/*.csv', '--output', 'o.csv'])).toEqual({ input: 'd/*.csv', threads: 2, output: 'o.csv', query: 'decimal' });
  });

  it('valid values', () => {
    expect(resolveDuckdbQuery(['--input', 'a', '--threads', '4', '--output', 'b', '--query', 'hourly'])).toEqual({
      input: 'a',
      threads: 4,
      output: 'b',
      query: 'hourly',
    });
    expect(resolveDuckdbQuery(['--input', 'a', '--output', 'b', '--query', 'fastest']).query).toBe('fastest');
  });

  it('refuses an unknown query', () => {
    expect(() => resolveDuckdbQuery(['--input', 'a', '--output', 'b', '--query', 'daily'])).toThrow(/--query/);
  });

  it('refuses a run without --input or --output, with its usage', () => {
    for (const args of [
      ['--output', 'b'],
      ['--input', 'a'],
    ]) {
      expect(() => resolveDuckdbQuery(args)).toThrow(LambdaflowError);
      expect(() => resolveDuckdbQuery(args)).toThrow('usage: node dist/bench/duckdb-query.js --input GLOB --threads T --output FILE');
    }
  });

  it('refuses a bad thread count', () => {
    expectOptionsError(() => resolveDuckdbQuery(['--input', 'a', '--output', 'b', '--threads', '257']), 'threads');
  });
});
