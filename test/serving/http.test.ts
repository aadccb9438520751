// The HTTP API's route handlers in-process (fastify inject) over a real ServingLayer on a temp data folder whose
// views are published by hand: every route's shape, amounts as two-decimal strings, versions, ETags, min_version,
// readiness, and the whole bad-request corpus answered with a 4xx naming what was wrong; and the /events heartbeat
// on the injected clock, over a stand-in for the serving layer's reads.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataLayout } from '../../src/io/files/layout.js';
import { createLogger } from '../../src/io/runtime/logger.js';
import { systemClock } from '../../src/io/runtime/system-clock.js';
import { type SnapshotStatus } from '../../src/serving/current-version.js';
import { DEFAULT_BUCKET_SECONDS } from '../../src/core/event-time.js';
import { buildHttpApp, listen } from '../../src/serving/http.js';
import { ServingStore } from '../../src/serving/store.js';
import { ServingLayer } from '../../src/serving/serving-layer.js';
import { type ServingReads } from '../../src/serving/serving-reads.js';
import { type MergeViewKind } from '../../src/serving/view-kind.js';
import { requireBuild } from '../helpers/cli.js';
import { apiUsers } from '../helpers/http-client.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { readMergedViewText } from '../helpers/outputs.js';
import {
  ingestStreamFiles,
  publishBatchView,
  publishRealtimeHead,
  publishRealtimeView,
  waitFor,
  writeBatchInputs,
  writeRealtimeDeltas,
} from '../helpers/pipeline.js';
import { expectedMergedViewText, recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

/** The body of every error answer. */
interface ErrorBody {
  readonly error: string;
}

const newTempRoot = tempRoots('file');

const HISTORY =
  'user_id,event_type,amount,unix_timestamp\n' +
  'alice,purchase,10.50,1700000000\nalice,view,0,1700000001\nbob,purchase,3,1700000002\n' +
  'carol,purchase,0.01,1700000003\n'.repeat(5) +
  'o"hara,purchase,7.00,1700000004\nzoë,purchase,100,1700000005\n';
/** Seq 1 (absorbed by the batch view), seq 2 (realtime only). */
const STREAM = ['alice,purchase,1.25,1700000010\ndave,purchase,-2.00,1700000011\n', 'erin,purchase,0.99,1700000020\nbob,purchase,0.00,1700000021\n'];

/** What the fixture serves, worked out by hand: counts are numbers, amounts strings with exactly two decimals. */
/** The event clock of a view whose speed layer has said none (no event time read yet). */
const NO_EVENT_TIME = { watermark: null, late_rows: 0 };

const EXPECTED_USERS = [
  { user_id: 'alice', purchase_count_total: 2, purchase_amount_total: '11.75' },
  { user_id: 'bob', purchase_count_total: 2, purchase_amount_total: '3.00' },
  { user_id: 'carol', purchase_count_total: 5, purchase_amount_total: '0.05' },
  { user_id: 'dave', purchase_count_total: 1, purchase_amount_total: '-2.00' },
  { user_id: 'erin', purchase_count_total: 1, purchase_amount_total: '0.99' },
  { user_id: 'o"hara', purchase_count_total: 1, purchase_amount_total: '7.00' },
  { user_id: 'zoë', purchase_count_total: 1, purchase_amount_total: '100.00' },
];

/**
 * A data folder the serving layer can serve: history, seqs 1..2 logged, a batch view with watermark 1 and a realtime
 * view of seq 2 relative to it. `realtimeWatermark` 0 makes the realtime view hold seqs 1..2, so a load must subtract
 * seq 1's deltas; `deltas` says which delta files exist.
 */
function writeFixture(data: string, realtimeWatermark: number, deltas: number[]): void {
  writeBatchInputs(data, { 'history.csv': HISTORY });
  ingestStreamFiles(data, STREAM);
  publishBatchView(data, 1);
  publishRealtimeView(data, realtimeWatermark, 2);
  writeRealtimeDeltas(data, deltas);
}

interface Service {
  readonly data: string;
  readonly layer: ServingLayer;
  readonly app: FastifyInstance;
  readonly warnings: string[];
  /** Versions merged_view.csv was written with, in order. */
  readonly csvVersions: number[];
  start(): void;
  stop(): Promise<void>;
}

function openService(data: string, view: MergeViewKind = 'exact'): Service {
  const warnings: string[] = [];
  const csvVersions: number[] = [];
  const layer = ServingLayer.open({
    layout: dataLayout(data),
    logger: createLogger('warn', (line) => warnings.push(line)),
    clock: systemClock,
    view,
    bucketSeconds: DEFAULT_BUCKET_SECONDS,
    csvIntervalMs: 20,
    pollMs: 20,
    onCsvWritten: (status) => csvVersions.push(status.version),
  });
  const app = buildHttpApp(layer, systemClock);
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  return {
    data,
    layer,
    app,
    warnings,
    csvVersions,
    start: () => void (running = layer.run(controller.signal)),
    async stop() {
      controller.abort();
      await (running ?? layer.close());
      await app.close();
    },
  };
}

/** A service on a data folder with history, a batch view absorbing nothing and an empty realtime view, loaded. */
async function openLoadedService(): Promise<Service> {
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'history.csv': HISTORY });
  publishBatchView(data, 0);
  publishRealtimeView(data, 0, 0);
  const service = openService(data);
  service.start();
  await waitFor(() => service.layer.store.current !== undefined, 20_000, 'the first load');
  return service;
}

