// The serving layer as a service, end to end through the real CLI on temp folders: the HTTP API and /view.csv equal
// an independent recount of the master dataset (test/helpers/reference.ts), never the program's own verdict — after
// `all` stops, after it restarts, while lookups hammer it during batch swaps, and from the first consistent load on.

import fs from 'node:fs';
import path from 'node:path';
import { type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningCli, describeRun, errorLines, listeningUrl, requireBuild, startCli } from '../helpers/cli.js';
import { type ApiUser, apiCents, apiUsers, httpRequest, jsonOf } from '../helpers/http-client.js';
import { loggedStreamFiles, readMergedViewText } from '../helpers/outputs.js';
import {
  chunkText,
  dropStreamFile,
  ingestStreamFiles,
  publishBatchView,
  publishRealtimeView,
  waitFor,
  waitForValue,
  waitUntilReady,
  writeBatchInputs,
  writeRealtimeDeltas,
} from '../helpers/pipeline.js';
import { seeded } from '../helpers/prng.js';
import { expectedMergedViewText, recountMasterDataset } from '../helpers/reference.js';
import { expectRangeAnswersEqualRecount } from '../helpers/range-recount.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Short intervals everywhere, a batch recompute every 300 ms, any free port, few users. */
const FAST_ALL = [
  '--port',
  '0',
  '--threads',
  '2',
  '--batch-interval',
  '100ms',
  '--slide',
  '200ms',
  '--window',
  '1s',
  '--merge-interval',
  '200ms',
  '--batch-every',
  '300ms',
  '--log-level',
  'warn',
];

function start(args: string[]): RunningCli {
  requireBuild();
  const running = startCli(args, { timeoutMs: 55_000 });
  children.push(running.child);
  return running;
}

/** The clean end the README promises: exit 0 and no error line. */
async function expectCleanEnd(running: RunningCli): Promise<void> {
  const result = await running.result;
  expect(result.code, describeRun(result)).toBe(0);
  expect(errorLines(result.stderr)).toEqual([]);
}

/**
 * SIGTERM, then the clean end. Only for `serve`: `all` is stopped by its --duration here, because SIGTERM can kill
 * it outright when it lands during an atomic write on its main thread (src/cli/cli.ts listens with process.once,
 * and write-file-atomic's signal-exit then sees no other listener and re-raises the signal).
 */
async function stop(running: RunningCli): Promise<void> {
  running.child.kill('SIGTERM');
  await expectCleanEnd(running);
}

const batchViewLines = (running: RunningCli): number => (running.output().match(/^all: batch view batch-\d+/gm) ?? []).length;

function byValue(users: ApiUser[], by: 'amount' | 'count'): ApiUser[] {
  const value = (u: ApiUser): number => (by === 'amount' ? apiCents(u.purchase_amount_total) : u.purchase_count_total);
  return [...users].sort((a, b) => value(b) - value(a) || (a.user_id < b.user_id ? -1 : 1));
}

/**
 * Every read of the API on a service whose data no longer changes equals the recount: each user, the batch lookup,
 * both top lists, /status totals and /view.csv (byte for byte the expected merged view), all from one version.
 * merged_view.csv was removed before the service started, so once it is back it holds the service's own version.
 * Range answers equal the recount per (user, bucket), or are refused (`rangesRefused`: a batch view without buckets).
 */
