// Every command's options, one family at a time: defaults from DEFAULTS, valid values, and each bad value refused as
// E_OPTIONS naming its flag; the help shows the defaults DEFAULTS holds; and once through the real CLI: exit code 2.
import os from 'node:os';
import { type Option } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  DEFAULTS,
  allFlags,
  batchFlags,
  benchFlags,
  compactFlags,
  genBatchFlags,
  genStreamFlags,
  globalFlags,
  masterFilesFlags,
  mergeFlags,
  replayQuarantineFlags,
  serveFlags,
  resolveAll,
  resolveBatch,
  resolveBench,
  resolveCompact,
  resolveGenBatch,
  resolveGenStream,
  resolveGlobal,
  resolveMasterFiles,
  resolveMerge,
  resolveReplayQuarantine,
  resolveServe,
  resolveSoak,
  resolveSpeed,
  soakFlags,
  speedCommandFlags,
} from '../../src/cli/options.js';
import { type RawOptions } from '../../src/core/option-values.js';
import { requireBuild, runCli } from '../helpers/cli.js';
import { tempRoots } from '../helpers/temp-dirs.js';
import { expectOptionsError } from '../helpers/option-errors.js';

/** Each case: the raw options (as commander names them) and the flag the error must name. */
type BadCase = readonly [string, RawOptions, string];

/** The help line of a flag, by its long name. */
function helpOf(options: readonly Option[], long: string): string {
  const option = options.find((o) => o.long === long);
  if (!option) throw new Error(`no ${long} among ${options.map((o) => o.long).join(' ')}`);
  return option.description;
}

describe('global options', () => {
  it('defaults', () => {
    expect(resolveGlobal({})).toEqual({ data: './data', threads: os.availableParallelism(), logLevel: 'info', mode: 'permissive' });
  });

  it('valid values', () => {
    expect(resolveGlobal({ data: '/tmp/x', threads: '3', logLevel: 'debug', mode: 'failfast' })).toEqual({
      data: '/tmp/x',
      threads: 3,
      logLevel: 'debug',
      mode: 'failfast',
    });
  });

  it.each([
    ['1m', 60],
    ['15m', 900],
    ['1h', 3_600],
    ['6h', 21_600],
    ['1d', 86_400],
    ['7200', 7_200],
  ])('--bucket %s is %i seconds', (bucket, seconds) => {
    expect(resolveGlobal({ bucket }).bucketSeconds).toBe(seconds);
  });

  it.each<BadCase>([
    ['an empty --data', { data: '' }, 'data'],
    ['zero threads', { threads: '0' }, 'threads'],
    ['too many threads', { threads: '257' }, 'threads'],
    ['threads not a number', { threads: 'two' }, 'threads'],
    ['an unknown log level', { logLevel: 'trace' }, 'log-level'],
    ['an unknown mode', { mode: 'lenient' }, 'mode'],
    ['a bucket under a minute', { bucket: '30s' }, 'bucket'],
    ['a bucket that does not divide a day', { bucket: '7m' }, 'bucket'],
    ['a bucket over a day', { bucket: '2d' }, 'bucket'],
    ['a bucket of a fraction of a second', { bucket: '60.5' }, 'bucket'],
    ['a bucket that is not a size', { bucket: 'hourly' }, 'bucket'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveGlobal(raw), flag);
  });

  it('help shows the defaults', () => {
    const flags = globalFlags();
    expect(helpOf(flags, '--data')).toContain('(default: ./data)');
    expect(helpOf(flags, '--threads')).toContain(`(default: the available parallelism, ${os.availableParallelism()} here)`);
    expect(helpOf(flags, '--log-level')).toContain('(default: info)');
    expect(helpOf(flags, '--mode')).toContain('(default: permissive)');
  });
});