const get = (app: FastifyInstance, url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });
const userUrl = (id: string): string => `/users/${encodeURIComponent(id)}`;

beforeAll(() => requireBuild()); // the serving threads run from dist/

describe('before the first consistent snapshot', () => {
  let service: Service;
  beforeAll(() => {
    const { data } = newTempRoot();
    writeFixture(data, 0, [2]); // seq 1's deltas missing: batch + realtime cannot be made exact yet
    service = openService(data);
  });
  afterAll(() => service.stop());

  it('answers /readyz 503 and reads 503 with Retry-After while the first load keeps failing; /healthz 200 throughout; 200 once it loads', async () => {
    const { app, layer, warnings } = service;
    const notReady = async (): Promise<void> => {
      const readyz = await get(app, '/readyz');
      expect(readyz.statusCode).toBe(503);
      expect(readyz.json()).toMatchObject({ ready: false, version: null });
      expect(readyz.headers['retry-after']).toBe('1');
      for (const url of ['/users/alice', '/users?id=alice', '/top', '/status', '/view.csv', '/events']) {
        const answer = await get(app, url);
        expect(answer.statusCode, url).toBe(503);
        expect(answer.headers['retry-after'], url).toBe('1');
        expect(answer.json(), url).toMatchObject({ version: null });
      }
      const healthz = await get(app, '/healthz');
      expect(healthz.statusCode).toBe(200);
      expect(healthz.json()).toEqual({ ok: true, version: null });
      expect((await get(app, '/metrics')).body).toMatch(/^lambdaflow_ready 0$/m);
    };
    await notReady(); // nothing loaded yet
    service.start();
    // The failed load is logged once: the layer retries every second, and cannot succeed until the deltas exist.
    await waitFor(() => warnings.some((w) => w.includes('cannot load a consistent view yet')), 20_000, 'a failed load attempt');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(warnings).toEqual([expect.stringMatching(/realtime deltas for ingest seq 1\.\.1 are incomplete \(missing seq 1\)/)]);
    await notReady();
    expect(layer.isReady).toBe(false);

    writeRealtimeDeltas(service.data, [1]);
    await waitFor(() => layer.isReady, 20_000, 'the first consistent load');
    const readyz = await get(app, '/readyz');
    expect(readyz.statusCode).toBe(200);
    expect(readyz.json()).toEqual({ ready: true, version: 1 });
    expect((await get(app, '/users/alice')).json()).toEqual({ ...EXPECTED_USERS[0], version: 1, event_time: NO_EVENT_TIME });
  });
});

