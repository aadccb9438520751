// Event time through the real CLI: late rows and the watermark are functions of the ingest log alone — the same for
// one file per micro-batch, all files in one, and a speed layer killed -9 at random moments — checked against the rule.
import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listeningUrl, runCliOk, startCli } from '../helpers/cli.js';
import { httpRequest, jsonOf } from '../helpers/http-client.js';
import { type Totals, compactedMasterFiles, loggedStreamFiles, plain, readPartTotals, realtimeThroughSeq } from '../helpers/outputs.js';
import { dropStreamFile, waitFor, waitForValue, waitUntilReady } from '../helpers/pipeline.js';
import { seeded } from '../helpers/prng.js';
import { expectRangeAnswersEqualRecount } from '../helpers/range-recount.js';
import { expectedBucketLines, recountDataFolder, referenceCents } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const children: ChildProcess[] = [];
const ALLOWED_LATENESS = 10;
const FILES = 24;

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Stream file i: rows a few seconds out of order around a time that grows with i, one in eight up to 5 minutes back. */
function streamFile(i: number): { name: string; text: string; rows: { line: number; second: number; text: string }[] } {
  const random = seeded(500 + i);
  const rows: { line: number; second: number; text: string }[] = [];
  const now = 1_700_000_000 + 20 * i;
  for (let line = 1; line <= 40; line++) {
    const second = now - random.int(6) - (random.chance(0.125) ? random.int(300) : 0);
    const purchase = random.chance(0.5);
    rows.push({
      line,
      second,
      text: `u${random.int(30)},${purchase ? 'purchase' : 'view'},${purchase ? `${random.int(90)}.${random.int(10)}0` : '0'},${second}`,
    });
  }
  return { name: `chunk-${String(i).padStart(4, '0')}.csv`, text: rows.map((r) => `${r.text}\n`).join(''), rows };
}

const files = Array.from({ length: FILES }, (_, i) => streamFile(i));

/** The rule recounted over the log's order: each late row as `<name>.late` would hold it, and the watermark after all. */
function lateByRule(order: readonly string[]): { files: Map<string, string>; total: number; watermark: number } {
  let max = -Infinity;
  let total = 0;
  const lateFiles = new Map<string, string>();
  for (const name of order) {
    const file = files.find((f) => f.name === name)!;
    const watermark = max - ALLOWED_LATENESS;
    const late = file.rows.filter((row) => row.second < watermark);
    if (late.length > 0) lateFiles.set(`${name}.late`, late.map((row) => `${row.line}\t${row.second}\t${watermark}\t${row.text}\n`).join(''));
    total += late.length;
    for (const row of file.rows) max = Math.max(max, row.second);
  }
  return { files: lateFiles, total, watermark: max - ALLOWED_LATENESS };
}

/**
 * Drops every file into the folder while `speed` (with `speedArgs`) runs, killing it -9 at a random moment up to
 * `maxRunMs` after each three files, with one file landing while it is down.
 */
async function ingestWithKills(data: string, random: ReturnType<typeof seeded>, speedArgs: readonly string[], maxRunMs: number): Promise<void> {
  let next = 0;
  while (next < FILES) {
    const speed = startCli(['speed', '--data', data, ...speedArgs]);
    children.push(speed.child);
    for (let i = 0; i < 3 && next < FILES; i++, next++) {
      dropStreamFile(data, files[next]!.name, files[next]!.text);
      await new Promise((r) => setTimeout(r, random.int(300)));
    }
    await new Promise((r) => setTimeout(r, random.int(maxRunMs)));
    speed.child.kill('SIGKILL');
    await speed.result;
    if (next < FILES) dropStreamFile(data, files[next]!.name, files[next++]!.text);
  }
}

function lateFilesOf(data: string): Map<string, string> {
  const dir = path.join(data, 'late');
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  return new Map(names.map((name) => [name, fs.readFileSync(path.join(dir, name), 'utf8')]));
}