describe('gen-batch options', () => {
  it('defaults', () => {
    expect(resolveGenBatch({})).toEqual({ ...DEFAULTS.genBatch, force: false });
    expect(DEFAULTS.genBatch).toEqual({ rows: 1_000_000, files: 8, users: 10_000, seed: 42, startSeconds: 1_700_000_000, spanSeconds: 30 * 86_400 });
  });

  it('valid values', () => {
    expect(resolveGenBatch({ rows: '0', files: '3', users: '5', seed: '0', force: true, start: '2026-11-01T00:00:00Z', span: '7d' })).toEqual({
      rows: 0,
      files: 3,
      users: 5,
      seed: 0,
      force: true,
      startSeconds: 1_793_491_200,
      spanSeconds: 7 * 86_400,
    });
    expect(resolveGenBatch({ start: '1700000000' }).startSeconds).toBe(1_700_000_000);
    expect(resolveGenBatch({ start: '2026-11-01' }).startSeconds).toBe(1_793_491_200);
  });

  it.each<BadCase>([
    ['negative rows', { rows: '-1' }, 'rows'],
    ['zero files', { files: '0' }, 'files'],
    ['zero users', { users: '0' }, 'users'],
    ['a seed past 32 bits', { seed: '4294967296' }, 'seed'],
    ['a start that is not a time', { start: 'yesterday' }, 'start'],
    ['a start that is no date', { start: '2026-02-30' }, 'start'],
    ['a start with a time zone other than UTC', { start: '2026-11-01T00:00:00+01:00' }, 'start'],
    ['a zero span', { span: '0' }, 'span'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveGenBatch(raw), flag);
  });

  it('help shows the defaults', () => {
    const flags = genBatchFlags();
    expect(helpOf(flags, '--rows')).toContain('(default: 1,000,000)');
    expect(helpOf(flags, '--files')).toContain('(default: 8)');
    expect(helpOf(flags, '--users')).toContain('(default: 10,000)');
    expect(helpOf(flags, '--seed')).toContain('(default: 42)');
  });
});

describe('batch options', () => {
  it('defaults', () => {
    expect(resolveBatch({})).toEqual({ partitions: 8, keepViews: 3 });
  });

  it('valid values', () => {
    expect(resolveBatch({ partitions: '4096', keepViews: '1' })).toEqual({ partitions: 4096, keepViews: 1 });
  });

  it.each<BadCase>([
    ['zero partitions', { partitions: '0' }, 'partitions'],
    ['too many partitions', { partitions: '4097' }, 'partitions'],
    ['zero views kept', { keepViews: '0' }, 'keep-views'],
    ['views kept not a number', { keepViews: 'all' }, 'keep-views'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveBatch(raw), flag);
  });

  it('help shows the defaults', () => {
    expect(helpOf(batchFlags(), '--partitions')).toContain('(default: 8)');
    expect(helpOf(batchFlags(), '--keep-views')).toContain('(default: 3)');
  });
});

describe('gen-stream options', () => {
  it('defaults: forever, a seed from the clock', () => {
    const config = resolveGenStream({});
    expect(config).toMatchObject({ intervalMs: 5_000, rowsPerChunk: 1_000, chunks: undefined, users: 10_000 });
    expect(Number.isInteger(config.seed)).toBe(true);
  });

  it('valid values', () => {
    expect(resolveGenStream({ interval: '250ms', rowsPerChunk: '0', chunks: '3', users: '7', seed: '9' })).toEqual({
      intervalMs: 250,
      rowsPerChunk: 0,
      chunks: 3,
      users: 7,
      seed: 9,
      stamps: { outOfOrderSeconds: 0, lateFraction: 0, lateBySeconds: 60 },
    });
    expect(resolveGenStream({ outOfOrder: '10s', lateFraction: '0.05', lateBy: '2m' }).stamps).toEqual({
      outOfOrderSeconds: 10,
      lateFraction: 0.05,
      lateBySeconds: 120,
    });
  });

  it('`all` names the interval --stream-interval', () => {
    expect(resolveGenStream({ streamInterval: '2s', interval: '9s' }, 'streamInterval', 'stream-interval').intervalMs).toBe(2_000);
    expectOptionsError(() => resolveGenStream({ streamInterval: 'soon' }, 'streamInterval', 'stream-interval'), 'stream-interval');
  });

  it.each<BadCase>([
    ['a bad interval', { interval: 'often' }, 'interval'],
    ['a zero interval', { interval: '0' }, 'interval'],
    ['negative rows per chunk', { rowsPerChunk: '-5' }, 'rows-per-chunk'],
    ['negative chunks', { chunks: '-1' }, 'chunks'],
    ['zero users', { users: '0' }, 'users'],
    ['a bad seed', { seed: 'x' }, 'seed'],
    ['a bad out-of-order', { outOfOrder: 'a bit' }, 'out-of-order'],
    ['a late fraction over 1', { lateFraction: '1.5' }, 'late-fraction'],
    ['a late fraction as a percentage', { lateFraction: '5%' }, 'late-fraction'],
    ['a zero late-by', { lateBy: '0' }, 'late-by'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveGenStream(raw), flag);
  });

  it('help shows the defaults', () => {
    const flags = genStreamFlags();
    expect(helpOf(flags, '--interval')).toContain('(default: 5s)');
    expect(helpOf(flags, '--chunks')).toContain('(default: forever)');
    expect(helpOf(flags, '--rows-per-chunk')).toContain('(default: 1,000)');
    expect(helpOf(flags, '--seed')).toContain('(default: from the clock)');
  });
});