describe('routes on a loaded view', () => {
  let service: Service;
  let app: FastifyInstance;
  beforeAll(async () => {
    const { data } = newTempRoot();
    writeFixture(data, 1, [1, 2]);
    service = openService(data);
    app = service.app;
    service.start();
    await waitFor(() => service.layer.isReady, 20_000, 'the first load');
  });
  afterAll(() => service.stop());

  it('the fixture is what an independent recount says (so the hand-written expectations are the truth)', () => {
    expect(EXPECTED_USERS).toEqual(apiUsers(recountMasterDataset(service.data)));
  });

  it('GET /users/:id: totals with a two-decimal amount string, the version, and a version ETag; 404 JSON for an absent user', async () => {
    for (const user of EXPECTED_USERS) {
      const answer = await get(app, userUrl(user.user_id));
      expect(answer.statusCode, user.user_id).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.json()).toEqual({ ...user, version: 1, event_time: NO_EVENT_TIME });
      expect(answer.headers.etag).toBe('W/"v1"');
    }
    const absent = await get(app, '/users/nobody');
    expect(absent.statusCode).toBe(404);
    expect(absent.json()).toEqual({ error: expect.stringContaining('nobody'), version: 1 });
    // HEAD: the same head, no body.
    const head = await app.inject({ method: 'HEAD', url: '/users/alice' });
    expect(head.statusCode).toBe(200);
    expect(head.headers.etag).toBe('W/"v1"');
    expect(head.body).toBe('');
  });

  it('GET /users?id=…: the users found, in the order asked, with the version; one id works too', async () => {
    const answer = await get(app, '/users?id=zo%C3%AB&id=nobody&id=alice&id=o%22hara');
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({ version: 1, event_time: NO_EVENT_TIME, users: [EXPECTED_USERS[6], EXPECTED_USERS[0], EXPECTED_USERS[5]] });
    expect((await get(app, '/users?id=bob')).json()).toEqual({ version: 1, event_time: NO_EVENT_TIME, users: [EXPECTED_USERS[1]] });
    const thousand = Array.from({ length: 1000 }, (_, i) => `id=${i === 999 ? 'carol' : `x${i}`}`).join('&');
    expect((await get(app, `/users?${thousand}`)).json()).toEqual({ version: 1, event_time: NO_EVENT_TIME, users: [EXPECTED_USERS[2]] });
  });

  it('GET /top: descending by amount (default, n 10) or count, ties by user id ascending, n from 1 to 1000', async () => {
    const [alice, bob, carol, dave, erin, ohara, zoe] = EXPECTED_USERS;
    expect((await get(app, '/top')).json()).toEqual({
      version: 1,
      event_time: NO_EVENT_TIME,
      by: 'amount',
      users: [zoe, alice, ohara, bob, erin, carol, dave],
    });
    expect((await get(app, '/top?by=count&n=7')).json()).toEqual({
      version: 1,
      event_time: NO_EVENT_TIME,
      by: 'count',
      users: [carol, alice, bob, dave, erin, ohara, zoe],
    });
    expect((await get(app, '/top?by=count&n=3')).json()).toEqual({ version: 1, event_time: NO_EVENT_TIME, by: 'count', users: [carol, alice, bob] });
    expect((await get(app, '/top?n=1')).json()).toEqual({ version: 1, event_time: NO_EVENT_TIME, by: 'amount', users: [zoe] });
    expect((await get(app, '/top?n=1000')).json<{ users: unknown[] }>().users).toHaveLength(7);
  });

  it('GET /view.csv: the bytes of merged_view.csv of the same version (X-View-Version), which equal the recount', async () => {
    await waitFor(() => service.csvVersions.at(-1) === service.layer.store.current!.version, 20_000, 'merged_view.csv of the current version');
    const answer = await get(app, '/view.csv');
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/csv/);
    expect(answer.headers['x-view-version']).toBe(String(service.csvVersions.at(-1)));
    expect(answer.rawPayload.equals(fs.readFileSync(path.join(service.data, 'serving', 'view', 'merged_view.csv')))).toBe(true);
    const expected = expectedMergedViewText(service.data);
    expect(answer.body).toBe(expected);
    expect(readMergedViewText(service.data)).toBe(expected);
    expect(answer.body).toContain('"o""hara",1,7.00\n'); // RFC 4180 quoting
    expect(answer.headers['content-length']).toBe(String(answer.rawPayload.length));
    // HEAD: the same head, no body, and the file is not held by a stream no one reads (the view folder keeps only
    // merged_view.csv and the service's one current file).
    for (let i = 0; i < 3; i++) {
      const head = await app.inject({ method: 'HEAD', url: '/view.csv' });
      expect(head.statusCode).toBe(200);
      expect(head.headers['content-length']).toBe(String(answer.rawPayload.length));
      expect(head.headers['x-view-version']).toBe(answer.headers['x-view-version']);
      expect(head.rawPayload.length).toBe(0);
    }
    const viewFolder = fs.readdirSync(path.join(service.data, 'serving', 'view'));
    expect(viewFolder.filter((name) => name !== 'merged_view.csv').length).toBeLessThanOrEqual(1);
  });

  it('GET /status: the version, its position in the stream and its totals (amount as a string)', async () => {
    const answer = await get(app, '/status');
    expect(answer.statusCode).toBe(200);
    const body = answer.json<{ built_at: string; staleness_ms: unknown }>();
    expect(body).toMatchObject({
      version: 1,
      batch_view: expect.stringMatching(/^batch-\d+$/),
      batch_watermark: 1,
      through_seq: 2,
      users: 7,
      purchase_count_total: 13,
      purchase_amount_total: '120.79',
      bad_rows: { batch: 0, stream: 0 },
      change: 'load',
    });
    expect(Date.parse(body.built_at)).not.toBeNaN();
    expect(typeof body.staleness_ms).toBe('number');
  });

  it('GET /healthz and /readyz: 200 once loaded', async () => {
    expect((await get(app, '/healthz')).json()).toEqual({ ok: true, version: 1 });
    const readyz = await get(app, '/readyz');
    expect(readyz.statusCode).toBe(200);
    expect(readyz.json()).toEqual({ ready: true, version: 1 });
  });

  it('GET /metrics: Prometheus text with the view position and per-route durations, labelled by route and status class, never by user', async () => {
    await get(app, '/users/alice');
    await get(app, '/users/nobody');
    await get(app, '/no/such/route');
    const answer = await get(app, '/metrics');
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain/);
    expect(answer.body).toMatch(/^lambdaflow_view_version 1$/m);
    expect(answer.body).toMatch(/^lambdaflow_ready 1$/m);
    expect(answer.body).toMatch(/^lambdaflow_ingest_seq 2$/m);
    expect(answer.body).toMatch(/^lambdaflow_http_request_duration_seconds_count\{route="\/users\/:id",method="GET",status_class="2xx"\} \d+$/m);
    expect(answer.body).toMatch(/^lambdaflow_http_request_duration_seconds_count\{route="\/users\/:id",method="GET",status_class="4xx"\} \d+$/m);
    expect(answer.body).toMatch(/route="unmatched"/);
    expect(answer.body).not.toMatch(/alice|nobody|no\/such/);
  });

  it('HEAD /events: the head of the stream, then the end (it used to send nothing and hold the connection)', async () => {
    const answer = await Promise.race([
      app.inject({ method: 'HEAD', url: '/events' }),
      new Promise<'no answer'>((resolve) => setTimeout(() => resolve('no answer'), 5_000)),
    ]);
    expect(answer).not.toBe('no answer');
    if (answer === 'no answer') return;
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(answer.body).toBe('');
  });

  it('GET /: the live page', async () => {
    const answer = await get(app, '/');
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
  });

  const longId = 'a'.repeat(1025);
  const thousandAndOne = Array.from({ length: 1001 }, (_, i) => `id=u${i}`).join('&');
  it.each([
    ['n not a number', '/top?n=abc', 'n'],
    ['n = 0', '/top?n=0', 'n'],
    ['n = 1001', '/top?n=1001', 'n'],
    ['n not an integer', '/top?n=1.5', 'n'],
    ['n empty', '/top?n=', 'n'],
    ['n given twice', '/top?n=1&n=2', 'n'],
    ['by unknown', '/top?by=x', 'by'],
    ['by given twice', '/top?by=amount&by=count', 'by'],
    ['1,001 ids', `/users?${thousandAndOne}`, 'id'],
    ['no id', '/users', 'id'],
    ['an empty id', '/users?id=', 'id'],
    ['an empty path id', '/users/', 'id'],
    ['a 1,025-byte path id', `/users/${longId}`, 'id'],
    ['a 1,026-byte path id of 2-byte characters', `/users/${'%C3%A9'.repeat(513)}`, 'id'],
    ['a 1,025-byte query id', `/users?id=ok&id=${longId}`, 'id'],
    ['a path id past the router parameter limit (13,000 bytes)', `/users/${'a'.repeat(13_000)}`, 'id'],
    ['a path id with a C0 control character', '/users/a%01b', 'id'],
    ['a path id with a newline', '/users/a%0Ab', 'id'],
    ['a path id with DEL', '/users/a%7Fb', 'id'],
    ['a path id with a C1 control character', '/users/a%C2%85b', 'id'],
    ['a query id with NUL', '/users?id=a%00b', 'id'],
    ['min_version negative', '/users/alice?min_version=-1', 'min_version'],
    ['min_version not a number', '/status?min_version=soon', 'min_version'],
    ['from without to', '/users/alice?from=3600', 'to'],
    ['to without from', '/series?to=3600', 'from'],
    ['from not a time', '/users/alice?from=yesterday&to=3600', 'from'],
    ['from in exponent form', '/users/alice?from=1e3&to=3600', 'from'],
    ['an ISO time with an offset other than UTC', '/top?from=2026-12-07T10:00:00%2B01:00&to=2026-12-08T00:00:00Z', 'from'],
    ['from not on a bucket bound', '/users/alice?from=1800&to=7200', 'from'],
    ['to not on a bucket bound', '/series?from=0&to=5400', 'to'],
    ['from equal to to', '/users/alice?from=3600&to=3600', 'from'],
    ['from after to', '/top?from=7200&to=3600', 'from'],
    ['a step that is not whole buckets', '/series?from=0&to=86400&step=90m', 'step'],
    ['a step of zero', '/users/alice/series?from=0&to=86400&step=0s', 'step'],
    ['more than 10,000 points', '/series?from=0&to=36003600&step=1h', 'step'],
    // Regressions: the validator coerced these into numbers (n=Infinity answered every user, min_version=1e400 a 503).
    ['n as Infinity', '/top?n=Infinity', 'n'],
    ['n as -Infinity', '/top?n=-Infinity', 'n'],
    ['n in hex', '/top?n=0x10', 'n'],
    ['n in binary', '/top?n=0b11', 'n'],
    ['n in exponent form', '/top?n=1e2', 'n'],
    ['n with a fraction', '/top?n=2.0', 'n'],
    ['n with a plus sign', '/top?n=%2B5', 'n'],
    ['n with leading zeros', '/top?n=010', 'n'],
    ['n given twice', '/top?n=1&n=2', 'n'],
    ['min_version in exponent form, past any version', '/users/alice?min_version=1e400', 'min_version'],
    ['min_version of 16 digits, past any version', '/status?min_version=1000000000000000', 'min_version'],
  ])('400 JSON naming the parameter: %s', async (_name, url, parameter) => {
    const answer = await get(app, url);
    expect(answer.statusCode).toBe(400);
    const body = answer.json<ErrorBody>();
    expect(body).toMatchObject({ parameter, version: 1 });
    expect(body.error).toMatch(new RegExp(`^bad parameter ${parameter}: `));
    expect(answer.body.length, 'the error does not echo a long input back').toBeLessThan(300);
  });

  it.each([
    ['/top?limit=5', 'limit', '/top takes min_version, by, n, from, to'],
    ['/users/alice?foo=1', 'foo', '/users/:id takes min_version, from, to'],
    ['/status?x=1', 'x', '/status takes min_version'],
    ['/view.csv?min_versoin=1', 'min_versoin', '/view.csv takes min_version'],
  ])('regression: an unknown parameter (%s) is a 400 naming it and what the route takes; it used to be ignored', async (url, parameter, takes) => {
    const answer = await get(app, url);
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toEqual({ error: `unknown parameter ${parameter} (${takes})`, parameter, version: 1 });
  });

  it('heavy answers past their limit (2 downloads of /view.csv, 2 range top-Ns) are 429 with Retry-After at once; lookups are not held up', async () => {
    // The same layer, with its heavy reads held open until the test lets them go.
    const gates: (() => void)[] = [];
    const held = <T>(read: () => Promise<T>): Promise<T> => new Promise<void>((resolve) => gates.push(resolve)).then(read);
    const layer = service.layer;
    // This fixture's view has no buckets: the held range top-N answers an empty list of the current version.
    const r = layer.ranges;
    const ranges = {
      user: r.user.bind(r),
      userPoints: r.userPoints.bind(r),
      points: r.points.bind(r),
      refusal: () => undefined,
      top: () => held(async () => ({ status: layer.current!, users: [] })),
    };
    const reads: ServingReads = Object.create(layer, { ranges: { value: ranges }, csv: { value: () => held(() => layer.csv()) } });
    const heldApp = buildHttpApp(reads, systemClock);
    try {
      for (const url of ['/view.csv', '/top?from=0&to=7200']) {
        const first = [get(heldApp, url), get(heldApp, url)];
        await waitFor(() => gates.length === 2, 5_000, 'two answers under way');
        const third = await get(heldApp, url);
        expect(third.statusCode, third.body).toBe(429);
        expect(third.headers['retry-after']).toBe('1');
        expect(third.json<ErrorBody>().error).toMatch(/^2 .* are being answered already: try again in a second$/);
        expect((await get(heldApp, '/users/alice')).statusCode, 'a lookup meanwhile').toBe(200);
        for (const open of gates.splice(0)) open();
        expect((await Promise.all(first)).map((a) => a.statusCode)).toEqual([200, 200]);
        const again = get(heldApp, url);
        await waitFor(() => gates.length === 1, 5_000, 'the next answer under way');
        gates.splice(0)[0]!();
        expect((await again).statusCode, 'a slot is free again once answered').toBe(200);
      }
    } finally {
      for (const open of gates.splice(0)) open();
      await heldApp.close();
    }
  });

  it('a range not on bucket bounds: the message names the bucket size and the nearest aligned bounds', async () => {
    const answer = await get(app, '/users/alice?from=1800&to=7200');
    expect(answer.json<ErrorBody>().error).toBe(
      'bad parameter from: from=1800 is not aligned to the 1h buckets: the nearest aligned bounds are 0 (1970-01-01T00:00:00Z) and 3600 (1970-01-01T01:00:00Z)',
    );
    expect((await get(app, '/users/alice?from=2026-12-07T10:00:00Z&to=2026-12-07T10:30:00Z')).json<ErrorBody>().error).toMatch(
      /to=1796639400 is not aligned to the 1h buckets: the nearest aligned bounds are 1796637600 \(2026-12-07T10:00:00Z\) and 1796641200 \(2026-12-07T11:00:00Z\)/,
    );
  });

  it('a batch view without buckets answers all-time questions, and 409 to every range question, saying to run batch', async () => {
    for (const url of ['/users/alice?from=0&to=3600', '/users/alice/series?from=0&to=7200&step=1h', '/series?from=0&to=3600', '/top?from=0&to=3600&by=count']) {
      const answer = await get(app, url);
      expect(answer.statusCode, url).toBe(409);
      expect(answer.json(), url).toMatchObject({ error: expect.stringMatching(/has no per-bucket totals of 1h .*run batch to recompute it/), version: 1 });
    }
    expect((await get(app, '/users/alice')).statusCode).toBe(200);
  });

  it.each([
    ['bad percent-encoding', '/users/%ZZ'],
    ['a truncated escape', '/users/alice%'],
    ['an escape that is not UTF-8', '/users/%C3%28'],
  ])('400 JSON for a malformed URL: %s', async (_name, url) => {
    const answer = await get(app, url);
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ error: expect.stringMatching(/^bad request/), version: 1 });
  });

  it.each(['/nope', '/users/alice/orders', '//', '/users//alice', '/view.json'])('404 JSON for an unknown route: %s', async (url) => {
    const answer = await get(app, url);
    expect(answer.statusCode).toBe(404);
    expect(answer.json()).toEqual({ error: expect.stringContaining('no route'), version: 1 });
  });

  // Whatever the body: the method alone decides, before any body is read (a bad or huge body used to get 400 or 413).
  const bodies: [string, string | undefined, string | undefined][] = [
    ['no body', undefined, undefined],
    ['a JSON body', 'application/json', '{"x":1}'],
    ['an empty JSON body', 'application/json', undefined],
    ['broken JSON', 'application/json', '{bad'],
    ['an unknown content type', 'text/xml', '<a/>'],
    ['a 2 MiB body', 'application/octet-stream', 'x'.repeat(2 << 20)],
  ];
  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const)(
    '405 JSON with Allow: GET, HEAD for %s, on routes and elsewhere, whatever the body',
    async (method) => {
      for (const url of ['/users/alice', '/users?id=alice', '/top', '/view.csv', '/status', '/events', '/nope']) {
        for (const [what, type, payload] of bodies) {
          const answer = await app.inject({ method, url, payload, headers: type ? { 'content-type': type } : {} });
          expect(answer.statusCode, `${method} ${url} with ${what}`).toBe(405);
          expect(answer.headers.allow).toBe('GET, HEAD');
          expect(answer.json()).toEqual({ error: `method ${method} not allowed`, version: 1 });
        }
      }
    },
  );

  // Last: it publishes seq 3, so the view moves to version 2.
  it('versions: If-None-Match with the current ETag → 304; min_version ahead → 503 with Retry-After until that version is served', async () => {
    const first = await get(app, '/users/alice');
    expect(first.statusCode).toBe(200);
    const etag = first.headers.etag as string;
    const unchanged = await get(app, '/users/alice', { 'if-none-match': etag });
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.body).toBe('');
    expect(unchanged.headers.etag).toBe(etag);
    // A precondition only applies to what would be a 2xx (RFC 9110 §13.2.1): an absent user stays a 404.
    expect((await get(app, '/users/nobody', { 'if-none-match': etag })).statusCode).toBe(404);
    for (const url of [
      '/users/alice?min_version=2',
      '/users?id=alice&min_version=2',
      '/top?min_version=2',
      '/status?min_version=2',
      '/view.csv?min_version=2',
    ]) {
      const ahead = await get(app, url);
      expect(ahead.statusCode, url).toBe(503);
      expect(ahead.headers['retry-after'], url).toBe('1');
      expect(ahead.json(), url).toMatchObject({ min_version: 2, version: 1 });
    }
    expect((await get(app, '/users/alice?min_version=1')).statusCode).toBe(200);

    const [seq] = ingestStreamFiles(service.data, ['alice,purchase,0.05,1700000030\n']);
    writeRealtimeDeltas(service.data, [seq!]);
    publishRealtimeView(service.data, 1, seq!);
    await waitFor(() => service.layer.store.current!.version === 2, 20_000, 'version 2');

    const changed = await get(app, '/users/alice?min_version=2', { 'if-none-match': etag });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).toBe('W/"v2"');
    expect(changed.json()).toEqual({ user_id: 'alice', purchase_count_total: 3, purchase_amount_total: '11.80', version: 2, event_time: NO_EVENT_TIME });
    expect((await get(app, '/status?min_version=2')).json()).toMatchObject({
      version: 2,
      through_seq: 3,
      purchase_count_total: 14,
      purchase_amount_total: '120.84',
      change: 'realtime',
      changed_users: 1,
    });
  });
});