async function expectApiEqualsRecount(url: string, data: string, rangesRefused = false): Promise<void> {
  await waitUntilReady(url);
  const expected = apiUsers(recountMasterDataset(data));
  expect(expected.length).toBeGreaterThan(10);
  const status = jsonOf<{ version: number; users: number; purchase_count_total: number; purchase_amount_total: string; event_time: unknown }>(
    await httpRequest(`${url}/status`),
  );
  const { version } = status;
  expect(status.users).toBe(expected.length);
  expect(status.purchase_count_total).toBe(expected.reduce((n, u) => n + u.purchase_count_total, 0));
  expect(apiCents(status.purchase_amount_total)).toBe(expected.reduce((n, u) => n + apiCents(u.purchase_amount_total), 0));

  const event_time = status.event_time;
  expect(event_time).toMatchObject({ late_rows: expect.any(Number) });
  for (const user of expected) expect(jsonOf(await httpRequest(`${url}/users/${encodeURIComponent(user.user_id)}`))).toEqual({ ...user, version, event_time });
  expect((await httpRequest(`${url}/users/not-a-user`)).status).toBe(404);
  const ids = expected.map((u) => `id=${encodeURIComponent(u.user_id)}`).join('&');
  expect(jsonOf(await httpRequest(`${url}/users?${ids}&id=not-a-user`))).toEqual({ version, users: expected, event_time });
  for (const by of ['amount', 'count'] as const) {
    expect(jsonOf(await httpRequest(`${url}/top?by=${by}&n=1000`))).toEqual({ version, by, users: byValue(expected, by).slice(0, 1000), event_time });
    expect(jsonOf(await httpRequest(`${url}/top?by=${by}&n=3`))).toEqual({ version, by, users: byValue(expected, by).slice(0, 3), event_time });
  }
  await expectRangeAnswersEqualRecount(url, data, version, seeded(version), rangesRefused);

  const csv = await httpRequest(`${url}/view.csv`);
  expect(csv.status).toBe(200);
  expect(csv.headers.get('x-view-version')).toBe(String(version));
  expect(csv.text).toBe(expectedMergedViewText(data));
  const mergedView = path.join(data, 'serving', 'view', 'merged_view.csv');
  await waitFor(() => fs.existsSync(mergedView), 20_000, 'merged_view.csv written by the service');
  expect(jsonOf(await httpRequest(`${url}/status`)).version, 'no change since: merged_view.csv holds the same version').toBe(version);
  expect(readMergedViewText(data)).toBe(csv.text);
}

/** Runs `all` for 4 s (its own --duration), with batch recomputes during the run. */
async function runAllWithRecomputes(data: string, seed: number): Promise<void> {
  const all = start([
    'all',
    '--data',
    data,
    ...FAST_ALL,
    '--duration',
    '4s',
    '--stream-interval',
    '100ms',
    '--rows-per-chunk',
    '20',
    '--users',
    '40',
    '--seed',
    String(seed),
  ]);
  const url = await listeningUrl(all);
  await waitUntilReady(url);
  await expectCleanEnd(all);
  expect(batchViewLines(all), 'batch recomputes during the run (one batch runs at start)').toBeGreaterThanOrEqual(3);
  // The README's invariant, on the file `all` wrote as it stopped.
  expect(readMergedViewText(data)).toBe(expectedMergedViewText(data));
}

/** Starts `serve` on the folder (merged_view.csv removed first, so the one that appears is its own) and checks its API. */
async function serveAndCheck(data: string): Promise<void> {
  fs.rmSync(path.join(data, 'serving', 'view', 'merged_view.csv'), { force: true });
  const serve = start(['serve', '--data', data, '--port', '0', '--interval', '100ms', '--log-level', 'warn']);
  await expectApiEqualsRecount(await listeningUrl(serve), data);
  await stop(serve);
}