describe('speed options', () => {
  it('defaults: the 60 s window sliding every 10 s, fed every 10 s; 5 windows kept; 10 s of allowed lateness', () => {
    expect(resolveSpeed({})).toEqual({
      window: { batchIntervalMs: 10_000, windowMs: 60_000, slideMs: 10_000, slidesPerWindow: 6, batchesPerSlide: 1 },
      keepViews: 5,
      allowedLatenessSeconds: 10,
    });
  });

  it('--allowed-lateness in whole seconds, 0 allowed', () => {
    expect(resolveSpeed({ allowedLateness: '2m' }).allowedLatenessSeconds).toBe(120);
    expect(resolveSpeed({ allowedLateness: '0' }).allowedLatenessSeconds).toBe(0);
  });

  it('--time: processing by default (no event-time window), event with a whole-second slide', () => {
    expect(resolveSpeed({ time: 'processing' }).eventWindow).toBeUndefined();
    expect(resolveSpeed({ time: 'event', window: '30s', slide: '5s', batchInterval: '1s', allowedLateness: '3s' }).eventWindow).toEqual({
      windowSeconds: 30,
      slideSeconds: 5,
      allowedLatenessSeconds: 3,
    });
  });

  it('valid values', () => {
    const options = resolveSpeed({ batchInterval: '200ms', window: '1s', slide: '200ms', keepViews: '2' });
    expect(options.window).toMatchObject({ batchIntervalMs: 200, windowMs: 1_000, slideMs: 200, slidesPerWindow: 5 });
    expect(options.keepViews).toBe(2);
  });

  it('--keep is the old name of --keep-views; both at once is refused', () => {
    expect(resolveSpeed({ keep: '7' }).keepViews).toBe(7);
    expectOptionsError(() => resolveSpeed({ keep: '7', keepViews: '7' }), 'keep');
    expectOptionsError(() => resolveSpeed({ keep: '0' }), 'keep');
  });

  it.each<BadCase>([
    ['a bad batch interval', { batchInterval: '10 s' }, 'batch-interval'],
    ['a bad window', { window: 'a minute' }, 'window'],
    ['a zero slide', { slide: '0ms' }, 'slide'],
    ['a window not a multiple of the slide', { window: '25s', slide: '10s' }, 'window'],
    ['a slide not a multiple of the batch interval', { slide: '10s', batchInterval: '3s' }, 'slide'],
    ['zero windows kept', { keepViews: '0' }, 'keep-views'],
    ['an allowed lateness in milliseconds', { allowedLateness: '1500ms' }, 'allowed-lateness'],
    ['a bad allowed lateness', { allowedLateness: 'some' }, 'allowed-lateness'],
    ['an unknown window time', { time: 'ingest' }, 'time'],
    ['an event-time slide that is not whole seconds', { time: 'event', slide: '500ms', window: '5s', batchInterval: '250ms' }, 'slide'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveSpeed(raw), flag);
  });

  it('the window check names both flags', () => {
    expect(expectOptionsError(() => resolveSpeed({ window: '25s', slide: '10s' }), 'window').message).toBe(
      '--window: 25000 ms is not a multiple of --slide (10000 ms)',
    );
  });

  it('help shows the defaults and --keep-views, not --keep', () => {
    const flags = speedCommandFlags();
    expect(helpOf(flags, '--batch-interval')).toContain('(default: 10s)');
    expect(helpOf(flags, '--window')).toContain('(default: 1m)');
    expect(helpOf(flags, '--slide')).toContain('(default: 10s)');
    expect(helpOf(flags, '--keep-views')).toContain('(default: 5)');
    expect(flags.find((o) => o.long === '--keep')?.hidden).toBe(true);
  });
});