describe('a realtime backlog (a speed layer catching up publishes many seqs at once)', () => {
  const SEQS = 24;
  const USERS_PER_SEQ = 2_000;
  let service: Service;

  beforeAll(async () => {
    service = await openLoadedService();
  });
  afterAll(() => service.stop());

  it('is applied in slices of at most 4,096 users, one version each, the last one exact and carrying the newest ingest time', async () => {
    const versions: { version: number; changedUsers: number; lastIngestedAtMs: number | null; throughSeq: number }[] = [];
    service.layer.onVersion(({ version, changedUsers, lastIngestedAtMs, throughSeq }) =>
      versions.push({ version, changedUsers, lastIngestedAtMs, throughSeq }),
    );
    const texts = Array.from({ length: SEQS }, (_, s) =>
      Array.from({ length: USERS_PER_SEQ }, (_, u) => `user-${s}-${u},purchase,0.0${(u % 9) + 1},1700000100\n`).join(''),
    );
    const ingestedAtMs = Date.now() - 5_000;
    const seqs = ingestStreamFiles(service.data, texts, ingestedAtMs);
    writeRealtimeDeltas(service.data, seqs);
    publishRealtimeHead(service.data, 0, seqs.at(-1)!);
    await waitFor(() => service.layer.store.current!.throughSeq === SEQS, 20_000, `seq ${SEQS}`);

    expect(versions.length).toBeGreaterThanOrEqual(Math.ceil((SEQS * USERS_PER_SEQ) / 4_096));
    for (const v of versions) expect(v.changedUsers).toBeLessThanOrEqual(4_096);
    expect(versions.map((v) => v.version)).toEqual(versions.map((_, i) => versions[0]!.version + i));
    expect(versions.slice(0, -1).every((v) => v.lastIngestedAtMs === null && v.throughSeq < SEQS)).toBe(true);
    expect(versions.at(-1)).toMatchObject({ throughSeq: SEQS, lastIngestedAtMs: ingestedAtMs });
    const csv = await get(service.app, '/view.csv');
    expect(csv.body).toBe(expectedMergedViewText(service.data));
  });
});