function expectLatenessByRule(data: string): void {
  const order = loggedStreamFiles(data).map((e) => e.name);
  expect(order).toHaveLength(FILES);
  const expected = lateByRule(order);
  const head = JSON.parse(fs.readFileSync(path.join(data, 'serving', 'realtime', 'head.json'), 'utf8')) as { eventTime: Record<string, unknown> };
  expect(head.eventTime).toEqual({
    maxEventSecond: expected.watermark + ALLOWED_LATENESS,
    watermark: expected.watermark,
    lateRows: expected.total,
    allowedLatenessSeconds: ALLOWED_LATENESS,
  });
  expect(lateFilesOf(data)).toEqual(expected.files);
  expect(expected.total).toBeGreaterThan(10);
}

const SPEED = ['--threads', '2', '--log-level', 'warn', '--allowed-lateness', `${ALLOWED_LATENESS}s`];

describe('late rows and the event-time watermark', () => {
  it('are the rule recounted over the log, whether files arrive one per micro-batch or all in one', async () => {
    const oneByOne = newTempRoot().data;
    for (const file of files) {
      dropStreamFile(oneByOne, file.name, file.text);
      await runCliOk(['speed', '--once', '--data', oneByOne, ...SPEED]);
    }
    expectLatenessByRule(oneByOne);
    const allAtOnce = newTempRoot().data;
    for (const file of files) dropStreamFile(allAtOnce, file.name, file.text);
    await runCliOk(['speed', '--once', '--data', allAtOnce, ...SPEED]);
    expectLatenessByRule(allAtOnce);
  });

  it('are the same after kill -9 at random moments, with files arriving while the speed layer is down', async () => {
    const data = newTempRoot().data;
    await ingestWithKills(data, seeded(77), ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', ...SPEED], 500);
    await runCliOk(['speed', '--once', '--data', data, ...SPEED]);
    await waitFor(() => realtimeThroughSeq(data) === FILES, 10_000, 'every file in the realtime head');
    expectLatenessByRule(data);
    const { total: lateRows, watermark } = lateByRule(loggedStreamFiles(data).map((e) => e.name));
    // Late rows are counted in totals like any other: per (user, bucket), every range answer is the recount's, from
    // the realtime view alone, after a batch recompute, and after compaction moved the files into master/.
    await expectServedRangesEqualRecount(data, 1, lateRows, watermark);
    await runCliOk(['batch', '--data', data, '--threads', '2', '--log-level', 'warn']);
    await expectServedRangesEqualRecount(data, 2, lateRows, watermark);
    await runCliOk(['compact', '--data', data, '--min-age', '0s', '--log-level', 'warn']);
    expect(compactedMasterFiles(data).length).toBeGreaterThan(0);
    await runCliOk(['batch', '--data', data, '--threads', '2', '--log-level', 'warn']);
    await expectServedRangesEqualRecount(data, 3, lateRows, watermark);
  });
});

interface WindowOnDisk {
  readonly info: Record<string, unknown>;
  readonly totals: ReturnType<typeof plain>;
}

/**
 * The event-time windows by the rule, recounted over the log's order: the window ending at e (a multiple of the slide)
 * holds the non-late purchases with second in [e − window, e); it is due after the first unit whose W reaches e, with
 * that unit's W and the late rows through it; only windows holding a purchase, up to the last W.
 */
function eventWindowsByRule(order: readonly string[], windowSeconds: number, slideSeconds: number): Map<number, WindowOnDisk> {
  let max = -Infinity;
  let lateRows = 0;
  const kept: { second: number; user: string; cents: bigint }[] = [];
  const dueAt = new Map<number, { watermark: number; lateRows: number }>();
  for (const name of order) {
    const file = files.find((f) => f.name === name)!;
    const threshold = max - ALLOWED_LATENESS;
    for (const row of file.rows) {
      if (row.second < threshold) lateRows++;
      else {
        const [user, type, amount] = row.text.split(',');
        if (type === 'purchase') kept.push({ second: row.second, user: user!, cents: referenceCents(amount!)! });
      }
      max = Math.max(max, row.second);
    }
    const watermark = max - ALLOWED_LATENESS;
    for (let e = Math.floor(watermark / slideSeconds) * slideSeconds; e > watermark - 1000 * slideSeconds && !dueAt.has(e); e -= slideSeconds)
      dueAt.set(e, { watermark, lateRows });
  }
  const windows = new Map<number, WindowOnDisk>();
  for (const [end, due] of dueAt) {
    const totals: Totals = new Map();
    for (const row of kept.filter((r) => r.second >= end - windowSeconds && r.second < end)) {
      const total = totals.get(row.user) ?? { count: 0, cents: 0 };
      totals.set(row.user, { count: total.count + 1, cents: total.cents + Number(row.cents) });
    }
    if (totals.size > 0) windows.set(end, { info: { time: 'event', start: end - windowSeconds, end, ...due }, totals: plain(totals) });
  }
  return windows;
}

function eventWindowsOnDisk(data: string): Map<number, WindowOnDisk> {
  const dir = path.join(data, 'serving', 'speed');
  const windows = new Map<number, WindowOnDisk>();
  for (const name of fs.readdirSync(dir).filter((n) => /^speed-\d+\.txt$/.test(n))) {
    const view = path.join(dir, name);
    // Its last key is its own check (crc32), proved by the reader's tests; the rest is what the window is.
    const { crc32: _check, ...info } = JSON.parse(fs.readFileSync(path.join(view, '_WINDOW.json'), 'utf8')) as Record<string, unknown>;
    windows.set(Number(/\d+/.exec(name)![0]) / 1000, {
      info,
      totals: plain(readPartTotals(view)),
    });
  }
  return windows;
}

function expectEventWindowsByRule(data: string, windowSeconds: number, slideSeconds: number): void {
  const expected = eventWindowsByRule(
    loggedStreamFiles(data).map((e) => e.name),
    windowSeconds,
    slideSeconds,
  );
  const onDisk = eventWindowsOnDisk(data);
  expect([...onDisk.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
  for (const [end, window] of expected) expect(onDisk.get(end), `window ending at ${end}`).toEqual(window);
  expect(expected.size).toBeGreaterThan(20);
}

const EVENT_TIME = ['--time', 'event', '--keep-views', '1000'];

const isoSecond = (second: number): string => new Date(second * 1000).toISOString().replace('.000Z', 'Z');

/**
 * `merge --once --view window` and `serve --view window` (its /status and /metrics) say they serve the newest window
 * the rule publishes: its folder, bounds, and the watermark and late rows it was published with.
 */
async function expectNewestWindowServed(data: string, windowSeconds: number, slideSeconds: number): Promise<void> {
  const expected = eventWindowsByRule(
    loggedStreamFiles(data).map((e) => e.name),
    windowSeconds,
    slideSeconds,
  );
  const end = Math.max(...expected.keys());
  const { start, watermark, lateRows } = expected.get(end)!.info as { start: number; watermark: number; lateRows: number };
  const name = `speed-${end * 1000}.txt`;
  const merge = await runCliOk(['merge', '--once', '--view', 'window', '--data', data, '--log-level', 'warn']);
  expect(merge.stdout).toContain(
    `window ${name}: event time [${isoSecond(start)}, ${isoSecond(end)}) of ${windowSeconds / 60}m, watermark ${isoSecond(watermark)}, ${lateRows} late rows`,
  );
  const serve = startCli(['serve', '--view', 'window', '--data', data, '--port', '0', '--log-level', 'warn']);
  children.push(serve.child);
  const url = await listeningUrl(serve);
  const status = await waitForValue(
    () => httpRequest(`${url}/status`),
    (answer) => answer.status === 200,
    20_000,
    '/status 200',
  );
  expect(jsonOf<{ window: unknown }>(status).window).toEqual({ name, time: 'event', start, end, watermark, late_rows: lateRows });
  const metrics = (await httpRequest(`${url}/metrics`)).text;
  expect(metrics).toContain(`\nlambdaflow_window_end_seconds{time="event"} ${end}\n`);
  expect(metrics).toContain(`\nlambdaflow_window_late_rows{time="event"} ${lateRows}\n`);
  serve.child.kill('SIGTERM');
  expect((await serve.result).code).toBe(0);
}

describe('speed --time event', () => {
  it('publishes every event-time window by the rule, whether files arrive one per micro-batch or all in one', async () => {
    const oneByOne = newTempRoot().data;
    for (const file of files) {
      dropStreamFile(oneByOne, file.name, file.text);
      await runCliOk(['speed', '--once', '--data', oneByOne, ...SPEED, ...EVENT_TIME]);
    }
    expectLatenessByRule(oneByOne);
    expectEventWindowsByRule(oneByOne, 60, 10);
    const allAtOnce = newTempRoot().data;
    for (const file of files) dropStreamFile(allAtOnce, file.name, file.text);
    await runCliOk(['speed', '--once', '--data', allAtOnce, ...SPEED, ...EVENT_TIME]);
    expectEventWindowsByRule(allAtOnce, 60, 10);
    await expectNewestWindowServed(allAtOnce, 60, 10);
  });

  it('publishes the same windows after kill -9 at random moments, with files arriving while the speed layer is down', async () => {
    const data = newTempRoot().data;
    const speedArgs = ['--batch-interval', '200ms', '--slide', '1s', '--window', '5s', ...SPEED, ...EVENT_TIME];
    // Longer runs than a slide, so windows are published between the saved states a restart goes on from.
    await ingestWithKills(data, seeded(78), speedArgs, 1500);
    await runCliOk(['speed', '--once', '--data', data, ...speedArgs]);
    expectLatenessByRule(data);
    expectEventWindowsByRule(data, 5, 1);
  });
});

/**
 * Starts `serve` on the folder, checks every range answer against the recount once it is ready, and the late rows and
 * watermark in /status and /metrics against the rule's, and stops it; and `merge --once --buckets` writes the
 * recount's (user, bucket) totals.
 */
async function expectServedRangesEqualRecount(data: string, seed: number, lateRows: number, watermark: number): Promise<void> {
  await runCliOk(['merge', '--once', '--buckets', '--data', data, '--log-level', 'warn']);
  const recount = recountDataFolder(data, { history: true, afterSeq: 0, throughSeq: Infinity });
  expect(fs.readFileSync(path.join(data, 'serving', 'view', 'merged_buckets.csv'), 'utf8')).toBe(
    ['user_id,bucket_start,purchase_count,purchase_amount_total', ...expectedBucketLines(recount.buckets)].map((line) => `${line}\n`).join(''),
  );
  const serve = startCli(['serve', '--data', data, '--port', '0', '--interval', '100ms', '--log-level', 'warn']);
  children.push(serve.child);
  const url = await listeningUrl(serve);
  await waitUntilReady(url);
  const { version, event_time } = jsonOf<{ version: number; event_time: unknown }>(await httpRequest(`${url}/status`));
  expect(event_time).toEqual({ watermark, late_rows: lateRows });
  const metrics = (await httpRequest(`${url}/metrics`)).text;
  expect(metrics).toContain(`\nlambdaflow_late_rows_total{stream="default"} ${lateRows}\n`);
  expect(metrics).toContain(`\nlambdaflow_event_time_watermark_seconds{stream="default"} ${watermark}\n`);
  await expectRangeAnswersEqualRecount(url, data, version, seeded(seed));
  serve.child.kill('SIGTERM');
  expect((await serve.result).code).toBe(0);
}