describe('NATS options (speed --source, all --source, gen-stream --sink)', () => {
  const servers = [{ host: '127.0.0.1', port: 4222 }];

  it('defaults: stream_input/ files; with nats://, stream lambdaflow over events.>, consumer speed, one partition, the default stream', () => {
    expect(resolveSpeed({}).source).toBeUndefined();
    expect(resolveGenStream({}).sink).toBeUndefined();
    expect(resolveSpeed({ source: 'nats://127.0.0.1:4222' }).source).toEqual({
      kind: 'nats',
      servers,
      stream: 'lambdaflow',
      subject: 'events.>',
      partitions: 1,
      replicas: undefined,
      consumer: 'speed',
      partition: undefined,
    });
    expect(resolveGenStream({ sink: 'nats://127.0.0.1:4222' }).sink).toEqual({
      servers,
      stream: 'lambdaflow',
      subject: 'events.>',
      partitions: 1,
      replicas: undefined,
    });
  });

  it('valid values: a host name or [IPv6], a stream, a subject, a consumer, a partition of --nats-partitions', () => {
    expect(resolveSpeed({ source: 'files' }).source).toBeUndefined();
    expect(
      resolveSpeed({ source: 'nats://localhost:4333', natsStream: 's_1', natsSubject: 'orders.>', natsConsumer: 'fast-1', natsPartitions: '4', partition: '3' })
        .source,
    ).toEqual({
      kind: 'nats',
      servers: [{ host: 'localhost', port: 4333 }],
      stream: 's_1',
      subject: 'orders.>',
      partitions: 4,
      replicas: undefined,
      consumer: 'fast-1',
      partition: 3,
    });
    expect(resolveSpeed({ source: 'nats://[::1]:4222' }).source).toMatchObject({ servers: [{ host: '::1', port: 4222 }] });
    // Servers of one cluster, failed over between; one named twice is kept once.
    expect(resolveSpeed({ source: 'nats://a:4222, nats://b:4223,nats://a:4222', natsReplicas: '3' }).source).toMatchObject({
      servers: [
        { host: 'a', port: 4222 },
        { host: 'b', port: 4223 },
      ],
      replicas: 3,
    });
    expect(resolveGenStream({ sink: 'nats://a:1,nats://b:2', natsReplicas: '5' }).sink).toMatchObject({
      servers: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      replicas: 5,
    });
    expect(resolveGenStream({ sink: 'nats://127.0.0.1:4222', natsPartitions: '2', natsSubject: 'a.b.>' }).sink).toMatchObject({
      partitions: 2,
      subject: 'a.b.>',
    });
    // all's generator publishes where its speed layer reads.
    expect(resolveAll({ source: 'nats://127.0.0.1:4222', natsStream: 'x' }).stream.sink).toEqual({
      servers,
      stream: 'x',
      subject: 'events.>',
      partitions: 1,
      replicas: undefined,
    });
    expect(resolveAll({ source: 'nats://127.0.0.1:4222', natsReplicas: '3' }).stream.sink).toMatchObject({ replicas: 3 });
  });

  it.each<BadCase>([
    ['a source that is neither files nor nats://', { source: 'kafka://x:1' }, 'source'],
    ['a nats:// source without a port', { source: 'nats://127.0.0.1' }, 'source'],
    ['a port out of range', { source: 'nats://127.0.0.1:70000' }, 'source'],
    ['a list with an empty item', { source: 'nats://h:1,,nats://h:2' }, 'source'],
    ['a list with an item that is not nats://', { source: 'nats://h:1,files' }, 'source'],
    ['zero replicas', { source: 'nats://h:1', natsReplicas: '0' }, 'nats-replicas'],
    ['more replicas than JetStream keeps', { source: 'nats://h:1', natsReplicas: '6' }, 'nats-replicas'],
    ['--nats-replicas without a NATS source', { natsReplicas: '3' }, 'nats-replicas'],
    ['a stream name with a dot', { source: 'nats://h:1', natsStream: 'a.b' }, 'nats-stream'],
    ['a subject with an empty token', { source: 'nats://h:1', natsSubject: 'events..>' }, 'nats-subject'],
    ['a subject with > before its end', { source: 'nats://h:1', natsSubject: 'events.>.x' }, 'nats-subject'],
    ['partitions over a subject not ending in .>', { source: 'nats://h:1', natsSubject: 'events', natsPartitions: '2' }, 'nats-subject'],
    ['a consumer name with a space', { source: 'nats://h:1', natsConsumer: 'my speed' }, 'nats-consumer'],
    ['zero partitions', { source: 'nats://h:1', natsPartitions: '0' }, 'nats-partitions'],
    ['a partition past --nats-partitions', { source: 'nats://h:1', natsPartitions: '2', partition: '2' }, 'partition'],
    ['--partition without a NATS source', { partition: '0' }, 'partition'],
    ['--nats-stream without a NATS source', { natsStream: 'x' }, 'nats-stream'],
    ['--nats-consumer without a NATS source', { natsConsumer: 'x' }, 'nats-consumer'],
  ])('speed refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveSpeed(raw), flag);
  });

  it.each<BadCase>([
    ['a sink that is neither files nor nats://', { sink: 'stream_input' }, 'sink'],
    ['--nats-partitions without a NATS sink', { natsPartitions: '2' }, 'nats-partitions'],
    ['--nats-subject without a NATS sink', { natsSubject: 'x.>' }, 'nats-subject'],
    ['--nats-replicas without a NATS sink', { natsReplicas: '3' }, 'nats-replicas'],
  ])('gen-stream refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveGenStream(raw), flag);
  });

  it('help shows the defaults', () => {
    const speed = speedCommandFlags();
    expect(helpOf(speed, '--source')).toContain('(default: files)');
    expect(helpOf(speed, '--nats-stream')).toContain('(default: lambdaflow)');
    expect(helpOf(speed, '--nats-subject')).toContain('(default: events.>)');
    expect(helpOf(speed, '--nats-consumer')).toContain('(default: speed)');
    expect(helpOf(speed, '--nats-partitions')).toContain('(default: 1)');
    expect(helpOf(speed, '--nats-replicas')).toContain('(default: created with 1, an existing one used as it is)');
    expect(helpOf(speed, '--partition')).toContain('(default: every partition');
    expect(helpOf(genStreamFlags(), '--sink')).toContain('(default: files)');
    expect(helpOf(allFlags(), '--source')).toContain('(default: files)');
  });
});