describe('a speed layer whose source cannot read (a NATS cluster not answering)', () => {
  let service: Service;

  beforeAll(async () => {
    service = await openLoadedService();
  });
  afterAll(() => service.stop());

  it('regression: it stalled silently; /status and /metrics say how long, 0 once it reads again', async () => {
    const since = Date.now() - 42_000;
    publishRealtimeHead(service.data, 0, 0, { rowsIngested: 10, badRows: 0, startedAtMs: since - 1_000, sourceUnreadableSinceMs: since });
    await waitFor(() => (service.layer.sourceUnreadableSeconds.get('default') ?? 0) > 0, 20_000, 'the head read');
    const status = (await get(service.app, '/status')).json<{ source_unreadable_seconds: number }>();
    expect(status.source_unreadable_seconds).toBeGreaterThanOrEqual(42);
    expect(status.source_unreadable_seconds).toBeLessThan(80);
    const gauge = /^lambdaflow_source_unreadable_seconds\{stream="default"\} (\S+)$/m.exec((await get(service.app, '/metrics')).body);
    expect(Number(gauge?.[1])).toBeGreaterThanOrEqual(42);

    publishRealtimeHead(service.data, 0, 0, { rowsIngested: 10, badRows: 0, startedAtMs: since - 1_000, sourceUnreadableSinceMs: null });
    await waitFor(() => service.layer.sourceUnreadableSeconds.get('default') === 0, 20_000, 'the head read again');
    expect((await get(service.app, '/status')).json<{ source_unreadable_seconds: number }>().source_unreadable_seconds).toBe(0);
    expect((await get(service.app, '/metrics')).body).toMatch(/^lambdaflow_source_unreadable_seconds\{stream="default"\} 0$/m);
  });

  // promtool ships with Debian's prometheus package; without it, the rule it failed us on is checked here.
  const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((file) => fs.existsSync(file));

  it('regression: /metrics had gauges named …_total (nodejs_active_handles_total, …): no gauge ends in _total, every counter does', async () => {
    await get(service.app, '/status');
    const body = (await get(service.app, '/metrics')).body;
    const types = [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name: name!, type: type! }));
    expect(types.length).toBeGreaterThan(20);
    expect(types.filter((t) => t.type !== 'counter' && t.name.endsWith('_total'))).toEqual([]);
    expect(types.filter((t) => t.type === 'counter' && !t.name.endsWith('_total'))).toEqual([]);
    expect(types.map((t) => t.name)).toContain('lambdaflow_nodejs_active_handles');
  });

  it.skipIf(PROMTOOL === undefined)('passes promtool check metrics (skipped: promtool is not installed; apt-get install prometheus)', async () => {
    const body = (await get(service.app, '/metrics')).body;
    const checked = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30_000 });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  });
});