describe('serve and all: the API equals an independent recount', () => {
  it('after `all` (with batch recomputes during the run) stops, and again after `all` restarts on the same folder', async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': chunkText(1, 400, 40) });
    await runAllWithRecomputes(data, 7);
    const firstRun = loggedStreamFiles(data).length;
    expect(firstRun).toBeGreaterThan(0);
    await serveAndCheck(data);

    await runAllWithRecomputes(data, 8);
    expect(loggedStreamFiles(data).length, 'the restarted run ingested more').toBeGreaterThan(firstRun);
    await serveAndCheck(data);
  });

  it('hammered with lookups while batch views swap: every answer is consistent with its version', async () => {
    const { data } = newTempRoot();
    const users = 20;
    writeBatchInputs(data, { 'history.csv': chunkText(1, 200, users) });
    // The generator writes one chunk and then waits an hour: the test feeds the stream itself, purchases without
    // refunds (chunkText's amounts are never negative), so every total can only grow with the seqs it reflects.
    // `all` ends by its --duration; the clients stop a little before.
    const all = start(['all', '--data', data, ...FAST_ALL, '--duration', '7s', '--stream-interval', '1h', '--rows-per-chunk', '5', '--users', String(users)]);
    const url = await listeningUrl(all);
    const hammerUntil = Date.now() + 5_500;

    let feeding = true;
    const feeder = (async () => {
      for (let i = 0; feeding; i++) {
        dropStreamFile(data, `feed-${String(i).padStart(5, '0')}.csv`, chunkText(100 + i, 30, users));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    interface Seen {
      readonly startedAt: number;
      readonly endedAt: number;
      readonly status: number;
      readonly body: Record<string, unknown>;
    }
    const userAnswers = new Map<string, Seen[]>();
    const statusAnswers: Seen[] = [];
    const other: Seen[] = [];
    const request = async (route: string): Promise<Seen> => {
      const startedAt = performance.now();
      const answer = await httpRequest(`${url}${route}`, { timeoutMs: 20_000 });
      return { startedAt, endedAt: performance.now(), status: answer.status, body: jsonOf(answer) };
    };
    const batchViewsSeen = (): number => new Set(statusAnswers.filter((s) => s.status === 200).map((s) => s.body.batch_view)).size;
    const versionsSeen = (): number => new Set(statusAnswers.filter((s) => s.status === 200).map((s) => s.body.version)).size;

    /** /view.csv bodies by the version they carry (X-View-Version). */
    const csvAnswers = new Map<number, string[]>();
    const viewCsv = async (abandon: boolean): Promise<void> => {
      const controller = new AbortController();
      const response = await fetch(`${url}/view.csv`, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(20_000)]) });
      if (abandon) {
        // A client that goes away without reading the body.
        controller.abort();
        return;
      }
      const body = await response.text();
      if (response.status === 200)
        csvAnswers.set(Number(response.headers.get('x-view-version')), [...(csvAnswers.get(Number(response.headers.get('x-view-version'))) ?? []), body]);
      // Past its concurrency limit a download is refused at once, saying when to come back: an answer, not a failure.
      else if (response.status !== 429 || response.headers.get('retry-after') !== '1')
        other.push({ startedAt: 0, endedAt: 0, status: response.status, body: { text: body } });
    };

    const client = async (seed: number): Promise<void> => {
      const random = seeded(seed);
      for (let i = 0; Date.now() < hammerUntil; i++) {
        if (i % 4 === 3) {
          statusAnswers.push(await request('/status'));
          continue;
        }
        if (i % 16 === 6 && statusAnswers.some((s) => s.status === 200)) {
          await viewCsv(i % 32 === 6).catch((error: unknown) => {
            if (!(error instanceof Error && error.name === 'AbortError')) throw error;
          });
          continue;
        }
        const user = `u${random.int(users)}`;
        const seen = await request(`/users/${user}`);
        if (seen.status === 503 || seen.status === 200 || seen.status === 404) userAnswers.set(user, [...(userAnswers.get(user) ?? []), seen]);
        else other.push(seen);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => client(1_000 + i)));
    feeding = false;
    await feeder;
    await expectCleanEnd(all);
    // Lookups really did overlap batch swaps and realtime updates.
    expect(batchViewsSeen(), 'batch views seen by /status (two swaps at least)').toBeGreaterThanOrEqual(3);
    expect(versionsSeen()).toBeGreaterThanOrEqual(10);
    expect([...userAnswers.values()].flat().length).toBeGreaterThanOrEqual(200);

    // No 5xx but 503, and 503 only before the service first answered from a loaded view.
    const answered = [...[...userAnswers.values()].flat(), ...statusAnswers, ...other];
    expect(other, 'answers other than 200, 404 (absent user) or 503').toEqual([]);
    expect(answered.filter((s) => s.status >= 500 && s.status !== 503)).toEqual([]);
    const firstLoaded = Math.min(...answered.filter((s) => s.status !== 503).map((s) => s.endedAt));
    expect(
      answered.filter((s) => s.status === 503 && s.startedAt > firstLoaded),
      '503 after the service was ready',
    ).toEqual([]);

    // Per user: one answer per version, and totals that never go down as versions go up.
    for (const [user, answers] of userAnswers) {
      const byVersion = new Map<number, { count: number; cents: number }>();
      for (const { status, body } of answers.filter((a) => a.status !== 503)) {
        const totals =
          status === 404 ? { count: 0, cents: 0 } : { count: body.purchase_count_total as number, cents: apiCents(body.purchase_amount_total as string) };
        const version = body.version as number;
        expect(byVersion.get(version) ?? totals, `${user}: two different answers for version ${version}`).toEqual(totals);
        byVersion.set(version, totals);
      }
      const ordered = [...byVersion].sort(([a], [b]) => a - b);
      for (let i = 1; i < ordered.length; i++) {
        const [[v1, t1], [v2, t2]] = [ordered[i - 1]!, ordered[i]!];
        expect(t2.count >= t1.count && t2.cents >= t1.cents, `${user}: version ${v1} had ${JSON.stringify(t1)}, version ${v2} ${JSON.stringify(t2)}`).toBe(
          true,
        );
      }
    }
    // /status: totals and the seq reflected never go down as versions go up; one answer per version.
    const statuses = new Map<number, Record<string, unknown>>();
    for (const { body } of statusAnswers.filter((s) => s.status === 200)) {
      const key = {
        through_seq: body.through_seq,
        users: body.users,
        purchases: body.purchase_count_total,
        amount: body.purchase_amount_total,
        batch_view: body.batch_view,
      };
      expect(statuses.get(body.version as number) ?? key, `two /status answers for version ${String(body.version)}`).toEqual(key);
      statuses.set(body.version as number, key);
    }
    const ordered = [...statuses].sort(([a], [b]) => a - b);
    for (let i = 1; i < ordered.length; i++) {
      const [[v1, s1], [v2, s2]] = [ordered[i - 1]!, ordered[i]!];
      const grew =
        (['through_seq', 'users', 'purchases'] as const).every((k) => (s2[k] as number) >= (s1[k] as number)) &&
        apiCents(s2.amount as string) >= apiCents(s1.amount as string);
      expect(grew, `version ${v1}: ${JSON.stringify(s1)}; version ${v2}: ${JSON.stringify(s2)}`).toBe(true);
    }
    // /view.csv: one body per version, whose totals are that version's /status totals.
    expect(csvAnswers.size, 'versions of /view.csv read').toBeGreaterThanOrEqual(2);
    let matched = 0;
    for (const [version, bodies] of csvAnswers) {
      expect(new Set(bodies).size, `two different /view.csv bodies for version ${version}`).toBe(1);
      const rows = bodies[0]!
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((line) => line.split(','));
      const status = statuses.get(version);
      if (!status) continue;
      matched++;
      const totals = {
        users: rows.length,
        purchases: rows.reduce((n, row) => n + Number(row[1]), 0),
        cents: rows.reduce((n, row) => n + apiCents(row[2]!), 0),
      };
      expect(totals, `/view.csv of version ${version}`).toEqual({ users: status.users, purchases: status.purchases, cents: apiCents(status.amount as string) });
    }
    expect(matched, 'versions read both at /view.csv and /status').toBeGreaterThanOrEqual(1);
    // And what it ended with is exact, and no export file is left beside it (abandoned downloads included).
    expect(readMergedViewText(data)).toBe(expectedMergedViewText(data));
    expect(fs.readdirSync(path.join(data, 'serving', 'view'))).toEqual(['merged_view.csv']);
  });

  it('/readyz is 503 while the first consistent snapshot cannot be loaded (deltas missing), then 200 and exact', async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': chunkText(1, 300, 30) });
    ingestStreamFiles(data, [chunkText(2, 40, 30), chunkText(3, 40, 30), chunkText(4, 40, 30)]);
    publishBatchView(data, 2);
    // Built against no batch view: merging it with the batch view (watermark 2) needs the deltas of seqs 1..2.
    publishRealtimeView(data, 0, 3);
    writeRealtimeDeltas(data, [3]);
    const serve = start(['serve', '--data', data, '--port', '0', '--interval', '100ms', '--log-level', 'warn']);
    const url = await listeningUrl(serve);

    // The failed first load is logged once, though the service retries every second until the deltas exist.
    const failedLoads = (): number => (serve.output().match(/cannot load a consistent view yet/g) ?? []).length;
    await waitFor(() => failedLoads() >= 1, 20_000, 'a failed first load');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(failedLoads()).toBe(1);
    expect(serve.output()).toMatch(/realtime deltas for ingest seq 1\.\.2 are incomplete \(missing seqs 1\.\.2\)/);
    for (const route of ['/readyz', '/users/u1', '/status', '/top', '/view.csv']) {
      const answer = await httpRequest(`${url}${route}`);
      expect(answer.status, route).toBe(503);
      expect(answer.headers.get('retry-after'), route).toBe('1');
    }
    expect((await httpRequest(`${url}/healthz`)).status).toBe(200);
    expect(serve.child.exitCode).toBeNull();

    writeRealtimeDeltas(data, [1, 2]);
    await waitForValue(
      () => httpRequest(`${url}/readyz`).then((a) => a.status),
      (status) => status === 200,
      20_000,
      '/readyz 200 once the deltas exist',
    );
    // publishBatchView writes a view from before buckets: all-time answers only.
    await expectApiEqualsRecount(url, data, true);
    await stop(serve);
  });
});