describe('merge options', () => {
  it('defaults', () => {
    expect(resolveMerge({})).toEqual({ intervalMs: 5_000, once: false, buckets: false, view: 'exact' });
  });

  it('valid values', () => {
    expect(resolveMerge({ interval: '100ms', once: true, view: 'window' })).toEqual({ intervalMs: 100, once: true, buckets: false, view: 'window' });
    expect(resolveMerge({ once: true, buckets: true }).buckets).toBe(true);
  });

  it.each<BadCase>([
    ['a bad interval', { interval: 'x' }, 'interval'],
    ['an unknown view', { view: 'both' }, 'view'],
    ['--buckets without --once', { buckets: true }, 'buckets'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveMerge(raw), flag);
  });

  it('help shows the defaults', () => {
    expect(helpOf(mergeFlags(), '--interval')).toContain('(default: 5s)');
    expect(helpOf(mergeFlags(), '--view')).toContain('(default: exact)');
  });
});

describe('serve options', () => {
  it('defaults: 127.0.0.1:8080, merged_view.csv every 5 s, the exact view', () => {
    expect(resolveServe({})).toEqual({ view: 'exact', intervalMs: 5_000, http: { host: '127.0.0.1', port: 8080 } });
  });

  it('valid values', () => {
    expect(resolveServe({ port: '0', host: 'localhost', interval: '250ms', view: 'window' })).toEqual({
      view: 'window',
      intervalMs: 250,
      http: { host: 'localhost', port: 0 },
    });
  });

  it.each<BadCase>([
    ['a port out of range', { port: '70000' }, 'port'],
    ['a port that is not a number', { port: 'http' }, 'port'],
    ['an empty host', { host: '' }, 'host'],
    ['a host with a path', { host: 'a/b' }, 'host'],
    ['a bad interval', { interval: 'soon' }, 'interval'],
    ['an unknown view', { view: 'both' }, 'view'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveServe(raw), flag);
  });

  it('help shows the defaults', () => {
    expect(helpOf(serveFlags(), '--port')).toContain('(default: 8080)');
    expect(helpOf(serveFlags(), '--host')).toContain('(default: 127.0.0.1)');
    expect(helpOf(serveFlags(), '--interval')).toContain('(default: 5s)');
  });
});

describe('compact options', () => {
  it("defaults: 128 MB files, stream files older than the speed layer's window and slide", () => {
    expect(resolveCompact({})).toEqual({ targetBytes: 128 << 20, minAgeMs: 70_000, failpoint: undefined });
  });

  it('valid values, and the hidden failpoint', () => {
    expect(resolveCompact({ targetSize: '1kB', minAge: '0', failpoint: 'rename@2' })).toEqual({ targetBytes: 1024, minAgeMs: 0, failpoint: 'rename@2' });
    expect(resolveCompact({ targetSize: '64MB' }).targetBytes).toBe(64 << 20);
  });

  it.each<BadCase>([
    ['a target size that is not a size', { targetSize: 'big' }, 'target-size'],
    ['a target size under 1 kB', { targetSize: '1023' }, 'target-size'],
    ['a bad minimum age', { minAge: 'old' }, 'min-age'],
    ['an empty failpoint', { failpoint: '' }, 'failpoint'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveCompact(raw), flag);
  });

  it('--target-size is the same option on compact, all and soak: the same default and the same check', () => {
    expect(resolveAll({ targetSize: '2MB' }).compact.targetBytes).toBe(2 << 20);
    expect(resolveSoak({ targetSize: '2MB' }).compact.targetBytes).toBe(2 << 20);
    expectOptionsError(() => resolveAll({ targetSize: '1000' }), 'target-size');
    expectOptionsError(() => resolveSoak({ targetSize: 'x' }), 'target-size');
    for (const flags of [compactFlags(), allFlags(), soakFlags()]) expect(helpOf(flags, '--target-size')).toContain('(default: 128MB)');
  });

  it("all and soak compact every --compact-every, files older than their own speed layer's window and slide", () => {
    expect(resolveAll({ compactEvery: '1s', window: '2s', slide: '1s', batchInterval: '500ms' })).toMatchObject({
      compactEveryMs: 1_000,
      compact: { minAgeMs: 3_000 },
    });
    expect(resolveAll({}).compactEveryMs).toBeUndefined();
    expectOptionsError(() => resolveAll({ compactEvery: '99ms' }), 'compact-every');
    expectOptionsError(() => resolveSoak({ compactEvery: 'x' }), 'compact-every');
    expect(helpOf(allFlags(), '--compact-every')).toContain('(default: never)');
  });

  it('help shows the defaults', () => {
    expect(helpOf(compactFlags(), '--min-age')).toContain('(default: 70s)');
    expect(compactFlags().find((o) => o.long === '--failpoint')?.hidden).toBe(true);
  });
});