describe('a batch swap whose kept seqs lost a delta file', () => {
  let service: Service;

  beforeAll(async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': HISTORY });
    const seqs = ingestStreamFiles(data, [...STREAM, 'frank,purchase,4.00,1700000030\nalice,purchase,0.50,1700000031\n']);
    publishBatchView(data, 0);
    writeRealtimeDeltas(data, seqs);
    publishRealtimeView(data, 0, 3);
    service = openService(data);
    service.start();
    await waitFor(() => service.layer.store.current?.throughSeq === 3, 20_000, 'the first load');
  });
  afterAll(() => service.stop());

  it('is not made up: the serving layer loads the view again, and serves the new batch view exactly', async () => {
    // Seq 3 was applied from its delta file, which is gone when the new view (absorbing seq 1) is swapped in: the
    // overlay it keeps, seqs 2..3, cannot be read, and the store kept no seq it applied before the swap began.
    fs.rmSync(path.join(service.data, 'serving', 'realtime', 'deltas', `delta-${'3'.padStart(12, '0')}-${'3'.padStart(12, '0')}.csv`));
    const view = path.basename(publishBatchView(service.data, 1));
    await waitFor(() => service.layer.store.current!.batchView === view, 20_000, `a swap to ${view}`);
    expect(service.warnings.some((line) => /batch view swap: .*seq.*loading the view again/.test(line))).toBe(true);
    expect(service.layer.store.current).toMatchObject({ batchWatermark: 1, throughSeq: 3 });
    expect((await get(service.app, '/view.csv')).body).toBe(expectedMergedViewText(service.data));
  });
});