describe('master-files options', () => {
  it("defaults: through the ingest log's last seq", () => {
    expect(resolveMasterFiles({})).toEqual({ watermark: undefined });
  });

  it('valid values', () => {
    expect(resolveMasterFiles({ watermark: '0' })).toEqual({ watermark: 0 });
  });

  it('refuses a watermark that is not a seq', () => {
    expectOptionsError(() => resolveMasterFiles({ watermark: '-1' }), 'watermark');
  });

  it('help shows the default', () => {
    expect(helpOf(masterFilesFlags(), '--watermark')).toContain("(default: the ingest log's last seq)");
  });
});

describe('all options', () => {
  it('defaults: until stopped, batch only at start, every layer at its own defaults', () => {
    const options = resolveAll({});
    expect(options).toMatchObject({
      durationMs: undefined,
      batchEveryMs: undefined,
      stream: { intervalMs: 5_000, rowsPerChunk: 1_000, chunks: undefined, users: 10_000 },
      speed: resolveSpeed({}),
      serve: { intervalMs: 5_000, view: 'exact', http: { host: '127.0.0.1', port: 8080 } },
      batch: { partitions: 8, keepViews: 3 },
      sampleHistory: { rows: 1_000_000, files: 8, users: 10_000, seed: 42, spanSeconds: 30 * 86_400 },
    });
    // Its stream shows lateness: a few seconds out of order, one row in a thousand a minute late.
    expect(options.stream.stamps).toEqual({ outOfOrderSeconds: 5, lateFraction: 0.001, lateBySeconds: 60 });
  });

  it('--keep-views counts batch views, --keep-windows (old name --keep) speed windows', () => {
    const options = resolveAll({ keepViews: '4', keepWindows: '9' });
    expect(options.batch.keepViews).toBe(4);
    expect(options.speed.keepViews).toBe(9);
    expect(resolveAll({ keep: '6' }).speed.keepViews).toBe(6);
    expectOptionsError(() => resolveAll({ keep: '6', keepWindows: '6' }), 'keep');
  });

  it('serves HTTP on --host/--port unless --no-http', () => {
    expect(resolveAll({ host: '::1', port: '0' }).serve.http).toEqual({ host: '::1', port: 0 });
    expect(resolveAll({ http: false, port: '9' }).serve.http).toBeUndefined();
    expectOptionsError(() => resolveAll({ port: '65536' }), 'port');
    expectOptionsError(() => resolveAll({ host: 'a b' }), 'host');
  });

  it('valid values', () => {
    const options = resolveAll({
      duration: '90s',
      batchEvery: '1m',
      streamInterval: '150ms',
      mergeInterval: '200ms',
      view: 'window',
      partitions: '2',
      batchInterval: '200ms',
      window: '2s',
      slide: '400ms',
      rowsPerChunk: '50',
    });
    expect(options).toMatchObject({
      durationMs: 90_000,
      batchEveryMs: 60_000,
      stream: { intervalMs: 150, rowsPerChunk: 50 },
      serve: { intervalMs: 200, view: 'window' },
      batch: { partitions: 2 },
    });
    expect(options.speed.window).toMatchObject({ batchIntervalMs: 200, windowMs: 2_000, slideMs: 400 });
  });

  it.each<BadCase>([
    ['a bad duration', { duration: 'forever' }, 'duration'],
    ['a bad batch period', { batchEvery: '0' }, 'batch-every'],
    ['a bad stream interval', { streamInterval: 'x' }, 'stream-interval'],
    ['a bad merge interval', { mergeInterval: 'x' }, 'merge-interval'],
    ['an unknown view', { view: 'both' }, 'view'],
    ['zero partitions', { partitions: '0' }, 'partitions'],
    ['zero batch views kept', { keepViews: '0' }, 'keep-views'],
    ['zero speed windows kept', { keepWindows: '0' }, 'keep-windows'],
    ['a window not a multiple of the slide', { window: '25s' }, 'window'],
    ['negative rows per chunk', { rowsPerChunk: '-1' }, 'rows-per-chunk'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveAll(raw), flag);
  });

  it('help shows the defaults', () => {
    const flags = allFlags();
    expect(helpOf(flags, '--duration')).toContain('(default: run until Ctrl-C)');
    expect(helpOf(flags, '--batch-every')).toContain('(default: only at start)');
    expect(helpOf(flags, '--stream-interval')).toContain('(default: 5s)');
    expect(helpOf(flags, '--merge-interval')).toContain('(default: 5s)');
    expect(helpOf(flags, '--keep-views')).toContain('batch views to keep (default: 3)');
    expect(helpOf(flags, '--keep-windows')).toContain('(default: 5)');
    expect(flags.find((o) => o.long === '--keep')?.hidden).toBe(true);
  });
});