/**
 * Publishes `serving/speed/speed-<ms>.txt/` as the speed layer does each slide: the window's totals, `_WINDOW.json`
 * when given (the text `windowJson` makes of the window's end in ms), `_SUCCESS` last. Returns the folder's name.
 */
function publishSpeedWindow(data: string, lines: string, windowJson?: (endMs: number) => string, endMs = Date.now()): string {
  const parent = path.join(data, 'serving', 'speed');
  fs.mkdirSync(parent, { recursive: true });
  let ms = endMs;
  while (fs.existsSync(path.join(parent, `speed-${ms}.txt`))) ms++;
  const temp = path.join(parent, `.speed-${ms}.tmp`);
  fs.mkdirSync(temp);
  fs.writeFileSync(path.join(temp, 'part-00000'), lines);
  if (windowJson) fs.writeFileSync(path.join(temp, '_WINDOW.json'), windowJson(ms));
  fs.writeFileSync(path.join(temp, '_SUCCESS'), '');
  fs.renameSync(temp, path.join(parent, `speed-${ms}.txt`));
  return `speed-${ms}.txt`;
}

describe("the window view (the original demo's batch view + current window)", () => {
  it('says which window it serves in /status and /metrics, from its _WINDOW.json, with the stream event clock; a damaged one is said once', async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': HISTORY });
    publishBatchView(data, 0);
    const end = 1_700_000_050;
    const eventWindow = publishSpeedWindow(
      data,
      'alice,1,1.25\n',
      () => JSON.stringify({ time: 'event', start: end - 60, end, watermark: end + 5, lateRows: 2 }),
      end * 1000,
    );
    // The stream's event clock now (its head's, not the window's): every answer carries it, the window view's too.
    const clockAt = (lateRows: number): Record<string, unknown> => ({
      eventTime: { maxEventSecond: end + 20, watermark: end + 10, lateRows, allowedLatenessSeconds: 10 },
    });
    publishRealtimeHead(data, 0, 0, clockAt(3));
    const service = openService(data, 'window');
    service.start();
    const served = async (): Promise<Record<string, unknown>> => (await get(service.app, '/status')).json<{ window: Record<string, unknown> }>().window;
    try {
      await waitFor(() => service.layer.isReady, 20_000, 'the first load');
      expect(await served()).toEqual({ name: eventWindow, time: 'event', start: end - 60, end, watermark: end + 5, late_rows: 2 });
      expect((await get(service.app, '/status')).json<{ event_time: unknown }>().event_time).toEqual({ watermark: end + 10, late_rows: 3 });
      const metrics = (await get(service.app, '/metrics')).body;
      for (const [name, value] of [
        ['start', end - 60],
        ['end', end],
        ['watermark', end + 5],
      ])
        expect(metrics).toContain(`\nlambdaflow_window_${name}_seconds{time="event"} ${value}\n`);
      expect(metrics).toContain('\nlambdaflow_window_late_rows{time="event"} 2\n');

      publishRealtimeHead(data, 0, 0, clockAt(4));
      let startMs = 0;
      const processingWindow = publishSpeedWindow(data, 'erin,1,0.99\n', (endMs) =>
        JSON.stringify({ time: 'processing', startMs: (startMs = endMs - 60_000), endMs }),
      );
      await waitFor(() => service.layer.current?.window?.name === processingWindow, 20_000, 'the processing-time window in place of the event-time one');
      expect(await served()).toEqual({ name: processingWindow, time: 'processing', start_ms: startMs, end_ms: startMs + 60_000 });
      expect((await get(service.app, '/users/erin')).json<{ event_time: unknown }>().event_time).toEqual({ watermark: end + 10, late_rows: 4 });
      const after = (await get(service.app, '/metrics')).body;
      expect(after).toContain(`\nlambdaflow_window_start_seconds{time="processing"} ${startMs / 1000}\n`);
      expect(after).not.toMatch(/lambdaflow_window_\w+\{time="event"\}/);

      const damaged = publishSpeedWindow(data, 'frank,1,0.50\n', () => '{"time":"event","start":');
      await waitFor(() => service.layer.current?.window?.name === damaged, 20_000, 'the window with a damaged _WINDOW.json, served');
      expect(await served()).toEqual({ name: damaged, time: null });
      expect(service.layer.get('frank')).toEqual({ userId: 'frank', count: 1, cents: 50 });
      expect(service.warnings.filter((line) => line.includes(`${damaged}/_WINDOW.json`))).toEqual([
        expect.stringMatching(/damaged window file .*: not JSON; serving the window without saying which it is/),
      ]);
    } finally {
      await service.stop();
    }
  });

  it('serves each new speed window in place of the last, and loads everything again for a newer batch view', async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': HISTORY });
    ingestStreamFiles(data, STREAM);
    publishBatchView(data, 0);
    publishSpeedWindow(data, 'alice,1,1.25\n');
    const service = openService(data, 'window');
    service.start();
    try {
      await waitFor(() => service.layer.isReady, 20_000, 'the first load');
      expect((await get(service.app, '/users/alice')).json()).toMatchObject({ purchase_count_total: 2, purchase_amount_total: '11.75' });
      publishSpeedWindow(data, 'erin,1,0.99\n');
      await waitFor(() => service.layer.get('alice')?.count === 1, 20_000, 'the next window in place of the first');
      expect(service.layer.current).toMatchObject({ kind: 'realtime', batchWatermark: 0 });
      expect(service.layer.get('erin')).toEqual({ userId: 'erin', count: 1, cents: 99 });
      const view = path.basename(publishBatchView(data, 1));
      await waitFor(() => service.layer.current!.batchView === view, 20_000, `a load with ${view}`);
      expect(service.layer.current).toMatchObject({ kind: 'load', batchWatermark: 1 });
      // Seq 1 absorbed (alice +1.25, dave −2.00), plus the window as it is.
      expect(service.layer.get('alice')).toEqual({ userId: 'alice', count: 2, cents: 1_175 });
      expect(service.layer.get('dave')).toEqual({ userId: 'dave', count: 1, cents: -200 });
      expect(service.layer.get('erin')).toEqual({ userId: 'erin', count: 1, cents: 99 });
    } finally {
      await service.stop();
    }
  });
});

describe('the /events heartbeat', () => {
  const status: SnapshotStatus = {
    version: 1,
    batchView: null,
    batchWatermark: 0,
    throughSeq: 0,
    users: 0,
    purchases: 0,
    cents: 0,
    builtAtMs: 0,
    lastIngestedAtMs: null,
    changedUsers: 0,
    kind: 'load',
    streams: {},
    eventTime: null,
    window: null,
  };
  /** A loaded view that never changes: all a stream then sends after its first event is the heartbeat. */
  const reads: ServingReads = {
    current: status,
    isReady: true,
    get: () => undefined,
    top: () => [],
    csv: () => Promise.reject(new Error('not asked for')),
    onVersion: () => () => undefined,
    eventsPerSecond: null,
    rowsIngested: null,
    sourceUnreadableSeconds: new Map(),
    badRows: { batch: 0, stream: 0 },
    exportsWritten: { planned: 0, whole: 0 },
    bucketSeconds: DEFAULT_BUCKET_SECONDS,
    // Never asked: the heartbeat is all this test reads.
    ranges: new ServingStore(new ManualClock()).ranges,
  };

  it('comes every 15 s of the injected clock, never sooner, and stops with the stream', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const app = buildHttpApp(reads, clock);
    const url = await listen(app, { host: '127.0.0.1', port: 0 });
    try {
      let received = '';
      const request = http.get(`${url}/events`, (response) => response.setEncoding('utf8').on('data', (chunk: string) => (received += chunk)));
      request.on('error', () => {});
      await waitFor(() => received.includes('event: version'), 10_000, 'the first event');
      const beats = (): number => received.split(': keep-alive\n\n').length - 1;
      const start = clock.now();
      await clock.advanceTo(start + 14_999);
      await settle();
      expect(beats()).toBe(0);
      await clock.advanceTo(start + 15_000);
      await waitFor(() => beats() === 1, 10_000, 'a heartbeat at 15 s');
      await clock.advanceTo(start + 45_000);
      await waitFor(() => beats() === 3, 10_000, 'heartbeats at 30 s and 45 s');
      expect(clock.sleepers).toBe(1);
      request.destroy();
      await waitFor(() => clock.sleepers === 0, 10_000, 'the heartbeat stopped with its stream');
    } finally {
      await app.close();
    }
  });
});