describe('soak options', () => {
  it('defaults: 10 minutes at 50,000 events/s in 4 files/s, the 60 s window fed every 250 ms', () => {
    expect(resolveSoak({})).toEqual({
      durationMs: 600_000,
      rate: 50_000,
      filesPerSecond: 4,
      killEveryMs: undefined,
      batchEveryMs: 60_000,
      compactEveryMs: undefined,
      compact: { targetBytes: 128 << 20, minAgeMs: 70_000 },
      jsonFile: undefined,
      data: undefined,
      speed: resolveSpeed({ batchInterval: '250ms' }),
      mergeIntervalMs: 250,
      batch: DEFAULTS.batch,
      users: DEFAULTS.genStream.users,
    });
  });

  it('valid values', () => {
    const options = resolveSoak({
      duration: '12s',
      rate: '20000',
      killEvery: '3s',
      batchEvery: '4s',
      json: 'r.json',
      data: 'd',
      batchInterval: '100ms',
      window: '30s',
      slide: '5s',
      keepWindows: '3',
      mergeInterval: '100ms',
    });
    expect(options).toMatchObject({
      durationMs: 12_000,
      rate: 20_000,
      killEveryMs: 3_000,
      batchEveryMs: 4_000,
      jsonFile: 'r.json',
      data: 'd',
      mergeIntervalMs: 100,
    });
    expect(options.speed).toEqual(resolveSpeed({ batchInterval: '100ms', window: '30s', slide: '5s', keepViews: '3' }));
  });

  it('--files-per-second sets the stream file rate; --batch-every never leaves only the batch at start', () => {
    expect(resolveSoak({ filesPerSecond: '20', rate: '20000' })).toMatchObject({ filesPerSecond: 20, rate: 20_000 });
    expect(resolveSoak({ filesPerSecond: '1000', rate: '1000' })).toMatchObject({ filesPerSecond: 1000 });
    expect(resolveSoak({ batchEvery: 'never' }).batchEveryMs).toBeUndefined();
  });

  it.each<BadCase>([
    ['a duration under a second', { duration: '500ms' }, 'duration'],
    ['a zero rate', { rate: '0' }, 'rate'],
    ['a rate over 10 million', { rate: '10000001' }, 'rate'],
    ['kills more often than every 500 ms', { killEvery: '100ms' }, 'kill-every'],
    ['a batch period under 100 ms', { batchEvery: '50ms' }, 'batch-every'],
    ['a batch period that is a word other than never', { batchEvery: 'nevermore' }, 'batch-every'],
    ['zero files per second', { filesPerSecond: '0' }, 'files-per-second'],
    ['over 1,000 files per second', { filesPerSecond: '1001', rate: '1001000' }, 'files-per-second'],
    ['a fractional file rate', { filesPerSecond: '2.5' }, 'files-per-second'],
    ['a file rate that does not divide the event rate', { filesPerSecond: '3', rate: '20000' }, 'files-per-second'],
    ['more files than events per second', { filesPerSecond: '20', rate: '10' }, 'files-per-second'],
    ['a batch interval that does not divide the slide', { batchInterval: '3s' }, 'slide'],
    ['a bad merge interval', { mergeInterval: 'x' }, 'merge-interval'],
    ['zero speed windows kept', { keepWindows: '0' }, 'keep-windows'],
    ['an empty --json', { json: '' }, 'json'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveSoak(raw), flag);
  });

  it('help shows the defaults', () => {
    const flags = soakFlags();
    expect(helpOf(flags, '--duration')).toContain('(default: 10m)');
    expect(helpOf(flags, '--rate')).toContain('(default: 50,000)');
    expect(helpOf(flags, '--kill-every')).toContain('(default: never)');
    expect(helpOf(flags, '--batch-every')).toContain('never: one batch, at start (default: 1m)');
    expect(helpOf(flags, '--files-per-second')).toContain('(default: 4)');
    expect(helpOf(flags, '--batch-interval')).toContain('(default: 250ms)');
    expect(helpOf(flags, '--merge-interval')).toContain('(default: 250ms)');
  });
});

describe('bench options', () => {
  const available = os.availableParallelism();

  it('defaults: 1, 2 and the available parallelism when larger', () => {
    expect(resolveBench({})).toEqual({
      rows: 10_000_000,
      users: [100_000],
      threads: available > 2 ? [1, 2, available] : [1, 2],
      repeat: 3,
      json: undefined,
      data: undefined,
      speed: false,
    });
  });

  it('valid values: thread counts sorted, repeats dropped', () => {
    expect(resolveBench({ rows: '1000', users: '10', threads: '4, 1,2,4', repeat: '5', json: 'b.json', data: 'd' })).toEqual({
      rows: 1000,
      users: [10],
      threads: [1, 2, 4],
      repeat: 5,
      json: 'b.json',
      data: 'd',
      speed: false,
    });
    expect(resolveBench({ users: '1000000,10000,100_000', speed: true })).toMatchObject({ users: [10_000, 100_000, 1_000_000], speed: true });
  });

  it.each<BadCase>([
    ['zero rows', { rows: '0' }, 'rows'],
    ['zero users', { users: '0' }, 'users'],
    ['a thread list with words', { threads: '1,two' }, 'threads'],
    ['a zero thread count', { threads: '0,2' }, 'threads'],
    ['too many threads', { threads: '1,257' }, 'threads'],
    ['zero repeats', { repeat: '0' }, 'repeat'],
    ['over 100 repeats', { repeat: '101' }, 'repeat'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveBench(raw), flag);
  });

  it('help shows the defaults', () => {
    const flags = benchFlags();
    expect(helpOf(flags, '--threads')).toContain(`${DEFAULTS.bench.threads.join(',')} here`);
    expect(helpOf(flags, '--rows')).toContain('(default: 10,000,000)');
    expect(helpOf(flags, '--users')).toContain('(default: 100000)');
    expect(helpOf(flags, '--repeat')).toContain('(default: 3)');
  });
});

describe('replay-quarantine options', () => {
  it('defaults: every quarantine file', () => {
    expect(resolveReplayQuarantine({})).toEqual({ file: undefined });
  });

  it('valid values: a name in the quarantine folder, with or without .bad', () => {
    expect(resolveReplayQuarantine({ file: 'chunk-1.csv.bad' })).toEqual({ file: 'chunk-1.csv.bad' });
    expect(resolveReplayQuarantine({ file: 'a b.csv' })).toEqual({ file: 'a b.csv' });
  });

  it.each<BadCase>([
    ['an empty name', { file: '' }, 'file'],
    ['a path', { file: '../batch_input/x.csv.bad' }, 'file'],
    ['a Windows path', { file: 'q\\x.csv.bad' }, 'file'],
    ['the parent folder', { file: '..' }, 'file'],
    ['a hidden name (the lock, temp files)', { file: '.replay.lock' }, 'file'],
  ])('refuses %s', (_name, raw, flag) => {
    expectOptionsError(() => resolveReplayQuarantine(raw), flag);
  });

  it('help shows the default', () => {
    expect(helpOf(replayQuarantineFlags(), '--file')).toContain('(default: every quarantine file)');
  });
});

describe('DEFAULTS', () => {
  it('is frozen all the way down', () => {
    const frozen = (value: unknown): boolean => value === null || typeof value !== 'object' || (Object.isFrozen(value) && Object.values(value).every(frozen));
    expect(frozen(DEFAULTS)).toBe(true);
  });
});

describe('a bad option through the CLI', () => {
  const tempRoot = tempRoots();
  it('is refused before the command runs: one E_OPTIONS line naming the flag, exit code 2', async () => {
    requireBuild();
    const result = await runCli(['speed', '--data', tempRoot().data, '--keep-views', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('lambdaflow speed: error [E_OPTIONS]: --keep-views: must be between 1 and 1000, got 0');
  });
});
